//! The landmark evidence of one series as the series model reads it.
//!
//! Clinicians grade synkinesis by comparing each side with the other and
//! each expression with the same patient's rest (Auto-eFACE, Emotrics). So
//! every feature here is a difference between the two sides of one face,
//! each side first set against its own rest: an eye that is smaller than
//! its fellow at rest, or a mouth that sits crooked, does not count until
//! it *moves* differently.
//!
//! Two palsies narrow an eye during a smile, and the features tell them
//! apart by which side the mouth moves less on (the *weaker side*):
//! - synkinesis narrows the eye on the weak side (the regenerated nerve
//!   fires the eye's muscle with the mouth's);
//! - a flaccid palsy leaves the weak side's eye open while the healthy
//!   side's cheek rises and narrows the healthy eye.
//!
//! The side-signed features are weighted by how clearly one side is weaker,
//! so a face whose mouth moves alike on both sides (or not at all, as in a
//! still photo) gets no side evidence, only the unsigned narrowing.
//!
//! A missing sign expression contributes neutral values (no narrowing, no
//! pull), which is what [`crate::series_model::SeriesModel`] uses to answer a
//! partial series and to tell which expression decided.

use crate::decision::ExpressionEvidence;
use crate::geometry::{PerSide, Side};
use crate::protocol::Expression;

/// The number of features this runtime can compute.
pub const COUNT: usize = 12;

/// Every feature this runtime can compute, in [`SeriesFeatures::values`]
/// order. A model's manifest entry lists the ones it reads, in its input
/// order; a name not in this list is refused at load. The last three are
/// the single-view classifier's logits for the sign expressions (the image
/// branch of a fused model), NaN when no classifier scored the photos.
pub const NAMES: [&str; COUNT] = [
    "narrow_big_smile",
    "narrow_pucker",
    "eye_side_big_smile",
    "eye_side_pucker",
    "smile_weakness",
    "closure_pull",
    "closure_pull_side",
    "closure_lift_side",
    "rest_eye_side",
    "logit_big_smile",
    "logit_pucker",
    "logit_tight_eye_closure",
];

/// Index in [`NAMES`] of the first classifier logit.
pub const FIRST_LOGIT: usize = 9;

/// The expressions the features read, rest first.
pub const READS: [Expression; 4] = [
    Expression::Rest,
    Expression::BigSmile,
    Expression::Pucker,
    Expression::TightEyeClosure,
];

/// Mouth movement (interocular distances) below which neither side can be
/// called the weaker: a still face has no weak side.
const STILL: f32 = 0.02;

/// One series' features and what it lacked.
#[derive(Debug, Clone, PartialEq)]
pub struct SeriesFeatures {
    /// In [`NAMES`] order.
    pub values: [f32; COUNT],
    /// Sign expressions of [`READS`] that were absent or unmeasured; their
    /// features are neutral.
    pub missing: Vec<Expression>,
}

/// What one expression adds, relative to rest.
struct Moved {
    /// Each eye's fissure over its own at rest.
    eye: PerSide<f32>,
    /// How far each mouth corner moved from rest.
    excursion: PerSide<f32>,
    /// How far each corner moved down the face from rest (negative: up).
    drop: PerSide<f32>,
}

fn moved(e: &ExpressionEvidence, rest: &ExpressionEvidence) -> Option<Moved> {
    let (mouth, rest_mouth) = (e.mouth?, rest.mouth?);
    let rest_eye = PerSide::new(rest.fissure_left, rest.fissure_right);
    if !(rest_eye.left > f32::EPSILON && rest_eye.right > f32::EPSILON) {
        return None;
    }
    let m = Moved {
        eye: PerSide::new(
            e.fissure_left / rest_eye.left,
            e.fissure_right / rest_eye.right,
        ),
        excursion: PerSide::new(
            mouth.left.distance(rest_mouth.left),
            mouth.right.distance(rest_mouth.right),
        ),
        drop: PerSide::new(
            mouth.left.y - rest_mouth.left.y,
            mouth.right.y - rest_mouth.right.y,
        ),
    };
    let values = [
        m.eye.left,
        m.eye.right,
        m.excursion.left,
        m.excursion.right,
        m.drop.left,
        m.drop.right,
    ];
    values.iter().all(|v| v.is_finite()).then_some(m)
}

/// 1 − the narrower eye over the wider one: 0 when both moved alike.
fn narrowing(eye: PerSide<f32>) -> f32 {
    let hi = eye.left.max(eye.right);
    if hi > f32::EPSILON {
        1.0 - eye.left.min(eye.right) / hi
    } else {
        0.0
    }
}

/// ln(weak side's value ÷ the other's), 0 when either is not positive.
fn log_ratio(v: PerSide<f32>, weak: Side) -> f32 {
    let (w, o) = (*v.get(weak), *v.get(weak.opposite()));
    if w > f32::EPSILON && o > f32::EPSILON {
        (w / o).ln()
    } else {
        0.0
    }
}

/// The side whose mouth corner moved less, and how clearly (0 to 1:
/// the difference over the sum); `None` for a still mouth.
fn weaker_side(excursion: PerSide<f32>) -> Option<(Side, f32)> {
    let (l, r) = (excursion.left, excursion.right);
    if l + r < STILL {
        return None;
    }
    let side = if l < r { Side::Left } else { Side::Right };
    Some((side, (l - r).abs() / (l + r)))
}

/// The features of a series, or `None` when it has no measured rest (every
/// feature is relative to rest).
pub fn features(evidence: &[ExpressionEvidence]) -> Option<SeriesFeatures> {
    let find = |x: Expression| evidence.iter().find(|e| e.expression == x);
    let rest = find(Expression::Rest)?;
    rest.mouth?;
    let mut missing = Vec::new();
    let mut get = |x: Expression| {
        let m = find(x).and_then(|e| moved(e, rest));
        if m.is_none() {
            missing.push(x);
        }
        m
    };
    let smile = get(Expression::BigSmile);
    let pucker = get(Expression::Pucker);
    let closure = get(Expression::TightEyeClosure);

    // The weaker side is read from the big smile, the widest movement of
    // the mouth, else from the pucker.
    let weak = smile
        .as_ref()
        .and_then(|m| weaker_side(m.excursion))
        .or_else(|| pucker.as_ref().and_then(|m| weaker_side(m.excursion)));
    let sided = |f: &dyn Fn(Side) -> f32| weak.map_or(0.0, |(side, how)| how * f(side));
    let smile_weakness = smile
        .as_ref()
        .and_then(|m| weaker_side(m.excursion))
        .map_or(0.0, |(_, how)| how);
    let rest_eye = PerSide::new(rest.fissure_left, rest.fissure_right);
    // A missing expression is neutral: rest's own score stands in for it.
    let logit = |x: Expression| {
        let p = find(x)
            .filter(|_| !missing_now(evidence, rest, x))
            .unwrap_or(rest)
            .probability;
        p.map_or(f32::NAN, |p| {
            let p = p.clamp(1e-4, 1.0 - 1e-4);
            (p / (1.0 - p)).ln()
        })
    };

    let values = [
        smile.as_ref().map_or(0.0, |m| narrowing(m.eye)),
        pucker.as_ref().map_or(0.0, |m| narrowing(m.eye)),
        smile
            .as_ref()
            .map_or(0.0, |m| sided(&|w| log_ratio(m.eye, w))),
        pucker
            .as_ref()
            .map_or(0.0, |m| sided(&|w| log_ratio(m.eye, w))),
        smile_weakness,
        closure
            .as_ref()
            .map_or(0.0, |m| (m.excursion.left - m.excursion.right).abs()),
        closure.as_ref().map_or(0.0, |m| {
            sided(&|w| m.excursion.get(w) - m.excursion.get(w.opposite()))
        }),
        closure.as_ref().map_or(0.0, |m| {
            sided(&|w| m.drop.get(w.opposite()) - m.drop.get(w))
        }),
        sided(&|w| log_ratio(rest_eye, w)),
        logit(Expression::BigSmile),
        logit(Expression::Pucker),
        logit(Expression::TightEyeClosure),
    ];
    Some(SeriesFeatures { values, missing })
}

/// Whether `x` counts as missing: absent, or not measured against rest.
fn missing_now(evidence: &[ExpressionEvidence], rest: &ExpressionEvidence, x: Expression) -> bool {
    !evidence
        .iter()
        .any(|e| e.expression == x && moved(e, rest).is_some())
}

/// `evidence` with `expression` replaced by a copy of rest: what the series
/// would show had that expression moved nothing.
pub fn neutralised(
    evidence: &[ExpressionEvidence],
    expression: Expression,
) -> Vec<ExpressionEvidence> {
    let rest = evidence.iter().find(|e| e.expression == Expression::Rest);
    evidence
        .iter()
        .map(|e| match rest {
            Some(r) if e.expression == expression => ExpressionEvidence { expression, ..*r },
            _ => *e,
        })
        .collect()
}

/// Series built by hand for the tests of this module and of the model.
#[cfg(test)]
pub(crate) mod fixtures {
    use super::*;
    use crate::geometry::Point;

    /// One expression's evidence: fissures `eyes` (left, right) and the
    /// mouth corners (left, right) in the face frame.
    pub(crate) fn ev(
        expression: Expression,
        eyes: (f32, f32),
        mouth: [(f32, f32); 2],
    ) -> ExpressionEvidence {
        ExpressionEvidence {
            expression,
            probability: None,
            fissure_left: eyes.0,
            fissure_right: eyes.1,
            mouth: Some(PerSide::new(
                Point::new(mouth[0].0, mouth[0].1),
                Point::new(mouth[1].0, mouth[1].1),
            )),
        }
    }

    pub(crate) const REST_MOUTH: [(f32, f32); 2] = [(0.45, 1.2), (-0.45, 1.2)];

    /// A series whose smile moves the mouth as given and the eyes to
    /// `smile_eyes`; pucker and closure as a healthy face makes them.
    pub(crate) fn series(
        smile_eyes: (f32, f32),
        smile_mouth: [(f32, f32); 2],
    ) -> Vec<ExpressionEvidence> {
        vec![
            ev(Expression::Rest, (0.3, 0.3), REST_MOUTH),
            ev(Expression::BigSmile, smile_eyes, smile_mouth),
            ev(Expression::Pucker, (0.3, 0.3), [(0.35, 1.2), (-0.35, 1.2)]),
            ev(Expression::TightEyeClosure, (0.0, 0.0), REST_MOUTH),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::fixtures::{ev, series, REST_MOUTH};
    use super::*;

    #[test]
    fn the_eye_on_the_weak_side_narrowing_is_signed_apart_from_a_flaccid_smile() {
        // The left corner moves less (weak). Synkinesis: the left eye narrows.
        let weak_left = [(0.5, 1.15), (-0.6, 1.05)];
        let synk = features(&series((0.2, 0.28), weak_left)).unwrap();
        // Flaccid: the healthy right eye narrows with its cheek.
        let flaccid = features(&series((0.3, 0.27), weak_left)).unwrap();
        assert!(synk.values[0] > flaccid.values[0]);
        assert!(synk.values[2] < 0.0, "weak-side eye narrower: negative");
        assert!(flaccid.values[2] > 0.0, "weak-side eye wider: positive");
        assert!(synk.values[4] > 0.3 && synk.missing.is_empty());
    }

    #[test]
    fn a_still_mouth_gives_no_side_evidence() {
        let f = features(&series((0.2, 0.3), REST_MOUTH)).unwrap();
        assert!((f.values[0] - 1.0 / 3.0).abs() < 1e-5);
        for i in [2, 3, 4, 6, 7, 8] {
            assert_eq!(f.values[i], 0.0, "{}", NAMES[i]);
        }
        assert!(f.values[FIRST_LOGIT].is_nan(), "no classifier, no logit");
    }

    #[test]
    fn logits_come_from_the_classifier_and_rest_stands_in_for_a_gap() {
        let mut s = series((0.28, 0.28), REST_MOUTH);
        for (e, p) in s.iter_mut().zip([0.1, 0.5, 0.9, 0.2]) {
            e.probability = Some(p);
        }
        let f = features(&s).unwrap();
        assert!(f.values[FIRST_LOGIT].abs() < 1e-6, "p 0.5 is logit 0");
        assert!((f.values[FIRST_LOGIT + 1] - 9f32.ln()).abs() < 1e-4);
        s.remove(2);
        let f = features(&s).unwrap();
        assert!((f.values[FIRST_LOGIT + 1] - (1.0f32 / 9.0).ln()).abs() < 1e-4);
    }

    #[test]
    fn a_corner_pulled_during_eye_closure_counts_on_its_side() {
        let mut s = series((0.28, 0.28), [(0.5, 1.15), (-0.6, 1.05)]);
        // The weak (left) corner rises and moves out while the eyes shut.
        s[3] = ev(
            Expression::TightEyeClosure,
            (0.0, 0.0),
            [(0.55, 1.1), (-0.45, 1.2)],
        );
        let f = features(&s).unwrap();
        assert!(f.values[5] > 0.1 && f.values[6] > 0.0 && f.values[7] > 0.0);
    }

    #[test]
    fn missing_and_neutral_expressions() {
        let mut s = series((0.2, 0.28), [(0.5, 1.15), (-0.6, 1.05)]);
        s.remove(2);
        let f = features(&s).unwrap();
        assert_eq!(f.missing, vec![Expression::Pucker]);
        assert_eq!(f.values[1], 0.0);
        let n = features(&neutralised(&s, Expression::BigSmile)).unwrap();
        assert_eq!(
            n.values[0], 0.0,
            "a smile that moved nothing narrows nothing"
        );
        assert!(features(&s[1..]).is_none(), "no rest, no features");
    }
}
