//! The fields of a record and their `postcard` encoding, with the limits a
//! decoder enforces before anything is trusted or stored.
//!
//! Version 1 carries no face image: [`RecordBody::attachments`] exists so a
//! later version can attach the standard views encrypted for the clinic, and
//! is empty today (a decoder refuses a non-empty one).

use ed25519_dalek::VerifyingKey;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fmt;

use super::fixed_bytes;
use super::patient_ref::check_stored;
pub use super::patient_ref::{PatientRef, PatientRefError, MAX_PATIENT_REF_LEN};

/// The record format this build writes and reads.
pub const FORMAT_VERSION: u16 = 1;
/// Longest accepted name (expression, figure, model, rule), in bytes.
pub const MAX_NAME_LEN: usize = 64;
/// Most expressions in one record.
pub const MAX_EXPRESSIONS: usize = 16;
/// Most figures (quality or ratios) per expression.
pub const MAX_FIGURES: usize = 16;
/// Largest encoded record, in bytes.
pub const MAX_RECORD_BYTES: usize = 16 * 1024;

const DEVICE_ID_DOMAIN: &[u8] = b"synkinesis-kiosk/device-id/v1\0";
const RECORD_HASH_DOMAIN: &[u8] = b"synkinesis-kiosk/record-hash/v1\0";

/// Why bytes are not a well-formed record.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FormatError {
    /// The envelope does not start with the record magic.
    #[error("not a signed record (bad magic)")]
    BadMagic,
    /// A version this build does not read.
    #[error("record format version {0} is not supported (this build reads {FORMAT_VERSION})")]
    UnsupportedVersion(u16),
    /// Fewer bytes than the envelope announces.
    #[error("record is truncated: {got} bytes, expected {expected}")]
    Truncated {
        /// Bytes present.
        got: usize,
        /// Bytes the envelope needs.
        expected: usize,
    },
    /// Bytes after the end of the envelope or of the record.
    #[error("{0} unexpected bytes after the record")]
    TrailingBytes(usize),
    /// The record is larger than [`MAX_RECORD_BYTES`].
    #[error("record of {0} bytes exceeds the {MAX_RECORD_BYTES}-byte limit")]
    TooLarge(usize),
    /// `postcard` could not decode the fields.
    #[error("record fields do not decode: {0}")]
    Decode(String),
    /// A field decoded but breaks a rule (length, range, character set).
    #[error("invalid field `{field}`: {reason}")]
    InvalidField {
        /// Which field.
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },
}

/// A kiosk's identity: SHA-256 of its Ed25519 public key (domain-separated).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct DeviceId(#[serde(with = "fixed_bytes")] pub [u8; 32]);

impl DeviceId {
    /// The id of the kiosk holding the private half of `key`.
    pub fn of(key: &VerifyingKey) -> Self {
        let mut h = Sha256::new();
        h.update(DEVICE_ID_DOMAIN);
        h.update(key.as_bytes());
        DeviceId(h.finalize().into())
    }

    /// Short fingerprint for people comparing screens: `ab12-cd34-ef56-7890`.
    pub fn short(&self) -> String {
        let h = hex::encode(&self.0[..8]);
        format!("{}-{}-{}-{}", &h[0..4], &h[4..8], &h[8..12], &h[12..16])
    }

    /// Full id as 64 hex characters.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}

impl fmt::Display for DeviceId {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(&self.short())
    }
}

impl fmt::Debug for DeviceId {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "DeviceId({})", self.short())
    }
}

/// SHA-256 of a record's encoded fields (domain-separated): the chain link.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct RecordHash(#[serde(with = "fixed_bytes")] pub [u8; 32]);

impl RecordHash {
    /// The `prev_hash` of a kiosk's first record (sequence 0).
    pub const GENESIS: RecordHash = RecordHash([0; 32]);

    /// Hash of encoded record fields.
    pub fn of(record_bytes: &[u8]) -> Self {
        let mut h = Sha256::new();
        h.update(RECORD_HASH_DOMAIN);
        h.update(record_bytes);
        RecordHash(h.finalize().into())
    }

    /// 64 hex characters.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}

impl fmt::Display for RecordHash {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(&hex::encode(&self.0[..8]))
    }
}

impl fmt::Debug for RecordHash {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "RecordHash({})", hex::encode(&self.0[..8]))
    }
}

impl From<PatientRefError> for FormatError {
    fn from(e: PatientRefError) -> Self {
        FormatError::InvalidField {
            field: "patient",
            reason: e.to_string(),
        }
    }
}

/// Which model produced the probabilities.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelRef {
    /// Model name from the manifest.
    pub name: String,
    /// SHA-256 of the model file.
    #[serde(with = "fixed_bytes")]
    pub sha256: [u8; 32],
}

/// One named measurement (a quality figure or a landmark ratio).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Figure {
    /// e.g. `sharpness`, `palpebral_fissure_ratio`.
    pub name: String,
    /// Its value; finite.
    pub value: f32,
}

impl Figure {
    /// A named figure.
    pub fn new(name: impl Into<String>, value: f32) -> Self {
        Figure {
            name: name.into(),
            value,
        }
    }
}

/// What was measured for one expression of the protocol.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExpressionRecord {
    /// Expression name, e.g. `big_smile`.
    pub expression: String,
    /// Classifier probability of synkinesis in `[0, 1]`, when a classifier ran.
    pub probability: Option<f32>,
    /// Quality-gate figures at capture (face size, sharpness, light …).
    pub quality: Vec<Figure>,
    /// Landmark ratios (`palpebral_fissure_ratio` …).
    pub ratios: Vec<Figure>,
}

/// The answer recorded for the screening: the decision's own outcome type.
/// postcard writes the variant's index, so its order is part of the format.
pub use crate::decision::Outcome;

/// The decision, with what it was based on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DecisionRecord {
    /// Refer, no synkinesis detected, or incomplete.
    pub outcome: Outcome,
    /// Deciding score (higher is more suspicious), when there was evidence.
    pub score: Option<f32>,
    /// Threshold the score was compared with.
    pub threshold: f32,
    /// Name of the rule that decided.
    pub rule: String,
}

/// Reserved for a later version: a standard view encrypted for the clinic.
/// Version 1 records carry none.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attachment {
    /// What the bytes are, e.g. `standard_view/big_smile`.
    pub kind: String,
    /// The (encrypted) bytes.
    pub data: Vec<u8>,
}

/// What the screening session supplies; the store adds the chain header.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordBody {
    /// Optional pseudonymous patient reference.
    pub patient: Option<PatientRef>,
    /// Model that produced the probabilities.
    pub model: ModelRef,
    /// One entry per protocol expression that was attempted.
    pub expressions: Vec<ExpressionRecord>,
    /// The answer shown.
    pub decision: DecisionRecord,
    /// Empty in version 1 (see [`Attachment`]).
    pub attachments: Vec<Attachment>,
}

impl RecordBody {
    /// A plausible body for examples and tests.
    pub fn example() -> Self {
        let expression = |name: &str, p: Option<f32>, ratio: f32| ExpressionRecord {
            expression: name.into(),
            probability: p,
            quality: vec![
                Figure::new("face_height", 0.42),
                Figure::new("sharpness", 0.8),
            ],
            ratios: vec![Figure::new("palpebral_fissure_ratio", ratio)],
        };
        RecordBody {
            patient: Some(PatientRef::new("P-0001").expect("valid reference")),
            model: ModelRef {
                name: "synkinesis-cnn".into(),
                sha256: [0xab; 32],
            },
            expressions: vec![
                expression("rest", None, 1.0),
                expression("big_smile", None, 0.62),
                expression("pucker", None, 0.7),
                expression("tight_eye_closure", None, 0.95),
            ],
            decision: DecisionRecord {
                outcome: Outcome::Refer,
                score: Some(0.38),
                threshold: 0.25,
                rule: "eye_narrowing_ratio".into(),
            },
            attachments: Vec::new(),
        }
    }
}

/// One screening, as signed: chain header plus body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// Format version ([`FORMAT_VERSION`]).
    pub version: u16,
    /// The kiosk that wrote it.
    pub device: DeviceId,
    /// 0 for a kiosk's first record, then +1 each.
    pub sequence: u64,
    /// Hash of the kiosk's previous record ([`RecordHash::GENESIS`] for 0).
    pub prev_hash: RecordHash,
    /// Kiosk wall clock, milliseconds since the Unix epoch (may be wrong).
    pub wall_time_ms: i64,
    /// How many times the kiosk has started, for ordering when the clock is wrong.
    pub boot_counter: u64,
    /// Milliseconds since this start (monotonic).
    pub uptime_ms: u64,
    /// What the session measured and decided.
    pub body: RecordBody,
}

impl Record {
    /// A version-[`FORMAT_VERSION`] record.
    pub fn new(
        device: DeviceId,
        sequence: u64,
        prev_hash: RecordHash,
        wall_time_ms: i64,
        boot_counter: u64,
        uptime_ms: u64,
        body: RecordBody,
    ) -> Self {
        Record {
            version: FORMAT_VERSION,
            device,
            sequence,
            prev_hash,
            wall_time_ms,
            boot_counter,
            uptime_ms,
            body,
        }
    }

    /// `postcard` bytes (after [`Record::validate`]).
    pub fn encode(&self) -> Result<Vec<u8>, FormatError> {
        self.validate()?;
        let bytes = postcard::to_allocvec(self).map_err(|e| FormatError::Decode(e.to_string()))?;
        if bytes.len() > MAX_RECORD_BYTES {
            return Err(FormatError::TooLarge(bytes.len()));
        }
        Ok(bytes)
    }

    /// Decodes and validates `postcard` bytes; refuses trailing bytes.
    pub fn decode(bytes: &[u8]) -> Result<Self, FormatError> {
        if bytes.len() > MAX_RECORD_BYTES {
            return Err(FormatError::TooLarge(bytes.len()));
        }
        // The version comes first so that a future format is named, not misread.
        let (version, _) = postcard::take_from_bytes::<u16>(bytes)
            .map_err(|e| FormatError::Decode(e.to_string()))?;
        if version != FORMAT_VERSION {
            return Err(FormatError::UnsupportedVersion(version));
        }
        let (record, rest) = postcard::take_from_bytes::<Record>(bytes)
            .map_err(|e| FormatError::Decode(e.to_string()))?;
        if !rest.is_empty() {
            return Err(FormatError::TrailingBytes(rest.len()));
        }
        record.validate()?;
        Ok(record)
    }

    /// Checks lengths, counts, ranges and the genesis rule.
    pub fn validate(&self) -> Result<(), FormatError> {
        let bad =
            |field: &'static str, reason: String| Err(FormatError::InvalidField { field, reason });
        if self.version != FORMAT_VERSION {
            return Err(FormatError::UnsupportedVersion(self.version));
        }
        if (self.sequence == 0) != (self.prev_hash == RecordHash::GENESIS) {
            return bad(
                "prev_hash",
                "only the first record (sequence 0) has the genesis hash".into(),
            );
        }
        let b = &self.body;
        if let Some(p) = &b.patient {
            check_stored(p)?;
        }
        check_name("model.name", &b.model.name)?;
        if b.expressions.len() > MAX_EXPRESSIONS {
            return bad(
                "expressions",
                format!("{} entries, at most {MAX_EXPRESSIONS}", b.expressions.len()),
            );
        }
        for e in &b.expressions {
            check_name("expression", &e.expression)?;
            if let Some(p) = e.probability {
                if !(0.0..=1.0).contains(&p) {
                    return bad("probability", format!("{p} is outside [0, 1]"));
                }
            }
            for (field, figures) in [("quality", &e.quality), ("ratios", &e.ratios)] {
                if figures.len() > MAX_FIGURES {
                    return bad(
                        field,
                        format!("{} entries, at most {MAX_FIGURES}", figures.len()),
                    );
                }
                for f in figures {
                    check_name(field, &f.name)?;
                    if !f.value.is_finite() {
                        return bad(field, format!("`{}` is not a finite number", f.name));
                    }
                }
            }
        }
        let d = &b.decision;
        check_name("decision.rule", &d.rule)?;
        if !d.threshold.is_finite() || d.score.is_some_and(|s| !s.is_finite()) {
            return bad("decision", "score and threshold must be finite".into());
        }
        if !b.attachments.is_empty() {
            return bad(
                "attachments",
                "version 1 records carry no attachments".into(),
            );
        }
        Ok(())
    }
}

fn check_name(field: &'static str, name: &str) -> Result<(), FormatError> {
    let reason = if name.is_empty() {
        "empty".to_string()
    } else if name.len() > MAX_NAME_LEN {
        format!("{} bytes, at most {MAX_NAME_LEN}", name.len())
    } else if name.chars().any(char::is_control) {
        "contains control characters".to_string()
    } else {
        return Ok(());
    };
    Err(FormatError::InvalidField { field, reason })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record() -> Record {
        Record::new(
            DeviceId([1; 32]),
            3,
            RecordHash([9; 32]),
            1_700_000_000_000,
            4,
            1234,
            RecordBody::example(),
        )
    }

    #[test]
    fn encode_decode_round_trip() {
        let r = record();
        let bytes = r.encode().unwrap();
        assert_eq!(Record::decode(&bytes).unwrap(), r);
    }

    #[test]
    fn trailing_bytes_are_refused() {
        let mut bytes = record().encode().unwrap();
        bytes.push(0);
        assert_eq!(Record::decode(&bytes), Err(FormatError::TrailingBytes(1)));
    }

    #[test]
    fn future_version_is_named() {
        let mut r = record();
        r.version = 2;
        let bytes = postcard::to_allocvec(&r).unwrap();
        assert_eq!(
            Record::decode(&bytes),
            Err(FormatError::UnsupportedVersion(2))
        );
    }

    #[test]
    fn patient_ref_rules() {
        assert!(PatientRef::new("P-0001 ü").is_ok());
        for bad in [
            "",
            " P1",
            "P1 ",
            "P\u{7}1",
            "a\nb",
            "tab\there",
            "del\u{7f}",
        ] {
            assert!(PatientRef::new(bad).is_err(), "{bad:?} should be refused");
        }
        assert!(PatientRef::new("x".repeat(MAX_PATIENT_REF_LEN)).is_ok());
        assert!(PatientRef::new("x".repeat(MAX_PATIENT_REF_LEN + 1)).is_err());
    }

    #[test]
    fn control_characters_in_patient_ref_are_refused_on_decode() {
        let mut r = record();
        r.body.patient = Some(PatientRef("evil\u{1b}[2J".into()));
        let bytes = postcard::to_allocvec(&r).unwrap();
        assert!(matches!(
            Record::decode(&bytes),
            Err(FormatError::Decode(_) | FormatError::InvalidField { .. })
        ));
    }

    #[test]
    fn validation_refuses_bad_values() {
        let mut r = record();
        r.body.expressions[0].probability = Some(1.5);
        assert!(r.encode().is_err());
        let mut r = record();
        r.body.expressions[0].ratios[0].value = f32::NAN;
        assert!(r.encode().is_err());
        let mut r = record();
        r.body.attachments.push(Attachment {
            kind: "x".into(),
            data: vec![1],
        });
        assert!(r.encode().is_err());
        let mut r = record();
        r.sequence = 0;
        assert!(r.encode().is_err(), "sequence 0 must have the genesis hash");
    }

    #[test]
    fn debug_hides_patient_reference() {
        let r = record();
        assert!(!format!("{r:?}").contains("P-0001"));
    }

    #[test]
    fn device_id_short_form() {
        let id = DeviceId([0xab; 32]);
        assert_eq!(id.short(), "abab-abab-abab-abab");
    }
}
