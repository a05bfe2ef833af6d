//! The record-keeping subcommands of `kiosk` (identity, pair, export,
//! sync, and the hidden crash drill): glue from parsed flags to the
//! library, returning what to print.

use anyhow::{bail, Context, Result};
use std::path::Path;
use std::time::Duration;

use crate::identity::Identity;
use crate::record_store::RecordStore;
use crate::sync::{self, PairedHost};

/// `kiosk identity`: the public key and fingerprint to enrol.
pub fn identity(data_dir: &Path) -> Result<String> {
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("creating {}", data_dir.display()))?;
    Ok(Identity::open_or_create(data_dir)?.describe())
}

/// `kiosk pair`: pins the clinic's public key (and its address).
pub fn pair(data_dir: &Path, host_key: &str, url: Option<String>) -> Result<String> {
    let host = PairedHost {
        host_key: host_key.trim().to_lowercase(),
        url,
    };
    host.save(data_dir)?;
    let fingerprint = screening::record::DeviceId::of(&host.key()?).short();
    Ok(format!(
        "paired with clinic {fingerprint}; records will go only to a server holding that key\n"
    ))
}

/// `kiosk export DIR`.
pub fn export(data_dir: &Path, dir: &Path) -> Result<String> {
    let mut store = RecordStore::open(data_dir)?;
    let paired = PairedHost::load(data_dir)?;
    let report = crate::export::export(&mut store, paired.as_ref(), dir)?;
    let mut out = String::new();
    if let Some(seq) = report.ack_applied {
        out.push_str(&format!("clinic acknowledged records through {seq}\n"));
    }
    match report.range {
        Some((a, b)) => out.push_str(&format!(
            "{} records ({a}–{b}) written to {}\n",
            report.records,
            report.folder.display()
        )),
        None => out.push_str(&format!(
            "nothing to export; empty bundle written to {}\n",
            report.folder.display()
        )),
    }
    Ok(out)
}

/// `kiosk sync`: pushes unacknowledged records to the paired clinic.
pub fn sync(data_dir: &Path, url: Option<String>, timeout: Duration) -> Result<String> {
    let Some(paired) = PairedHost::load(data_dir)? else {
        bail!(sync::SyncError::NotPaired)
    };
    let url = paired.address(url)?;
    let mut store = RecordStore::open(data_dir)?;
    let report = sync::sync_paired(&mut store, &paired, &url, timeout)
        .with_context(|| format!("syncing with {url}"))?;
    Ok(format!(
        "{} records sent in {} batches: {} stored, {} already held; acknowledged through {}; {} remaining\n",
        report.sent,
        report.batches,
        report.stored,
        report.duplicates,
        report.acknowledged_through.map_or("nothing".into(), |s| s.to_string()),
        report.remaining
    ))
}
