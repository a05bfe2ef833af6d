//! Landmark measures for synkinesis screening: how open each eye is and how
//! level the mouth corners are, as fractions of the interocular distance so
//! they do not depend on how far the patient sits.
//!
//! Heights are taken perpendicular to the line through the eye centres, so a
//! tilted head does not change them. The Auto-eFACE synkinesis measure is the
//! palpebral fissure of the affected side over the healthy side during big
//! smile and pucker: [`Measures::fissure_ratio`] is that ratio with the
//! narrower eye on top.

use crate::geometry::{PerSide, Point, Side};

use super::landmarks::Landmarks;

/// Eye opening and mouth corner position of one face.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Measures {
    /// Distance between the eye centres, frame pixels (the unit of the rest).
    pub interocular: f32,
    /// Lid-to-lid height of each eye (upper to lower lid middle, across the
    /// eye line) ÷ interocular distance; 0 when closed.
    pub palpebral_fissure: PerSide<f32>,
    /// Smaller fissure ÷ larger, in `0..=1` (1 when both are closed).
    pub fissure_ratio: f32,
    /// The side whose fissure is smaller (left on a tie).
    pub narrower_eye: Side,
    /// The mouth corners, frame pixels.
    pub commissure: PerSide<Point>,
    /// How much higher the patient's left mouth corner is than the right,
    /// across the eye line, ÷ interocular distance (negative: the right is higher).
    pub commissure_height_diff: f32,
    /// The mouth corners in the face's own frame: origin midway between the
    /// eye centres, x along the eye line towards the patient's left eye, y
    /// down the face, in interocular distances. Head position, roll and
    /// distance drop out, so a corner's movement between rest and an
    /// expression is the muscle's, not the patient's.
    pub commissure_face: PerSide<Point>,
}

impl Measures {
    /// Measures a face, or `None` when its eye centres coincide or a point is
    /// not finite.
    pub fn from_landmarks(landmarks: &Landmarks) -> Option<Measures> {
        let eyes = landmarks.eyes();
        let centres = eyes.map(|e| e.centre());
        let interocular = centres.left.distance(centres.right);
        if !(interocular.is_finite() && interocular > 1e-3) {
            return None;
        }
        // Unit vector "down the face": the eye line (right → left eye, which
        // points to the image's right) turned a quarter clockwise on screen.
        let ex = (centres.left.x - centres.right.x) / interocular;
        let ey = (centres.left.y - centres.right.y) / interocular;
        let down = (-ey, ex);
        let across = |a: Point, b: Point| (b.x - a.x) * down.0 + (b.y - a.y) * down.1;

        let palpebral_fissure = eyes.map(|e| across(e.upper, e.lower).max(0.0) / interocular);
        let (l, r) = (palpebral_fissure.left, palpebral_fissure.right);
        let fissure_ratio = if l.max(r) > 0.0 {
            l.min(r) / l.max(r)
        } else {
            1.0
        };
        let narrower_eye = if r < l { Side::Right } else { Side::Left };
        let commissure = landmarks.mouth_corners();
        // Positive when the left corner is higher, i.e. further "up" (−down).
        let commissure_height_diff = across(commissure.left, commissure.right) / interocular;
        let mid = Point::new(
            (centres.left.x + centres.right.x) / 2.0,
            (centres.left.y + centres.right.y) / 2.0,
        );
        let commissure_face = commissure.map(|c| {
            let (dx, dy) = (c.x - mid.x, c.y - mid.y);
            Point::new(
                (dx * ex + dy * ey) / interocular,
                (dx * down.0 + dy * down.1) / interocular,
            )
        });
        let m = Measures {
            interocular,
            palpebral_fissure,
            fissure_ratio,
            narrower_eye,
            commissure,
            commissure_height_diff,
            commissure_face,
        };
        let finite = [
            l,
            r,
            fissure_ratio,
            commissure_height_diff,
            commissure_face.left.x,
            commissure_face.left.y,
            commissure_face.right.x,
            commissure_face.right.y,
        ]
        .iter()
        .all(|v| v.is_finite());
        finite.then_some(m)
    }

    /// These measures with the palpebral fissures replaced (e.g. by the
    /// refined eyelid contour) and the ratio and narrower eye recomputed.
    #[must_use]
    pub fn with_fissures(mut self, fissures: PerSide<f32>) -> Measures {
        let (l, r) = (fissures.left.max(0.0), fissures.right.max(0.0));
        if !(l.is_finite() && r.is_finite()) {
            return self;
        }
        self.palpebral_fissure = PerSide::new(l, r);
        self.fissure_ratio = if l.max(r) > 0.0 {
            l.min(r) / l.max(r)
        } else {
            1.0
        };
        self.narrower_eye = if r < l { Side::Right } else { Side::Left };
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::face::landmarks::{index, NUM_LANDMARKS};
    use crate::geometry::Similarity;

    /// A level face: eyes 40 px apart, the right eye 8 px open, the left 4 px,
    /// the left mouth corner 2 px higher.
    fn face() -> Landmarks {
        let mut points = vec![[0.0f32; 3]; NUM_LANDMARKS];
        let mut set = |i: usize, x: f32, y: f32| points[i] = [x, y, 0.0];
        set(index::RIGHT_EYE_OUTER, 90.0, 100.0);
        set(index::RIGHT_EYE_INNER, 110.0, 100.0);
        set(index::RIGHT_EYE_UPPER, 100.0, 96.0);
        set(index::RIGHT_EYE_LOWER, 100.0, 104.0);
        set(index::LEFT_EYE_INNER, 130.0, 100.0);
        set(index::LEFT_EYE_OUTER, 150.0, 100.0);
        set(index::LEFT_EYE_UPPER, 140.0, 98.0);
        set(index::LEFT_EYE_LOWER, 140.0, 102.0);
        set(index::MOUTH_RIGHT, 100.0, 150.0);
        set(index::MOUTH_LEFT, 140.0, 148.0);
        Landmarks {
            points,
            presence: 1.0,
        }
    }

    #[test]
    fn level_face() {
        let m = Measures::from_landmarks(&face()).unwrap();
        assert!((m.interocular - 40.0).abs() < 1e-4);
        assert!((m.palpebral_fissure.right - 0.2).abs() < 1e-5);
        assert!((m.palpebral_fissure.left - 0.1).abs() < 1e-5);
        assert!((m.fissure_ratio - 0.5).abs() < 1e-5);
        assert_eq!(m.narrower_eye, Side::Left);
        assert!((m.commissure_height_diff - 0.05).abs() < 1e-5);
        // Eye midpoint (120, 100); corners 20 px either side, 50 and 48 px down.
        assert!((m.commissure_face.right.x + 0.5).abs() < 1e-5);
        assert!((m.commissure_face.left.x - 0.5).abs() < 1e-5);
        assert!((m.commissure_face.right.y - 1.25).abs() < 1e-5);
        assert!((m.commissure_face.left.y - 1.2).abs() < 1e-5);
    }

    #[test]
    fn rotation_and_scale_do_not_change_the_measures() {
        let a = Measures::from_landmarks(&face()).unwrap();
        let t = Similarity {
            a: 1.3 * 0.5f32.cos(),
            b: 1.3 * 0.5f32.sin(),
            tx: 40.0,
            ty: -7.0,
        };
        let b = Measures::from_landmarks(&face().transformed(&t)).unwrap();
        assert!((a.fissure_ratio - b.fissure_ratio).abs() < 1e-4);
        assert!((a.commissure_height_diff - b.commissure_height_diff).abs() < 1e-4);
        assert!((a.palpebral_fissure.left - b.palpebral_fissure.left).abs() < 1e-4);
        for s in Side::BOTH {
            assert!(a.commissure_face.get(s).distance(*b.commissure_face.get(s)) < 1e-4);
        }
    }

    #[test]
    fn closed_eyes_and_degenerate_faces() {
        let mut f = face();
        for i in [
            index::RIGHT_EYE_UPPER,
            index::RIGHT_EYE_LOWER,
            index::LEFT_EYE_UPPER,
            index::LEFT_EYE_LOWER,
        ] {
            f.points[i][1] = 100.0;
        }
        let m = Measures::from_landmarks(&f).unwrap();
        assert_eq!(m.fissure_ratio, 1.0);
        let flat = Landmarks {
            points: vec![[0.0; 3]; NUM_LANDMARKS],
            presence: 0.0,
        };
        assert!(Measures::from_landmarks(&flat).is_none());
        assert!(Measures::from_landmarks(&Landmarks {
            points: vec![],
            presence: 0.0
        })
        .is_none());
    }
}
