//! Fixtures the record module's tests share: deterministic keys, one
//! signed record, a whole chain.

use ed25519_dalek::SigningKey;

use super::format::{DeviceId, Record, RecordBody, RecordHash};
use super::sign::SignedRecord;

/// The kiosk key of test seed `seed`.
pub(crate) fn key(seed: u8) -> SigningKey {
    crate::testing::kiosk_key(seed)
}

/// Record `sequence` of the kiosk with key `key(seed)`, signed; its
/// predecessor's hash is made up (genesis for sequence 0).
pub(crate) fn signed(seed: u8, sequence: u64) -> (Record, SignedRecord) {
    let k = key(seed);
    let prev = if sequence == 0 {
        RecordHash::GENESIS
    } else {
        RecordHash([5; 32])
    };
    let r = Record::new(
        DeviceId::of(&k.verifying_key()),
        sequence,
        prev,
        1,
        1,
        1,
        RecordBody::example(),
    );
    let s = SignedRecord::sign(&r, &k).unwrap();
    (r, s)
}

/// The first `n` records of `key`'s kiosk, each linked to the one before.
pub(crate) fn chain(key: &SigningKey, n: u64) -> Vec<SignedRecord> {
    crate::testing::chain(key, n, 1000)
}
