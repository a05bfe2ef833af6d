//! Fixtures that the tests and benches of every crate share: a kiosk's
//! chain of signed records, a small deterministic random generator and a
//! hostile PNG header. Kept in the library (hidden from its documentation)
//! because cargo gives a crate's tests no way to share code with another
//! crate's tests; the linker drops it from the binaries, which never call it.

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

// A PNG's framing, for hostile-upload tests (CRC-32 as PNG defines it).
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= b as u32;
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

fn chunk(png: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    png.extend((data.len() as u32).to_be_bytes());
    let mut body = kind.to_vec();
    body.extend(data);
    png.extend(&body);
    png.extend(crc32(&body).to_be_bytes());
}

/// A PNG whose header claims `w`×`h` but whose pixel data is a few bytes of
/// nonsense, as a hostile upload would be.
pub fn png_header(w: u32, h: u32) -> Vec<u8> {
    let mut ihdr = w.to_be_bytes().to_vec();
    ihdr.extend(h.to_be_bytes());
    ihdr.extend([8, 2, 0, 0, 0]); // 8-bit RGB
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    chunk(&mut png, b"IHDR", &ihdr);
    chunk(&mut png, b"IDAT", &[0x78, 0x9c, 0xff, 0x00, 0x13, 0x37]);
    chunk(&mut png, b"IEND", &[]);
    png
}
