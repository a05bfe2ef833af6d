//! Sync messages between kiosk and clinic, shared by the HTTP endpoint and
//! the USB bundle: a batch of signed records up, a host-signed
//! acknowledgement down.
//!
//! The acknowledgement names the highest contiguous sequence the host stored
//! *and that record's hash*, signed with the host key the kiosk pinned at
//! pairing. A rogue or confused server can therefore neither make a kiosk
//! forget records it does not hold nor acknowledge a different chain.
//!
//! The other way round, every batch is signed by the kiosk's own key over a
//! single-use challenge the clinic handed out (in its [`HelloAnswer`], then in
//! each [`SyncResponse`]). Records are signed one by one anyway; the batch
//! signature is what stops a stranger on the LAN from learning a kiosk's chain
//! head with an empty batch, or from replaying a kiosk's captured request.

use ed25519_dalek::{SigningKey, VerifyingKey};
use serde::{de::DeserializeOwned, Deserialize, Serialize};

use super::fixed_bytes;
use super::format::{DeviceId, RecordHash};
use super::seal::ClinicSecret;
use super::sign::{Signature, SignedRecord};

/// Wire format version of acknowledgements (also the USB acknowledgement file).
pub const WIRE_VERSION: u16 = 1;
/// Version of [`SyncBatch`]: 2 added the kiosk's signature over the clinic's
/// challenge, so a kiosk of version 1 is told to update rather than being
/// misread.
pub const BATCH_VERSION: u16 = 2;
/// Most records in one batch.
pub const MAX_BATCH_RECORDS: usize = 256;
/// Largest encoded batch, in bytes (the host's body limit).
pub const MAX_BATCH_BYTES: usize = 1024 * 1024;
/// HTTP path of the sync endpoint (POST, `application/octet-stream`).
pub const SYNC_PATH: &str = "/api/v1/sync";
/// HTTP path of the host's identity proof (POST).
pub const HELLO_PATH: &str = "/api/v1/hello";

const ACK_DOMAIN: &[u8] = b"synkinesis-kiosk/ack/v1\0";
const HELLO_DOMAIN: &[u8] = b"synkinesis-kiosk/hello/v3\0";
const BATCH_DOMAIN: &[u8] = b"synkinesis-kiosk/sync-batch/v2\0";

/// A clinic's single-use challenge: 32 random bytes a kiosk signs into its
/// next batch.
pub type Challenge = [u8; 32];

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

/// Records pushed by one kiosk, in sequence order, signed by that kiosk over
/// the clinic's challenge.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncBatch {
    /// [`BATCH_VERSION`].
    pub version: u16,
    /// The sending kiosk; every record must name it too.
    pub device: DeviceId,
    /// The clinic's challenge this batch answers.
    #[serde(with = "fixed_bytes")]
    pub challenge: Challenge,
    /// Signed records, contiguous and ascending.
    pub records: Vec<SignedRecord>,
    /// The kiosk's signature over challenge, device and records.
    pub proof: Signature,
}

/// What a batch's proof signs.
#[derive(Serialize)]
struct BatchClaim<'a> {
    #[serde(with = "fixed_bytes")]
    challenge: Challenge,
    device: &'a DeviceId,
    records: &'a [SignedRecord],
}

impl BatchClaim<'_> {
    /// The bytes the kiosk signs.
    fn bytes(challenge: Challenge, device: &DeviceId, records: &[SignedRecord]) -> Vec<u8> {
        encode(&BatchClaim {
            challenge,
            device,
            records,
        })
    }
}

impl SyncBatch {
    /// A batch of `records` from the kiosk whose key is `key`, answering
    /// `challenge`.
    pub fn signed(key: &SigningKey, challenge: Challenge, records: Vec<SignedRecord>) -> Self {
        let device = DeviceId::of(&key.verifying_key());
        let claim = BatchClaim::bytes(challenge, &device, &records);
        SyncBatch {
            version: BATCH_VERSION,
            device,
            challenge,
            records,
            proof: Signature::create(key, BATCH_DOMAIN, &claim),
        }
    }

    /// Whether the batch names the kiosk whose key is `key` and that key
    /// signed exactly this challenge and these records.
    pub fn proven_by(&self, key: &VerifyingKey) -> bool {
        let claim = BatchClaim::bytes(self.challenge, &self.device, &self.records);
        DeviceId::of(key) == self.device && self.proof.check(key, BATCH_DOMAIN, &claim)
    }

    /// `postcard` bytes.
    pub fn encode(&self) -> Vec<u8> {
        encode(self)
    }

    /// Decodes and checks version and limits. The version is read first,
    /// so an older kiosk's batch is named as such, not as malformed.
    pub fn decode(bytes: &[u8]) -> Result<Self, WireError> {
        if bytes.len() <= MAX_BATCH_BYTES {
            if let Ok((version, _)) = postcard::take_from_bytes::<u16>(bytes) {
                if version != BATCH_VERSION {
                    return Err(WireError::UnsupportedVersion(version));
                }
            }
        }
        let batch: SyncBatch = decode_exact(bytes)?;
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
    /// The challenge the kiosk's next batch answers.
    #[serde(with = "fixed_bytes")]
    pub next_challenge: Challenge,
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
    /// ([`seal`](super::seal)), the challenge the first batch must answer,
    /// and a signature over the nonce, that key and the challenge.
    pub fn answer(&self, host_key: &SigningKey, challenge: Challenge) -> HelloAnswer {
        let sync_key = ClinicSecret::derive(host_key).public();
        HelloAnswer {
            host_key: host_key.verifying_key().to_bytes(),
            sync_key,
            challenge,
            signature: Signature::create(
                host_key,
                HELLO_DOMAIN,
                &hello_message(self, &sync_key, &challenge),
            ),
        }
    }
}

fn hello_message(hello: &Hello, sync_key: &[u8; 32], challenge: &Challenge) -> [u8; 96] {
    let mut m = [0u8; 96];
    m[..32].copy_from_slice(&hello.nonce);
    m[32..64].copy_from_slice(sync_key);
    m[64..].copy_from_slice(challenge);
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
    /// The challenge the kiosk's first batch answers.
    #[serde(with = "fixed_bytes")]
    pub challenge: Challenge,
    /// Signature over the nonce, `sync_key` and `challenge`.
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
            || !self.signature.check(
                pinned,
                HELLO_DOMAIN,
                &hello_message(hello, &self.sync_key, &self.challenge),
            )
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

    /// Sequence 0 of `k`'s chain.
    fn first_record(k: &SigningKey) -> SignedRecord {
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
        SignedRecord::sign(&r, k).unwrap()
    }

    #[test]
    fn batch_round_trip_and_limits() {
        let k = SigningKey::from_bytes(&[4; 32]);
        let device = DeviceId::of(&k.verifying_key());
        let s = first_record(&k);
        let batch = SyncBatch::signed(&k, [5; 32], vec![s.clone(), s]);
        assert_eq!(batch.device, device);
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
    fn a_batch_proves_its_kiosk_challenge_and_records() {
        let k = SigningKey::from_bytes(&[4; 32]);
        let other = SigningKey::from_bytes(&[5; 32]);
        let device = DeviceId::of(&k.verifying_key());
        let s = first_record(&k);
        let batch = SyncBatch::signed(&k, [7; 32], vec![s.clone()]);
        assert!(batch.proven_by(&k.verifying_key()));
        assert!(
            !batch.proven_by(&other.verifying_key()),
            "another kiosk's key"
        );
        let mut rechallenged = batch.clone();
        rechallenged.challenge = [8; 32];
        assert!(
            !rechallenged.proven_by(&k.verifying_key()),
            "another challenge"
        );
        let mut emptied = batch.clone();
        emptied.records.clear();
        assert!(!emptied.proven_by(&k.verifying_key()), "records removed");
        let stranger = SyncBatch::signed(&other, [7; 32], vec![]);
        let mut renamed = stranger.clone();
        renamed.device = device;
        assert!(
            !renamed.proven_by(&k.verifying_key()),
            "a stranger's empty batch naming the kiosk"
        );

        // A batch of the first wire version: device, records, no proof.
        let old = encode(&(1u16, device, vec![s]));
        assert_eq!(
            SyncBatch::decode(&old),
            Err(WireError::UnsupportedVersion(1))
        );
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
        let c = [3; 32];
        assert!(hello
            .answer(&host, c)
            .verify(&hello, &host.verifying_key())
            .is_ok());
        assert!(hello
            .answer(&rogue, c)
            .verify(&hello, &host.verifying_key())
            .is_err());
        let mut rechallenged = hello.answer(&host, c);
        rechallenged.challenge = [4; 32];
        assert_eq!(
            rechallenged.verify(&hello, &host.verifying_key()),
            Err(WireError::BadHostSignature),
            "a challenge the pinned key did not sign is refused"
        );
        let mut swapped = hello.answer(&host, c);
        swapped.sync_key = hello.answer(&rogue, c).sync_key;
        assert_eq!(
            swapped.verify(&hello, &host.verifying_key()),
            Err(WireError::BadHostSignature),
            "a sealing key the pinned key did not sign is refused"
        );
        let other = Hello { nonce: [7; 32] };
        assert!(hello
            .answer(&host, c)
            .verify(&other, &host.verifying_key())
            .is_err());
    }
}
