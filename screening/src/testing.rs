//! Fixtures that the tests and benches of every crate share: a kiosk's
//! chain of signed records and a small deterministic random generator. Kept
//! in the library (hidden from its documentation) because cargo gives a
//! crate's tests no way to share code with another crate's tests; the
//! linker drops it from the binaries, which never call it.

use ed25519_dalek::SigningKey;

use crate::record::{DeviceId, Record, RecordBody, RecordHash, SignedRecord};

/// The kiosk key of test seed `seed`.
pub fn kiosk_key(seed: u8) -> SigningKey {
    SigningKey::from_bytes(&[seed; 32])
}

/// The first `n` records of `key`'s kiosk, each linked to the one before,
/// the first stamped `first_wall_ms` and each later one a millisecond on.
pub fn chain(key: &SigningKey, n: u64, first_wall_ms: i64) -> Vec<SignedRecord> {
    let device = DeviceId::of(&key.verifying_key());
    let mut prev = RecordHash::GENESIS;
    (0..n)
        .map(|seq| {
            let r = Record::new(
                device,
                seq,
                prev,
                first_wall_ms + seq as i64,
                1,
                seq,
                RecordBody::example(),
            );
            let s = SignedRecord::sign(&r, key).expect("the example body is valid");
            prev = s.hash();
            s
        })
        .collect()
}

/// A 64-bit linear congruential generator (Knuth's MMIX constants): fault
/// schedules and crash drills must repeat exactly, and need nothing better.
#[derive(Debug, Clone)]
pub struct Lcg(pub u64);

impl Lcg {
    /// The next number in `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % n
    }
}
