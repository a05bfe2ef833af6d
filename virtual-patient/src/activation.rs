//! The clinical model: turns a patient's condition and the requested face
//! state into per-side muscle activations. Healthy sides follow the command;
//! a palsied side moves less and droops at rest; a synkinetic side also
//! co-contracts (eye narrows with mouth movement, mouth corner pulls with eye
//! movement). Everything downstream (geometry, pixels, ground truth) reads
//! these numbers, so the clinical behaviour lives here and nowhere else.

use rand::Rng;

use super::face_state::FaceState;
use super::identity::{stream, Patient};
use super::rng;
use screening::geometry::{PerSide, Side};
use screening::protocol::Expression;
use screening::protocol::{Condition, Severity};

/// What one side of the face is doing. All values are 0..1 unless stated.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub(crate) struct SideActivation {
    /// Frontalis: brow up (1 = about 9 mm).
    pub brow_raise: f32,
    /// Corrugator and procerus: brow down and in.
    pub brow_lower: f32,
    /// Resting brow ptosis of a palsied side (1 = about 3.5 mm lower).
    pub brow_droop: f32,
    /// Palpebral fissure height as a fraction of the identity's rest height
    /// (0 = closed; slightly above 1 = wide open).
    pub aperture: f32,
    /// Share of the closure done by the lower lid rising (a squint) rather
    /// than the upper lid falling.
    pub lower_lid_share: f32,
    /// Orbital orbicularis oculi: lid bunching and crow's feet.
    pub squeeze: f32,
    /// Cheek mass pushed up (smile, squeeze).
    pub cheek_raise: f32,
    /// Zygomaticus: mouth corner up and out.
    pub smile: f32,
    /// Orbicularis oris: lips forward and narrow.
    pub pucker: f32,
    /// Depressor labii: lower lip down.
    pub lip_depress: f32,
    /// Levator labii: upper lip up, upper teeth shown.
    pub lip_raise: f32,
    /// Resting mouth corner droop of a palsied side (1 = about 3 mm lower).
    pub corner_droop: f32,
    /// Depth of the nasolabial fold relative to a healthy one.
    pub fold: f32,
}

/// Both sides' activations plus what the jaw does.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Activation {
    /// Per-side muscles, by the patient's own side.
    pub side: PerSide<SideActivation>,
    /// Jaw opening (0 closed, 1 = about 8 mm between the lips).
    pub jaw_open: f32,
}

/// The healthy response to the expression at full intensity.
fn command(e: Expression) -> (SideActivation, f32) {
    let mut a = SideActivation {
        aperture: 1.0,
        fold: 1.0,
        ..SideActivation::default()
    };
    let mut jaw = 0.0;
    match e {
        Expression::Rest => {}
        Expression::BrowElevation => a.brow_raise = 1.0,
        Expression::GentleEyeClosure => {
            a.aperture = 0.0;
            a.squeeze = 0.1;
        }
        Expression::TightEyeClosure => {
            a.aperture = 0.0;
            a.squeeze = 1.0;
            a.brow_lower = 0.9;
            a.cheek_raise = 0.7;
            a.lip_raise = 0.15;
            a.smile = 0.08;
        }
        Expression::SmallSmile => {
            a.smile = 0.5;
            a.cheek_raise = 0.3;
        }
        Expression::BigSmile => {
            a.smile = 1.0;
            a.cheek_raise = 1.0;
            a.lip_raise = 0.85;
            a.lip_depress = 0.3;
            jaw = 0.55;
        }
        Expression::Pucker => a.pucker = 1.0,
        Expression::LowerLipDepression => {
            a.lip_depress = 1.0;
            jaw = 0.35;
        }
    }
    (a, jaw)
}

/// Palsy traits a patient keeps across frames, drawn from its seed.
#[derive(Debug, Clone, Copy)]
struct Palsy {
    side: Side,
    /// Fraction of a healthy excursion the weak side reaches.
    excursion: f32,
    /// Resting droop, 0..1.
    droop: f32,
    /// Fraction of a full lid closure the weak side reaches.
    closure: f32,
    /// Rest aperture factor of the weak side.
    rest_aperture: f32,
    /// Depth of the weak side's nasolabial fold.
    fold: f32,
    /// (eye narrowing at full oral drive, mouth pull at full ocular drive).
    synkinesis: (f32, f32),
}

fn palsy(patient: &Patient) -> Option<Palsy> {
    let mut r = rng(patient.seed, stream::PALSY);
    let (a, b, c): (f32, f32, f32) = (r.gen(), r.gen(), r.gen());
    match patient.condition {
        Condition::Healthy => None,
        Condition::Flaccid { side } => {
            let droop = 0.5 + 0.5 * b;
            Some(Palsy {
                side,
                excursion: 0.15 + 0.3 * a,
                droop,
                // Lagophthalmos: the lid cannot close over the eye.
                closure: 0.3 + 0.35 * c,
                // A paralysed orbicularis lets the lids gape a little.
                rest_aperture: 1.0 + 0.15 * droop,
                fold: 1.0 - 0.65 * droop,
                synkinesis: (0.0, 0.0),
            })
        }
        Condition::Synkinetic {
            side,
            severity,
            pattern,
        } => {
            let droop = 0.3 + 0.4 * b;
            Some(Palsy {
                side,
                excursion: excursion(severity) * (0.95 + 0.1 * a),
                droop,
                // Regenerated orbicularis closes the eye nearly fully.
                closure: 0.9 + 0.1 * c,
                rest_aperture: 1.0 + 0.05 * (c - 0.5),
                fold: 1.0 - 0.3 * droop,
                synkinesis: (
                    if pattern.oral_ocular() {
                        eye_narrowing(severity)
                    } else {
                        0.0
                    },
                    if pattern.ocular_oral() {
                        mouth_pull(severity)
                    } else {
                        0.0
                    },
                ),
            })
        }
    }
}

/// How much the affected eye narrows during smile and pucker (oral-ocular),
/// as a fraction of its rest aperture.
fn eye_narrowing(severity: Severity) -> f32 {
    match severity {
        Severity::Mild => 0.25,
        Severity::Moderate => 0.45,
        Severity::Severe => 0.65,
    }
}

/// How far the affected mouth corner is pulled during eye closure
/// (ocular-oral), as a fraction of a full smile's excursion.
fn mouth_pull(severity: Severity) -> f32 {
    match severity {
        Severity::Mild => 0.25,
        Severity::Moderate => 0.45,
        Severity::Severe => 0.65,
    }
}

/// The fraction of a healthy excursion the affected side still reaches.
fn excursion(severity: Severity) -> f32 {
    match severity {
        Severity::Mild => 0.8,
        Severity::Moderate => 0.62,
        Severity::Severe => 0.45,
    }
}

impl Activation {
    /// The activations of `patient` in `state`.
    pub fn new(patient: &Patient, state: &FaceState) -> Activation {
        let i = state.intensity.clamp(0.0, 1.0);
        let blink = state.blink.clamp(0.0, 1.0);
        let (cmd, jaw) = command(state.expression);
        let palsy = palsy(patient);

        // What the patient asks of the face, scaled by how far into the
        // expression they are. The rest state is the identity at 0.
        let asked = SideActivation {
            brow_raise: cmd.brow_raise * i,
            brow_lower: cmd.brow_lower * i,
            aperture: 1.0 + (cmd.aperture - 1.0) * i,
            squeeze: cmd.squeeze * i,
            cheek_raise: cmd.cheek_raise * i,
            smile: cmd.smile * i,
            pucker: cmd.pucker * i,
            lip_depress: cmd.lip_depress * i,
            lip_raise: cmd.lip_raise * i,
            ..SideActivation::default()
        };
        // Synkinesis is driven by the command, not by what the weak side manages.
        let oral_drive = (1.4 * asked.smile).min(1.0).max(asked.pucker);
        let ocular_drive = (1.0 - asked.aperture)
            .max(0.7 * asked.brow_raise)
            .max(asked.squeeze);

        let per_side = |side: Side| {
            let asym = patient.identity.asymmetry.get(side);
            let mut a = asked;
            let strength = asym.strength;
            let mut closure = 1.0 - a.aperture;
            a.fold = 1.0;
            let mut rest_aperture = 1.0;
            let mut narrowing_synk = 0.0;
            if let Some(p) = palsy.filter(|p| p.side == side) {
                let e = p.excursion;
                a.brow_raise *= e;
                a.brow_lower *= e;
                a.squeeze *= e;
                a.cheek_raise *= e;
                a.smile *= e;
                a.pucker *= e;
                a.lip_depress *= e;
                a.lip_raise *= e;
                closure *= p.closure;
                a.brow_droop = p.droop;
                a.corner_droop = p.droop;
                a.fold = p.fold;
                rest_aperture = p.rest_aperture;
                let (narrow, pull) = p.synkinesis;
                narrowing_synk = narrow * oral_drive;
                // The pulled corner and bunched cheek are involuntary, so
                // they do not shrink with the weak side's excursion.
                a.smile = (a.smile + pull * ocular_drive).min(1.0);
                a.lip_raise = (a.lip_raise + 0.3 * pull * ocular_drive).min(1.0);
                a.cheek_raise = a.cheek_raise.max(narrowing_synk);
                a.squeeze = a.squeeze.max(0.6 * narrowing_synk);
            } else {
                a.brow_raise *= strength;
                a.smile = (a.smile * strength).min(1.0);
                a.cheek_raise = (a.cheek_raise * strength).min(1.0);
            }
            // The raised cheek narrows a healthy eye by about a tenth at a full
            // smile; a synkinetic eye narrows by its own amount. The two are
            // the same muscle, so the stronger one wins.
            let narrowing = (0.1 * a.cheek_raise).max(narrowing_synk).clamp(0.0, 1.0);
            let widen = 1.0 + 0.12 * a.brow_raise;
            // Closing drops the upper lid; narrowing is a squint, in which the
            // lower lid rises about as much as the upper one falls.
            let open = rest_aperture * widen * (1.0 - closure.clamp(0.0, 1.0));
            let squint = open * narrowing;
            let mut lower = 0.3 * open - 0.55 * squint;
            let mut upper = 0.7 * open - 0.45 * squint;
            if lower < 0.0 {
                upper += lower;
                lower = 0.0;
            }
            let total = (upper + lower).max(0.0);
            a.aperture = total * (1.0 - blink);
            a.lower_lid_share = if total > 1e-6 { lower / total } else { 0.3 };
            a
        };
        Activation {
            side: PerSide::new(per_side(Side::Left), per_side(Side::Right)),
            jaw_open: jaw * i,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use screening::protocol::{Pattern, Severity};

    fn act(c: Condition, e: Expression) -> Activation {
        Activation::new(&Patient::with_condition(7, c), &FaceState::full(e))
    }

    #[test]
    fn severe_oral_ocular_narrows_the_affected_eye_by_its_severity() {
        let c = Condition::Synkinetic {
            side: Side::Left,
            severity: Severity::Severe,
            pattern: Pattern::OralOcular,
        };
        let rest = act(c, Expression::Rest).side.left.aperture;
        let smile = act(c, Expression::BigSmile).side.left.aperture;
        assert!((smile / rest - 0.35).abs() < 0.02, "{}", smile / rest);
        let other = act(c, Expression::BigSmile).side.right.aperture;
        assert!((0.85..0.95).contains(&other), "{other}");
    }

    #[test]
    fn ocular_oral_pulls_the_corner_only_on_the_affected_side() {
        let c = Condition::Synkinetic {
            side: Side::Right,
            severity: Severity::Moderate,
            pattern: Pattern::OcularOral,
        };
        let a = act(c, Expression::GentleEyeClosure);
        assert!(a.side.right.smile > 0.4, "{:?}", a.side.right);
        assert!(a.side.left.smile < 0.01);
        assert_eq!(a.side.left.aperture, 0.0);
    }

    #[test]
    fn flaccid_side_moves_less_and_does_not_narrow() {
        let c = Condition::Flaccid { side: Side::Left };
        let smile = act(c, Expression::BigSmile);
        assert!(smile.side.left.smile < 0.5 * smile.side.right.smile);
        assert!(smile.side.left.aperture > smile.side.right.aperture);
        let closed = act(c, Expression::GentleEyeClosure);
        assert!(closed.side.left.aperture > 0.3, "lagophthalmos expected");
        assert_eq!(closed.side.right.aperture, 0.0);
    }

    #[test]
    fn intensity_interpolates_and_blink_closes() {
        let p = Patient::with_condition(3, Condition::Healthy);
        let half = Activation::new(
            &p,
            &FaceState {
                expression: Expression::BigSmile,
                intensity: 0.5,
                blink: 0.0,
            },
        );
        let full = Activation::new(&p, &FaceState::full(Expression::BigSmile));
        assert!(
            half.side.left.smile > 0.3 * full.side.left.smile
                && half.side.left.smile < 0.7 * full.side.left.smile
        );
        let blink = Activation::new(
            &p,
            &FaceState {
                expression: Expression::Rest,
                intensity: 1.0,
                blink: 1.0,
            },
        );
        assert_eq!(blink.side.left.aperture, 0.0);
    }

    #[test]
    fn severities_are_ordered() {
        let n: Vec<f32> = Severity::ALL.iter().map(|&s| eye_narrowing(s)).collect();
        assert!(n.windows(2).all(|w| w[0] < w[1]));
        let e: Vec<f32> = Severity::ALL.iter().map(|&s| excursion(s)).collect();
        assert!(e.windows(2).all(|w| w[0] > w[1]));
    }
}
