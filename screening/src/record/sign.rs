//! The signed envelope around a record's bytes, and checking it.
//!
//! Layout (little-endian, no padding):
//! `"SKR\x01"` | `u32` length *n* | *n* record bytes (`postcard`) |
//! 32-byte SHA-256 [`RecordHash`] of those bytes | 64-byte Ed25519 signature.
//!
//! The embedded hash tells accidental damage ([`VerifyError::AlteredBytes`])
//! from a signature that does not check ([`VerifyError::ForgedSignature`]).
//! The signature covers a domain-separated message holding the hash, and is
//! checked with `verify_strict` (no malleable or small-order signatures).

use ed25519_dalek::{Signer, SigningKey, VerifyingKey};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

use super::chain::VerifyError;
use super::fixed_bytes;
use super::format::{DeviceId, FormatError, Record, RecordHash, MAX_RECORD_BYTES};

const MAGIC: [u8; 4] = *b"SKR\x01";
const SIGNATURE_DOMAIN: &[u8] = b"synkinesis-kiosk/record-signature/v1\0";
const HEADER_LEN: usize = 8;
const TRAILER_LEN: usize = 32 + 64;

/// An Ed25519 signature (64 bytes).
#[derive(Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Signature(#[serde(with = "fixed_bytes")] pub [u8; 64]);

impl Signature {
    /// Signs `domain || message` with `key`.
    pub fn create(key: &SigningKey, domain: &[u8], message: &[u8]) -> Self {
        Signature(key.sign(&[domain, message].concat()).to_bytes())
    }

    /// Checks a signature made by [`Signature::create`], strictly.
    pub fn check(&self, key: &VerifyingKey, domain: &[u8], message: &[u8]) -> bool {
        let sig = ed25519_dalek::Signature::from_bytes(&self.0);
        key.verify_strict(&[domain, message].concat(), &sig).is_ok()
    }
}

impl fmt::Debug for Signature {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "Signature({}…)", hex::encode(&self.0[..8]))
    }
}

/// A record's bytes with their hash and the kiosk's signature.
#[derive(Clone, PartialEq, Eq)]
pub struct SignedRecord {
    record_bytes: Vec<u8>,
    hash: RecordHash,
    signature: Signature,
}

impl SignedRecord {
    /// Encodes (after validating), hashes and signs `record`.
    pub fn sign(record: &Record, key: &SigningKey) -> Result<Self, FormatError> {
        let record_bytes = record.encode()?;
        let hash = RecordHash::of(&record_bytes);
        let signature = Signature::create(key, SIGNATURE_DOMAIN, &hash.0);
        Ok(SignedRecord {
            record_bytes,
            hash,
            signature,
        })
    }

    /// Assembles an envelope from parts without checking them (for tools and tests).
    pub fn from_parts(record_bytes: Vec<u8>, hash: RecordHash, signature: Signature) -> Self {
        SignedRecord {
            record_bytes,
            hash,
            signature,
        }
    }

    /// Parses the envelope (magic, lengths); checks nothing cryptographic.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, FormatError> {
        if bytes.len() < HEADER_LEN {
            if !MAGIC.starts_with(&bytes[..bytes.len().min(4)]) {
                return Err(FormatError::BadMagic);
            }
            return Err(FormatError::Truncated {
                got: bytes.len(),
                expected: HEADER_LEN + TRAILER_LEN,
            });
        }
        if bytes[..4] != MAGIC {
            return Err(FormatError::BadMagic);
        }
        let n = u32::from_le_bytes(bytes[4..8].try_into().expect("4 bytes")) as usize;
        if n > MAX_RECORD_BYTES {
            return Err(FormatError::TooLarge(n));
        }
        let expected = HEADER_LEN + n + TRAILER_LEN;
        if bytes.len() < expected {
            return Err(FormatError::Truncated {
                got: bytes.len(),
                expected,
            });
        }
        if bytes.len() > expected {
            return Err(FormatError::TrailingBytes(bytes.len() - expected));
        }
        let record_bytes = bytes[HEADER_LEN..HEADER_LEN + n].to_vec();
        let hash = RecordHash(
            bytes[HEADER_LEN + n..HEADER_LEN + n + 32]
                .try_into()
                .expect("32 bytes"),
        );
        let signature = Signature(bytes[HEADER_LEN + n + 32..].try_into().expect("64 bytes"));
        Ok(SignedRecord {
            record_bytes,
            hash,
            signature,
        })
    }

    /// The envelope's bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.encoded_len());
        out.extend_from_slice(&MAGIC);
        out.extend_from_slice(&(self.record_bytes.len() as u32).to_le_bytes());
        out.extend_from_slice(&self.record_bytes);
        out.extend_from_slice(&self.hash.0);
        out.extend_from_slice(&self.signature.0);
        out
    }

    /// Length of [`SignedRecord::to_bytes`].
    pub fn encoded_len(&self) -> usize {
        HEADER_LEN + self.record_bytes.len() + TRAILER_LEN
    }

    /// The hash the envelope claims for its record bytes (the chain link).
    pub fn hash(&self) -> RecordHash {
        self.hash
    }

    /// The signed record bytes.
    pub fn record_bytes(&self) -> &[u8] {
        &self.record_bytes
    }

    /// The signature.
    pub fn signature(&self) -> Signature {
        self.signature
    }

    /// Decodes the record without checking hash or signature (for display
    /// of records that failed verification; never trust the result).
    pub fn decode_unverified(&self) -> Result<Record, FormatError> {
        Record::decode(&self.record_bytes)
    }
}

impl fmt::Debug for SignedRecord {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(
            f,
            "SignedRecord({} bytes, hash {})",
            self.record_bytes.len(),
            self.hash
        )
    }
}

/// Checks that `signed` is intact, well-formed, from the kiosk holding
/// `key`'s private half, and signed by it. Returns the decoded record.
pub fn verify(signed: &SignedRecord, key: &VerifyingKey) -> Result<Record, VerifyError> {
    let actual = RecordHash::of(&signed.record_bytes);
    if actual != signed.hash {
        return Err(VerifyError::AlteredBytes {
            claimed: signed.hash,
            actual,
        });
    }
    let record = Record::decode(&signed.record_bytes)?;
    let expected = DeviceId::of(key);
    if record.device != expected {
        return Err(VerifyError::UnknownDevice {
            device: record.device,
        });
    }
    if !signed
        .signature
        .check(key, SIGNATURE_DOMAIN, &signed.hash.0)
    {
        return Err(VerifyError::ForgedSignature {
            device: record.device,
            sequence: record.sequence,
        });
    }
    Ok(record)
}

impl Serialize for SignedRecord {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if s.is_human_readable() {
            s.serialize_str(&hex::encode(self.to_bytes()))
        } else {
            s.serialize_bytes(&self.to_bytes())
        }
    }
}

impl<'de> Deserialize<'de> for SignedRecord {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        if d.is_human_readable() {
            let text = String::deserialize(d)?;
            let bytes = hex::decode(text).map_err(D::Error::custom)?;
            SignedRecord::from_bytes(&bytes).map_err(D::Error::custom)
        } else {
            d.deserialize_bytes(EnvelopeVisitor)
        }
    }
}

struct EnvelopeVisitor;

impl<'de> serde::de::Visitor<'de> for EnvelopeVisitor {
    type Value = SignedRecord;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a signed record envelope")
    }

    fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<SignedRecord, E> {
        SignedRecord::from_bytes(v).map_err(E::custom)
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<SignedRecord, A::Error> {
        let mut bytes = Vec::new();
        while let Some(b) = seq.next_element::<u8>()? {
            bytes.push(b);
        }
        self.visit_bytes(&bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::format::RecordBody;
    use proptest::prelude::*;

    fn key(seed: u8) -> SigningKey {
        SigningKey::from_bytes(&[seed; 32])
    }

    fn signed(seed: u8, sequence: u64) -> (Record, SignedRecord) {
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

    #[test]
    fn envelope_round_trip() {
        let (r, s) = signed(1, 0);
        let back = SignedRecord::from_bytes(&s.to_bytes()).unwrap();
        assert_eq!(back, s);
        assert_eq!(verify(&back, &key(1).verifying_key()).unwrap(), r);
        let via_postcard: SignedRecord =
            postcard::from_bytes(&postcard::to_allocvec(&s).unwrap()).unwrap();
        assert_eq!(via_postcard, s);
    }

    #[test]
    fn other_key_is_unknown_device() {
        let (_, s) = signed(1, 0);
        assert!(matches!(
            verify(&s, &key(2).verifying_key()),
            Err(VerifyError::UnknownDevice { .. })
        ));
    }

    #[test]
    fn signature_by_another_key_is_forged() {
        let (r, _) = signed(1, 0);
        // Claims device 1 but is signed with key 2.
        let s = SignedRecord::sign(&r, &key(2)).unwrap();
        assert!(matches!(
            verify(&s, &key(1).verifying_key()),
            Err(VerifyError::ForgedSignature { .. })
        ));
    }

    #[test]
    fn changed_sequence_with_recomputed_hash_is_forged() {
        let (mut r, s) = signed(1, 4);
        r.sequence = 40;
        let bytes = r.encode().unwrap();
        let replayed =
            SignedRecord::from_parts(bytes.clone(), RecordHash::of(&bytes), s.signature());
        assert!(matches!(
            verify(&replayed, &key(1).verifying_key()),
            Err(VerifyError::ForgedSignature { .. })
        ));
    }

    #[test]
    fn truncated_envelopes_are_named() {
        let (_, s) = signed(1, 0);
        let bytes = s.to_bytes();
        for cut in [0, 3, 8, bytes.len() - 1] {
            assert!(matches!(
                SignedRecord::from_bytes(&bytes[..cut]),
                Err(FormatError::Truncated { .. })
            ));
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn sign_verify_round_trip(seed in any::<[u8; 32]>(), seq in 1u64..u64::MAX, wall in any::<i64>(),
                                  boot in any::<u64>(), p in proptest::option::of(0.0f32..=1.0),
                                  patient in "[A-Za-z0-9 ._-]{1,64}") {
            let k = SigningKey::from_bytes(&seed);
            let mut body = RecordBody::example();
            body.expressions[1].probability = p;
            body.patient = crate::record::PatientRef::new(patient.trim()).ok();
            let r = Record::new(DeviceId::of(&k.verifying_key()), seq, RecordHash([3; 32]), wall, boot, 7, body);
            let s = SignedRecord::sign(&r, &k).unwrap();
            let back = SignedRecord::from_bytes(&s.to_bytes()).unwrap();
            prop_assert_eq!(verify(&back, &k.verifying_key()).unwrap(), r);
        }

        #[test]
        fn any_single_byte_change_is_refused(pos in any::<prop::sample::Index>(), delta in 1u8..=255) {
            let (_, s) = signed(9, 12);
            let mut bytes = s.to_bytes();
            let i = pos.index(bytes.len());
            bytes[i] = bytes[i].wrapping_add(delta);
            let refused = match SignedRecord::from_bytes(&bytes) {
                Err(_) => true,
                Ok(t) => verify(&t, &key(9).verifying_key()).is_err(),
            };
            prop_assert!(refused, "byte {} changed by {} was accepted", i, delta);
        }
    }
}
