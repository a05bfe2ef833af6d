//! A USB bundle as `clinic import` reads it from a stick anyone may have
//! handled: the manifest (JSON) and the sealed records file. The first two
//! bytes say how many of the rest are the manifest. Parsing, the kiosk's
//! signature, the file hash and opening the sealed file must refuse any
//! bytes with an error, never panic; a file whose hash a verified manifest
//! names must open.
#![no_main]

use ed25519_dalek::SigningKey;
use libfuzzer_sys::fuzz_target;
use screening::record::bundle::{decode_records, open_records, SignedManifest};
use screening::record::seal::ClinicSecret;

mod seeds;

fuzz_target!(init: seeds::write_if_asked(), |data: &[u8]| {
    let Some((len, rest)) = data.split_first_chunk::<2>() else {
        return;
    };
    let n = usize::from(u16::from_le_bytes(*len)).min(rest.len());
    let (manifest, file) = rest.split_at(n);
    // The seed's kiosk and clinic: the seed itself verifies and opens, and a
    // mutation of it must not be taken for it unless the file still matches.
    let kiosk = seeds::kiosk_key().verifying_key();
    let mut matched = false;
    if let Ok(m) = serde_json::from_slice::<SignedManifest>(manifest) {
        if m.verify(&kiosk).is_ok() {
            matched = m.records_file().is_ok_and(|entry| entry.matches(file));
        }
    }
    let clinic = ClinicSecret::for_bundles(&SigningKey::from_bytes(&[1; 32]));
    let opened = open_records(&clinic, file);
    if matched {
        // The kiosk signed this file's hash: it is the seed's file, whole.
        assert!(opened.is_ok(), "a file its signed manifest names does not open");
    }
    let _ = decode_records(file);
});
