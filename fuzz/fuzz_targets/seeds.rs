//! Seed inputs for both targets: real signed records and sync batches of
//! the kiosk key the sync target enrols. Written when the target runs with
//! `KIOSK_FUZZ_SEEDS=DIR` (see fuzz/README.md), so no other build is needed.

use ed25519_dalek::SigningKey;
use screening::record::wire::SyncBatch;
use screening::record::{DeviceId, Record, RecordBody, RecordHash, SignedRecord};
use std::path::Path;

/// The kiosk key of the seeds (the sync target enrols its public half).
pub fn kiosk_key() -> SigningKey {
    SigningKey::from_bytes(&[7; 32])
}

/// Writes `records/` and `batches/` seeds under `$KIOSK_FUZZ_SEEDS`, if set.
pub fn write_if_asked() {
    let Some(root) = std::env::var_os("KIOSK_FUZZ_SEEDS") else {
        return;
    };
    let root = Path::new(&root);
    let (records, batches) = (root.join("record_decode"), root.join("sync_request"));
    std::fs::create_dir_all(&records).expect("seed folder");
    std::fs::create_dir_all(&batches).expect("seed folder");
    let key = kiosk_key();
    let device = DeviceId::of(&key.verifying_key());
    let mut prev = RecordHash::GENESIS;
    let mut chain = Vec::new();
    for seq in 0..4u64 {
        let mut body = RecordBody::example();
        if seq % 2 == 1 {
            body.patient = None;
            body.decision.score = None;
        }
        let r = Record::new(device, seq, prev, 1_700_000_000_000, 1, seq * 100, body);
        let s = SignedRecord::sign(&r, &key).expect("sign");
        prev = s.hash();
        let write =
            |name: String, bytes: Vec<u8>| std::fs::write(records.join(name), bytes).expect("seed");
        write(format!("envelope-{seq}"), s.to_bytes());
        write(format!("fields-{seq}"), r.encode().expect("encode"));
        chain.push(s);
    }
    let write = |name: String, batch: SyncBatch| {
        std::fs::write(batches.join(name), batch.encode()).expect("seed")
    };
    for n in 0..=chain.len() {
        write(
            format!("batch-{n}"),
            SyncBatch::signed(&key, [0; 32], chain[..n].to_vec()),
        );
    }
    write(
        "batch-from-1".into(),
        SyncBatch::signed(&key, [0; 32], chain[1..].to_vec()),
    );
}
