//! The synkinesis classifier: one standard view in, the probability of
//! synkinesis and a class-activation heatmap out.
//!
//! The network is the one `models/train/` makes, in two forms listed in the
//! manifest: `[models.synkinesis]` (int8, what the kiosk runs) and
//! `[models.synkinesis_f32]` (the float reference). [`Classifier::load`] reads
//! the file through the sha256 check of [`crate::model`], checks it against
//! its manifest entry (input shape, outputs, the keys below) and lets tract
//! optimise it once; [`Classifier::classify`] then reuses that plan.
//!
//! The contract between training and this runtime:
//! - input `image`, `[1, 3, S, S]`, NCHW, RGB, with `S = view / k` for an
//!   integer `k`: the 112-px standard view ([`crate::face::align`]) has its
//!   light flattened when the manifest has `flatten_light`
//!   ([`FlattenLight`]), is shrunk by exact `k × k` box averaging in float,
//!   and each value is `(pixel / 255 − mean[c]) / std[c]`. When the graph's
//!   input is `uint8` (normalisation folded into the network), the box
//!   average is rounded to the nearest integer instead and `mean`/`std` are
//!   not used.
//! - outputs `logits` `[1, 2]` (0 = no synkinesis, 1 = synkinesis; the
//!   softmax is done here, never in the graph, because tract's quantized
//!   softmax is wrong) and `cam` `[1, h, w]`: the last feature maps weighted by
//!   the difference of the two classes' fully-connected weights, so positive
//!   values mark where the network sees synkinesis.
//! - manifest keys besides `file`, `sha256` and `input`: `threshold` (the
//!   screening threshold on the probability), `labels` (two names), `mean`
//!   and `std` (three values each), `flatten_light` (optional, f32 inputs
//!   only); `metrics` and `dataset` are for readers.

mod contract;
mod diagnostics;
mod flatten_light;
mod heatmap;
mod variant;

use contract::{check_declared_shape, float_key, triple_key};
pub use diagnostics::MatMulKernel;
pub use flatten_light::FlattenLight;
pub use heatmap::Heatmap;
pub use variant::Variant;

use std::io::Cursor;
use std::path::Path;
use std::sync::Arc;

use image::RgbImage;
use tract_onnx::prelude::*;
use tract_onnx::tract_hir::infer::Factoid;

use crate::decision::Rule;
use crate::model::{run_plan, Manifest, ModelError};

/// Manifest entry of the int8 classifier (the one the kiosk runs).
pub const CLASSIFIER_INT8: &str = "synkinesis";

/// Manifest entry of the float classifier (the reference).
pub const CLASSIFIER_F32: &str = "synkinesis_f32";

/// Why the classifier could not be loaded or run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClassifierError {
    /// The manifest or the model file could not be used: missing or
    /// unparseable manifest, unknown entry, missing file, wrong sha256.
    #[error(transparent)]
    Model(#[from] ModelError),
    /// The manifest entry lacks a key the classifier needs, or has a bad value.
    #[error("manifest entry models.{entry}: {message}")]
    Manifest {
        /// The manifest entry.
        entry: String,
        /// What is missing or wrong.
        message: String,
    },
    /// The file passed the hash check but tract cannot read it as a network.
    #[error(
        "cannot load classifier {entry:?} from {file}: {message} (is the file truncated or not \
         an ONNX model?)"
    )]
    Load {
        /// The manifest entry.
        entry: String,
        /// The model file.
        file: String,
        /// tract's error chain.
        message: String,
    },
    /// The network does not have the inputs or outputs its manifest entry says.
    #[error("classifier {entry:?} does not match its manifest entry: {message}")]
    Incompatible {
        /// The manifest entry.
        entry: String,
        /// What differs.
        message: String,
    },
    /// The image given to [`Classifier::classify`] is not a standard view.
    #[error(
        "the classifier takes the {expected}x{expected} standard view (screening::face::align \
         makes it), not a {width}x{height} image"
    )]
    ViewSize {
        /// The standard view's side.
        expected: u32,
        /// The image's width.
        width: u32,
        /// The image's height.
        height: u32,
    },
    /// tract failed while running the network.
    #[error("running classifier {entry:?} failed: {message}")]
    Run {
        /// The manifest entry.
        entry: String,
        /// tract's error chain.
        message: String,
    },
}

/// What the classifier says about one standard view.
#[derive(Debug, Clone, PartialEq)]
pub struct Classification {
    /// Probability of synkinesis, softmax of the logits, `0..=1`.
    pub probability: f32,
    /// The raw logits: `[no synkinesis, synkinesis]`.
    pub logits: [f32; 2],
    /// Where the network saw synkinesis.
    pub cam: Heatmap,
}

/// What the graph takes as input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum InputKind {
    /// Normalised floats.
    F32,
    /// Raw pixels (normalisation inside the graph).
    U8,
}

/// The synkinesis classifier, loaded and optimised once.
#[derive(Debug, Clone)]
pub struct Classifier {
    entry: String,
    variant: Variant,
    plan: Arc<TypedSimplePlan>,
    view_size: u32,
    input_size: usize,
    input_kind: InputKind,
    mean: [f32; 3],
    std: [f32; 3],
    flatten_light: Option<FlattenLight>,
    threshold: f32,
    labels: [String; 2],
    logits_ix: usize,
    cam_ix: usize,
    cam_shape: [usize; 2],
}

impl Classifier {
    /// Loads `variant` from the manifest: sha256-checked, validated against
    /// its entry and optimised by tract once.
    pub fn load(manifest: &Manifest, variant: Variant) -> Result<Classifier, ClassifierError> {
        let name = variant.entry();
        let entry = manifest.entry(name)?;
        let bad = |message: String| ClassifierError::Manifest {
            entry: name.to_string(),
            message,
        };
        let incompatible = |message: String| ClassifierError::Incompatible {
            entry: name.to_string(),
            message,
        };

        let threshold = float_key(&entry.extra, "threshold").map_err(bad)?;
        if !(threshold > 0.0 && threshold < 1.0) {
            return Err(bad(format!(
                "threshold = {threshold} must lie strictly between 0 and 1"
            )));
        }
        let labels = match entry.extra.get("labels") {
            Some(toml::Value::Array(a)) if a.len() == 2 && a.iter().all(|v| v.is_str()) => [
                a[0].as_str().unwrap_or_default().to_string(),
                a[1].as_str().unwrap_or_default().to_string(),
            ],
            Some(other) => {
                return Err(bad(format!(
                    "labels must be two strings ([no synkinesis, synkinesis]), not {other}"
                )))
            }
            None => return Err(bad("labels is missing".into())),
        };
        let input = entry.input.as_ref().ok_or_else(|| {
            bad(
                "input is missing (e.g. input = { name = \"image\", shape = [1, 3, 56, 56] })"
                    .into(),
            )
        })?;
        let view_size = manifest.standard_view.size;
        let side = match input.shape.as_slice() {
            &[1, 3, h, w] if h == w && h > 0 && view_size as usize % h == 0 => h,
            other => {
                return Err(bad(format!(
                    "input.shape = {other:?} must be [1, 3, S, S] with S dividing the standard \
                     view's {view_size} px"
                )))
            }
        };

        let bytes = manifest.read_verified(name)?;
        let load_err = |e: TractError| ClassifierError::Load {
            entry: name.to_string(),
            file: entry.file.clone(),
            message: format!("{e:#}"),
        };
        let model = tract_onnx::onnx()
            .with_ignore_value_info(true)
            .model_for_read(&mut Cursor::new(&bytes))
            .map_err(load_err)?;

        // The file's own declaration of its input must agree with the
        // manifest: a fully convolutional net would otherwise run happily at
        // the wrong size and give meaningless probabilities.
        let inputs = model.input_outlets().map_err(load_err)?.to_vec();
        if inputs.len() != 1 {
            return Err(incompatible(format!(
                "the graph has {} inputs, the classifier takes one",
                inputs.len()
            )));
        }
        let input_name = model.node(inputs[0].node).name.clone();
        if let Some(expected) = input.name.as_deref() {
            if expected != input_name {
                return Err(incompatible(format!(
                    "the graph's input is called {input_name:?}, the manifest says {expected:?}"
                )));
            }
        }
        let declared = model.input_fact(0).map_err(load_err)?.clone();
        check_declared_shape(&declared, &input.shape).map_err(incompatible)?;
        let input_kind = match declared.datum_type.concretize() {
            None | Some(DatumType::F32) => InputKind::F32,
            Some(DatumType::U8) => InputKind::U8,
            Some(other) => {
                return Err(incompatible(format!(
                    "the graph's input is {other:?}; the classifier feeds f32 or u8"
                )))
            }
        };
        let (mean, std) = match input_kind {
            InputKind::F32 => {
                let mean = triple_key(&entry.extra, "mean").map_err(bad)?;
                let std = triple_key(&entry.extra, "std").map_err(bad)?;
                if std.iter().any(|s| *s <= 0.0) {
                    return Err(bad(format!("std = {std:?} must be positive")));
                }
                (mean, std)
            }
            InputKind::U8 => ([0.0; 3], [1.0; 3]),
        };
        let flatten_light = match (entry.extra.get("flatten_light"), input_kind) {
            (None, _) => None,
            (Some(value), InputKind::F32) => Some(FlattenLight::from_toml(value).map_err(bad)?),
            (Some(_), InputKind::U8) => {
                return Err(bad(
                    "flatten_light needs a float input; this graph takes uint8".into(),
                ))
            }
        };

        let output_names: Vec<String> = model
            .output_outlets()
            .map_err(load_err)?
            .iter()
            .map(|o| model.outlet_label(*o).unwrap_or_default().to_string())
            .collect();
        let find = |wanted: &str| {
            output_names
                .iter()
                .position(|n| n == wanted)
                .ok_or_else(|| {
                    incompatible(format!(
                        "the graph has no output {wanted:?} (outputs: {output_names:?})"
                    ))
                })
        };
        let (logits_ix, cam_ix) = (find("logits")?, find("cam")?);

        let dt = match input_kind {
            InputKind::F32 => DatumType::F32,
            InputKind::U8 => DatumType::U8,
        };
        let plan = model
            .with_input_fact(0, InferenceFact::dt_shape(dt, &input.shape))
            .and_then(|m| m.into_optimized())
            .and_then(|m| m.into_runnable())
            .map_err(load_err)?;

        let shape_of = |ix: usize| -> Result<Vec<usize>, ClassifierError> {
            let fact = plan.model().output_fact(ix).map_err(load_err)?;
            if fact.datum_type != DatumType::F32 {
                return Err(incompatible(format!(
                    "output {:?} is {:?}, f32 expected",
                    output_names[ix], fact.datum_type
                )));
            }
            fact.shape
                .as_concrete()
                .map(|s| s.to_vec())
                .ok_or_else(|| incompatible(format!("output {ix} has no fixed shape")))
        };
        let logits_shape = shape_of(logits_ix)?;
        if logits_shape != [1, 2] {
            return Err(incompatible(format!(
                "logits have shape {logits_shape:?}, [1, 2] expected"
            )));
        }
        let cam_shape = match shape_of(cam_ix)?.as_slice() {
            &[1, h, w] if h > 0 && w > 0 => [h, w],
            other => {
                return Err(incompatible(format!(
                    "cam has shape {other:?}, [1, h, w] expected"
                )))
            }
        };
        for spec in &entry.outputs {
            let actual = match spec.name.as_str() {
                "logits" => logits_shape.clone(),
                "cam" => vec![1, cam_shape[0], cam_shape[1]],
                _ => continue,
            };
            if spec.shape != actual {
                return Err(incompatible(format!(
                    "output {:?} has shape {actual:?}, the manifest says {:?}",
                    spec.name, spec.shape
                )));
            }
        }

        Ok(Classifier {
            entry: name.to_string(),
            variant,
            plan,
            view_size,
            input_size: side,
            input_kind,
            mean,
            std,
            flatten_light,
            threshold,
            labels,
            logits_ix,
            cam_ix,
            cam_shape,
        })
    }

    /// Loads the manifest in `dir`, then `variant` (see [`Classifier::load`]).
    pub fn load_dir(dir: &Path, variant: Variant) -> Result<Classifier, ClassifierError> {
        Classifier::load(&Manifest::load(dir)?, variant)
    }

    /// Classifies one standard view (`view size × view size` pixels).
    pub fn classify(&self, view: &RgbImage) -> Result<Classification, ClassifierError> {
        let input = self.preprocess(view)?;
        let outputs = run_plan(&self.plan, input).map_err(|e| ClassifierError::Run {
            entry: self.entry.clone(),
            message: format!("{e:#}"),
        })?;
        let logits = self.output(&outputs, self.logits_ix)?;
        let logits = [logits[0], logits[1]];
        let values = self.output(&outputs, self.cam_ix)?.to_vec();
        Ok(Classification {
            probability: synkinesis_probability(logits),
            logits,
            cam: Heatmap {
                width: self.cam_shape[1] as u32,
                height: self.cam_shape[0] as u32,
                values,
            },
        })
    }

    /// The values fed to the network for `view`, NCHW: box-shrunk and
    /// normalised as training did (see the module docs); for a `uint8`
    /// input, the rounded box averages. For checks against training.
    pub fn network_input(&self, view: &RgbImage) -> Result<Vec<f32>, ClassifierError> {
        let t = self.preprocess(view)?;
        let values = t.try_as_plain_ram().and_then(|v| match self.input_kind {
            InputKind::F32 => v.as_slice::<f32>().map(<[f32]>::to_vec),
            InputKind::U8 => v
                .as_slice::<u8>()
                .map(|s| s.iter().map(|&b| f32::from(b)).collect()),
        });
        values.map_err(|e| ClassifierError::Run {
            entry: self.entry.clone(),
            message: format!("{e:#}"),
        })
    }

    /// The network's input tensor for `view`.
    fn preprocess(&self, view: &RgbImage) -> Result<Tensor, ClassifierError> {
        if view.width() != self.view_size || view.height() != self.view_size {
            return Err(ClassifierError::ViewSize {
                expected: self.view_size,
                width: view.width(),
                height: view.height(),
            });
        }
        let s = self.input_size;
        let k = self.view_size as usize / s;
        let shape = [1, 3, s, s];
        let area = (k * k) as f32;
        let tensor = match self.input_kind {
            InputKind::F32 => {
                // The order of operations is numpy's in models/train/data.py
                // (light flattening, pixel / 255, then the block mean, all in
                // f32), so the tensor is bit-identical to the one training saw.
                let pixels = match &self.flatten_light {
                    Some(flatten) => flatten.apply(view),
                    None => view.as_raw().iter().map(|&p| f32::from(p)).collect(),
                };
                let mut data = box_sums(&pixels, self.view_size as usize, k, |p| p / 255.0);
                for (c, plane) in data.chunks_mut(s * s).enumerate() {
                    for v in plane {
                        *v = (*v / area - self.mean[c]) / self.std[c];
                    }
                }
                Tensor::from_shape(&shape, &data)
            }
            InputKind::U8 => {
                let pixels: Vec<f32> = view.as_raw().iter().map(|&p| f32::from(p)).collect();
                let data: Vec<u8> = box_sums(&pixels, self.view_size as usize, k, |p| p)
                    .iter()
                    .map(|&sum| (sum / area).round().clamp(0.0, 255.0) as u8)
                    .collect();
                Tensor::from_shape(&shape, &data)
            }
        };
        tensor.map_err(|e| ClassifierError::Run {
            entry: self.entry.clone(),
            message: format!("{e:#}"),
        })
    }

    fn output<'a>(
        &self,
        outputs: &'a TVec<TValue>,
        ix: usize,
    ) -> Result<&'a [f32], ClassifierError> {
        outputs
            .get(ix)
            .ok_or_else(|| format!("no output {ix}"))
            .and_then(|v| {
                v.try_as_plain_ram()
                    .and_then(|v| v.as_slice::<f32>())
                    .map_err(|e| format!("{e:#}"))
            })
            .map_err(|message| ClassifierError::Run {
                entry: self.entry.clone(),
                message,
            })
    }

    /// Refer at or above this probability (the manifest's `threshold`,
    /// chosen on the validation split for high recall).
    pub fn threshold(&self) -> f32 {
        self.threshold
    }

    /// The series rule with this network's threshold (see
    /// [`crate::decision`]).
    pub fn rule(&self) -> Rule {
        Rule::Classifier {
            threshold: self.threshold,
        }
    }

    /// Which form of the network this is.
    pub fn variant(&self) -> Variant {
        self.variant
    }

    /// The two class names, `[no synkinesis, synkinesis]`.
    pub fn labels(&self) -> &[String; 2] {
        &self.labels
    }

    /// Side of the network's input, pixels (`S` of `[1, 3, S, S]`).
    pub fn input_size(&self) -> usize {
        self.input_size
    }
}

/// Softmax of two logits, class 1: `1 / (1 + e^(l0 − l1))`.
pub fn synkinesis_probability(logits: [f32; 2]) -> f32 {
    let d = logits[0] - logits[1];
    if d.is_nan() {
        return f32::NAN;
    }
    1.0 / (1.0 + d.exp())
}

/// Per channel and output cell, the sum of `value(pixel)` over the `k × k`
/// pixels it covers, channel-major (`[c][y][x]`), added row by row.
/// `pixels` is a `width × width` image, RGB interleaved.
fn box_sums(pixels: &[f32], width: usize, k: usize, value: impl Fn(f32) -> f32) -> Vec<f32> {
    let s = width / k;
    let plane = s * s;
    if k == 1 {
        // Each cell is one pixel: 0 + v is v, so no sums are needed.
        let mut planes = vec![0f32; 3 * plane];
        for (i, px) in pixels.chunks_exact(3).enumerate().take(plane) {
            for (c, &v) in px.iter().enumerate() {
                planes[c * plane + i] = value(v);
            }
        }
        return planes;
    }
    let mut sums = vec![0f32; 3 * plane];
    for y in 0..s * k {
        let row = &pixels[y * width * 3..(y * width + s * k) * 3];
        let cells = &mut sums[(y / k) * s..];
        for (ox, block) in row.chunks_exact(3 * k).enumerate() {
            for px in block.chunks_exact(3) {
                for (c, &v) in px.iter().enumerate() {
                    cells[c * plane + ox] += value(v);
                }
            }
        }
    }
    sums
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::Rgb;

    #[test]
    fn probability_is_the_softmax_of_class_one() {
        assert!((synkinesis_probability([0.0, 0.0]) - 0.5).abs() < 1e-7);
        let p = synkinesis_probability([1.0, 3.0]);
        let e = (3f32.exp()) / (1f32.exp() + 3f32.exp());
        assert!((p - e).abs() < 1e-6, "{p} vs {e}");
        assert_eq!(synkinesis_probability([100.0, -100.0]), 0.0);
        assert_eq!(synkinesis_probability([-100.0, 100.0]), 1.0);
    }

    #[test]
    fn box_sums_average_exact_blocks() {
        let mut view = RgbImage::new(4, 4);
        for (x, y, p) in view.enumerate_pixels_mut() {
            *p = Rgb([(x + 4 * y) as u8, 10, 200]);
        }
        let pixels: Vec<f32> = view.as_raw().iter().map(|&p| f32::from(p)).collect();
        let sums = box_sums(&pixels, 4, 2, |p| p);
        // Top-left block: 0, 1, 4, 5.
        assert_eq!(sums[0], 10.0);
        // Bottom-right block: 10, 11, 14, 15.
        assert_eq!(sums[3], 50.0);
        assert!(sums[4..8].iter().all(|&v| v == 40.0));
        assert!(sums[8..12].iter().all(|&v| v == 800.0));
    }
}
