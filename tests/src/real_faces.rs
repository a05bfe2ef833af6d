//! The real-face set: photographs of real people that ship in registry
//! packages (`tests/data`, licences in its `LICENCES.md` files), each
//! seen as is, with one eye narrowed ([`crate::eye_narrowing`]) and with
//! both narrowed alike, through the kiosk's own face stage.
//!
//! What it can show: whether a measure or a decision answers to one eye
//! closing against the other on real skin, light and cameras, and whether
//! it leaves real healthy faces alone. What it cannot: the warp narrows an
//! eye geometrically, without the cheek rise, lid folds and crow's feet of
//! a real synkinetic contraction, and the people pictured are not known to
//! be free of facial palsy, only not visibly affected.

use std::path::{Path, PathBuf};

use image::RgbImage;
use screening::classifier::Classifier;
use screening::decision::ExpressionEvidence;
use screening::face::{decode_image, FaceStage};
use screening::geometry::{PerSide, Point, Side};
use screening::protocol::Expression;

use crate::eye_narrowing::narrow_eye;

/// One photograph of the set.
#[derive(Debug, Clone)]
pub struct Photo {
    /// File name, for reports.
    pub name: String,
    /// The decoded photo.
    pub image: RgbImage,
}

/// What the face stage made of one (possibly warped) photo.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Seen {
    /// Why the capture gate would not take it, if it would not.
    pub refused: Option<&'static str>,
    /// Refined palpebral fissure of each eye ÷ interocular distance.
    pub fissure: PerSide<f32>,
    /// The classifier's probability on the standard view, when one was given.
    pub probability: Option<f32>,
    /// The mouth corners in the face frame.
    pub mouth: PerSide<Point>,
}

impl Seen {
    /// The kiosk's evidence for `expression` photographed as this.
    pub fn evidence(&self, expression: Expression) -> ExpressionEvidence {
        ExpressionEvidence {
            expression,
            probability: self.probability,
            fissure_left: self.fissure.left,
            fissure_right: self.fissure.right,
            mouth: Some(self.mouth),
        }
    }
}

/// Every photograph in `tests/data` and `tests/data/faces`, by name.
pub fn photos() -> Vec<Photo> {
    let data = crate::data_dir();
    let mut files = image_files(&data);
    files.extend(image_files(&data.join("faces")));
    files
        .into_iter()
        .map(|path| Photo {
            name: path
                .strip_prefix(&data)
                .unwrap_or(&path)
                .display()
                .to_string(),
            image: decode_image(&std::fs::read(&path).expect("fixture reads"))
                .expect("fixture decodes"),
        })
        .collect()
}

fn image_files(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| matches!(e.to_ascii_lowercase().as_str(), "png" | "jpg" | "jpeg"))
        })
        .collect();
    files.sort();
    files
}

/// `photo` cropped so that its largest face sits in the middle, as a nurse
/// would have framed the patient before the kiosk captured: a crop 4:3 like
/// the kiosk's camera, about 2.5 face widths wide, shrunk where the photo
/// ends. The photo itself when no face is found.
pub fn framed(stage: &FaceStage, photo: &RgbImage) -> RgbImage {
    let Some(face) = stage.detector().detect(photo).ok().and_then(|d| {
        d.into_iter()
            .max_by(|a, b| a.bbox.area().total_cmp(&b.bbox.area()))
    }) else {
        return photo.clone();
    };
    let c = face.bbox.centre();
    let (w, h) = (photo.width() as f32, photo.height() as f32);
    // Half-width and half-height that fit on every side of the face centre.
    let half_w = (2.5 * face.bbox.width * 0.5)
        .min(c.x)
        .min(w - c.x)
        .min((c.y.min(h - c.y)) * 4.0 / 3.0);
    let half_h = half_w * 3.0 / 4.0;
    if half_w < 1.0 {
        return photo.clone();
    }
    image::imageops::crop_imm(
        photo,
        (c.x - half_w).max(0.0) as u32,
        (c.y - half_h).max(0.0) as u32,
        (2.0 * half_w) as u32,
        (2.0 * half_h) as u32,
    )
    .to_image()
}

/// How a photo is altered before the face stage sees it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Alteration {
    /// The photo as it is.
    AsIs,
    /// One eye narrowed to `k` of its opening.
    OneEye(Side, f32),
    /// Both eyes narrowed to `k` (a squint, not synkinesis).
    BothEyes(f32),
}

/// `photo` altered as asked, the warp located by the face stage's own
/// landmarks on the unaltered photo. `None` when no face is found.
pub fn altered(stage: &FaceStage, photo: &RgbImage, how: Alteration) -> Option<RgbImage> {
    if how == Alteration::AsIs {
        return Some(photo.clone());
    }
    let landmarks = stage.analyse(photo, None).ok()?.landmarks?;
    Some(match how {
        Alteration::AsIs => unreachable!(),
        Alteration::OneEye(side, k) => narrow_eye(photo, &landmarks, side, k),
        Alteration::BothEyes(k) => {
            let once = narrow_eye(photo, &landmarks, Side::Left, k);
            narrow_eye(&once, &landmarks, Side::Right, k)
        }
    })
}

/// Runs the face stage (and the classifier, when given) on `image`.
/// `None` when no face with measures is found.
pub fn see(stage: &FaceStage, classifier: Option<&Classifier>, image: &RgbImage) -> Option<Seen> {
    let analysis = stage.analyse_still(image).ok()?;
    let measures = analysis.measures?;
    let probability = match (classifier, &analysis.aligned) {
        (Some(c), Some(a)) => Some(c.classify(&a.image).ok()?.probability),
        _ => None,
    };
    Some(Seen {
        refused: analysis.message(),
        fissure: measures.palpebral_fissure,
        probability,
        mouth: measures.commissure_face,
    })
}
