//! Time to sync 10,000 records from a kiosk to the clinic over loopback
//! HTTP: the kiosk's real sync client (`device::sync`, reading its record
//! log, batching, checking each host-signed acknowledgement) against the
//! clinic's real server (axum, verify every signature and chain link, store
//! in SQLite with WAL and `synchronous=FULL` on disk).
//!
//! `cargo bench -p tests --bench sync_loopback` (add `--profile dev` for a
//! quick figure without the optimised build). `SYNC_BENCH_RECORDS=N`
//! changes the count. It prints figures; it asserts only that every record
//! arrived.

use device::record_store::RecordStore;
use device::sync::{self, HttpTransport, SyncOptions};
use host::http::{AppState, BackgroundServer};
use host::store::Store;
use screening::record::RecordBody;
use std::time::{Duration, Instant};

fn main() {
    let n: u64 = std::env::var("SYNC_BENCH_RECORDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let dir = tempfile::tempdir().expect("temporary folder");
    let kiosk_dir = dir.path().join("kiosk");

    let started = Instant::now();
    let mut kiosk = RecordStore::open(&kiosk_dir).expect("kiosk store");
    for _ in 0..n {
        kiosk.append(RecordBody::example()).expect("append");
    }
    let append = started.elapsed();
    let size = kiosk
        .log()
        .get(0)
        .expect("read")
        .expect("record 0")
        .encoded_len();
    drop(kiosk);
    println!(
        "kiosk appends (each fsync'd, file and folder): {n} in {:.2} s, {:.0}/s; one record {size} bytes",
        append.as_secs_f64(),
        n as f64 / append.as_secs_f64()
    );

    let runs = [
        ("default batches (128 records)", SyncOptions::default()),
        (
            "largest batches (256 records)",
            SyncOptions {
                batch_records: screening::record::wire::MAX_BATCH_RECORDS,
                ..SyncOptions::default()
            },
        ),
    ];
    for (i, (label, options)) in runs.into_iter().enumerate() {
        // Each run: a copy of the kiosk (all records unacknowledged) and a new clinic.
        let copy = dir.path().join(format!("kiosk-{i}"));
        copy_dir(&kiosk_dir, &copy);
        let mut kiosk = RecordStore::open(&copy).expect("kiosk copy");
        let mut clinic =
            Store::open(&dir.path().join(format!("clinic-{i}.sqlite"))).expect("clinic store");
        clinic
            .enroll(&kiosk.identity().public_key(), "bench kiosk", "", 0)
            .expect("enroll");
        let host_key = ed25519_dalek::SigningKey::from_bytes(&[5; 32]);
        let pinned = host_key.verifying_key();
        let server = BackgroundServer::start(
            "127.0.0.1:0".parse().expect("address"),
            AppState::new(clinic, host_key),
        )
        .expect("server");
        let mut http = HttpTransport::new(&server.url(), Duration::from_secs(120));
        let started = Instant::now();
        let report = sync::sync(&mut kiosk, &pinned, &mut http, options).expect("sync");
        let took = started.elapsed();
        assert_eq!(report.stored, n, "every record stored");
        assert_eq!(report.remaining, 0, "every record acknowledged");
        println!(
            "sync {n} records over loopback, {label}: {:.2} s ({} batches), {:.0} records/s, {:.1} ms per batch",
            took.as_secs_f64(),
            report.batches,
            n as f64 / took.as_secs_f64(),
            took.as_secs_f64() * 1000.0 / f64::from(report.batches.max(1))
        );
    }
}

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).expect("create");
    for entry in std::fs::read_dir(from).expect("read folder") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy");
        }
    }
}
