//! Seed inputs: real signed records, sync batches of the kiosk key the sync
//! target enrols, and a real USB bundle (manifest and sealed file) of that
//! kiosk for the clinic key the bundle target opens with. Written when a
//! target that includes this module runs with `KIOSK_FUZZ_SEEDS=DIR` (see
//! fuzz/README.md), so no other build is needed.

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

    // A bundle as `kiosk export` writes it, sealed for clinic key [1; 32],
    // framed as the bundle target reads it: manifest length, manifest, file.
    use screening::record::bundle::{
        seal_records, BundleFile, Manifest, SignedManifest, BUNDLE_VERSION, RECORDS_FILE,
    };
    let bundles = root.join("usb_bundle");
    std::fs::create_dir_all(&bundles).expect("seed folder");
    let clinic = SigningKey::from_bytes(&[1; 32]).verifying_key();
    let file = seal_records(&clinic, &chain).expect("seal");
    let manifest = SignedManifest::sign(
        Manifest {
            version: BUNDLE_VERSION,
            device,
            first_sequence: 0,
            last_sequence: chain.len() as u64 - 1,
            records: chain.len() as u64,
            created_ms: 1_700_000_000_000,
            files: vec![BundleFile::describe(RECORDS_FILE, &file)],
        },
        &key,
    );
    let json = serde_json::to_vec(&manifest).expect("manifest");
    let mut seed = (json.len() as u16).to_le_bytes().to_vec();
    seed.extend(json);
    seed.extend(file);
    std::fs::write(bundles.join("bundle-4"), seed).expect("seed");
}
