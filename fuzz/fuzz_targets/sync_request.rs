//! The clinic's sync request parser, as the HTTP handler runs it once the
//! sealed envelope is open: the body is decoded as a batch, checked and
//! ingested into a database that has one enrolled kiosk. (Fuzzing through
//! the envelope would only exercise the AEAD's refusal.) Any body must give an answer or a client error, never a
//! panic or an internal error.
#![no_main]

use ed25519_dalek::SigningKey;
use host::http::error::ApiError;
use host::http::sync::handle_plain_batch;
use host::store::Store;
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
    STORE.with(|s| match handle_plain_batch(&mut s.borrow_mut(), &host_key, data) {
        Ok(_) | Err(ApiError::BadRequest(_)) | Err(ApiError::Forbidden(_)) => {}
        Err(e) => panic!("a sync body made an internal error: {e:?}"),
    });
});
