//! Face detection with MediaPipe BlazeFace (short range): letterbox the frame
//! to 128×128, run the network, decode the 896 anchor predictions into boxes
//! and six keypoints, keep the confident ones and merge overlaps.

use image::RgbImage;
use tract_onnx::prelude::Tensor;

use super::anchors::SsdOptions;
use super::resample;
use super::FaceError;
use crate::geometry::{PerSide, Point, Rect};
use crate::model::{output_slice, LoadedModel, Manifest, ModelError, FACE_DETECTOR};

/// MediaPipe clips raw scores to ±100; ±80 keeps `exp` finite in f32.
const RAW_SCORE_LIMIT: f32 = 80.0;

/// Values per anchor in the box regressor: box (4) and 6 keypoints (12).
const BOX_VALUES: usize = 16;

/// The six BlazeFace keypoints, in the order the network emits them. Sides
/// are the patient's own: in a non-mirrored camera frame the patient's right
/// eye is on the image's left.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keypoint {
    /// Centre of the patient's right eye (image left).
    RightEye = 0,
    /// Centre of the patient's left eye (image right).
    LeftEye = 1,
    /// Tip of the nose.
    NoseTip = 2,
    /// Centre of the mouth.
    Mouth = 3,
    /// Patient's right ear tragion (image left).
    RightTragion = 4,
    /// Patient's left ear tragion (image right).
    LeftTragion = 5,
}

/// One detected face, in frame pixels.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Detection {
    /// The face box (roughly brows to chin, cheek to cheek).
    pub bbox: Rect,
    /// Confidence, `0..1`.
    pub score: f32,
    /// Keypoints indexed by [`Keypoint`]: patient's right eye, left eye, nose
    /// tip, mouth centre, right tragion, left tragion.
    pub keypoints: [Point; 6],
}

impl Detection {
    /// One keypoint.
    pub fn keypoint(&self, k: Keypoint) -> Point {
        self.keypoints[k as usize]
    }

    /// The two eye keypoints, by the patient's side.
    pub fn eyes(&self) -> PerSide<Point> {
        PerSide::new(
            self.keypoint(Keypoint::LeftEye),
            self.keypoint(Keypoint::RightEye),
        )
    }
}

/// How overlapping detections of one face are merged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Nms {
    /// Keep the best box and drop those overlapping it.
    Plain,
    /// Replace the best box by the score-weighted mean of all boxes
    /// overlapping it (MediaPipe's choice: steadier from frame to frame).
    #[default]
    Weighted,
}

/// BlazeFace short range, loaded once.
#[derive(Debug, Clone)]
pub struct FaceDetector {
    model: LoadedModel,
    anchors: Vec<Point>,
    size: u32,
    /// Pixel value 0 maps to `offset`, 255 to `offset + 255 * scale`.
    scale: f32,
    offset: f32,
    regressors: usize,
    classificators: usize,
    score_threshold: f32,
    iou_threshold: f32,
    nms: Nms,
}

impl FaceDetector {
    /// Loads the `face_detector` entry of `manifest` (hash checked).
    pub fn from_manifest(manifest: &Manifest) -> Result<FaceDetector, FaceError> {
        let model = manifest.load_onnx(FACE_DETECTOR)?;
        let range = manifest
            .entry(FACE_DETECTOR)?
            .input
            .as_ref()
            .and_then(|i| i.range);
        Self::new(model, range.unwrap_or([-1.0, 1.0]))
    }

    /// Wraps an already loaded BlazeFace network whose input maps pixel 0 to
    /// `range[0]` and 255 to `range[1]`.
    pub fn new(model: LoadedModel, range: [f32; 2]) -> Result<FaceDetector, FaceError> {
        let options = SsdOptions::blazeface_short_range();
        let size = options.input_width;
        let expected = [1, 3, size as usize, size as usize];
        let incompatible = |message: String| {
            FaceError::Model(ModelError::Incompatible {
                name: model.name().into(),
                message,
            })
        };
        if model.input_shape() != expected {
            return Err(incompatible(format!(
                "input shape {:?}, the anchors need {expected:?}",
                model.input_shape()
            )));
        }
        let anchors = options.anchors();
        let regressors = model.output_with_shape(&[1, anchors.len(), BOX_VALUES])?;
        let classificators = model.output_with_shape(&[1, anchors.len(), 1])?;
        Ok(FaceDetector {
            model,
            anchors,
            size,
            scale: (range[1] - range[0]) / 255.0,
            offset: range[0],
            regressors,
            classificators,
            score_threshold: 0.5,
            iou_threshold: 0.3,
            nms: Nms::default(),
        })
    }

    /// Sets the minimum score of a kept detection (default 0.5).
    #[must_use]
    pub fn with_score_threshold(mut self, threshold: f32) -> Self {
        self.score_threshold = threshold.clamp(1e-6, 1.0 - 1e-6);
        self
    }

    /// Sets the overlap (IoU) above which two boxes are one face (default 0.3).
    #[must_use]
    pub fn with_iou_threshold(mut self, threshold: f32) -> Self {
        self.iou_threshold = threshold.clamp(0.0, 1.0);
        self
    }

    /// Chooses plain or weighted non-maximum suppression (default weighted).
    #[must_use]
    pub fn with_nms(mut self, nms: Nms) -> Self {
        self.nms = nms;
        self
    }

    /// The anchor centres (normalised), in network order.
    pub fn anchors(&self) -> &[Point] {
        &self.anchors
    }

    /// Finds the faces in `frame`, best first, in frame pixels.
    pub fn detect(&self, frame: &RgbImage) -> Result<Vec<Detection>, FaceError> {
        if frame.width() == 0 || frame.height() == 0 {
            return Err(FaceError::EmptyImage);
        }
        let size = self.size as usize;
        let plane = size * size;
        let mut input = Tensor::zero::<f32>(&[1, 3, size, size]).map_err(|e| self.tensor_err(e))?;
        let letterbox = {
            let mut view = input
                .try_as_plain_ram_mut()
                .map_err(|e| self.tensor_err(e))?;
            let data = view.as_slice_mut::<f32>().map_err(|e| self.tensor_err(e))?;
            let (scale, offset) = (self.scale, self.offset);
            resample::letterbox(frame, self.size, |x, y, rgb| {
                let i = y as usize * size + x as usize;
                data[i] = rgb[0] * scale + offset;
                data[plane + i] = rgb[1] * scale + offset;
                data[2 * plane + i] = rgb[2] * scale + offset;
            })
        };
        let outputs = self.model.run(input)?;
        let boxes = output_slice(&self.model, &outputs, self.regressors)?;
        let scores = output_slice(&self.model, &outputs, self.classificators)?;
        let mut candidates = self.decode(boxes, scores);
        candidates.sort_by(|a, b| b.score.total_cmp(&a.score));
        let kept = match self.nms {
            Nms::Plain => plain_nms(candidates, self.iou_threshold),
            Nms::Weighted => weighted_nms(candidates, self.iou_threshold),
        };
        Ok(kept.into_iter().map(|d| to_frame(d, &letterbox)).collect())
    }

    fn tensor_err(&self, e: impl std::fmt::Display) -> FaceError {
        FaceError::Model(ModelError::Run {
            name: self.model.name().into(),
            message: e.to_string(),
        })
    }

    /// Decodes every anchor above the score threshold, in input pixels.
    fn decode(&self, boxes: &[f32], scores: &[f32]) -> Vec<Detection> {
        let size = self.size as f32;
        // Compare logits, not probabilities: the sigmoid is only computed for
        // the few anchors that pass.
        let logit_threshold = (self.score_threshold / (1.0 - self.score_threshold)).ln();
        let mut out = Vec::new();
        for (i, (anchor, &raw)) in self.anchors.iter().zip(scores).enumerate() {
            let raw = raw.clamp(-RAW_SCORE_LIMIT, RAW_SCORE_LIMIT);
            if raw.is_nan() || raw < logit_threshold {
                continue;
            }
            let Some(r) = boxes.get(i * BOX_VALUES..(i + 1) * BOX_VALUES) else {
                break;
            };
            let (ax, ay) = (anchor.x * size, anchor.y * size);
            let (cx, cy, w, h) = (r[0] + ax, r[1] + ay, r[2], r[3]);
            if !(w > 0.0 && h > 0.0) {
                continue;
            }
            let mut keypoints = [Point::default(); 6];
            for (k, kp) in keypoints.iter_mut().enumerate() {
                *kp = Point::new(r[4 + 2 * k] + ax, r[5 + 2 * k] + ay);
            }
            out.push(Detection {
                bbox: Rect::new(cx - w * 0.5, cy - h * 0.5, w, h),
                score: 1.0 / (1.0 + (-raw).exp()),
                keypoints,
            });
        }
        out
    }
}

fn to_frame(d: Detection, lb: &resample::Letterbox) -> Detection {
    let top_left = lb.to_frame(Point::new(d.bbox.x, d.bbox.y));
    let bottom_right = lb.to_frame(Point::new(
        d.bbox.x + d.bbox.width,
        d.bbox.y + d.bbox.height,
    ));
    Detection {
        bbox: Rect::new(
            top_left.x,
            top_left.y,
            bottom_right.x - top_left.x,
            bottom_right.y - top_left.y,
        ),
        score: d.score,
        keypoints: d.keypoints.map(|p| lb.to_frame(p)),
    }
}

/// `sorted` must be best first.
fn plain_nms(sorted: Vec<Detection>, iou: f32) -> Vec<Detection> {
    let mut kept: Vec<Detection> = Vec::new();
    for d in sorted {
        if kept.iter().all(|k| k.bbox.iou(&d.bbox) <= iou) {
            kept.push(d);
        }
    }
    kept
}

/// `sorted` must be best first. Each output keeps its best member's score.
fn weighted_nms(mut remaining: Vec<Detection>, iou: f32) -> Vec<Detection> {
    let mut kept = Vec::new();
    while !remaining.is_empty() {
        let best = remaining.remove(0);
        let (group, rest): (Vec<_>, Vec<_>) = remaining
            .into_iter()
            .partition(|d| d.bbox.iou(&best.bbox) > iou);
        remaining = rest;
        let total: f32 = best.score + group.iter().map(|d| d.score).sum::<f32>();
        let mut merged = Detection {
            bbox: Rect::default(),
            score: best.score,
            keypoints: [Point::default(); 6],
        };
        for d in std::iter::once(&best).chain(&group) {
            let w = d.score / total;
            merged.bbox.x += d.bbox.x * w;
            merged.bbox.y += d.bbox.y * w;
            merged.bbox.width += d.bbox.width * w;
            merged.bbox.height += d.bbox.height * w;
            for (m, p) in merged.keypoints.iter_mut().zip(&d.keypoints) {
                m.x += p.x * w;
                m.y += p.y * w;
            }
        }
        kept.push(merged);
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    fn det(x: f32, score: f32) -> Detection {
        Detection {
            bbox: Rect::new(x, 0.0, 10.0, 10.0),
            score,
            keypoints: [Point::new(x, 0.0); 6],
        }
    }

    #[test]
    fn plain_nms_drops_overlaps_and_keeps_distant_boxes() {
        let kept = plain_nms(vec![det(0.0, 0.9), det(1.0, 0.8), det(50.0, 0.7)], 0.3);
        assert_eq!(kept.len(), 2);
        assert_eq!(kept[0].bbox.x, 0.0);
        assert_eq!(kept[1].bbox.x, 50.0);
    }

    #[test]
    fn weighted_nms_averages_by_score() {
        let kept = weighted_nms(vec![det(0.0, 0.75), det(2.0, 0.25), det(50.0, 0.6)], 0.3);
        assert_eq!(kept.len(), 2);
        assert!((kept[0].bbox.x - 0.5).abs() < 1e-5);
        assert_eq!(kept[0].score, 0.75);
        assert!((kept[0].keypoints[3].x - 0.5).abs() < 1e-5);
    }

    #[test]
    fn weighted_nms_survives_nan_boxes() {
        let mut bad = det(0.0, 0.9);
        bad.bbox.width = f32::NAN;
        let kept = weighted_nms(vec![bad, det(30.0, 0.8)], 0.3);
        assert_eq!(kept.len(), 2);
    }
}
