//! Turning one screening's expression series into one answer.
//!
//! A screening photographs several expressions. Synkinesis shows most while
//! the patient smiles or purses the lips (the eye on the affected side
//! narrows: oral-ocular synkinesis) and while they close the eyes tightly (the
//! mouth corner pulls). The decision takes the most suspicious of those
//! expressions, so one clear sign is enough to refer, and says explicitly
//! when the series is incomplete rather than guessing.
//!
//! Two kinds of evidence feed it: the classifier's probability for an
//! expression (when a classifier is loaded) and the landmark measure of
//! Auto-eFACE, the palpebral fissure of one eye against the other during big
//! smile and pucker, normalised by the same ratio at rest so that a patient
//! whose eyes differ at rest is not referred for that alone.
//!
//! **The classifier rule** ([`Rule::Classifier`], threshold from the
//! manifest via [`crate::classifier::Classifier::rule`]): a series is
//! positive (Refer) when the highest synkinesis probability among big smile,
//! pucker and tight eye closure reaches the threshold. Rest and the other
//! expressions never decide. It is negative (No synkinesis detected) only
//! when all three were captured and classified and all stay below the
//! threshold.
//!
//! **A partial series** (some sign expression not captured, or captured
//! without a probability) is answered explicitly, never by guessing: Refer
//! when an expression that was captured already reaches the threshold (more
//! photos cannot undo a clear sign); otherwise Incomplete, with
//! [`Decision::missing`] naming the expressions to retake, because the
//! missing photo is the one that could have shown it. An empty series is
//! Incomplete.

use serde::{Deserialize, Serialize};

use crate::geometry::{PerSide, Point};
use crate::protocol::Expression;
pub use crate::protocol::{EYE_NARROWING_EXPRESSIONS, SIGN_EXPRESSIONS};

/// What the kiosk tells the nurse. Records store it as the variant's
/// index, so new outcomes go at the end.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Signs of synkinesis: refer to a facial palsy specialist.
    Refer,
    /// No sign of synkinesis in the expressions that were captured.
    NoSynkinesisDetected,
    /// Not enough expressions were captured to answer.
    Incomplete,
}

impl Outcome {
    /// The large line on the result screen.
    pub fn headline(self) -> &'static str {
        match self {
            Outcome::Refer => "Refer to a facial palsy specialist",
            Outcome::NoSynkinesisDetected => "No synkinesis detected",
            Outcome::Incomplete => "Screening incomplete",
        }
    }

    /// Lower-case name, as written in records and exports.
    pub fn name(self) -> &'static str {
        match self {
            Outcome::Refer => "refer",
            Outcome::NoSynkinesisDetected => "no_synkinesis_detected",
            Outcome::Incomplete => "incomplete",
        }
    }
}

/// The line every result carries, on screens, pages and exports.
pub const DISCLAIMER: &str = "Screening aid, not a diagnosis. Validated on synthetic faces only.";

/// What was measured for one captured expression.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ExpressionEvidence {
    /// Which expression.
    pub expression: Expression,
    /// The classifier's probability of synkinesis, when a classifier ran.
    pub probability: Option<f32>,
    /// Palpebral fissure height, left ÷ interocular distance.
    pub fissure_left: f32,
    /// Palpebral fissure height, right ÷ interocular distance.
    pub fissure_right: f32,
    /// The mouth corners in the face frame
    /// ([`crate::face::Measures::commissure_face`]), when measured: the
    /// series model compares their movement from rest side by side.
    pub mouth: Option<PerSide<Point>>,
}

/// Which evidence decides, and where the line is.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "rule", rename_all = "snake_case")]
pub enum Rule {
    /// Highest classifier probability among [`SIGN_EXPRESSIONS`] against `threshold`.
    Classifier {
        /// Refer at or above this probability.
        threshold: f32,
    },
    /// Auto-eFACE-style eye narrowing: refer when one eye's fissure, relative
    /// to the other and to rest, falls to `threshold` or below during big
    /// smile or pucker. The score is `1 − ratio`, so higher is more suspicious.
    EyeNarrowing {
        /// Refer at or below this relative fissure ratio.
        threshold: f32,
    },
    /// The series model ([`crate::series_model`]): one probability for the
    /// whole series from both sides of each expression against rest.
    /// Decided by [`crate::series_model::SeriesModel::decide`]; [`decide`]
    /// has no such probability and answers it Incomplete.
    Series {
        /// Refer at or above this probability.
        threshold: f32,
    },
}

impl Rule {
    /// Short name for records and screens.
    pub fn name(&self) -> &'static str {
        match self {
            Rule::Classifier { .. } => "classifier_max_sign_expression",
            Rule::EyeNarrowing { .. } => "eye_narrowing_ratio",
            Rule::Series { .. } => "series_model",
        }
    }
}

/// The answer for one screening.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Decision {
    /// Refer, no synkinesis detected, or incomplete.
    pub outcome: Outcome,
    /// The deciding score (higher is more suspicious), when there was evidence.
    pub score: Option<f32>,
    /// The score at or above which the kiosk refers.
    pub threshold: f32,
    /// Which rule decided.
    pub rule: Rule,
    /// The expression that gave the score.
    pub deciding: Option<Expression>,
    /// Sign expressions the protocol wanted but did not capture.
    pub missing: Vec<Expression>,
}

/// Relative eye narrowing during `expression`: the narrower eye's fissure
/// over the wider one's, each divided by its own fissure at rest when a rest
/// capture exists. 1 means both eyes narrowed alike; 0.4 means one eye
/// closed to 40 % of the other.
pub fn relative_fissure_ratio(
    e: &ExpressionEvidence,
    rest: Option<&ExpressionEvidence>,
) -> Option<f32> {
    let (mut l, mut r) = (e.fissure_left, e.fissure_right);
    if let Some(rest) = rest {
        if rest.fissure_left > f32::EPSILON && rest.fissure_right > f32::EPSILON {
            l /= rest.fissure_left;
            r /= rest.fissure_right;
        }
    }
    let hi = l.max(r);
    (hi > f32::EPSILON && l.is_finite() && r.is_finite()).then(|| l.min(r) / hi)
}

/// The one threshold comparison every decision makes: a score at or over
/// the threshold refers. The kiosk's series, the web page's single photo
/// and the clinic's evaluation all ask here, so they cannot disagree at the
/// boundary.
pub fn reaches(score: f32, threshold: f32) -> bool {
    score >= threshold
}

/// Whether `decision` stands too close to its threshold to rest on one
/// photo: its score lies within `half_width` of the threshold. Only an
/// answered series can be in doubt (an incomplete one already names what
/// to retake), and only one with a deciding expression to photograph again.
pub fn in_doubt(decision: &Decision, half_width: f32) -> bool {
    let answered = matches!(
        decision.outcome,
        Outcome::Refer | Outcome::NoSynkinesisDetected
    );
    answered
        && decision.deciding.is_some()
        && decision
            .score
            .is_some_and(|s| (s - decision.threshold).abs() < half_width)
}

/// Decides one screening from the evidence of the expressions captured.
///
/// A *partial series* is answered explicitly: when any sign expression
/// already gives a score at or over the threshold the answer is Refer (more
/// photos cannot undo a clear sign); when none does but some sign expression
/// is missing, the answer is Incomplete, naming what is missing, because the
/// missing photo is the one that could have shown it.
pub fn decide(evidence: &[ExpressionEvidence], rule: Rule) -> Decision {
    let rest = evidence.iter().find(|e| e.expression == Expression::Rest);
    let (candidates, threshold): (&[Expression], f32) = match rule {
        Rule::Classifier { threshold } | Rule::Series { threshold } => {
            (&SIGN_EXPRESSIONS, threshold)
        }
        Rule::EyeNarrowing { threshold } => (&EYE_NARROWING_EXPRESSIONS, 1.0 - threshold),
    };
    let mut best: Option<(f32, Expression)> = None;
    let mut missing = Vec::new();
    for &wanted in candidates {
        let Some(e) = evidence.iter().find(|e| e.expression == wanted) else {
            missing.push(wanted);
            continue;
        };
        let score = match rule {
            Rule::Classifier { .. } => e.probability,
            Rule::EyeNarrowing { .. } => relative_fissure_ratio(e, rest).map(|r| 1.0 - r),
            Rule::Series { .. } => None,
        };
        if let Some(s) = score.filter(|s| s.is_finite()) {
            if best.is_none_or(|(b, _)| s > b) {
                best = Some((s, wanted));
            }
        } else {
            missing.push(wanted);
        }
    }
    let outcome = match best {
        Some((s, _)) if reaches(s, threshold) => Outcome::Refer,
        Some(_) if missing.is_empty() => Outcome::NoSynkinesisDetected,
        _ => Outcome::Incomplete,
    };
    Decision {
        outcome,
        score: best.map(|b| b.0),
        threshold,
        rule,
        deciding: best.map(|b| b.1),
        missing,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(expression: Expression, l: f32, r: f32, p: Option<f32>) -> ExpressionEvidence {
        ExpressionEvidence {
            expression,
            probability: p,
            fissure_left: l,
            fissure_right: r,
            mouth: None,
        }
    }

    const NARROW: Rule = Rule::EyeNarrowing { threshold: 0.75 };

    #[test]
    fn one_eye_narrowing_in_smile_refers() {
        let series = [
            ev(Expression::Rest, 0.30, 0.30, None),
            ev(Expression::BigSmile, 0.12, 0.27, None),
            ev(Expression::Pucker, 0.28, 0.29, None),
        ];
        let d = decide(&series, NARROW);
        assert_eq!(d.outcome, Outcome::Refer);
        assert_eq!(d.deciding, Some(Expression::BigSmile));
        assert!(d.score.unwrap() > 0.5);
    }

    #[test]
    fn resting_asymmetry_alone_does_not_refer() {
        // A flaccid palsy: the affected eye is wider at rest and barely moves.
        let series = [
            ev(Expression::Rest, 0.36, 0.30, None),
            ev(Expression::BigSmile, 0.34, 0.27, None),
            ev(Expression::Pucker, 0.35, 0.29, None),
        ];
        assert_eq!(
            decide(&series, NARROW).outcome,
            Outcome::NoSynkinesisDetected
        );
    }

    #[test]
    fn partial_series_is_explicit() {
        let calm = [
            ev(Expression::Rest, 0.3, 0.3, None),
            ev(Expression::BigSmile, 0.28, 0.29, None),
        ];
        let d = decide(&calm, NARROW);
        assert_eq!(d.outcome, Outcome::Incomplete);
        assert_eq!(d.missing, vec![Expression::Pucker]);

        let clear = [ev(Expression::Pucker, 0.1, 0.3, None)];
        assert_eq!(
            decide(&clear, NARROW).outcome,
            Outcome::Refer,
            "one clear sign is enough"
        );
        assert_eq!(decide(&[], NARROW).outcome, Outcome::Incomplete);
    }

    #[test]
    fn classifier_rule_takes_the_highest_sign_expression() {
        let rule = Rule::Classifier { threshold: 0.5 };
        let series = [
            ev(Expression::Rest, 0.3, 0.3, Some(0.99)),
            ev(Expression::BigSmile, 0.3, 0.3, Some(0.2)),
            ev(Expression::Pucker, 0.3, 0.3, Some(0.4)),
            ev(Expression::TightEyeClosure, 0.0, 0.0, Some(0.3)),
        ];
        let d = decide(&series, rule);
        assert_eq!(
            d.outcome,
            Outcome::NoSynkinesisDetected,
            "rest is not a sign expression"
        );
        assert_eq!(d.deciding, Some(Expression::Pucker));
    }

    #[test]
    fn classifier_partial_series_is_explicit() {
        let rule = Rule::Classifier { threshold: 0.6 };
        // Below the threshold with tight eye closure missing: incomplete.
        let calm = [
            ev(Expression::BigSmile, 0.3, 0.3, Some(0.2)),
            ev(Expression::Pucker, 0.3, 0.3, Some(0.59)),
        ];
        let d = decide(&calm, rule);
        assert_eq!(d.outcome, Outcome::Incomplete);
        assert_eq!(d.missing, vec![Expression::TightEyeClosure]);
        assert_eq!(d.score, Some(0.59));
        // A captured expression at the threshold refers despite the gap.
        let clear = [ev(Expression::Pucker, 0.3, 0.3, Some(0.6))];
        let d = decide(&clear, rule);
        assert_eq!(d.outcome, Outcome::Refer);
        assert_eq!(d.deciding, Some(Expression::Pucker));
        // A photo without a probability (or a NaN one) counts as missing.
        let unscored = [
            ev(Expression::BigSmile, 0.3, 0.3, Some(0.1)),
            ev(Expression::Pucker, 0.3, 0.3, None),
            ev(Expression::TightEyeClosure, 0.3, 0.3, Some(f32::NAN)),
        ];
        let d = decide(&unscored, rule);
        assert_eq!(d.outcome, Outcome::Incomplete);
        assert_eq!(
            d.missing,
            vec![Expression::Pucker, Expression::TightEyeClosure]
        );
        // All three present and below: no synkinesis detected.
        let full = [
            ev(Expression::BigSmile, 0.3, 0.3, Some(0.1)),
            ev(Expression::Pucker, 0.3, 0.3, Some(0.2)),
            ev(Expression::TightEyeClosure, 0.3, 0.3, Some(0.3)),
        ];
        assert_eq!(decide(&full, rule).outcome, Outcome::NoSynkinesisDetected);
    }

    #[test]
    fn only_an_answer_near_the_threshold_is_in_doubt() {
        let rule = Rule::Classifier { threshold: 0.3 };
        let full = |p: f32| {
            [
                ev(Expression::BigSmile, 0.3, 0.3, Some(0.1)),
                ev(Expression::Pucker, 0.3, 0.3, Some(p)),
                ev(Expression::TightEyeClosure, 0.3, 0.3, Some(0.1)),
            ]
        };
        assert!(in_doubt(&decide(&full(0.33), rule), 0.05), "just over");
        assert!(in_doubt(&decide(&full(0.27), rule), 0.05), "just under");
        assert!(!in_doubt(&decide(&full(0.36), rule), 0.05));
        assert!(
            !in_doubt(&decide(&full(0.33), rule), 0.0),
            "a zero band never asks"
        );
        let d = decide(&full(0.27), rule);
        assert_eq!(d.deciding, Some(Expression::Pucker), "the one to retake");
        // Incomplete: the missing expression is the retake, not the band's.
        let partial = [ev(Expression::Pucker, 0.3, 0.3, Some(0.29))];
        assert!(!in_doubt(&decide(&partial, rule), 0.05));
    }

    #[test]
    fn closed_eyes_give_no_ratio() {
        assert_eq!(
            relative_fissure_ratio(&ev(Expression::BigSmile, 0.0, 0.0, None), None),
            None
        );
    }
}
