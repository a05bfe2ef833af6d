//! The clinic's sync request parser, as the HTTP handler runs it once the
//! sealed envelope is open: the body is decoded as a batch and its proof
//! checked against a database that has one enrolled kiosk. (Fuzzing through
//! the envelope would only exercise the AEAD's refusal.) A fuzzer cannot sign
//! over an open challenge, so every batch that decodes is also ingested
//! directly, as a proven one would be. Any body must give an answer or a
//! client error, never a panic or an internal error.
#![no_main]

use ed25519_dalek::SigningKey;
use host::challenges::Challenges;
use host::http::error::ApiError;
use host::http::sync::handle_plain_batch;
use host::ingest::{ingest_from, IngestError, Via};
use host::store::Store;
use screening::record::wire::SyncBatch;
use libfuzzer_sys::fuzz_target;
use std::cell::RefCell;

mod seeds;

thread_local! {
    static STORE: RefCell<Store> = RefCell::new({
        let mut s = Store::open_in_memory().expect("in-memory database");
        s.enroll(&seeds::kiosk_key().verifying_key(), "fuzz kiosk", "", 0)
            .expect("enrol");
        s
    });
}

fuzz_target!(init: seeds::write_if_asked(), |data: &[u8]| {
    let host_key = SigningKey::from_bytes(&[1; 32]);
    let challenges = Challenges::new();
    STORE.with(|s| {
        let mut store = s.borrow_mut();
        match handle_plain_batch(&mut store, &challenges, &host_key, data, "fuzz") {
            Ok(_) | Err(ApiError::BadRequest(_)) | Err(ApiError::Forbidden(_)) => {}
            Err(e) => panic!("a sync body made an internal error: {e:?}"),
        }
        if let Ok(batch) = SyncBatch::decode(data) {
            match ingest_from(&mut store, batch.device, &batch.records, Via::Http, "fuzz") {
                Ok(_) | Err(IngestError::UnknownDevice(_)) => {}
                Err(e) => panic!("a decoded batch made an internal error: {e:?}"),
            }
        }
    });
});
