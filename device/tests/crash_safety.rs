//! Crash safety of the record log: a writer process (`kiosk
//! record-log-torture`) is SIGKILLed at random points, half the rounds with
//! each entry written in two halves so that kills land mid-entry. A third of
//! the rounds kill at any moment from the start, so that kills also land
//! while the log is opened, verified and its torn tail repaired; and after a
//! third of the rounds the test does not reopen the log itself, so the next
//! writer is the one that repairs it. Whenever the test reopens, every record
//! whose `append` had returned must be there, with the same hash, in a chain
//! that verifies.
//!
//! `KIOSK_CRASH_KILLS=N` runs N kills instead of CI's 200 (the long mode,
//! for a drill outside CI).
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
    let kills = std::env::var("KIOSK_CRASH_KILLS")
        .ok()
        .map(|v| v.parse::<usize>().expect("KIOSK_CRASH_KILLS is a number"))
        .unwrap_or(KILLS);
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut acked: BTreeMap<u64, String> = BTreeMap::new();
    let mut rng = Lcg(0x5eed_cafe);
    let (mut torn_cuts, mut during_open, mut repaired_by_writer) = (0, 0, 0);
    for round in 0..kills {
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
        let mut seen = Vec::new();
        if rng.below(3) == 0 {
            // Anywhere from the start: before, during or after the open.
            assert_eq!(lines.next().expect("`opening`").unwrap(), "opening");
            std::thread::sleep(Duration::from_micros(rng.below(6_000)));
        } else {
            assert_eq!(lines.next().expect("`opening`").unwrap(), "opening");
            let opened = lines.next().expect("child prints `opened`").unwrap();
            assert!(opened.starts_with("opened"), "round {round}: {opened}");
            seen.push(opened);
            for _ in 0..rng.below(6) {
                let line = lines.next().expect("child appends").unwrap();
                note_append(&line, &mut acked);
            }
            // Land the kill at a random moment of the appends that follow.
            std::thread::sleep(Duration::from_micros(rng.below(2_000)));
        }
        child.kill().unwrap();
        child.wait().unwrap();
        // Lines printed before the kill are acknowledged appends too.
        for line in lines {
            let line = line.unwrap();
            note_append(&line, &mut acked);
            seen.push(line);
        }
        let opened = seen.iter().find(|l| l.starts_with("opened"));
        match opened {
            None => during_open += 1,
            Some(l) if !l.ends_with("torn_bytes=0") => repaired_by_writer += 1,
            Some(_) => {}
        }
        // Leave the repair to the next writer now and then.
        if rng.below(3) == 0 && round + 1 < kills {
            continue;
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
        "crash safety: {kills} SIGKILLs ({during_open} before the open had finished), {} \
         acknowledged appends all present with their hashes, chain verified whenever reopened, \
         torn tails cut by the test {torn_cuts} times and by the next writer {repaired_by_writer}",
        acked.len()
    );
    assert!(
        acked.len() >= kills / 2,
        "the drill appended too little to mean anything: {}",
        acked.len()
    );
    // What the kills left beside the log is bounded: no temporaries of dead
    // writers, at most the kept number of torn copies.
    let left: Vec<String> = std::fs::read_dir(&data)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    let temporaries = left.iter().filter(|n| n.contains(".tmp-")).count();
    let torn = left.iter().filter(|n| n.ends_with(".torn")).count();
    assert_eq!(temporaries, 0, "temporaries left: {left:?}");
    assert!(
        torn <= device::record_log::TORN_COPIES_KEPT,
        "{torn} torn copies"
    );
    assert!(
        during_open * 20 >= kills,
        "only {during_open} of {kills} kills landed before the open finished"
    );
}
