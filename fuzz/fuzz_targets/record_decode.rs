//! The record decoder: envelope parsing, field decoding and validation, and
//! signature checking must refuse any bytes with an error, never panic,
//! and whatever they accept must encode back to an equal record.
#![no_main]

use libfuzzer_sys::fuzz_target;
use screening::record::{self, Record, SignedRecord};

mod seeds;

fuzz_target!(init: seeds::write_if_asked(), |data: &[u8]| {
    // The bytes as a whole envelope (what the log, bundles and sync carry).
    if let Ok(signed) = SignedRecord::from_bytes(data) {
        assert_eq!(signed.to_bytes(), data, "an accepted envelope re-encodes as itself");
        let key = seeds::kiosk_key().verifying_key();
        let _ = record::verify(&signed, &key);
    }
    // The bytes as the record fields inside an envelope.
    if let Ok(rec) = Record::decode(data) {
        let again = rec.encode().expect("a decoded record encodes");
        assert_eq!(Record::decode(&again).expect("and decodes again"), rec);
    }
});
