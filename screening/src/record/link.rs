//! The chain rule: where a verified record falls against the chain a holder
//! already has. One pure function, called by the kiosk's log (through
//! [`super::ChainVerifier`]) and by the clinic's ingest, so both tell gap,
//! fork and replay apart the same way.

use super::format::{Record, RecordHash};
use super::verify::VerifyError;

/// What a holder has of one kiosk's chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChainHead {
    /// The sequence the next record must have (0 for an empty chain).
    pub next_sequence: u64,
    /// The hash of the last record held ([`RecordHash::GENESIS`] if none).
    pub last_hash: RecordHash,
}

impl ChainHead {
    /// An empty chain.
    pub const EMPTY: ChainHead = ChainHead {
        next_sequence: 0,
        last_hash: RecordHash::GENESIS,
    };

    /// The head of a chain whose last record is `last` (sequence and hash),
    /// or of an empty one.
    pub fn after(last: Option<(u64, RecordHash)>) -> ChainHead {
        last.map_or(ChainHead::EMPTY, |(sequence, hash)| ChainHead {
            next_sequence: sequence + 1,
            last_hash: hash,
        })
    }

    /// The head once `record`, hashing to `hash`, has been added.
    pub fn advanced(self, record: &Record, hash: RecordHash) -> ChainHead {
        ChainHead {
            next_sequence: record.sequence + 1,
            last_hash: hash,
        }
    }
}

/// Where an acceptable record falls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Link {
    /// The next record: it extends the chain.
    Next,
    /// A record the chain already holds, byte for byte (a replay, or a
    /// retry after a lost answer).
    Held,
}

/// Places `record` (already verified, hashing to `hash`) against `head`.
///
/// `held_here` is the hash the holder keeps at `record.sequence`, when the
/// holder can tell (a clinic looks it up; a kiosk's verifier only knows its
/// last record). An earlier sequence with the same hash is [`Link::Held`];
/// with another hash it is a fork; with none known it is a replay.
pub fn link(
    head: ChainHead,
    record: &Record,
    hash: RecordHash,
    held_here: Option<RecordHash>,
) -> Result<Link, VerifyError> {
    let (device, sequence) = (record.device, record.sequence);
    if sequence < head.next_sequence {
        return match held_here {
            Some(h) if h == hash => Ok(Link::Held),
            Some(_) => Err(VerifyError::Fork { device, sequence }),
            None => Err(VerifyError::Replay {
                device,
                sequence,
                next: head.next_sequence,
            }),
        };
    }
    if sequence > head.next_sequence {
        return Err(VerifyError::Gap {
            device,
            expected: head.next_sequence,
            got: sequence,
        });
    }
    if record.prev_hash != head.last_hash {
        return Err(VerifyError::Fork { device, sequence });
    }
    Ok(Link::Next)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::test_support::{chain, key};

    #[test]
    fn each_place_in_the_chain_is_named() {
        let c = chain(&key(1), 4);
        let r: Vec<Record> = c.iter().map(|s| s.decode_unverified().unwrap()).collect();
        let head = ChainHead::after(Some((1, c[1].hash())));
        assert_eq!(link(head, &r[2], c[2].hash(), None), Ok(Link::Next));
        assert_eq!(
            link(head, &r[1], c[1].hash(), Some(c[1].hash())),
            Ok(Link::Held)
        );
        assert!(matches!(
            link(head, &r[1], c[1].hash(), Some(c[0].hash())),
            Err(VerifyError::Fork { sequence: 1, .. })
        ));
        assert!(matches!(
            link(head, &r[0], c[0].hash(), None),
            Err(VerifyError::Replay {
                sequence: 0,
                next: 2,
                ..
            })
        ));
        assert!(matches!(
            link(head, &r[3], c[3].hash(), None),
            Err(VerifyError::Gap {
                expected: 2,
                got: 3,
                ..
            })
        ));
        let elsewhere = ChainHead::after(Some((1, c[0].hash())));
        assert!(matches!(
            link(elsewhere, &r[2], c[2].hash(), None),
            Err(VerifyError::Fork { sequence: 2, .. })
        ));
        assert_eq!(
            link(ChainHead::EMPTY, &r[0], c[0].hash(), None),
            Ok(Link::Next)
        );
        assert_eq!(
            head.advanced(&r[2], c[2].hash()),
            ChainHead::after(Some((2, c[2].hash())))
        );
    }
}
