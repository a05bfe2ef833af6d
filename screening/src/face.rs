//! The face stage: detect, landmarks, align, quality gate and landmark measures.
//!
//! One camera frame goes through [`FaceStage::analyse`]:
//! 1. the frame's lighting is checked first, so a black frame says "too
//!    dark" rather than "no face" (and the networks are not run on it);
//! 2. BlazeFace finds the faces ([`detect`]);
//! 3. FaceMesh places 468 landmarks on the largest one ([`landmarks`]);
//! 4. the face is resampled into the standard view, eyes at fixed places
//!    ([`align`]), the crop every classifier sees;
//! 5. eye opening and mouth corners are measured ([`measure`]);
//! 6. the quality gate decides whether the frame may be captured, with a
//!    reason a person can act on ([`gate`]).
//!
//! Frames larger than [`MAX_ANALYSIS_SIDE`] are box-shrunk first so memory
//! and time stay bounded; every coordinate returned is still in the caller's
//! frame pixels.

pub mod align;
pub mod anchors;
pub mod detect;
pub mod eyelids;
pub mod gate;
pub mod landmarks;
pub mod lid_margin;
pub mod measure;
pub mod resample;

use std::borrow::Cow;
use std::io::Cursor;
use std::path::Path;

use image::RgbImage;

pub use align::{align, Aligned};
pub use detect::{Detection, FaceDetector, Keypoint, Nms};
pub use eyelids::{EyeContour, EyelidModel};
pub use gate::{Direction, GateConfig, GateFigures, GateReason};
pub use landmarks::{EyeLandmarks, LandmarkModel, Landmarks, Roi};
pub use measure::Measures;

use crate::geometry::{Point, Rect, Similarity};
use crate::model::{Manifest, ModelError, StandardView};

/// Frames whose longer side exceeds this are shrunk before analysis.
pub const MAX_ANALYSIS_SIDE: u32 = 1920;

/// [`decode_image`] refuses images with more pixels than this (a 48 MP phone
/// photo still fits), before decoding them.
pub const MAX_DECODE_PIXELS: u64 = 50_000_000;

/// [`decode_image`] refuses images wider or taller than this.
pub const MAX_DECODE_SIDE: u32 = 16_384;

/// Why the face stage could not process a frame or load its models.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FaceError {
    /// A model could not be loaded or run.
    #[error(transparent)]
    Model(#[from] ModelError),
    /// The image has no pixels.
    #[error("the image is empty")]
    EmptyImage,
    /// The image is larger than the decoder accepts.
    #[error("the image is {width}×{height} pixels; at most {max_pixels} pixels are accepted")]
    ImageTooLarge {
        /// Width, pixels.
        width: u32,
        /// Height, pixels.
        height: u32,
        /// The limit, pixels.
        max_pixels: u64,
    },
    /// The bytes are not an image in a supported format (PNG, JPEG).
    #[error("not a PNG or JPEG image")]
    UnsupportedFormat,
    /// The bytes look like an image but do not decode (truncated, corrupt).
    #[error("the image cannot be decoded: {0}")]
    Decode(String),
    /// The two eye centres coincide, so no alignment exists.
    #[error("the eye centres coincide: the face cannot be aligned")]
    DegenerateEyes,
}

/// Everything the face stage found in one frame. Coordinates are in the
/// frame's pixels.
#[derive(Debug, Clone)]
pub struct Analysis {
    /// Width and height of the analysed frame.
    pub frame_size: [u32; 2],
    /// Every face found, best score first (empty when the frame was too dark
    /// or too bright to look).
    pub detections: Vec<Detection>,
    /// Index in `detections` of the face analysed further: the largest.
    pub primary: Option<usize>,
    /// FaceMesh landmarks of the primary face.
    pub landmarks: Option<Landmarks>,
    /// The primary face in the standard view.
    pub aligned: Option<Aligned>,
    /// Eye and mouth measures of the primary face.
    pub measures: Option<Measures>,
    /// What the gate measured.
    pub figures: GateFigures,
    /// `Ok` when the frame may be captured, else the first reason it may not.
    pub verdict: Result<(), GateReason>,
}

impl Analysis {
    /// The primary face's detection.
    pub fn face(&self) -> Option<&Detection> {
        self.primary.and_then(|i| self.detections.get(i))
    }

    /// Whether the gate lets this frame be captured.
    pub fn passed(&self) -> bool {
        self.verdict.is_ok()
    }

    /// The standard view when the frame held exactly one face: with two
    /// faces there is no telling which one the operator meant.
    pub fn sole_view(self) -> Option<RgbImage> {
        if self.detections.len() != 1 {
            return None;
        }
        self.aligned.map(|a| a.image)
    }

    /// The sentence for the screen, or `None` when the frame passed.
    pub fn message(&self) -> Option<&'static str> {
        self.verdict.err().map(|r| r.message())
    }
}

/// The loaded face models, the standard view and the gate's thresholds.
#[derive(Debug, Clone)]
pub struct FaceStage {
    detector: FaceDetector,
    landmarks: LandmarkModel,
    eyelids: Option<EyelidModel>,
    view: StandardView,
    gate: GateConfig,
}

impl FaceStage {
    /// Loads both face models named by `models_dir/manifest.toml`, checking
    /// their hashes, with the default gate.
    pub fn load(models_dir: &Path) -> Result<FaceStage, FaceError> {
        let manifest = Manifest::load(models_dir)?;
        Self::from_manifest(&manifest)
    }

    /// Loads both face models of an already read manifest.
    pub fn from_manifest(manifest: &Manifest) -> Result<FaceStage, FaceError> {
        Ok(FaceStage {
            detector: FaceDetector::from_manifest(manifest)?,
            landmarks: LandmarkModel::from_manifest(manifest)?,
            eyelids: EyelidModel::from_manifest(manifest)?,
            view: manifest.standard_view.clone(),
            gate: GateConfig::default(),
        })
    }

    /// Replaces the gate's thresholds.
    #[must_use]
    pub fn with_gate(mut self, gate: GateConfig) -> Self {
        self.gate = gate;
        self
    }

    /// The gate's thresholds.
    pub fn gate(&self) -> &GateConfig {
        &self.gate
    }

    /// The standard view from the manifest.
    pub fn standard_view(&self) -> &StandardView {
        &self.view
    }

    /// The face detector.
    pub fn detector(&self) -> &FaceDetector {
        &self.detector
    }

    /// The landmark model.
    pub fn landmark_model(&self) -> &LandmarkModel {
        &self.landmarks
    }

    /// The eyelid model, when the manifest has one.
    pub fn eyelid_model(&self) -> Option<&EyelidModel> {
        self.eyelids.as_ref()
    }

    /// Analyses one camera frame: detection, landmarks, alignment and the
    /// quality gate. `previous` (the analysis of the frame before) lets the
    /// gate tell whether the face is still. The eye apertures in `measures`
    /// are FaceMesh's; [`FaceStage::refine_eyelids`] sharpens them with the
    /// iris model, which costs about as much again, so the kiosk calls it
    /// only for frames it may capture.
    pub fn analyse(
        &self,
        frame: &RgbImage,
        previous: Option<&Analysis>,
    ) -> Result<Analysis, FaceError> {
        if frame.width() == 0 || frame.height() == 0 {
            return Err(FaceError::EmptyImage);
        }
        let factor = shrink_factor(frame.width(), frame.height(), MAX_ANALYSIS_SIDE);
        let work: Cow<'_, RgbImage> = if factor > 1 {
            Cow::Owned(resample::box_shrink(frame, factor))
        } else {
            Cow::Borrowed(frame)
        };
        // Working-frame pixels → caller's frame pixels (box_shrink is exact).
        let up = Similarity {
            a: factor as f32,
            b: 0.0,
            tx: 0.0,
            ty: 0.0,
        };
        let mut a = Analysis {
            frame_size: [frame.width(), frame.height()],
            detections: Vec::new(),
            primary: None,
            landmarks: None,
            aligned: None,
            measures: None,
            figures: GateFigures::default(),
            verdict: Ok(()),
        };
        let g = &self.gate;
        a.figures.frame_luma = gate::mean_luma(&work, None);
        if a.figures.frame_luma < g.min_frame_luma {
            a.verdict = Err(GateReason::TooDark);
            return Ok(a);
        }
        if a.figures.frame_luma > g.max_frame_luma {
            a.verdict = Err(GateReason::TooBright);
            return Ok(a);
        }

        let detections = self.detector.detect(&work)?;
        a.figures.faces = gate::counted_faces(&detections, g.second_face_ratio);
        let primary = detections
            .iter()
            .enumerate()
            .max_by(|x, y| x.1.bbox.area().total_cmp(&y.1.bbox.area()))
            .map(|(i, _)| i);
        a.primary = primary;
        let Some(pi) = primary else {
            a.verdict = Err(GateReason::NoFace);
            return Ok(a);
        };
        let work_face = detections[pi];
        let landmarks = self.landmarks.landmarks(&work, &work_face)?;
        let aligned = align::align(&work, landmarks.eye_centres(), &self.view).ok();

        // Gate figures, measured in the working frame (ratios and degrees do
        // not depend on its scale).
        let (ww, wh) = (work.width(), work.height());
        let f = &mut a.figures;
        f.presence = Some(landmarks.presence);
        f.face_width = Some(work_face.bbox.width / ww as f32);
        f.face_pixels = Some(work_face.bbox.width * factor as f32);
        f.centre_offset = Some(gate::centre_offset(&work_face.bbox, ww, wh));
        let pose =
            gate::head_pose(&landmarks).or_else(|| gate::head_pose_from_keypoints(&work_face));
        f.yaw_deg = pose.map(|p| p.yaw_deg);
        f.roll_deg = pose.map(|p| p.roll_deg);
        f.pitch_deg = pose.and_then(|p| p.pitch_deg);
        f.face_luma = Some(gate::mean_luma(
            &work,
            Some(gate::face_core(&work_face.bbox)),
        ));
        f.sharpness = aligned.as_ref().map(|al| gate::sharpness(&al.image));

        // Back to the caller's frame.
        let to_frame = |d: &Detection| scale_detection(d, factor as f32);
        a.detections = detections.iter().map(to_frame).collect();
        let face = a.detections[pi];
        a.figures.motion = previous
            .and_then(|p| p.face())
            .map(|prev| gate::motion(&face, prev));
        a.verdict = self.verdict(&a.figures);
        let landmarks = if factor > 1 {
            landmarks.transformed(&up)
        } else {
            landmarks
        };
        let aligned = aligned.map(|al| Aligned {
            transform: compose(
                &al.transform,
                &Similarity {
                    a: 1.0 / factor as f32,
                    b: 0.0,
                    tx: 0.0,
                    ty: 0.0,
                },
            ),
            image: al.image,
        });
        a.measures = Measures::from_landmarks(&landmarks);
        a.landmarks = Some(landmarks);
        a.aligned = aligned;
        Ok(a)
    }

    /// The gate's decision on measured figures, checks in screen order.
    /// Replaces the eye apertures of `analysis` (made by
    /// [`FaceStage::analyse`] from `frame`) with the iris model's eyelid
    /// contours. A no-op without an eyelid model or landmarks.
    pub fn refine_eyelids(
        &self,
        frame: &RgbImage,
        analysis: &mut Analysis,
    ) -> Result<(), FaceError> {
        let (Some(model), Some(landmarks)) = (&self.eyelids, &analysis.landmarks) else {
            return Ok(());
        };
        let Some(measures) = analysis.measures.take() else {
            return Ok(());
        };
        // The same working frame `analyse` looked at, so the figures do not
        // depend on when the refinement runs.
        let factor = shrink_factor(frame.width(), frame.height(), MAX_ANALYSIS_SIDE);
        let (work, work_landmarks) = if factor > 1 {
            let down = Similarity {
                a: 1.0 / factor as f32,
                b: 0.0,
                tx: 0.0,
                ty: 0.0,
            };
            (
                Cow::Owned(resample::box_shrink(frame, factor)),
                landmarks.transformed(&down),
            )
        } else {
            (Cow::Borrowed(frame), landmarks.clone())
        };
        let contours = model.refine(&work, &work_landmarks);
        analysis.measures = Some(match contours {
            // Apertures over the interocular distance do not depend on the working scale.
            Ok(e) => {
                let interocular = measures.interocular;
                measures.with_fissures(e.as_ref().map(|c| c.aperture * factor as f32 / interocular))
            }
            Err(err) => {
                analysis.measures = Some(measures);
                return Err(err);
            }
        });
        Ok(())
    }

    /// Analyses one still photo with every measure refined, whatever the
    /// gate says (data sets, uploaded photos).
    pub fn analyse_still(&self, frame: &RgbImage) -> Result<Analysis, FaceError> {
        let mut a = self.analyse(frame, None)?;
        self.refine_eyelids(frame, &mut a)?;
        Ok(a)
    }

    fn verdict(&self, f: &GateFigures) -> Result<(), GateReason> {
        let g = &self.gate;
        if f.faces > 1 {
            return Err(GateReason::MultipleFaces(f.faces));
        }
        if f.presence.is_some_and(|p| p < g.min_presence) {
            return Err(GateReason::NoFace);
        }
        let width = f.face_width.unwrap_or(0.0);
        if width > g.max_face_width {
            return Err(GateReason::TooLarge);
        }
        if width < g.min_face_width || f.face_pixels.unwrap_or(0.0) < g.min_face_pixels {
            return Err(GateReason::TooSmall);
        }
        if let Some(dir) = f
            .centre_offset
            .and_then(|o| gate::centring(o, g.max_centre_offset))
        {
            return Err(GateReason::OffCentre(dir));
        }
        if f.yaw_deg.is_some_and(|y| y.abs() > g.max_yaw_deg)
            || f.roll_deg.is_some_and(|r| r.abs() > g.max_roll_deg)
        {
            return Err(GateReason::HeadTurned);
        }
        match f.pitch_deg {
            Some(p) if p > g.max_pitch_deg => return Err(GateReason::ChinUp),
            Some(p) if p < -g.max_pitch_deg => return Err(GateReason::ChinDown),
            _ => {}
        }
        if let Some(l) = f.face_luma {
            if l < g.min_face_luma {
                return Err(GateReason::TooDark);
            }
            if l > g.max_face_luma {
                return Err(GateReason::TooBright);
            }
        }
        if f.sharpness.is_none_or(|s| s < g.min_sharpness) {
            return Err(GateReason::Blurred);
        }
        if f.motion.is_some_and(|m| m > g.max_motion) {
            return Err(GateReason::Moving);
        }
        Ok(())
    }
}

/// The integer shrink factor that brings the longer side to at most `max`.
fn shrink_factor(width: u32, height: u32, max: u32) -> u32 {
    width.max(height).div_ceil(max.max(1)).max(1)
}

fn scale_detection(d: &Detection, s: f32) -> Detection {
    Detection {
        bbox: Rect::new(
            d.bbox.x * s,
            d.bbox.y * s,
            d.bbox.width * s,
            d.bbox.height * s,
        ),
        score: d.score,
        keypoints: d.keypoints.map(|p| Point::new(p.x * s, p.y * s)),
    }
}

/// One transform doing `inner` then `outer`.
fn compose(outer: &Similarity, inner: &Similarity) -> Similarity {
    Similarity {
        a: outer.a * inner.a - outer.b * inner.b,
        b: outer.a * inner.b + outer.b * inner.a,
        tx: outer.a * inner.tx - outer.b * inner.ty + outer.tx,
        ty: outer.b * inner.tx + outer.a * inner.ty + outer.ty,
    }
}

/// Decodes a PNG or JPEG file into RGB, for uploads and the replay camera.
///
/// The header is read first and images over [`MAX_DECODE_PIXELS`] or
/// [`MAX_DECODE_SIDE`] are refused before any pixel buffer is allocated.
/// EXIF orientation is applied. Images whose longer side exceeds
/// [`MAX_ANALYSIS_SIDE`] are box-shrunk by an integer factor, so what leaves
/// this function is bounded in size whatever came in.
pub fn decode_image(bytes: &[u8]) -> Result<RgbImage, FaceError> {
    decode_image_within(bytes, MAX_DECODE_PIXELS)
}

/// [`decode_image`] with a lower pixel limit, for callers that decode what
/// strangers send (the clinic's upload page): `max_pixels` is checked against
/// the header before anything is decoded, and bounds the decoder's
/// allocations to 8 bytes per pixel (16-bit RGBA) plus decoder slack.
pub fn decode_image_within(bytes: &[u8], max_pixels: u64) -> Result<RgbImage, FaceError> {
    let max_pixels = max_pixels.min(MAX_DECODE_PIXELS);
    if bytes.is_empty() {
        return Err(FaceError::EmptyImage);
    }
    let reader = || -> Result<image::ImageReader<Cursor<&[u8]>>, FaceError> {
        let mut r = image::ImageReader::new(Cursor::new(bytes))
            .with_guessed_format()
            .map_err(|e| FaceError::Decode(e.to_string()))?;
        if !matches!(
            r.format(),
            Some(image::ImageFormat::Png | image::ImageFormat::Jpeg)
        ) {
            return Err(FaceError::UnsupportedFormat);
        }
        let mut limits = image::Limits::default();
        limits.max_image_width = Some(MAX_DECODE_SIDE);
        limits.max_image_height = Some(MAX_DECODE_SIDE);
        // RGBA16 of the largest accepted image, plus decoder slack.
        limits.max_alloc = Some(max_pixels * 8 + (64 << 20));
        r.limits(limits);
        Ok(r)
    };
    let decode_err = |e: image::ImageError| match e {
        image::ImageError::Limits(_) => FaceError::ImageTooLarge {
            width: 0,
            height: 0,
            max_pixels,
        },
        image::ImageError::Unsupported(_) => FaceError::UnsupportedFormat,
        other => FaceError::Decode(other.to_string()),
    };
    let (width, height) = reader()?.into_dimensions().map_err(decode_err)?;
    if width == 0 || height == 0 {
        return Err(FaceError::EmptyImage);
    }
    if u64::from(width) * u64::from(height) > max_pixels || width.max(height) > MAX_DECODE_SIDE {
        return Err(FaceError::ImageTooLarge {
            width,
            height,
            max_pixels,
        });
    }
    use image::ImageDecoder;
    let mut decoder = reader()?.into_decoder().map_err(decode_err)?;
    let orientation = decoder
        .orientation()
        .unwrap_or(image::metadata::Orientation::NoTransforms);
    let mut img = image::DynamicImage::from_decoder(decoder).map_err(decode_err)?;
    img.apply_orientation(orientation);
    let rgb = img.into_rgb8();
    let factor = shrink_factor(rgb.width(), rgb.height(), MAX_ANALYSIS_SIDE);
    Ok(if factor > 1 {
        resample::box_shrink(&rgb, factor)
    } else {
        rgb
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shrink_factor_bounds_the_longer_side() {
        assert_eq!(shrink_factor(640, 480, 1920), 1);
        assert_eq!(shrink_factor(1920, 1080, 1920), 1);
        assert_eq!(shrink_factor(1921, 10, 1920), 2);
        assert_eq!(shrink_factor(10_000, 10_000, 1920), 6);
        assert_eq!(shrink_factor(0, 0, 1920), 1);
    }

    #[test]
    fn compose_applies_inner_first() {
        let inner = Similarity {
            a: 2.0,
            b: 0.0,
            tx: 1.0,
            ty: 0.0,
        };
        let outer = Similarity {
            a: 0.0,
            b: 1.0,
            tx: 0.0,
            ty: 5.0,
        };
        let p = Point::new(3.0, 4.0);
        let direct = outer.apply(inner.apply(p));
        assert!(compose(&outer, &inner).apply(p).distance(direct) < 1e-5);
    }

    #[test]
    fn decode_refuses_garbage_without_panicking() {
        assert!(matches!(decode_image(b""), Err(FaceError::EmptyImage)));
        assert!(matches!(
            decode_image(b"hello, not an image"),
            Err(FaceError::UnsupportedFormat)
        ));
        // A PNG signature followed by nothing.
        let r = decode_image(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR");
        assert!(
            matches!(
                r,
                Err(FaceError::Decode(_)) | Err(FaceError::UnsupportedFormat)
            ),
            "{r:?}"
        );
    }
}
