//! Sync messages between kiosk and clinic, shared by the HTTP endpoint and
//! the USB bundle: a batch of signed records up, a host-signed
//! acknowledgement down.
//!
//! The acknowledgement names the highest contiguous sequence the host stored
//! *and that record's hash*, signed with the host key the kiosk pinned at
//! pairing. A rogue or confused server can therefore neither make a kiosk
//! forget records it does not hold nor acknowledge a different chain.

use ed25519_dalek::{SigningKey, VerifyingKey};
use serde::{de::DeserializeOwned, Deserialize, Serialize};

use super::fixed_bytes;
use super::format::{DeviceId, RecordHash};
use super::seal::ClinicSecret;
use super::sign::{Signature, SignedRecord};

/// Wire format version.
pub const WIRE_VERSION: u16 = 1;
/// Most records in one batch.
pub const MAX_BATCH_RECORDS: usize = 256;
/// Largest encoded batch, in bytes (the host's body limit).
pub const MAX_BATCH_BYTES: usize = 1024 * 1024;
/// HTTP path of the sync endpoint (POST, `application/octet-stream`).
pub const SYNC_PATH: &str = "/api/v1/sync";
/// HTTP path of the host's identity proof (POST).
pub const HELLO_PATH: &str = "/api/v1/hello";

const ACK_DOMAIN: &[u8] = b"synkinesis-kiosk/ack/v1\0";
const HELLO_DOMAIN: &[u8] = b"synkinesis-kiosk/hello/v2\0";

/// Why a sync message was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WireError {
    /// Bytes that do not decode as the expected message.
    #[error("malformed message: {0}")]
    Malformed(String),
    /// Larger than [`MAX_BATCH_BYTES`].
    #[error("message of {0} bytes exceeds the {MAX_BATCH_BYTES}-byte limit")]
    TooLarge(usize),
    /// More than [`MAX_BATCH_RECORDS`] records.
    #[error("batch of {0} records exceeds the {MAX_BATCH_RECORDS}-record limit")]
    TooManyRecords(usize),
    /// A wire version this build does not speak.
    #[error("wire version {0} is not supported (this build speaks {WIRE_VERSION})")]
    UnsupportedVersion(u16),
    /// A host signature that does not check against the pinned key.
    #[error("host signature does not match the paired clinic's key")]
    BadHostSignature,
    /// An acknowledgement for another kiosk.
    #[error("acknowledgement is for device {got}, not {expected}")]
    WrongDevice {
        /// This kiosk.
        expected: DeviceId,
        /// The device the ack names.
        got: DeviceId,
    },
}

fn decode_exact<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, WireError> {
    if bytes.len() > MAX_BATCH_BYTES {
        return Err(WireError::TooLarge(bytes.len()));
    }
    let (value, rest) =
        postcard::take_from_bytes(bytes).map_err(|e| WireError::Malformed(e.to_string()))?;
    if !rest.is_empty() {
        return Err(WireError::Malformed(format!(
            "{} unexpected trailing bytes",
            rest.len()
        )));
    }
    Ok(value)
}

fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    postcard::to_allocvec(value).expect("encoding a sync message into memory cannot fail")
}

/// Records pushed by one kiosk, in sequence order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncBatch {
    /// [`WIRE_VERSION`].
    pub version: u16,
    /// The sending kiosk; every record must name it too.
    pub device: DeviceId,
    /// Signed records, contiguous and ascending.
    pub records: Vec<SignedRecord>,
}

impl SyncBatch {
    /// A batch of `records` from `device`.
    pub fn new(device: DeviceId, records: Vec<SignedRecord>) -> Self {
        SyncBatch {
            version: WIRE_VERSION,
            device,
            records,
        }
    }

    /// `postcard` bytes.
    pub fn encode(&self) -> Vec<u8> {
        encode(self)
    }

    /// Decodes and checks version and limits.
    pub fn decode(bytes: &[u8]) -> Result<Self, WireError> {
        let batch: SyncBatch = decode_exact(bytes)?;
        if batch.version != WIRE_VERSION {
            return Err(WireError::UnsupportedVersion(batch.version));
        }
        if batch.records.len() > MAX_BATCH_RECORDS {
            return Err(WireError::TooManyRecords(batch.records.len()));
        }
        Ok(batch)
    }
}

/// What the host holds of one kiosk's chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ack {
    /// [`WIRE_VERSION`].
    pub version: u16,
    /// The kiosk acknowledged.
    pub device: DeviceId,
    /// Highest sequence stored with every earlier one; `None` if none yet.
    pub stored_through: Option<u64>,
    /// Hash of record `stored_through` ([`RecordHash::GENESIS`] if none).
    pub stored_hash: RecordHash,
    /// Host clock when signed, milliseconds since the Unix epoch.
    pub issued_ms: i64,
}

/// An [`Ack`] signed by the host key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedAck {
    /// What is acknowledged.
    pub ack: Ack,
    /// Host signature over the encoded ack.
    pub signature: Signature,
}

impl SignedAck {
    /// Signs `ack` with the host key.
    pub fn sign(ack: Ack, host_key: &SigningKey) -> Self {
        SignedAck {
            ack,
            signature: Signature::create(host_key, ACK_DOMAIN, &encode(&ack)),
        }
    }

    /// Checks the signature against the pinned host key and the device.
    pub fn verify(&self, host_key: &VerifyingKey, device: DeviceId) -> Result<&Ack, WireError> {
        if !self
            .signature
            .check(host_key, ACK_DOMAIN, &encode(&self.ack))
        {
            return Err(WireError::BadHostSignature);
        }
        if self.ack.version != WIRE_VERSION {
            return Err(WireError::UnsupportedVersion(self.ack.version));
        }
        if self.ack.device != device {
            return Err(WireError::WrongDevice {
                expected: device,
                got: self.ack.device,
            });
        }
        Ok(&self.ack)
    }

    /// `postcard` bytes (the USB acknowledgement file).
    pub fn encode(&self) -> Vec<u8> {
        encode(self)
    }

    /// Reads [`SignedAck::encode`]'s bytes (signature not checked).
    pub fn decode(bytes: &[u8]) -> Result<Self, WireError> {
        decode_exact(bytes)
    }
}

/// The host's answer to a batch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncResponse {
    /// What the host now holds of the kiosk's chain (signed).
    pub ack: SignedAck,
    /// Records newly stored from this batch.
    pub stored: u32,
    /// Records the host already held (idempotent repeats).
    pub duplicates: u32,
    /// Why the host stopped before the end of the batch, if it did.
    pub refused: Option<String>,
}

impl SyncResponse {
    /// `postcard` bytes.
    pub fn encode(&self) -> Vec<u8> {
        encode(self)
    }

    /// Decodes a response (the ack's signature is checked separately).
    pub fn decode(bytes: &[u8]) -> Result<Self, WireError> {
        decode_exact(bytes)
    }
}

/// A kiosk's challenge before sending anything: prove you hold the paired key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hello {
    /// Fresh random bytes.
    #[serde(with = "fixed_bytes")]
    pub nonce: [u8; 32],
}

impl Hello {
    /// `postcard` bytes.
    pub fn encode(&self) -> Vec<u8> {
        encode(self)
    }

    /// Decodes a challenge.
    pub fn decode(bytes: &[u8]) -> Result<Self, WireError> {
        decode_exact(bytes)
    }

    /// The host's answer: its public key, the key kiosks seal batches to
    /// ([`seal`](super::seal)), and a signature over the nonce and that key.
    pub fn answer(&self, host_key: &SigningKey) -> HelloAnswer {
        let sync_key = ClinicSecret::derive(host_key).public();
        HelloAnswer {
            host_key: host_key.verifying_key().to_bytes(),
            sync_key,
            signature: Signature::create(host_key, HELLO_DOMAIN, &hello_message(self, &sync_key)),
        }
    }
}

fn hello_message(hello: &Hello, sync_key: &[u8; 32]) -> [u8; 64] {
    let mut m = [0u8; 64];
    m[..32].copy_from_slice(&hello.nonce);
    m[32..].copy_from_slice(sync_key);
    m
}

/// The host's proof of identity for one [`Hello`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct HelloAnswer {
    /// The host's Ed25519 public key.
    #[serde(with = "fixed_bytes")]
    pub host_key: [u8; 32],
    /// The clinic's X25519 key for sealed batches.
    #[serde(with = "fixed_bytes")]
    pub sync_key: [u8; 32],
    /// Signature over the nonce and `sync_key`.
    pub signature: Signature,
}

impl HelloAnswer {
    /// `postcard` bytes.
    pub fn encode(&self) -> Vec<u8> {
        encode(self)
    }

    /// Decodes an answer.
    pub fn decode(bytes: &[u8]) -> Result<Self, WireError> {
        decode_exact(bytes)
    }

    /// Checks that the answer comes from `pinned` and signs `hello`'s nonce;
    /// returns the sync key it vouches for.
    pub fn verify(&self, hello: &Hello, pinned: &VerifyingKey) -> Result<[u8; 32], WireError> {
        if self.host_key != pinned.to_bytes()
            || !self
                .signature
                .check(pinned, HELLO_DOMAIN, &hello_message(hello, &self.sync_key))
        {
            return Err(WireError::BadHostSignature);
        }
        Ok(self.sync_key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{Record, RecordBody};

    #[test]
    fn batch_round_trip_and_limits() {
        let k = SigningKey::from_bytes(&[4; 32]);
        let device = DeviceId::of(&k.verifying_key());
        let r = Record::new(
            device,
            0,
            RecordHash::GENESIS,
            1,
            1,
            1,
            RecordBody::example(),
        );
        let s = SignedRecord::sign(&r, &k).unwrap();
        let batch = SyncBatch::new(device, vec![s.clone(), s]);
        let bytes = batch.encode();
        assert_eq!(SyncBatch::decode(&bytes).unwrap(), batch);
        assert!(matches!(
            SyncBatch::decode(&bytes[..bytes.len() - 3]),
            Err(WireError::Malformed(_))
        ));
        let mut long = bytes.clone();
        long.push(0);
        assert!(matches!(
            SyncBatch::decode(&long),
            Err(WireError::Malformed(_))
        ));
        assert!(matches!(
            SyncBatch::decode(&vec![0; MAX_BATCH_BYTES + 1]),
            Err(WireError::TooLarge(_))
        ));
        assert!(SyncBatch::decode(b"GET / HTTP/1.1").is_err());
    }

    #[test]
    fn ack_and_hello_check_the_host_key() {
        let host = SigningKey::from_bytes(&[8; 32]);
        let rogue = SigningKey::from_bytes(&[9; 32]);
        let device = DeviceId([1; 32]);
        let ack = Ack {
            version: WIRE_VERSION,
            device,
            stored_through: Some(4),
            stored_hash: RecordHash([2; 32]),
            issued_ms: 5,
        };
        let signed = SignedAck::decode(&SignedAck::sign(ack, &host).encode()).unwrap();
        assert_eq!(signed.verify(&host.verifying_key(), device).unwrap(), &ack);
        assert_eq!(
            signed.verify(&rogue.verifying_key(), device),
            Err(WireError::BadHostSignature)
        );
        assert!(matches!(
            signed.verify(&host.verifying_key(), DeviceId([3; 32])),
            Err(WireError::WrongDevice { .. })
        ));
        let mut tampered = signed;
        tampered.ack.stored_through = Some(400);
        assert_eq!(
            tampered.verify(&host.verifying_key(), device),
            Err(WireError::BadHostSignature)
        );

        let hello = Hello { nonce: [6; 32] };
        assert!(hello
            .answer(&host)
            .verify(&hello, &host.verifying_key())
            .is_ok());
        assert!(hello
            .answer(&rogue)
            .verify(&hello, &host.verifying_key())
            .is_err());
        let mut swapped = hello.answer(&host);
        swapped.sync_key = hello.answer(&rogue).sync_key;
        assert_eq!(
            swapped.verify(&hello, &host.verifying_key()),
            Err(WireError::BadHostSignature),
            "a sealing key the pinned key did not sign is refused"
        );
        let other = Hello { nonce: [7; 32] };
        assert!(hello
            .answer(&host)
            .verify(&other, &host.verifying_key())
            .is_err());
    }
}
