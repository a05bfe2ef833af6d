//! Records verified and stored per second by the clinic (the sync/import
//! path: envelope, hash, Ed25519 `verify_strict`, chain link, SQLite insert),
//! and the size of one record.
//!
//! `cargo bench -p host --bench ingest`; the target is ≥ 10,000 records/s.

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use ed25519_dalek::SigningKey;
use host::ingest::{ingest, Via};
use host::store::Store;
use screening::record::wire::MAX_BATCH_RECORDS;
use screening::record::{DeviceId, SignedRecord};

const RECORDS: u64 = 2048;

fn chain(key: &SigningKey, n: u64) -> Vec<SignedRecord> {
    screening::testing::chain(key, n, 1_700_000_000_000)
}

fn store_for(key: &SigningKey, file: Option<&std::path::Path>) -> Store {
    let mut store = match file {
        Some(path) => {
            let _ = std::fs::remove_file(path);
            let _ = std::fs::remove_file(path.with_extension("sqlite-wal"));
            let _ = std::fs::remove_file(path.with_extension("sqlite-shm"));
            Store::open(path).expect("open")
        }
        None => Store::open_in_memory().expect("open"),
    };
    store
        .enroll(&key.verifying_key(), "bench", "bench", 0)
        .expect("enroll");
    store
}

fn bench_ingest(c: &mut Criterion) {
    let key = SigningKey::from_bytes(&[1; 32]);
    let device = DeviceId::of(&key.verifying_key());
    let records = chain(&key, RECORDS);
    println!(
        "one record: {} bytes signed envelope ({} bytes of postcard fields + 104 bytes header, hash, signature)",
        records[0].encoded_len(),
        records[0].record_bytes().len()
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("bench.sqlite");

    let mut group = c.benchmark_group("ingest");
    group.throughput(Throughput::Elements(RECORDS));
    group.sample_size(10);
    for (name, file) in [
        ("in_memory", None),
        ("file_wal_full_sync", Some(db.as_path())),
    ] {
        group.bench_function(format!("{name}/batches_of_{MAX_BATCH_RECORDS}"), |b| {
            b.iter_batched(
                || store_for(&key, file),
                |mut store| {
                    for batch in records.chunks(MAX_BATCH_RECORDS) {
                        let report = ingest(&mut store, device, batch, Via::Http).expect("ingest");
                        assert!(report.refused.is_none());
                    }
                    store
                },
                BatchSize::PerIteration,
            )
        });
    }
    group.finish();

    let mut group = c.benchmark_group("verify_only");
    group.throughput(Throughput::Elements(1));
    group.bench_function("one_record", |b| {
        b.iter(|| screening::record::verify(&records[7], &key.verifying_key()).expect("valid"))
    });
    group.finish();
}

criterion_group!(benches, bench_ingest);
criterion_main!(benches);
