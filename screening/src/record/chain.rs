//! Walking one kiosk's chain of records: contiguous sequence numbers, each
//! naming the hash of the one before, all signed by the same key.

use ed25519_dalek::VerifyingKey;

use super::format::{DeviceId, FormatError, Record, RecordHash};
use super::sign::{verify, SignedRecord};

/// Why a record is refused. Each attack or accident has its own variant so
/// that logs and tests name it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// The bytes do not form a record (bad envelope, undecodable or invalid fields).
    #[error("malformed record: {0}")]
    Malformed(#[from] FormatError),
    /// The record bytes do not match the hash in their envelope.
    #[error("record bytes were altered: envelope says hash {claimed}, bytes hash to {actual}")]
    AlteredBytes {
        /// Hash stored in the envelope.
        claimed: RecordHash,
        /// Hash of the bytes received.
        actual: RecordHash,
    },
    /// The record names a kiosk whose key is not the one checked against
    /// (or that is not enrolled).
    #[error("record from unknown device {device}")]
    UnknownDevice {
        /// Device the record claims.
        device: DeviceId,
    },
    /// Intact bytes, but the signature is not the device's.
    #[error("forged signature on record {sequence} of device {device}")]
    ForgedSignature {
        /// Device the record claims.
        device: DeviceId,
        /// Sequence the record claims.
        sequence: u64,
    },
    /// One or more records are missing before this one.
    #[error("gap in the chain of device {device}: expected record {expected}, got {got}")]
    Gap {
        /// The device.
        device: DeviceId,
        /// Next sequence the chain needs.
        expected: u64,
        /// Sequence received.
        got: u64,
    },
    /// A second, different record for a sequence, or a record whose
    /// `prev_hash` is not the hash of the record before it.
    #[error("fork in the chain of device {device} at record {sequence}")]
    Fork {
        /// The device.
        device: DeviceId,
        /// Where the chains diverge.
        sequence: u64,
    },
    /// A record already in the chain, offered again.
    #[error("replayed record {sequence} of device {device} (chain is at {next})")]
    Replay {
        /// The device.
        device: DeviceId,
        /// Sequence replayed.
        sequence: u64,
        /// Next sequence the chain needs.
        next: u64,
    },
}

/// Checks a stream of one kiosk's signed records, in order.
#[derive(Debug, Clone)]
pub struct ChainVerifier {
    key: VerifyingKey,
    device: DeviceId,
    next_sequence: u64,
    last_hash: RecordHash,
}

impl ChainVerifier {
    /// A verifier expecting the kiosk's first record (sequence 0).
    pub fn new(key: VerifyingKey) -> Self {
        ChainVerifier::resume(key, 0, RecordHash::GENESIS)
    }

    /// A verifier that already holds records up to `next_sequence - 1`, the
    /// last of which hashes to `last_hash`.
    pub fn resume(key: VerifyingKey, next_sequence: u64, last_hash: RecordHash) -> Self {
        ChainVerifier {
            device: DeviceId::of(&key),
            key,
            next_sequence,
            last_hash,
        }
    }

    /// The device this verifier checks.
    pub fn device(&self) -> DeviceId {
        self.device
    }

    /// Sequence number the next record must have.
    pub fn next_sequence(&self) -> u64 {
        self.next_sequence
    }

    /// Hash of the last accepted record ([`RecordHash::GENESIS`] if none).
    pub fn last_hash(&self) -> RecordHash {
        self.last_hash
    }

    /// Checks `signed` as the next link without accepting it.
    pub fn check(&self, signed: &SignedRecord) -> Result<Record, VerifyError> {
        let record = verify(signed, &self.key)?;
        let device = self.device;
        if record.sequence < self.next_sequence {
            if record.sequence + 1 == self.next_sequence && signed.hash() != self.last_hash {
                return Err(VerifyError::Fork {
                    device,
                    sequence: record.sequence,
                });
            }
            return Err(VerifyError::Replay {
                device,
                sequence: record.sequence,
                next: self.next_sequence,
            });
        }
        if record.sequence > self.next_sequence {
            return Err(VerifyError::Gap {
                device,
                expected: self.next_sequence,
                got: record.sequence,
            });
        }
        if record.prev_hash != self.last_hash {
            return Err(VerifyError::Fork {
                device,
                sequence: record.sequence,
            });
        }
        Ok(record)
    }

    /// Checks `signed` and, if it is the next link, accepts it.
    pub fn push(&mut self, signed: &SignedRecord) -> Result<Record, VerifyError> {
        let record = self.check(signed)?;
        self.next_sequence = record.sequence + 1;
        self.last_hash = signed.hash();
        Ok(record)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::format::RecordBody;
    use ed25519_dalek::SigningKey;

    fn chain(key: &SigningKey, n: u64) -> Vec<SignedRecord> {
        let device = DeviceId::of(&key.verifying_key());
        let mut prev = RecordHash::GENESIS;
        (0..n)
            .map(|seq| {
                let r = Record::new(
                    device,
                    seq,
                    prev,
                    1000 + seq as i64,
                    1,
                    seq,
                    RecordBody::example(),
                );
                let s = SignedRecord::sign(&r, key).unwrap();
                prev = s.hash();
                s
            })
            .collect()
    }

    #[test]
    fn a_whole_chain_verifies() {
        let k = SigningKey::from_bytes(&[1; 32]);
        let mut v = ChainVerifier::new(k.verifying_key());
        for s in chain(&k, 10) {
            v.push(&s).unwrap();
        }
        assert_eq!(v.next_sequence(), 10);
    }

    #[test]
    fn gap_replay_fork_and_device_are_told_apart() {
        let k = SigningKey::from_bytes(&[1; 32]);
        let c = chain(&k, 5);
        let mut v = ChainVerifier::new(k.verifying_key());
        v.push(&c[0]).unwrap();
        v.push(&c[1]).unwrap();
        assert!(matches!(
            v.check(&c[3]),
            Err(VerifyError::Gap {
                expected: 2,
                got: 3,
                ..
            })
        ));
        assert!(matches!(
            v.check(&c[0]),
            Err(VerifyError::Replay {
                sequence: 0,
                next: 2,
                ..
            })
        ));
        assert!(matches!(
            v.check(&c[1]),
            Err(VerifyError::Replay { sequence: 1, .. })
        ));

        // A different record 2 that links to a different record 1: a fork.
        let device = DeviceId::of(&k.verifying_key());
        let mut other_body = RecordBody::example();
        other_body.decision.threshold = 0.9;
        let r = Record::new(device, 2, RecordHash([7; 32]), 1, 1, 1, other_body.clone());
        assert!(matches!(
            v.check(&SignedRecord::sign(&r, &k).unwrap()),
            Err(VerifyError::Fork { sequence: 2, .. })
        ));
        // A different record 1 (the last accepted position): a fork too.
        let r = Record::new(device, 1, c[0].hash(), 1, 1, 1, other_body);
        assert!(matches!(
            v.check(&SignedRecord::sign(&r, &k).unwrap()),
            Err(VerifyError::Fork { sequence: 1, .. })
        ));

        let stranger = SigningKey::from_bytes(&[2; 32]);
        assert!(matches!(
            v.check(&chain(&stranger, 3)[2]),
            Err(VerifyError::UnknownDevice { .. })
        ));
        v.push(&c[2]).unwrap();
    }
}
