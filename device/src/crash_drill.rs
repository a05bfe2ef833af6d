//! The crash drill behind the hidden `kiosk record-log-torture`: append
//! records forever (or `count` of them), printing `opening` and `opened`
//! around the open and `appended SEQ HASH` after each `append` returns, so a test can SIGKILL the process at
//! any point and check that every record it saw acknowledged survived.

use anyhow::{Context, Result};
use screening::record::RecordBody;
use std::io::Write;
use std::path::Path;
use std::time::Duration;

/// Opens the store in `data_dir` (cutting any torn tail) and appends
/// `count` records; with `split_pause`, each entry is written in two halves
/// with that pause between, so kills land mid-entry.
pub fn run(data_dir: &Path, count: u64, split_pause: Option<Duration>) -> Result<()> {
    let mut out = std::io::stdout().lock();
    // Said before the open, so a test that kills between `opening` and
    // `opened` knows it killed the verification or the torn-tail repair.
    writeln!(out, "opening")?;
    out.flush()?;
    let mut store =
        crate::record_store::RecordStore::open(data_dir).context("opening the record store")?;
    let report = store.open_report().clone();
    writeln!(
        out,
        "opened records={} torn_bytes={}",
        report.records, report.torn_bytes
    )?;
    out.flush()?;
    store.set_split_writes(split_pause);
    for _ in 0..count {
        let signed = store.append(RecordBody::example()).context("append")?;
        let seq = store.len() - 1;
        writeln!(out, "appended {seq} {}", signed.hash().to_hex())?;
        out.flush()?;
    }
    Ok(())
}
