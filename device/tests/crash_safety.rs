//! Crash safety of the record log: a writer process (`kiosk
//! record-log-torture`) is SIGKILLed at random points while it appends,
//! half the rounds with each entry written in two halves so that kills land
//! mid-entry. After every kill the log is reopened (cutting any torn tail)
//! and every record whose `append` had returned must be there, with the
//! same hash, in a chain that verifies.
//!
//! SIGKILL tests the process dying, not the power failing: page-cache data
//! survives it. The fsync ordering that covers power loss is by design
//! (see `record_log`), not measured here.

use device::record_store::RecordStore;
use screening::testing::Lcg;
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

const KILLS: usize = 200;

fn note_append(line: &str, acked: &mut BTreeMap<u64, String>) {
    if let Some(rest) = line.strip_prefix("appended ") {
        let (seq, hash) = rest.split_once(' ').expect("`appended SEQ HASH`");
        acked.insert(seq.parse().expect("sequence"), hash.to_string());
    }
}

#[test]
fn every_acknowledged_append_survives_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut acked: BTreeMap<u64, String> = BTreeMap::new();
    let mut rng = Lcg(0x5eed_cafe);
    let mut torn_cuts = 0;
    for round in 0..KILLS {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_kiosk"));
        cmd.arg("record-log-torture")
            .arg("--data")
            .arg(&data)
            .args(["--count", "1000000"]);
        if rng.below(2) == 0 {
            cmd.args(["--split-pause-us", "300"]);
        }
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .env("KIOSK_LOG", "error")
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let opened = lines.next().expect("child prints `opened`").unwrap();
        assert!(opened.starts_with("opened"), "round {round}: {opened}");
        for _ in 0..rng.below(6) {
            note_append(&lines.next().expect("child appends").unwrap(), &mut acked);
        }
        // Land the kill at a random moment of the appends that follow.
        std::thread::sleep(Duration::from_micros(rng.below(2_000)));
        child.kill().unwrap();
        child.wait().unwrap();
        // Lines printed before the kill are acknowledged appends too.
        for line in lines {
            note_append(&line.unwrap(), &mut acked);
        }

        let store = RecordStore::open(&data)
            .unwrap_or_else(|e| panic!("round {round}: reopening failed: {e}"));
        if store.open_report().torn_bytes > 0 {
            torn_cuts += 1;
        }
        for (seq, hash) in &acked {
            let record = store.log().get(*seq).unwrap();
            let record = record
                .unwrap_or_else(|| panic!("round {round}: acknowledged record {seq} is lost"));
            assert_eq!(
                &record.hash().to_hex(),
                hash,
                "round {round}: record {seq} changed"
            );
        }
        assert!(store.len() >= acked.len() as u64);
    }
    println!(
        "crash safety: {KILLS} SIGKILLs, {} acknowledged appends all present with their hashes, \
         chain verified after every kill, {torn_cuts} torn tails cut",
        acked.len()
    );
    assert!(
        acked.len() >= KILLS,
        "the drill appended too little to mean anything: {}",
        acked.len()
    );
}
