//! The kiosk's quality gate: is this frame good enough to capture? Each
//! refusal is a [`GateReason`] with a sentence the person in front of the
//! camera can act on.
//!
//! Left and right in the messages are the person's own. They assume the
//! camera frame is not mirrored (mirroring the preview is the display's
//! business): a face on the image's left is on the person's right, so they
//! should move to their left.

use image::RgbImage;
use serde::{Deserialize, Serialize};

use super::detect::{Detection, Keypoint};
use super::landmarks::{index, Landmarks};
use crate::geometry::{Point, Rect};

/// Which way the person should move to be centred (their own left/right).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// To their left.
    Left,
    /// To their right.
    Right,
    /// Higher in the picture.
    Up,
    /// Lower in the picture.
    Down,
}

/// Why a frame is not good enough, in the order the gate checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, thiserror::Error)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum GateReason {
    /// The whole frame, or the face, is too dark.
    #[error("too dark")]
    TooDark,
    /// The whole frame, or the face, is too bright.
    #[error("too bright")]
    TooBright,
    /// No face was found.
    #[error("no face")]
    NoFace,
    /// More than one face of similar size.
    #[error("{0} faces")]
    MultipleFaces(usize),
    /// The face is too small in the frame.
    #[error("face too small")]
    TooSmall,
    /// The face is too large (or cut by the frame's edge all round).
    #[error("face too large")]
    TooLarge,
    /// The face is away from the centre; the person should move this way.
    #[error("face off centre")]
    OffCentre(Direction),
    /// The head is turned or tilted.
    #[error("head turned")]
    HeadTurned,
    /// The chin is raised too far (the head nods back).
    #[error("chin up")]
    ChinUp,
    /// The chin is lowered too far (the head nods forward).
    #[error("chin down")]
    ChinDown,
    /// The face is not sharp.
    #[error("blurred")]
    Blurred,
    /// The face moved since the previous frame.
    #[error("moving")]
    Moving,
}

impl GateReason {
    /// The sentence to show on the kiosk's screen.
    pub fn message(&self) -> &'static str {
        match self {
            GateReason::TooDark => "It is too dark: please face the light",
            GateReason::TooBright => "It is too bright: please move out of direct light",
            GateReason::NoFace => "Please sit in front of the camera",
            GateReason::MultipleFaces(_) => "Only one person in front of the camera, please",
            GateReason::TooSmall => "Move closer",
            GateReason::TooLarge => "Move back",
            GateReason::OffCentre(Direction::Left) => "Move to the centre: a little to your left",
            GateReason::OffCentre(Direction::Right) => "Move to the centre: a little to your right",
            GateReason::OffCentre(Direction::Up) => "Move to the centre: a little higher",
            GateReason::OffCentre(Direction::Down) => "Move to the centre: a little lower",
            GateReason::HeadTurned => "Look straight at the camera",
            GateReason::ChinUp => "Lower your chin a little",
            GateReason::ChinDown => "Raise your chin a little",
            GateReason::Blurred => "Hold still: the picture is blurred",
            GateReason::Moving => "Hold still",
        }
    }
}

/// Thresholds of the gate, for the kiosk's TOML (`[gate]`); missing keys
/// take the defaults.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GateConfig {
    /// Minimum mean luma (0–255) of the whole frame.
    pub min_frame_luma: f32,
    /// Maximum mean luma of the whole frame.
    pub max_frame_luma: f32,
    /// Minimum mean luma of the face (middle of the detection box).
    pub min_face_luma: f32,
    /// Maximum mean luma of the face.
    pub max_face_luma: f32,
    /// Minimum landmark presence for the face to count as found.
    pub min_presence: f32,
    /// A second face counts when its box is at least this fraction of the
    /// largest face's width (people far behind do not block the kiosk).
    pub second_face_ratio: f32,
    /// Minimum face box width, fraction of the frame width.
    pub min_face_width: f32,
    /// Minimum face box width, pixels (the standard view needs detail).
    pub min_face_pixels: f32,
    /// Maximum face box width, fraction of the frame width.
    pub max_face_width: f32,
    /// Largest distance of the face centre from the frame centre, as a
    /// fraction of the frame's width (horizontally) or height (vertically).
    pub max_centre_offset: f32,
    /// Largest head yaw (turn left/right), degrees.
    pub max_yaw_deg: f32,
    /// Largest head roll (tilt towards a shoulder), degrees.
    pub max_roll_deg: f32,
    /// Largest head pitch (nod, chin up or down), degrees.
    pub max_pitch_deg: f32,
    /// Minimum sharpness: variance of the Laplacian of the standard view's
    /// grey face region (grey levels²). Measured at the standard view's fixed
    /// scale, so the threshold is relative to the face's size, not the frame's.
    pub min_sharpness: f32,
    /// Largest move of the face centre since the previous frame, as a
    /// fraction of the face width.
    pub max_motion: f32,
}

impl Default for GateConfig {
    fn default() -> Self {
        GateConfig {
            min_frame_luma: 30.0,
            max_frame_luma: 235.0,
            min_face_luma: 45.0,
            max_face_luma: 225.0,
            min_presence: 0.5,
            second_face_ratio: 0.4,
            min_face_width: 0.15,
            min_face_pixels: 64.0,
            max_face_width: 0.7,
            max_centre_offset: 0.2,
            max_yaw_deg: 20.0,
            max_roll_deg: 15.0,
            max_pitch_deg: 20.0,
            min_sharpness: 25.0,
            max_motion: 0.05,
        }
    }
}

/// What the gate measured, for the screen and the logs. A figure is `None`
/// when the gate stopped before it could be measured.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct GateFigures {
    /// Mean luma of the frame, 0–255.
    pub frame_luma: f32,
    /// Faces counted by the gate.
    pub faces: usize,
    /// Mean luma of the face, 0–255.
    pub face_luma: Option<f32>,
    /// Face box width ÷ frame width.
    pub face_width: Option<f32>,
    /// Face box width, frame pixels.
    pub face_pixels: Option<f32>,
    /// Face centre minus frame centre, ÷ frame width and ÷ frame height.
    pub centre_offset: Option<[f32; 2]>,
    /// Landmark presence, 0–1.
    pub presence: Option<f32>,
    /// Head yaw, degrees; positive when the face turns towards the image's
    /// right (the patient's left).
    pub yaw_deg: Option<f32>,
    /// Head roll, degrees; positive when the eye line runs down to the
    /// image's right.
    pub roll_deg: Option<f32>,
    /// Head pitch, degrees; positive chin up. Only the landmarks measure it.
    pub pitch_deg: Option<f32>,
    /// Variance of the Laplacian of the standard view's face region.
    pub sharpness: Option<f32>,
    /// Face centre movement since the previous frame ÷ face width.
    pub motion: Option<f32>,
}

/// Rec. 601 luma of an RGB pixel.
#[inline]
fn luma(p: &[u8]) -> f32 {
    0.299 * p[0] as f32 + 0.587 * p[1] as f32 + 0.114 * p[2] as f32
}

/// Mean luma of `region` of `frame` (clipped to the frame), from at most
/// about 64×64 evenly spread samples so it costs the same on any frame.
pub fn mean_luma(frame: &RgbImage, region: Option<Rect>) -> f32 {
    let (w, h) = (frame.width() as f32, frame.height() as f32);
    let r = region.unwrap_or(Rect::new(0.0, 0.0, w, h));
    let x0 = r.x.max(0.0).floor() as u32;
    let y0 = r.y.max(0.0).floor() as u32;
    let x1 = ((r.x + r.width).min(w).ceil() as u32).min(frame.width());
    let y1 = ((r.y + r.height).min(h).ceil() as u32).min(frame.height());
    if x1 <= x0 || y1 <= y0 {
        return 0.0;
    }
    let step_x = ((x1 - x0) / 64).max(1);
    let step_y = ((y1 - y0) / 64).max(1);
    let (mut sum, mut n) = (0.0f64, 0u32);
    for y in (y0..y1).step_by(step_y as usize) {
        for x in (x0..x1).step_by(step_x as usize) {
            sum += luma(&frame.get_pixel(x, y).0) as f64;
            n += 1;
        }
    }
    (sum / n.max(1) as f64) as f32
}

/// Variance of the 4-neighbour Laplacian of the grey standard view, over the
/// face's middle (brows to mouth, cheek to cheek) so background does not count.
pub fn sharpness(view: &RgbImage) -> f32 {
    let (w, h) = (view.width() as usize, view.height() as usize);
    if w < 8 || h < 8 {
        return 0.0;
    }
    let grey: Vec<f32> = view.pixels().map(|p| luma(&p.0)).collect();
    let (x0, x1) = (w * 22 / 100, w * 78 / 100);
    let (y0, y1) = (h * 20 / 100, h * 85 / 100);
    let (mut sum, mut sum2, mut n) = (0.0f64, 0.0f64, 0.0f64);
    for y in y0.max(1)..y1.min(h - 1) {
        for x in x0.max(1)..x1.min(w - 1) {
            let c = grey[y * w + x];
            let lap = grey[y * w + x - 1]
                + grey[y * w + x + 1]
                + grey[(y - 1) * w + x]
                + grey[(y + 1) * w + x]
                - 4.0 * c;
            sum += lap as f64;
            sum2 += (lap * lap) as f64;
            n += 1.0;
        }
    }
    if n == 0.0 {
        return 0.0;
    }
    let mean = sum / n;
    (sum2 / n - mean * mean).max(0.0) as f32
}

/// Head orientation in degrees, in the signs of the renderer's `Scene`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HeadPose {
    /// Positive when the face turns towards the image's right.
    pub yaw_deg: f32,
    /// Positive chin up; `None` when only the detector's keypoints were there.
    pub pitch_deg: Option<f32>,
    /// Positive when the eye line runs down to the image's right.
    pub roll_deg: f32,
}

/// Head pose from the landmarks: roll from the eye line; yaw and pitch from
/// the depth (z) of two pairs of points against their spread in the
/// roll-corrected frame. Yaw uses the cheek outline points; pitch the top of
/// the forehead and the base of the nose, which lie at about the same depth
/// in FaceMesh's face when it looks straight ahead and which no expression
/// moves (the chin would: it drops with the jaw).
pub fn head_pose(landmarks: &Landmarks) -> Option<HeadPose> {
    let eyes = landmarks.eye_centres();
    let (dx, dy) = (eyes.left.x - eyes.right.x, eyes.left.y - eyes.right.y);
    if dx.hypot(dy) < 1e-3 {
        return None;
    }
    let roll = dy.atan2(dx);
    let (c, s) = (roll.cos(), roll.sin());
    let point = |i: usize| landmarks.points.get(i).copied();
    // (span along the eye line, span down the face, depth change) from a to b.
    let spans = |a: [f32; 3], b: [f32; 3]| {
        let (x, y) = (b[0] - a[0], b[1] - a[1]);
        (x * c + y * s, y * c - x * s, b[2] - a[2])
    };
    // FaceMesh z has x's scale, so depth over spread is the angle's tangent.
    // Turning towards the image's right swings the left cheek (image right)
    // away from the camera: its z rises above the right cheek's.
    let (across, _, depth) = spans(point(index::CHEEK_RIGHT)?, point(index::CHEEK_LEFT)?);
    let yaw = depth.atan2(across);
    // Raising the chin brings the base of the nose forward (smaller z) and
    // takes the forehead back.
    let (_, down, depth) = spans(point(index::FOREHEAD)?, point(index::SUBNASALE)?);
    let pitch = (-depth).atan2(down);
    let pose = HeadPose {
        yaw_deg: yaw.to_degrees(),
        pitch_deg: Some(pitch.to_degrees()),
        roll_deg: roll.to_degrees(),
    };
    [yaw, pitch, roll]
        .iter()
        .all(|a| a.is_finite())
        .then_some(pose)
}

/// Head yaw and roll from the detector's keypoints alone (when landmarks are
/// not available): roll from the eyes, yaw from where the nose sits between
/// the two tragions. Rougher than [`head_pose`], and without pitch.
pub fn head_pose_from_keypoints(d: &Detection) -> Option<HeadPose> {
    let (r, l) = (
        d.keypoint(Keypoint::RightEye),
        d.keypoint(Keypoint::LeftEye),
    );
    let roll = (l.y - r.y).atan2(l.x - r.x);
    let (tr, tl, nose) = (
        d.keypoint(Keypoint::RightTragion),
        d.keypoint(Keypoint::LeftTragion),
        d.keypoint(Keypoint::NoseTip),
    );
    let span = tr.distance(tl);
    if span < 1e-3 {
        return None;
    }
    let mid = tr.midpoint(tl);
    let off = ((nose.x - mid.x) * roll.cos() + (nose.y - mid.y) * roll.sin()) / (span * 0.5);
    // The nose tip sits about 0.6 half-face-widths in front of the tragions.
    let yaw = (off / 0.6).clamp(-1.0, 1.0).asin();
    Some(HeadPose {
        yaw_deg: yaw.to_degrees(),
        pitch_deg: None,
        roll_deg: roll.to_degrees(),
    })
}

/// Face centre movement between two detections ÷ the current face width.
pub fn motion(current: &Detection, previous: &Detection) -> f32 {
    let d = current.bbox.centre().distance(previous.bbox.centre());
    d / current.bbox.width.max(1.0)
}

/// Where the person should move, if the face centre is too far from the
/// frame's centre (`offset` is face centre minus frame centre ÷ frame size).
pub fn centring(offset: [f32; 2], max: f32) -> Option<Direction> {
    let [ox, oy] = offset;
    if ox.abs() <= max && oy.abs() <= max {
        return None;
    }
    Some(if ox.abs() >= oy.abs() {
        // On the image's left (ox < 0) is on the person's right: move left.
        if ox < 0.0 {
            Direction::Left
        } else {
            Direction::Right
        }
    } else if oy < 0.0 {
        Direction::Down
    } else {
        Direction::Up
    })
}

/// Face centre minus frame centre ÷ frame size.
pub fn centre_offset(bbox: &Rect, width: u32, height: u32) -> [f32; 2] {
    let c = bbox.centre();
    let (w, h) = (width.max(1) as f32, height.max(1) as f32);
    [(c.x - w * 0.5) / w, (c.y - h * 0.5) / h]
}

/// Faces that count for the "one person" rule: the largest and those at
/// least `ratio` of its width.
pub fn counted_faces(detections: &[Detection], ratio: f32) -> usize {
    let largest = detections.iter().map(|d| d.bbox.width).fold(0.0, f32::max);
    detections
        .iter()
        .filter(|d| d.bbox.width >= largest * ratio)
        .count()
}

/// The middle of a detection box, where the face's skin is.
pub fn face_core(bbox: &Rect) -> Rect {
    Rect::new(
        bbox.x + bbox.width * 0.2,
        bbox.y + bbox.height * 0.2,
        bbox.width * 0.6,
        bbox.height * 0.6,
    )
}

/// The point halfway between the eye keypoints (for messages and overlays).
pub fn eye_midpoint(d: &Detection) -> Point {
    d.keypoint(Keypoint::RightEye)
        .midpoint(d.keypoint(Keypoint::LeftEye))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_reason_has_a_message() {
        let all = [
            GateReason::TooDark,
            GateReason::TooBright,
            GateReason::NoFace,
            GateReason::MultipleFaces(2),
            GateReason::TooSmall,
            GateReason::TooLarge,
            GateReason::OffCentre(Direction::Left),
            GateReason::OffCentre(Direction::Right),
            GateReason::OffCentre(Direction::Up),
            GateReason::OffCentre(Direction::Down),
            GateReason::HeadTurned,
            GateReason::ChinUp,
            GateReason::ChinDown,
            GateReason::Blurred,
            GateReason::Moving,
        ];
        for r in all {
            assert!(!r.message().is_empty());
        }
        assert_eq!(GateReason::TooSmall.message(), "Move closer");
        assert_eq!(GateReason::TooLarge.message(), "Move back");
    }

    #[test]
    fn config_reads_partial_toml() {
        let c: GateConfig = toml::from_str("max_yaw_deg = 12.5\n").unwrap();
        assert_eq!(c.max_yaw_deg, 12.5);
        assert_eq!(c.min_face_luma, GateConfig::default().min_face_luma);
        assert!(toml::from_str::<GateConfig>("max_yaw = 1\n").is_err());
    }

    #[test]
    fn centring_points_the_person_the_right_way() {
        // Face on the image's left = the person's right: move to their left.
        assert_eq!(centring([-0.3, 0.0], 0.2), Some(Direction::Left));
        assert_eq!(centring([0.3, 0.1], 0.2), Some(Direction::Right));
        assert_eq!(centring([0.0, -0.3], 0.2), Some(Direction::Down));
        assert_eq!(centring([0.0, 0.3], 0.2), Some(Direction::Up));
        assert_eq!(centring([0.1, 0.1], 0.2), None);
    }

    #[test]
    fn luma_of_flat_frames_and_empty_regions() {
        let img = RgbImage::from_pixel(300, 200, image::Rgb([100, 100, 100]));
        assert!((mean_luma(&img, None) - 100.0).abs() < 0.01);
        assert_eq!(
            mean_luma(&img, Some(Rect::new(500.0, 0.0, 10.0, 10.0))),
            0.0
        );
        assert_eq!(mean_luma(&RgbImage::new(1, 1), None), 0.0);
    }

    #[test]
    fn sharpness_of_flat_and_textured_views() {
        let flat = RgbImage::from_pixel(112, 112, image::Rgb([90, 90, 90]));
        assert_eq!(sharpness(&flat), 0.0);
        let checks = RgbImage::from_fn(112, 112, |x, y| {
            image::Rgb([if (x + y) % 2 == 0 { 0 } else { 255 }; 3])
        });
        assert!(sharpness(&checks) > 1000.0);
        assert_eq!(sharpness(&RgbImage::new(2, 2)), 0.0);
    }
}
