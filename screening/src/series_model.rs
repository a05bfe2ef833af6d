//! The series model: one probability of synkinesis for a whole screening,
//! from the landmark evidence of rest and the three sign expressions, each
//! side set against the other and each expression against rest
//! ([`features`]).
//!
//! It reads what the face stage measures through FaceMesh and the iris
//! model, networks trained on real faces, so its evidence does not depend on
//! how the virtual patients' renderer paints skin and light; only its few
//! weights were fitted on virtual patients (`models/train/series.py`).
//!
//! The contract with training, checked at load:
//! - manifest entry `[models.series]`: `file`, `sha256`, `input.shape =
//!   [1, N]`, `features` (the N names, equal to [`features::NAMES`] in
//!   order), `threshold` (strictly between 0 and 1, chosen on validation
//!   patients);
//! - the graph's one output is the probability of synkinesis, `[1, 1]`.
//!
//! A partial series is answered the way every rule here answers it: the
//! missing expression counts as one that moved nothing; when the
//! probability already reaches the threshold the series refers (more photos
//! cannot undo a clear sign), otherwise it is incomplete and names what to
//! retake. The deciding expression is the one without which the probability
//! falls most, so a retake in doubt photographs what mattered.

pub mod features;

use tract_onnx::prelude::*;

use crate::decision::{self, Decision, ExpressionEvidence, Outcome, Rule};
use crate::model::{output_slice, LoadedModel, Manifest, ModelError};
use crate::protocol::{Expression, SIGN_EXPRESSIONS};

use features::FIRST_LOGIT;
pub use features::{SeriesFeatures, COUNT as FEATURE_COUNT, NAMES as FEATURE_NAMES};

/// Manifest entry of the series model.
pub const SERIES_MODEL: &str = "series";

/// Why the series model could not be loaded or run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SeriesModelError {
    /// Reading, checking or running the file failed.
    #[error(transparent)]
    Model(#[from] ModelError),
    /// The manifest entry breaks the contract.
    #[error("manifest entry models.{SERIES_MODEL}: {0}")]
    Manifest(String),
    /// The graph does not give what the contract says.
    #[error("series model: {0}")]
    Incompatible(String),
}

/// The loaded series model, ready to decide series.
#[derive(Debug, Clone)]
pub struct SeriesModel {
    model: LoadedModel,
    threshold: f32,
    /// For each graph input, its index in [`FEATURE_NAMES`].
    columns: Vec<usize>,
}

impl SeriesModel {
    /// Loads `[models.series]`: sha256-checked, its feature list and input
    /// shape checked against this runtime's, optimised once by tract.
    pub fn load(manifest: &Manifest) -> Result<SeriesModel, SeriesModelError> {
        let entry = manifest.entry(SERIES_MODEL)?;
        let bad = SeriesModelError::Manifest;
        let threshold = match entry.extra.get("threshold") {
            Some(toml::Value::Float(f)) => *f as f32,
            Some(other) => return Err(bad(format!("threshold must be a number, not {other}"))),
            None => return Err(bad("threshold is missing".into())),
        };
        if !(threshold > 0.0 && threshold < 1.0) {
            return Err(bad(format!(
                "threshold = {threshold} must lie strictly between 0 and 1"
            )));
        }
        let names: Option<Vec<&str>> = match entry.extra.get("features") {
            Some(toml::Value::Array(a)) => a.iter().map(|v| v.as_str()).collect(),
            _ => None,
        };
        let Some(names) = names else {
            return Err(bad(
                "features must be the list of input feature names".into()
            ));
        };
        let mut columns = Vec::with_capacity(names.len());
        for name in &names {
            let Some(ix) = FEATURE_NAMES.iter().position(|n| n == name) else {
                return Err(bad(format!(
                    "feature {name:?} is not one this kiosk computes ({FEATURE_NAMES:?}): \
                     the model was made for another version of the features"
                )));
            };
            if columns.contains(&ix) {
                return Err(bad(format!("feature {name:?} is listed twice")));
            }
            columns.push(ix);
        }
        let shape = entry.input.as_ref().map(|i| i.shape.as_slice());
        if columns.is_empty() || shape != Some(&[1, columns.len()][..]) {
            return Err(bad(format!(
                "input.shape is {shape:?}, but features lists {} names (expected [1, {}])",
                columns.len(),
                columns.len()
            )));
        }
        let model = manifest.load_onnx(SERIES_MODEL)?;
        if model.output_shapes().first().map(Vec::as_slice) != Some(&[1, 1][..]) {
            return Err(SeriesModelError::Incompatible(format!(
                "the first output has shape {:?}, expected [1, 1] (the probability)",
                model.output_shapes().first()
            )));
        }
        Ok(SeriesModel {
            model,
            threshold,
            columns,
        })
    }

    /// Whether the model reads the single-view classifier's scores, so the
    /// kiosk must score every capture with it.
    pub fn needs_classifier(&self) -> bool {
        self.columns.iter().any(|&c| c >= FIRST_LOGIT)
    }

    /// The feature names the graph reads, in input order.
    pub fn inputs(&self) -> Vec<&'static str> {
        self.columns.iter().map(|&c| FEATURE_NAMES[c]).collect()
    }

    /// Refer at or above this probability (the manifest's `threshold`).
    pub fn threshold(&self) -> f32 {
        self.threshold
    }

    /// The rule this model decides by, with the manifest's threshold.
    pub fn rule(&self) -> Rule {
        Rule::Series {
            threshold: self.threshold,
        }
    }

    /// The probability of synkinesis for a series' features.
    pub fn probability(&self, values: &[f32; FEATURE_COUNT]) -> Result<f32, SeriesModelError> {
        let picked: Vec<f32> = self.columns.iter().map(|&c| values[c]).collect();
        if let Some(&c) = self.columns.iter().find(|&&c| !values[c].is_finite()) {
            return Err(SeriesModelError::Incompatible(format!(
                "feature {} is not available (the classifier's scores are needed)",
                FEATURE_NAMES[c]
            )));
        }
        let input = tract_ndarray::Array2::from_shape_vec((1, picked.len()), picked)
            .map_err(|e| SeriesModelError::Incompatible(e.to_string()))?;
        let outputs = self.model.run(input.into_tensor())?;
        let p = output_slice(&self.model, &outputs, 0)?
            .first()
            .copied()
            .ok_or_else(|| SeriesModelError::Incompatible("empty output".into()))?;
        if p.is_finite() {
            Ok(p)
        } else {
            Err(SeriesModelError::Incompatible(format!(
                "the probability is {p}"
            )))
        }
    }

    /// Decides one series at `threshold` (normally [`Self::threshold`];
    /// the kiosk's configuration may override it).
    pub fn decide(
        &self,
        evidence: &[ExpressionEvidence],
        threshold: f32,
    ) -> Result<Decision, SeriesModelError> {
        let rule = Rule::Series { threshold };
        let Some(f) = features::features(evidence) else {
            // Nothing is relative without rest: ask for it, and for any
            // sign expression that is missing too.
            let mut missing = vec![Expression::Rest];
            missing.extend(
                SIGN_EXPRESSIONS
                    .iter()
                    .filter(|x| !evidence.iter().any(|e| e.expression == **x)),
            );
            return Ok(Decision {
                outcome: Outcome::Incomplete,
                score: None,
                threshold,
                rule,
                deciding: None,
                missing,
            });
        };
        let p = self.probability(&f.values)?;
        let deciding = self.deciding(evidence, &f, p)?;
        let outcome = if decision::reaches(p, threshold) {
            Outcome::Refer
        } else if f.missing.is_empty() {
            Outcome::NoSynkinesisDetected
        } else {
            Outcome::Incomplete
        };
        Ok(Decision {
            outcome,
            score: Some(p),
            threshold,
            rule,
            deciding,
            missing: f.missing,
        })
    }

    /// The captured sign expression whose absence would lower the
    /// probability most (ties: protocol order).
    fn deciding(
        &self,
        evidence: &[ExpressionEvidence],
        f: &SeriesFeatures,
        p: f32,
    ) -> Result<Option<Expression>, SeriesModelError> {
        let mut best: Option<(f32, Expression)> = None;
        for &x in &SIGN_EXPRESSIONS {
            if f.missing.contains(&x) {
                continue;
            }
            let without = features::features(&features::neutralised(evidence, x))
                .map(|g| self.probability(&g.values))
                .transpose()?
                .unwrap_or(p);
            let drop = p - without;
            if best.is_none_or(|(b, _)| drop > b) {
                best = Some((drop, x));
            }
        }
        Ok(best.map(|b| b.1))
    }
}

/// Decides `evidence` by `rule`: through `model` for [`Rule::Series`],
/// through [`decision::decide`] for the per-expression rules.
///
/// Every caller that may hold the series model (the kiosk's session, the
/// clinic's evaluation, the real-face tests) decides here, so they cannot
/// answer one series two ways. Without the model, or when it fails to run
/// (logged), a series-model rule answers Incomplete: never a clear result
/// without the evidence behind it.
pub fn decide(
    evidence: &[ExpressionEvidence],
    rule: Rule,
    model: Option<&SeriesModel>,
) -> Decision {
    match (rule, model) {
        (Rule::Series { threshold }, Some(model)) => match model.decide(evidence, threshold) {
            Ok(d) => d,
            Err(e) => {
                tracing::error!("the series model failed: {e}");
                decision::decide(evidence, rule)
            }
        },
        _ => decision::decide(evidence, rule),
    }
}

#[cfg(test)]
mod tests {
    use super::features::fixtures::series;
    use super::*;
    use crate::model::{default_models_dir, sha256_hex, MANIFEST_FILE};
    use std::path::Path;

    fn committed_text() -> String {
        std::fs::read_to_string(default_models_dir().join(MANIFEST_FILE)).unwrap()
    }

    /// The committed manifest with one edit, read against `dir`.
    fn load_edited(dir: &Path, from: &str, to: &str) -> Result<SeriesModel, SeriesModelError> {
        let text = committed_text();
        assert!(text.contains(from), "the manifest no longer holds {from:?}");
        let manifest = Manifest::parse(&text.replacen(from, to, 1), dir).unwrap();
        SeriesModel::load(&manifest)
    }

    fn committed() -> SeriesModel {
        SeriesModel::load(&Manifest::load(&default_models_dir()).unwrap()).unwrap()
    }

    #[test]
    fn the_committed_model_loads_and_reads_the_landmarks() {
        let m = committed();
        assert_eq!(m.inputs(), FEATURE_NAMES[..FIRST_LOGIT].to_vec());
        assert!(!m.needs_classifier());
        assert!(m.threshold() > 0.0 && m.threshold() < 1.0);
    }

    #[test]
    fn one_eye_narrowing_with_the_smile_refers_and_a_symmetric_smile_does_not() {
        let m = committed();
        let t = m.threshold();
        let healthy = m
            .decide(&series((0.27, 0.27), [(0.6, 1.05), (-0.6, 1.05)]), t)
            .unwrap();
        // The left corner lags (the palsied side) and the left eye closes
        // to less than half of its opening at rest while the right stays.
        let synkinesis = m
            .decide(&series((0.12, 0.29), [(0.5, 1.15), (-0.6, 1.05)]), t)
            .unwrap();
        assert_eq!(
            healthy.outcome,
            Outcome::NoSynkinesisDetected,
            "{healthy:?}"
        );
        assert_eq!(synkinesis.outcome, Outcome::Refer, "{synkinesis:?}");
        assert_eq!(synkinesis.deciding, Some(Expression::BigSmile));
        assert!(synkinesis.score > healthy.score);
    }

    #[test]
    fn without_rest_it_asks_for_rest_and_never_clears() {
        let m = committed();
        let s = series((0.27, 0.27), [(0.6, 1.05), (-0.6, 1.05)]);
        let d = decide(&s[1..], m.rule(), Some(&m));
        assert_eq!(d.outcome, Outcome::Incomplete);
        assert_eq!(d.missing.first(), Some(&Expression::Rest));
        // The rule without its model is never a clear result either.
        assert_eq!(decide(&s, m.rule(), None).outcome, Outcome::Incomplete);
    }

    #[test]
    fn a_model_made_for_other_features_is_refused() {
        let dir = default_models_dir();
        let err = load_edited(&dir, "\"rest_eye_side\"]", "\"rest_eye_tilt\"]").unwrap_err();
        assert!(err.to_string().contains("rest_eye_tilt"), "{err}");
        let err = load_edited(&dir, "shape = [1, 9]", "shape = [1, 8]").unwrap_err();
        assert!(err.to_string().contains("input.shape"), "{err}");
        let err = load_edited(&dir, "threshold = 0.33", "threshold = 1.33").unwrap_err();
        assert!(err.to_string().contains("strictly between"), "{err}");
    }

    #[test]
    fn a_damaged_file_is_refused_by_its_hash_and_a_truncated_graph_by_tract() {
        let dir = tempfile::tempdir().unwrap();
        let bytes = std::fs::read(default_models_dir().join("series.onnx")).unwrap();
        let half = &bytes[..bytes.len() / 2];
        std::fs::write(dir.path().join("series.onnx"), half).unwrap();
        let err = load_edited(dir.path(), "", "").unwrap_err();
        assert!(
            matches!(
                err,
                SeriesModelError::Model(ModelError::HashMismatch { .. })
            ),
            "{err}"
        );
        // Even with a manifest that vouches for the truncated bytes, the
        // graph does not load and the error says so rather than panicking.
        let committed_sha = sha256_hex(&bytes);
        let err = load_edited(dir.path(), &committed_sha, &sha256_hex(half)).unwrap_err();
        assert!(matches!(err, SeriesModelError::Model(_)), "{err}");
    }
}
