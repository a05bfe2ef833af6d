//! Face landmarks with MediaPipe FaceMesh: 468 points from a 192×192 crop of a
//! square region around a detected face, rotated so the eyes are level, as
//! MediaPipe's face landmark graph does (1.5 × the detection box's long side).

use image::RgbImage;
use tract_onnx::prelude::Tensor;

use super::detect::{Detection, Keypoint};
use super::resample;
use super::FaceError;
use crate::geometry::{PerSide, Point, Rect, Side, Similarity};
use crate::model::{output_slice, LoadedModel, Manifest, ModelError, FACE_LANDMARKS};

/// Number of FaceMesh points.
pub const NUM_LANDMARKS: usize = 468;

/// How much larger than the detection box the landmark ROI is (MediaPipe).
pub const ROI_SCALE: f32 = 1.5;

/// FaceMesh indices used by the face stage. Sides are the patient's own (in
/// a non-mirrored frame the patient's right is on the image's left); checked
/// against the test photographs in `screening/tests/face.rs`.
pub mod index {
    /// Outer (lateral) corner of the patient's right eye.
    pub const RIGHT_EYE_OUTER: usize = 33;
    /// Inner (medial) corner of the patient's right eye.
    pub const RIGHT_EYE_INNER: usize = 133;
    /// Middle of the patient's right upper lid.
    pub const RIGHT_EYE_UPPER: usize = 159;
    /// Middle of the patient's right lower lid.
    pub const RIGHT_EYE_LOWER: usize = 145;
    /// Outer corner of the patient's left eye.
    pub const LEFT_EYE_OUTER: usize = 263;
    /// Inner corner of the patient's left eye.
    pub const LEFT_EYE_INNER: usize = 362;
    /// Middle of the patient's left upper lid.
    pub const LEFT_EYE_UPPER: usize = 386;
    /// Middle of the patient's left lower lid.
    pub const LEFT_EYE_LOWER: usize = 374;
    /// Corner of the mouth on the patient's right.
    pub const MOUTH_RIGHT: usize = 61;
    /// Corner of the mouth on the patient's left.
    pub const MOUTH_LEFT: usize = 291;
    /// Tip of the nose.
    pub const NOSE_TIP: usize = 1;
    /// Bottom of the chin.
    pub const CHIN: usize = 152;
    /// Top of the forehead on the face outline.
    pub const FOREHEAD: usize = 10;
    /// Base of the nose, where it meets the upper lip (subnasale).
    pub const SUBNASALE: usize = 2;
    /// Face outline at the patient's right cheek (level with the eyes).
    pub const CHEEK_RIGHT: usize = 234;
    /// Face outline at the patient's left cheek.
    pub const CHEEK_LEFT: usize = 454;
}

/// The square, rotated region of the frame the landmark model looks at.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Roi {
    /// Centre, frame pixels.
    pub centre: Point,
    /// Side, frame pixels.
    pub size: f32,
    /// Rotation in radians; the ROI's x axis points from the patient's right
    /// eye to the left eye.
    pub rotation: f32,
}

impl Roi {
    /// MediaPipe's ROI for a detection: the box centre, 1.5 × its long side,
    /// turned so the eye keypoints are level.
    pub fn from_detection(d: &Detection) -> Roi {
        let (r, l) = (
            d.keypoint(Keypoint::RightEye),
            d.keypoint(Keypoint::LeftEye),
        );
        let rotation = (l.y - r.y).atan2(l.x - r.x);
        Roi {
            centre: d.bbox.centre(),
            size: d.bbox.width.max(d.bbox.height) * ROI_SCALE,
            rotation: if rotation.is_finite() { rotation } else { 0.0 },
        }
    }

    /// The transform from a `side`-pixel crop of this ROI to the frame.
    pub fn crop_to_frame(&self, side: u32) -> Similarity {
        let s = self.size / side as f32;
        let (a, b) = (s * self.rotation.cos(), s * self.rotation.sin());
        let h = side as f32 * 0.5;
        Similarity {
            a,
            b,
            tx: self.centre.x - (a * h - b * h),
            ty: self.centre.y - (b * h + a * h),
        }
    }
}

/// An eye's four landmarks, frame pixels.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct EyeLandmarks {
    /// Lateral corner (towards the ear).
    pub outer: Point,
    /// Medial corner (towards the nose).
    pub inner: Point,
    /// Middle of the upper lid.
    pub upper: Point,
    /// Middle of the lower lid.
    pub lower: Point,
}

impl EyeLandmarks {
    /// The midpoint of the two corners: it does not move when the lids
    /// close, so alignment is the same at rest and in tight eye closure.
    pub fn centre(&self) -> Point {
        self.outer.midpoint(self.inner)
    }
}

/// 468 FaceMesh points mapped to the frame.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Landmarks {
    /// `[x, y, z]` per point: x and y in frame pixels, z in pixels of the
    /// same scale, relative to the face's centre (smaller is nearer the camera).
    pub points: Vec<[f32; 3]>,
    /// Probability that the ROI holds a face, `0..1`.
    pub presence: f32,
}

impl Landmarks {
    /// Point `i` (x, y), or the origin for an index out of range.
    pub fn point(&self, i: usize) -> Point {
        self.points
            .get(i)
            .map_or(Point::default(), |p| Point::new(p[0], p[1]))
    }

    /// The four landmarks of the patient's `side` eye.
    pub fn eye(&self, side: Side) -> EyeLandmarks {
        use index::*;
        let [outer, inner, upper, lower] = match side {
            Side::Right => [
                RIGHT_EYE_OUTER,
                RIGHT_EYE_INNER,
                RIGHT_EYE_UPPER,
                RIGHT_EYE_LOWER,
            ],
            Side::Left => [
                LEFT_EYE_OUTER,
                LEFT_EYE_INNER,
                LEFT_EYE_UPPER,
                LEFT_EYE_LOWER,
            ],
        };
        EyeLandmarks {
            outer: self.point(outer),
            inner: self.point(inner),
            upper: self.point(upper),
            lower: self.point(lower),
        }
    }

    /// Both eyes.
    pub fn eyes(&self) -> PerSide<EyeLandmarks> {
        PerSide::new(self.eye(Side::Left), self.eye(Side::Right))
    }

    /// Both eye centres (midpoints of the corners).
    pub fn eye_centres(&self) -> PerSide<Point> {
        self.eyes().map(|e| e.centre())
    }

    /// The mouth corner on the patient's `side`.
    pub fn mouth_corner(&self, side: Side) -> Point {
        self.point(match side {
            Side::Left => index::MOUTH_LEFT,
            Side::Right => index::MOUTH_RIGHT,
        })
    }

    /// Both mouth corners.
    pub fn mouth_corners(&self) -> PerSide<Point> {
        PerSide::new(
            self.mouth_corner(Side::Left),
            self.mouth_corner(Side::Right),
        )
    }

    /// The smallest box holding every point.
    pub fn bounding_box(&self) -> Rect {
        let (mut x0, mut y0, mut x1, mut y1) = (f32::MAX, f32::MAX, f32::MIN, f32::MIN);
        for p in &self.points {
            x0 = x0.min(p[0]);
            y0 = y0.min(p[1]);
            x1 = x1.max(p[0]);
            y1 = y1.max(p[1]);
        }
        if x1 < x0 {
            return Rect::default();
        }
        Rect::new(x0, y0, x1 - x0, y1 - y0)
    }

    /// The same landmarks in another frame: x and y mapped by `t`, z scaled.
    pub fn transformed(&self, t: &Similarity) -> Landmarks {
        let s = t.scale();
        Landmarks {
            points: self
                .points
                .iter()
                .map(|p| {
                    let q = t.apply(Point::new(p[0], p[1]));
                    [q.x, q.y, p[2] * s]
                })
                .collect(),
            presence: self.presence,
        }
    }
}

/// FaceMesh, loaded once.
#[derive(Debug, Clone)]
pub struct LandmarkModel {
    model: LoadedModel,
    size: u32,
    scale: f32,
    offset: f32,
    points: usize,
    presence: usize,
}

impl LandmarkModel {
    /// Loads the `face_landmarks` entry of `manifest` (hash checked).
    pub fn from_manifest(manifest: &Manifest) -> Result<LandmarkModel, FaceError> {
        let model = manifest.load_onnx(FACE_LANDMARKS)?;
        let range = manifest
            .entry(FACE_LANDMARKS)?
            .input
            .as_ref()
            .and_then(|i| i.range);
        Self::new(model, range.unwrap_or([0.0, 1.0]))
    }

    /// Wraps an already loaded FaceMesh network (square NCHW RGB input) whose
    /// input maps pixel 0 to `range[0]` and 255 to `range[1]`.
    pub fn new(model: LoadedModel, range: [f32; 2]) -> Result<LandmarkModel, FaceError> {
        let shape = model.input_shape().to_vec();
        if shape.len() != 4 || shape[0] != 1 || shape[1] != 3 || shape[2] != shape[3] {
            return Err(FaceError::Model(ModelError::Incompatible {
                name: model.name().into(),
                message: format!("input shape {shape:?}, a [1, 3, n, n] image is needed"),
            }));
        }
        let points = model.output_with_shape(&[1, NUM_LANDMARKS * 3, 1, 1])?;
        let presence = model.output_with_shape(&[1, 1, 1, 1])?;
        Ok(LandmarkModel {
            size: shape[2] as u32,
            model,
            scale: (range[1] - range[0]) / 255.0,
            offset: range[0],
            points,
            presence,
        })
    }

    /// Side of the model's square input, pixels.
    pub fn input_size(&self) -> u32 {
        self.size
    }

    /// Landmarks of the face found by `detection`.
    pub fn landmarks(
        &self,
        frame: &RgbImage,
        detection: &Detection,
    ) -> Result<Landmarks, FaceError> {
        self.landmarks_in(frame, &Roi::from_detection(detection))
    }

    /// Landmarks of the face inside `roi`.
    pub fn landmarks_in(&self, frame: &RgbImage, roi: &Roi) -> Result<Landmarks, FaceError> {
        if frame.width() == 0 || frame.height() == 0 {
            return Err(FaceError::EmptyImage);
        }
        let crop_to_frame = roi.crop_to_frame(self.size);
        // One bilinear sample per pixel, as MediaPipe prepares this model's input.
        let input = crop_tensor(
            &self.model,
            frame,
            &crop_to_frame,
            self.size,
            CropSampling {
                antialias: false,
                mirror: false,
                scale: self.scale,
                offset: self.offset,
            },
        )?;
        let outputs = self.model.run(input)?;
        let raw = output_slice(&self.model, &outputs, self.points)?;
        let logit = output_slice(&self.model, &outputs, self.presence)?
            .first()
            .copied()
            .unwrap_or(f32::MIN);
        let z_scale = crop_to_frame.scale();
        let points = raw
            .chunks_exact(3)
            .take(NUM_LANDMARKS)
            .map(|p| {
                let q = crop_to_frame.apply(Point::new(p[0], p[1]));
                [q.x, q.y, p[2] * z_scale]
            })
            .collect();
        let presence = 1.0 / (1.0 + (-logit.clamp(-80.0, 80.0)).exp());
        Ok(Landmarks { points, presence })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roi_crop_maps_centre_and_axes() {
        let roi = Roi {
            centre: Point::new(100.0, 50.0),
            size: 96.0,
            rotation: std::f32::consts::FRAC_PI_2,
        };
        let t = roi.crop_to_frame(192);
        let c = t.apply(Point::new(96.0, 96.0));
        assert!(c.distance(roi.centre) < 1e-4);
        // With a quarter turn, the crop's x axis runs down the frame.
        let p = t.apply(Point::new(192.0, 96.0));
        assert!(p.distance(Point::new(100.0, 98.0)) < 1e-3, "{p:?}");
    }

    #[test]
    fn roi_of_a_level_face_is_unrotated_and_square() {
        let mut kp = [Point::default(); 6];
        kp[Keypoint::RightEye as usize] = Point::new(40.0, 50.0);
        kp[Keypoint::LeftEye as usize] = Point::new(60.0, 50.0);
        let d = Detection {
            bbox: Rect::new(20.0, 30.0, 60.0, 40.0),
            score: 0.9,
            keypoints: kp,
        };
        let roi = Roi::from_detection(&d);
        assert_eq!(roi.rotation, 0.0);
        assert_eq!(roi.size, 90.0);
        assert_eq!(roi.centre, Point::new(50.0, 50.0));
    }
}

/// How [`crop_tensor`] samples a model's input crop.
#[derive(Debug, Clone, Copy)]
pub(super) struct CropSampling {
    /// Box-prefilter when the crop shrinks the frame (see [`resample::warp`]).
    pub antialias: bool,
    /// Flip the crop left to right.
    pub mirror: bool,
    /// Channel value = 0..255 × `scale` + `offset`.
    pub scale: f32,
    /// See `scale`.
    pub offset: f32,
}

/// The `[1, 3, size, size]` input tensor of a MediaPipe model: the frame
/// warped into the crop, channel planes normalised as the model expects.
pub(super) fn crop_tensor(
    model: &LoadedModel,
    frame: &RgbImage,
    crop_to_frame: &Similarity,
    size: u32,
    how: CropSampling,
) -> Result<Tensor, FaceError> {
    let side = size as usize;
    let plane = side * side;
    let run_err = |e: tract_onnx::prelude::TractError| {
        FaceError::Model(ModelError::Run {
            name: model.name().into(),
            message: e.to_string(),
        })
    };
    let mut input = Tensor::zero::<f32>(&[1, 3, side, side]).map_err(run_err)?;
    {
        let mut view = input.try_as_plain_ram_mut().map_err(run_err)?;
        let data = view.as_slice_mut::<f32>().map_err(run_err)?;
        resample::warp(
            frame,
            crop_to_frame,
            size,
            size,
            how.antialias,
            |x, y, rgb| {
                let x = if how.mirror {
                    side - 1 - x as usize
                } else {
                    x as usize
                };
                let i = y as usize * side + x;
                data[i] = rgb[0] * how.scale + how.offset;
                data[plane + i] = rgb[1] * how.scale + how.offset;
                data[2 * plane + i] = rgb[2] * how.scale + how.offset;
            },
        );
    }
    Ok(input)
}
