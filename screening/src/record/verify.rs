//! Checking one signed record on its own: intact bytes, well-formed fields,
//! the expected kiosk, its signature; and the one error type that names each
//! way a record is refused, here and by the chain ([`super::chain`],
//! [`super::link`]).

use ed25519_dalek::VerifyingKey;

use super::format::{DeviceId, FormatError, Record, RecordHash};
use super::sign::SignedRecord;

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

/// Checks that `signed` is intact, well-formed, from the kiosk holding
/// `key`'s private half, and signed by it. Returns the decoded record.
pub fn verify(signed: &SignedRecord, key: &VerifyingKey) -> Result<Record, VerifyError> {
    let actual = signed.actual_hash();
    if actual != signed.hash() {
        return Err(VerifyError::AlteredBytes {
            claimed: signed.hash(),
            actual,
        });
    }
    let record = signed.decode_unverified()?;
    let expected = DeviceId::of(key);
    if record.device != expected {
        return Err(VerifyError::UnknownDevice {
            device: record.device,
        });
    }
    if !signed.signature_checks(key) {
        return Err(VerifyError::ForgedSignature {
            device: record.device,
            sequence: record.sequence,
        });
    }
    Ok(record)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::format::RecordBody;
    use crate::record::test_support::{key, signed};
    use ed25519_dalek::SigningKey;
    use proptest::prelude::*;

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
