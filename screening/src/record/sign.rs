//! The signed envelope around a record's bytes, and checking it.
//!
//! Layout (little-endian, no padding):
//! `"SKR\x01"` | `u32` length *n* | *n* record bytes (`postcard`) |
//! 32-byte SHA-256 [`RecordHash`] of those bytes | 64-byte Ed25519 signature.
//!
//! The embedded hash tells accidental damage from a signature that does not
//! check (see [`super::verify`]). The signature covers a domain-separated message holding the hash, and is
//! checked with `verify_strict` (no malleable or small-order signatures).

use ed25519_dalek::{Signer, SigningKey, VerifyingKey};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

use super::fixed_bytes;
use super::format::{FormatError, Record, RecordHash, MAX_RECORD_BYTES};

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

impl SignedRecord {
    /// Whether the envelope's signature over its hash checks against `key`
    /// (strictly: no malleable or small-order signatures).
    pub(crate) fn signature_checks(&self, key: &VerifyingKey) -> bool {
        self.signature.check(key, SIGNATURE_DOMAIN, &self.hash.0)
    }

    /// The hash the envelope's bytes actually have.
    pub(crate) fn actual_hash(&self) -> RecordHash {
        RecordHash::of(&self.record_bytes)
    }
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
    use crate::record::test_support::signed;

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
}
