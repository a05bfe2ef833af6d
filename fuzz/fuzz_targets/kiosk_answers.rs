//! What a kiosk decodes from the clinic, which a rogue server or a damaged
//! USB stick controls: the hello answer (checked against the pinned key and
//! the kiosk's nonce), the sync response and its signed acknowledgement, and
//! the USB acknowledgement file. Any bytes must be refused with an error or
//! accepted only with a valid clinic signature, never panic.
#![no_main]

use ed25519_dalek::SigningKey;
use libfuzzer_sys::fuzz_target;
use screening::record::wire::{Hello, HelloAnswer, SignedAck, SyncResponse};
use screening::record::DeviceId;

fuzz_target!(|data: &[u8]| {
    let clinic = SigningKey::from_bytes(&[1; 32]).verifying_key();
    let device = DeviceId([7; 32]);
    if let Ok(answer) = HelloAnswer::decode(data) {
        // A fuzzer cannot sign: no answer it makes may verify.
        assert!(answer.verify(&Hello { nonce: [0; 32] }, &clinic).is_err());
    }
    if let Ok(response) = SyncResponse::decode(data) {
        assert!(response.ack.verify(&clinic, device).is_err());
    }
    if let Ok(ack) = SignedAck::decode(data) {
        assert!(ack.verify(&clinic, device).is_err());
        assert_eq!(SignedAck::decode(&ack.encode()), Ok(ack));
    }
});
