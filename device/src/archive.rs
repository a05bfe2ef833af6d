//! Turning a finished screening into a signed record: the bridge between
//! the session (which knows expressions and decisions) and the record store
//! (which knows chains and signatures).

use screening::decision::{Decision, Outcome as DecisionOutcome};
use screening::record::{
    DecisionRecord, ExpressionRecord, Figure, ModelRef, Outcome, PatientRef, RecordBody,
};

use crate::record_store::RecordStore;
use crate::session::{ResultStore, Screening};

/// The record body of `screening`, naming `model` as what produced the evidence.
pub fn record_body(screening: &Screening, model: &ModelRef) -> Result<RecordBody, String> {
    let patient = match &screening.patient_reference {
        Some(r) => Some(
            PatientRef::new(r.clone()).map_err(|e| format!("patient reference refused: {e}"))?,
        ),
        None => None,
    };
    let mut expressions: Vec<ExpressionRecord> = screening
        .captures
        .iter()
        .map(|c| {
            let e = &c.evidence;
            let ratio = screening::decision::relative_fissure_ratio(e, None).unwrap_or(0.0);
            ExpressionRecord {
                expression: e.expression.name().to_string(),
                probability: e.probability,
                quality: vec![
                    Figure::new("sharpness", c.sharpness),
                    Figure::new("frames_seen", c.frames_seen as f32),
                ],
                ratios: vec![
                    Figure::new("palpebral_fissure_left", e.fissure_left),
                    Figure::new("palpebral_fissure_right", e.fissure_right),
                    Figure::new("palpebral_fissure_ratio", ratio),
                ],
            }
        })
        .collect();
    // A skipped expression is recorded too, with no figures, so the series shows its gap.
    expressions.extend(screening.skipped.iter().map(|(e, _)| ExpressionRecord {
        expression: e.name().to_string(),
        probability: None,
        quality: Vec::new(),
        ratios: Vec::new(),
    }));
    Ok(RecordBody {
        patient,
        model: model.clone(),
        expressions,
        decision: decision_record(&screening.decision),
        attachments: Vec::new(),
    })
}

fn decision_record(d: &Decision) -> DecisionRecord {
    DecisionRecord {
        outcome: match d.outcome {
            DecisionOutcome::Refer => Outcome::Refer,
            DecisionOutcome::NoSynkinesisDetected => Outcome::NoSynkinesisDetected,
            DecisionOutcome::Incomplete => Outcome::Incomplete,
        },
        score: d.score,
        threshold: d.threshold,
        rule: d.rule.name().to_string(),
    }
}

/// The record store, as the session's durable result store.
pub struct SignedArchive<'a> {
    /// Where records go.
    pub store: &'a mut RecordStore,
    /// What produced the evidence.
    pub model: ModelRef,
}

impl ResultStore for SignedArchive<'_> {
    fn save(&mut self, screening: &Screening) -> Result<String, String> {
        let body = record_body(screening, &self.model)?;
        let record = self.store.append(body).map_err(|e| e.to_string())?;
        let r = record.decode_unverified().map_err(|e| e.to_string())?;
        Ok(format!(
            "record {} of kiosk {}",
            r.sequence,
            r.device.short()
        ))
    }
}
