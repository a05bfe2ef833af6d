//! Walking one kiosk's chain of records: contiguous sequence numbers, each
//! naming the hash of the one before, all signed by the same key.

use ed25519_dalek::VerifyingKey;

use super::format::{DeviceId, Record, RecordHash};
use super::link::{link, ChainHead, Link};
use super::sign::SignedRecord;
use super::verify::{verify, VerifyError};

/// Checks a stream of one kiosk's signed records, in order.
#[derive(Debug, Clone)]
pub struct ChainVerifier {
    key: VerifyingKey,
    device: DeviceId,
    head: ChainHead,
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
            head: ChainHead {
                next_sequence,
                last_hash,
            },
        }
    }

    /// The device this verifier checks.
    pub fn device(&self) -> DeviceId {
        self.device
    }

    /// Sequence number the next record must have.
    pub fn next_sequence(&self) -> u64 {
        self.head.next_sequence
    }

    /// Hash of the last accepted record ([`RecordHash::GENESIS`] if none).
    pub fn last_hash(&self) -> RecordHash {
        self.head.last_hash
    }

    /// Checks `signed` as the next link without accepting it. A record
    /// the verifier already holds is a replay: it only knows its last hash,
    /// so that one position can also be told to be a fork.
    pub fn check(&self, signed: &SignedRecord) -> Result<Record, VerifyError> {
        let record = verify(signed, &self.key)?;
        let last_held = record.sequence + 1 == self.head.next_sequence;
        match link(
            self.head,
            &record,
            signed.hash(),
            last_held.then_some(self.head.last_hash),
        )? {
            Link::Next => Ok(record),
            Link::Held => Err(VerifyError::Replay {
                device: self.device,
                sequence: record.sequence,
                next: self.head.next_sequence,
            }),
        }
    }

    /// Checks `signed` and, if it is the next link, accepts it.
    pub fn push(&mut self, signed: &SignedRecord) -> Result<Record, VerifyError> {
        let record = self.check(signed)?;
        self.head = self.head.advanced(&record, signed.hash());
        Ok(record)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::format::RecordBody;
    use crate::record::test_support::chain;
    use ed25519_dalek::SigningKey;

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
