//! The record body of a finished screening: the one place where a series
//! and its decision become the fields a kiosk signs.

use super::format::{DecisionRecord, ExpressionRecord, Figure, ModelRef, RecordBody};
use crate::decision::Decision;
use crate::series::Screening;

impl RecordBody {
    /// The body recording `screening`, naming `model` as what produced the
    /// deciding evidence. The eye ratio recorded for each expression is the
    /// one the eye-narrowing rule scores (normalised by rest when the series
    /// has a rest capture), so record and decision agree about each photo.
    pub fn from_series(screening: &Screening, model: &ModelRef) -> RecordBody {
        let mut expressions: Vec<ExpressionRecord> = screening
            .captures
            .iter()
            .map(|c| {
                let e = &c.evidence;
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
                        Figure::new(
                            "palpebral_fissure_ratio",
                            screening.fissure_ratio(c).unwrap_or(0.0),
                        ),
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
        RecordBody {
            patient: screening.patient_reference.clone(),
            model: model.clone(),
            expressions,
            decision: DecisionRecord::of(&screening.decision),
            attachments: Vec::new(),
        }
    }
}

impl DecisionRecord {
    /// What the record keeps of `d`.
    pub fn of(d: &Decision) -> DecisionRecord {
        DecisionRecord {
            outcome: d.outcome,
            score: d.score,
            threshold: d.threshold,
            rule: d.rule.name().to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::decision::Outcome;

    #[test]
    fn outcomes_keep_their_record_encoding() {
        for (o, byte) in [
            (Outcome::Refer, 0u8),
            (Outcome::NoSynkinesisDetected, 1),
            (Outcome::Incomplete, 2),
        ] {
            assert_eq!(postcard::to_allocvec(&o).unwrap(), [byte], "{o:?}");
        }
    }
}
