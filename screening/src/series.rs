//! One patient's photo series: what a screening in progress has captured,
//! and the finished screening with its decision.
//!
//! The kiosk's session fills a [`Series`] one expression at a time and hands
//! it to [`Series::decide`]; the record is built from the [`Screening`] that
//! comes back ([`crate::record::RecordBody::from_series`]), so the figures a
//! record carries are the ones the decision weighed.

use image::RgbImage;

use crate::classifier::Heatmap;
use crate::decision::{self, Decision, ExpressionEvidence, Rule};
use crate::protocol::Expression;
use crate::record::patient_ref::PatientRef;
use crate::series_model::{self, SeriesModel};

/// One expression that was captured.
#[derive(Debug, Clone)]
pub struct Capture {
    /// What was measured.
    pub evidence: ExpressionEvidence,
    /// The aligned standard view.
    pub view: RgbImage,
    /// The quality figures of the chosen frame.
    pub sharpness: f32,
    /// Frames the kiosk looked at for this expression.
    pub frames_seen: u32,
    /// Where the classifier saw synkinesis, when a classifier ran.
    pub heatmap: Option<Heatmap>,
}

/// A screening in progress.
#[derive(Debug, Clone, Default)]
pub struct Series {
    /// The patient reference, checked when it was entered.
    pub patient_reference: Option<PatientRef>,
    /// Captures in protocol order (skipped expressions are absent).
    pub captures: Vec<Capture>,
    /// Expressions given up, with the last reason.
    pub skipped: Vec<(Expression, String)>,
    /// The expression photographed a second time because the first answer
    /// stood too close to the threshold ([`decision::in_doubt`]); a series
    /// gets at most one such retake.
    pub retaken: Option<Expression>,
}

impl Series {
    /// What the series would answer now by `rule`, without finishing it;
    /// `model` is the series model, needed by [`Rule::Series`].
    pub fn provisional(&self, rule: Rule, model: Option<&SeriesModel>) -> Decision {
        series_model::decide(&self.evidence(), rule, model)
    }

    /// The evidence of every capture, in capture order.
    pub fn evidence(&self) -> Vec<ExpressionEvidence> {
        self.captures.iter().map(|c| c.evidence).collect()
    }

    /// Puts `capture` in place of the earlier capture of its expression.
    pub fn replace(&mut self, capture: Capture) {
        let expression = capture.evidence.expression;
        match self
            .captures
            .iter_mut()
            .find(|c| c.evidence.expression == expression)
        {
            Some(old) => *old = capture,
            None => self.captures.push(capture),
        }
    }

    /// Decides the series by `rule` (see [`Series::provisional`]) and finishes it.
    pub fn decide(self, rule: Rule, model: Option<&SeriesModel>) -> Screening {
        Screening {
            decision: self.provisional(rule, model),
            patient_reference: self.patient_reference,
            captures: self.captures,
            skipped: self.skipped,
            retaken: self.retaken,
        }
    }
}

/// A finished screening, as handed to storage.
#[derive(Debug, Clone)]
pub struct Screening {
    /// The patient reference, checked when it was entered.
    pub patient_reference: Option<PatientRef>,
    /// Captures in protocol order (skipped expressions are absent).
    pub captures: Vec<Capture>,
    /// Expressions given up after the step timeout, with the last reason.
    pub skipped: Vec<(Expression, String)>,
    /// The expression photographed again because the first answer was in doubt.
    pub retaken: Option<Expression>,
    /// The answer.
    pub decision: Decision,
}

impl Screening {
    /// The rest capture, which the eye measure is normalised by.
    pub fn rest(&self) -> Option<&Capture> {
        self.captures
            .iter()
            .find(|c| c.evidence.expression == Expression::Rest)
    }

    /// The relative fissure ratio of `capture` as the eye-narrowing rule
    /// scores it: against the other eye, each eye over its own opening at
    /// rest when the series has a rest capture.
    pub fn fissure_ratio(&self, capture: &Capture) -> Option<f32> {
        decision::relative_fissure_ratio(&capture.evidence, self.rest().map(|r| &r.evidence))
    }

    /// The capture of the expression that decided, else the first capture.
    pub fn deciding_capture(&self) -> Option<&Capture> {
        let by_decider = self
            .decision
            .deciding
            .and_then(|e| self.captures.iter().find(|c| c.evidence.expression == e));
        by_decider.or(self.captures.first())
    }

    /// What the result screen shows of the face: the deciding view with the
    /// classifier's heatmap over it when there is one, so the nurse sees
    /// where the network looked.
    pub fn deciding_picture(&self) -> Option<RgbImage> {
        let c = self.deciding_capture()?;
        Some(match &c.heatmap {
            Some(h) => h.to_overlay(&c.view),
            None => c.view.clone(),
        })
    }
}
