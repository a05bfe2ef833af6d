//! A patient's history: every screening that names one patient reference,
//! oldest first, as the clinician follows a patient through treatment
//! (botulinum toxin, physiotherapy, surgery): date, kiosk, outcome, the
//! deciding score and each expression's score and eye-aperture ratio.
//!
//! Every record is re-verified against its kiosk's enrolled key before its
//! figures are shown; one that does not verify is listed with the reason
//! and without figures. A score means something only next to scores of the
//! same rule and model, so each screening is marked as scored like the
//! newest one or by another model ([`History::same_scoring`]); the page
//! plots the two apart and the CSV says which is which, so nothing from
//! another model is ever compared silently.

use std::io::Write;

use ed25519_dalek::VerifyingKey;
use screening::protocol::{Expression, SIGN_EXPRESSIONS};
use screening::record::{self, ExpressionRecord, Outcome, Record, SignedRecord};

use crate::export::{cell, iso8601_utc, ExportError};
use crate::store::{DeviceRow, Store, StoreError, StoredRecord};

/// The expressions a history shows, rest first.
pub const EXPRESSIONS: [Expression; 4] = [
    Expression::Rest,
    SIGN_EXPRESSIONS[0],
    SIGN_EXPRESSIONS[1],
    SIGN_EXPRESSIONS[2],
];

/// What produced a screening's score: the rule and the model behind it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scoring {
    /// Rule name as recorded (`classifier`, `eye_narrowing_ratio`, …).
    pub rule: String,
    /// Model name.
    pub model_name: String,
    /// Model SHA-256 (hex).
    pub model_sha256: String,
}

/// The signed contents of one screening, once verified.
#[derive(Debug, Clone)]
pub struct Verified {
    /// The outcome the kiosk signed.
    pub outcome: Outcome,
    /// Deciding score, if the rule gave one.
    pub score: Option<f32>,
    /// The threshold it was held against.
    pub threshold: f32,
    /// Rule and model.
    pub scoring: Scoring,
    /// The patient reference the kiosk signed, if one was typed.
    pub patient: Option<String>,
    /// Per expression, as recorded.
    pub expressions: Vec<ExpressionRecord>,
}

impl Verified {
    /// The figures of `expression`, when it was captured.
    pub fn expression(&self, expression: Expression) -> Option<&ExpressionRecord> {
        self.expressions
            .iter()
            .find(|e| e.expression == expression.name())
    }
}

/// One screening of the patient.
#[derive(Debug, Clone)]
pub struct Screening {
    /// Kiosk id, short form.
    pub kiosk: String,
    /// Kiosk's full id (hex), for links.
    pub kiosk_hex: String,
    /// Kiosk name.
    pub kiosk_name: String,
    /// Site.
    pub site: String,
    /// Sequence in the kiosk's chain.
    pub sequence: u64,
    /// Kiosk clock at the screening (ms since the Unix epoch).
    pub wall_time_ms: i64,
    /// Outcome column.
    pub outcome: String,
    /// The record's hash (hex): its identity across systems.
    pub hash: String,
    /// The signed contents, or why they do not verify.
    pub verified: Result<Verified, String>,
}

impl Screening {
    /// The figure `name` of `expression`, when recorded and verified.
    pub fn ratio(&self, expression: Expression, name: &str) -> Option<f32> {
        let e = self.verified.as_ref().ok()?.expression(expression)?;
        e.ratios.iter().find(|f| f.name == name).map(|f| f.value)
    }

    /// The classifier's probability for `expression`, when recorded.
    pub fn probability(&self, expression: Expression) -> Option<f32> {
        self.verified
            .as_ref()
            .ok()?
            .expression(expression)?
            .probability
    }
}

/// Every screening of one patient, oldest first.
#[derive(Debug, Clone)]
pub struct History {
    /// The patient reference asked for.
    pub patient: String,
    /// Oldest first, by the kiosks' clocks.
    pub screenings: Vec<Screening>,
}

/// The eye-aperture ratio each record carries per expression.
pub const FISSURE_RATIO: &str = "palpebral_fissure_ratio";

impl History {
    /// The scoring of the newest verified screening: the one the others
    /// are compared with.
    pub fn reference(&self) -> Option<&Scoring> {
        self.screenings
            .iter()
            .rev()
            .find_map(|s| s.verified.as_ref().ok().map(|v| &v.scoring))
    }

    /// Whether `s` was scored by the same rule and model as the newest
    /// screening (false when it does not verify).
    pub fn same_scoring(&self, s: &Screening) -> bool {
        match (&s.verified, self.reference()) {
            (Ok(v), Some(r)) => &v.scoring == r,
            _ => false,
        }
    }
}

/// The history of `patient` from `store`, each record re-verified.
pub fn history(store: &Store, patient: &str) -> Result<History, StoreError> {
    let screenings = store
        .patient_records(patient)?
        .into_iter()
        .map(|(device, stored)| screening(device, stored))
        .collect();
    Ok(History {
        patient: patient.to_string(),
        screenings,
    })
}

/// Every stored screening of every kiosk, each re-verified, kiosk by kiosk
/// in sequence order (the FHIR export of the whole clinic).
pub fn all_screenings(store: &Store) -> Result<Vec<Screening>, StoreError> {
    let mut out = Vec::new();
    for d in store.devices()? {
        let device = d.device;
        for stored in store.stored_records(device.row_id)? {
            out.push(screening(device.clone(), stored));
        }
    }
    Ok(out)
}

/// The record in a stored row's bytes, checked against its kiosk's key:
/// what every view of a stored record shows, or why it does not verify.
pub fn verify_stored(raw: &[u8], key: &VerifyingKey) -> Result<Record, String> {
    SignedRecord::from_bytes(raw)
        .map_err(|e| e.to_string())
        .and_then(|s| record::verify(&s, key).map_err(|e| e.to_string()))
}

/// One stored record as a screening, verified against its kiosk's key.
fn screening(device: DeviceRow, stored: StoredRecord) -> Screening {
    let verified = verify_stored(&stored.raw, &device.key).map(|r| Verified {
        outcome: r.body.decision.outcome,
        score: r.body.decision.score,
        threshold: r.body.decision.threshold,
        scoring: Scoring {
            rule: r.body.decision.rule.clone(),
            model_name: r.body.model.name.clone(),
            model_sha256: hex::encode(r.body.model.sha256),
        },
        patient: r.body.patient.as_deref().map(str::to_string),
        expressions: r.body.expressions,
    });
    Screening {
        kiosk: device.device.short(),
        kiosk_hex: device.device.to_hex(),
        kiosk_name: device.name,
        site: device.site,
        sequence: stored.sequence,
        wall_time_ms: stored.wall_time_ms,
        outcome: stored.outcome,
        hash: stored.hash.to_hex(),
        verified,
    }
}

/// Writes `history` as CSV, one screening per line; returns how many.
pub fn write_csv(history: &History, out: &mut dyn Write) -> Result<usize, ExportError> {
    let werr = |e: csv::Error| ExportError::Write(e.to_string());
    let mut w = csv::Writer::from_writer(out);
    let mut header: Vec<String> = [
        "patient_ref",
        "time_utc",
        "kiosk",
        "kiosk_name",
        "site",
        "sequence",
        "outcome",
        "score",
        "threshold",
        "rule",
        "model_name",
        "model_sha256",
        "scored_like_newest",
        "signature",
    ]
    .map(String::from)
    .to_vec();
    for e in EXPRESSIONS {
        for column in [
            "probability",
            "fissure_ratio",
            "fissure_left",
            "fissure_right",
        ] {
            header.push(format!("{}_{column}", e.name()));
        }
    }
    w.write_record(&header).map_err(werr)?;
    let number = |v: Option<f32>| v.map(|v| format!("{v:.4}")).unwrap_or_default();
    for s in &history.screenings {
        let (score, threshold, scoring, signature) = match &s.verified {
            Ok(v) => (
                number(v.score),
                format!("{:.4}", v.threshold),
                Some(&v.scoring),
                "valid".to_string(),
            ),
            Err(e) => (
                String::new(),
                String::new(),
                None,
                format!("NOT VALID: {e}"),
            ),
        };
        let mut row = vec![
            cell(&history.patient),
            iso8601_utc(s.wall_time_ms),
            s.kiosk.clone(),
            cell(&s.kiosk_name),
            cell(&s.site),
            s.sequence.to_string(),
            s.outcome.clone(),
            score,
            threshold,
            scoring.map(|c| cell(&c.rule)).unwrap_or_default(),
            scoring.map(|c| cell(&c.model_name)).unwrap_or_default(),
            scoring.map(|c| c.model_sha256.clone()).unwrap_or_default(),
            history.same_scoring(s).to_string(),
            cell(&signature),
        ];
        for e in EXPRESSIONS {
            row.push(number(s.probability(e)));
            row.push(number(s.ratio(e, FISSURE_RATIO)));
            row.push(number(s.ratio(e, "palpebral_fissure_left")));
            row.push(number(s.ratio(e, "palpebral_fissure_right")));
        }
        w.write_record(&row).map_err(werr)?;
    }
    w.flush().map_err(|e| ExportError::Write(e.to_string()))?;
    Ok(history.screenings.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::{ingest, Via};
    use ed25519_dalek::SigningKey;
    use screening::record::{DeviceId, PatientRef, Record, RecordBody, RecordHash};
    use screening::testing::kiosk_key;

    /// `key`'s chain of `bodies`, each stamped at its time.
    fn signed(key: &SigningKey, bodies: Vec<(i64, RecordBody)>) -> Vec<SignedRecord> {
        let device = DeviceId::of(&key.verifying_key());
        let mut prev = RecordHash::GENESIS;
        bodies
            .into_iter()
            .enumerate()
            .map(|(seq, (at, body))| {
                let r = Record::new(device, seq as u64, prev, at, 1, seq as u64, body);
                let s = SignedRecord::sign(&r, key).unwrap();
                prev = s.hash();
                s
            })
            .collect()
    }

    fn body(patient: &str, score: f32, model: [u8; 32]) -> RecordBody {
        let mut b = RecordBody::example();
        b.patient = Some(PatientRef::new(patient).unwrap());
        b.decision.score = Some(score);
        b.model.sha256 = model;
        b
    }

    const DAY: i64 = 86_400_000;

    /// Two kiosks; P-7 screened three times (the first by another model),
    /// P-8 once.
    fn store() -> Store {
        let (a, b) = (kiosk_key(1), kiosk_key(2));
        let mut store = Store::open_in_memory().unwrap();
        store
            .enroll(&a.verifying_key(), "ward 3", "north", 0)
            .unwrap();
        store
            .enroll(&b.verifying_key(), "van", "mobile", 0)
            .unwrap();
        let t0 = 1_750_000_000_000;
        let chain_a = signed(
            &a,
            vec![
                (t0, body("P-7", 0.9, [1; 32])),
                (t0 + 10 * DAY, body("P-8", 0.1, [2; 32])),
                (t0 + 60 * DAY, body("P-7", 0.3, [2; 32])),
            ],
        );
        let chain_b = signed(&b, vec![(t0 + 30 * DAY, body("P-7", 0.5, [2; 32]))]);
        ingest(
            &mut store,
            DeviceId::of(&a.verifying_key()),
            &chain_a,
            Via::Http,
        )
        .unwrap();
        ingest(
            &mut store,
            DeviceId::of(&b.verifying_key()),
            &chain_b,
            Via::Usb,
        )
        .unwrap();
        store
    }

    #[test]
    fn a_patient_is_followed_across_kiosks_oldest_first() {
        let h = history(&store(), "P-7").unwrap();
        let scores: Vec<_> = h
            .screenings
            .iter()
            .map(|s| s.verified.as_ref().unwrap().score.unwrap())
            .collect();
        assert_eq!(scores, [0.9, 0.5, 0.3]);
        let kiosks: Vec<_> = h.screenings.iter().map(|s| s.kiosk_name.as_str()).collect();
        assert_eq!(kiosks, ["ward 3", "van", "ward 3"]);
        // The example body's eye ratios come through, verified.
        assert_eq!(
            h.screenings[0].ratio(Expression::BigSmile, FISSURE_RATIO),
            Some(0.62)
        );
        assert!(history(&store(), "P-9").unwrap().screenings.is_empty());
    }

    #[test]
    fn a_screening_by_another_model_is_marked_and_never_joined() {
        let h = history(&store(), "P-7").unwrap();
        assert_eq!(h.reference().unwrap().model_sha256, hex::encode([2u8; 32]));
        let same: Vec<_> = h.screenings.iter().map(|s| h.same_scoring(s)).collect();
        assert_eq!(same, [false, true, true]);
        let mut csv = Vec::new();
        assert_eq!(write_csv(&h, &mut csv).unwrap(), 3);
        let text = String::from_utf8(csv).unwrap();
        let lines: Vec<_> = text.lines().collect();
        assert_eq!(lines.len(), 4);
        let header: Vec<_> = lines[0].split(',').collect();
        let col = |name: &str| header.iter().position(|h| *h == name).unwrap();
        let first: Vec<_> = lines[1].split(',').collect();
        assert_eq!(first[col("scored_like_newest")], "false");
        assert_eq!(first[col("score")], "0.9000");
        assert_eq!(first[col("big_smile_fissure_ratio")], "0.6200");
        assert_eq!(first[col("signature")], "valid");
        let last: Vec<_> = lines[3].split(',').collect();
        assert_eq!(last[col("scored_like_newest")], "true");
        assert_eq!(last[col("kiosk_name")], "ward 3");
    }

    #[test]
    fn an_altered_record_is_listed_without_its_figures() {
        let mut store = store();
        let conn = store.conn_mut();
        let mut raw: Vec<u8> = conn
            .query_row(
                "SELECT raw FROM records WHERE patient_ref = 'P-8'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        raw[20] ^= 1;
        conn.execute(
            "UPDATE records SET raw = ?1 WHERE patient_ref = 'P-8'",
            [raw],
        )
        .unwrap();
        let h = history(&store, "P-8").unwrap();
        let why = h.screenings[0].verified.as_ref().unwrap_err();
        assert!(!why.is_empty());
        assert_eq!(
            h.screenings[0].ratio(Expression::BigSmile, FISSURE_RATIO),
            None
        );
        assert!(h.reference().is_none());
        let mut csv = Vec::new();
        write_csv(&h, &mut csv).unwrap();
        let text = String::from_utf8(csv).unwrap();
        assert!(text.contains("NOT VALID"), "{text}");
    }
}
