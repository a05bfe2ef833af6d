//! What a rendered frame shows, measured exactly: the landmarks and labels a
//! detector or classifier should recover from the pixels.

use serde::{Deserialize, Serialize};

use screening::geometry::{PerSide, Point, Rect, Side};
use screening::protocol::Condition;
use screening::protocol::Expression;

/// The exact answer for one rendered frame. Positions are output-image pixels,
/// after head pose, camera distance and offset.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroundTruth {
    /// The patient's condition.
    pub condition: Condition,
    /// The expression being made.
    pub expression: Expression,
    /// The patient's Fitzpatrick skin type (1..=6).
    pub fitzpatrick: u8,
    /// Centre of each palpebral fissure (midpoint of its two canthi).
    pub eye_centre: PerSide<Point>,
    /// Each eye's (inner/medial canthus, outer/lateral canthus).
    pub eye_corners: PerSide<(Point, Point)>,
    /// Vertical palpebral fissure height in pixels, 0 when closed.
    pub eyelid_aperture: PerSide<f32>,
    /// Oral commissures (mouth corners).
    pub mouth_corners: PerSide<Point>,
    /// Brow-to-chin, ear-to-ear box of the face.
    pub face_box: Rect,
    /// Head turn, degrees (positive: towards the patient's left).
    pub yaw_deg: f32,
    /// Head tilt, degrees (positive: chin up).
    pub pitch_deg: f32,
    /// Head roll, degrees (positive: clockwise in the image).
    pub roll_deg: f32,
}

impl GroundTruth {
    /// Eyelid aperture of `side` divided by the other side's, the landmark
    /// synkinesis measure; `None` when the other eye is closed.
    pub fn aperture_ratio(&self, side: Side) -> Option<f32> {
        let other = *self.eyelid_aperture.get(side.opposite());
        (other > 0.0).then(|| self.eyelid_aperture.get(side) / other)
    }

    /// Distance between the two eye centres in pixels.
    pub fn interocular(&self) -> f32 {
        self.eye_centre.left.distance(self.eye_centre.right)
    }
}

/// One rendered frame and its ground truth.
#[derive(Debug, Clone)]
pub struct Rendered {
    /// The photo.
    pub image: image::RgbImage,
    /// What it shows.
    pub truth: GroundTruth,
}
