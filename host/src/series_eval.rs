//! The landmark rules on a data set, series by series, with the kiosk's own
//! code: `clinic series-features` (what the series model is fitted on) and
//! `clinic evaluate-series` (its figures, and the eye-narrowing rule's, on
//! one split).
//!
//! A data set written by `clinic synth` holds, per photo, the refined
//! fissures and the mouth corners in the face frame (`index.csv` columns
//! `fissure_left` ... `mouth_right_y`). One *series* is one patient in one
//! session (`session` column): the kiosk never mixes two settings in one
//! screening. Photos without a single face found count as not captured.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use screening::classifier::{Classifier, Variant};
use screening::decision::{ExpressionEvidence, Outcome, Rule};
use screening::geometry::{PerSide, Point};
use screening::model::Manifest;
use screening::protocol::Expression;
use screening::series_model::{self, features, SeriesModel, FEATURE_NAMES};
use serde::{Deserialize, Serialize};

use crate::evaluate::{metrics, EvaluateOptions, Metrics, SeriesDecision};

/// The `index.csv` columns a series needs.
#[derive(Debug, Clone, Deserialize)]
struct Row {
    patient_id: String,
    expression: String,
    condition: String,
    #[serde(default)]
    severity: String,
    patient_label: u8,
    split: String,
    file: String,
    #[serde(default)]
    session: u32,
    fissure_left: Option<f32>,
    fissure_right: Option<f32>,
    mouth_left_x: Option<f32>,
    mouth_left_y: Option<f32>,
    mouth_right_x: Option<f32>,
    mouth_right_y: Option<f32>,
}

impl Row {
    fn evidence(&self) -> Option<ExpressionEvidence> {
        if self.file.is_empty() {
            return None;
        }
        let expression = self.expression.parse::<Expression>().ok()?;
        let mouth = match (
            self.mouth_left_x,
            self.mouth_left_y,
            self.mouth_right_x,
            self.mouth_right_y,
        ) {
            (Some(lx), Some(ly), Some(rx), Some(ry)) => {
                Some(PerSide::new(Point::new(lx, ly), Point::new(rx, ry)))
            }
            _ => None,
        };
        Some(ExpressionEvidence {
            expression,
            probability: None,
            fissure_left: self.fissure_left?,
            fissure_right: self.fissure_right?,
            mouth,
        })
    }
}

/// One patient's series in one session.
#[derive(Debug, Clone)]
pub struct SeriesSample {
    /// Patient id.
    pub patient_id: String,
    /// Photo session.
    pub session: u32,
    /// `train`, `validation` or `test`.
    pub split: String,
    /// `healthy`, `flaccid`, `synkinetic_mild`, ...
    pub condition: String,
    /// Whether the patient has synkinesis.
    pub positive: bool,
    /// The captured expressions' evidence.
    pub evidence: Vec<ExpressionEvidence>,
}

/// Every series of the data set in `data`, each photo scored by
/// `classifier` when one is given (the fused series model reads its scores).
pub fn read_series(data: &Path, classifier: Option<&Classifier>) -> Result<Vec<SeriesSample>> {
    let path = data.join("index.csv");
    let mut reader =
        csv::Reader::from_path(&path).with_context(|| format!("opening {}", path.display()))?;
    let mut series: BTreeMap<(String, u32), SeriesSample> = BTreeMap::new();
    for (i, row) in reader.deserialize::<Row>().enumerate() {
        let row = row.with_context(|| format!("{}:{}", path.display(), i + 2))?;
        if row.fissure_left.is_none() && !row.file.is_empty() {
            bail!(
                "{}:{}: no fissure_left: this data set predates the series \
                 measures; render it again with `clinic synth`",
                path.display(),
                i + 2
            );
        }
        let entry = series
            .entry((row.patient_id.clone(), row.session))
            .or_insert_with(|| SeriesSample {
                patient_id: row.patient_id.clone(),
                session: row.session,
                split: row.split.clone(),
                condition: if row.condition == "synkinetic" && !row.severity.is_empty() {
                    format!("synkinetic_{}", row.severity)
                } else {
                    row.condition.clone()
                },
                positive: row.patient_label == 1,
                evidence: Vec::new(),
            });
        let Some(mut evidence) = row.evidence() else {
            continue;
        };
        if let Some(c) = classifier {
            let file = data.join(&row.file);
            let bytes =
                std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
            let view = screening::face::decode_image(&bytes)
                .with_context(|| format!("decoding {}", file.display()))?;
            evidence.probability = Some(c.classify(&view)?.probability);
        }
        entry.evidence.push(evidence);
    }
    Ok(series.into_values().collect())
}

/// Writes one line per series: ids, split, truth, then the features in
/// [`FEATURE_NAMES`] order (the classifier's logits empty without a
/// classifier) and the expressions they lacked.
pub fn write_features(data: &Path, out: &Path, classifier: Option<&Classifier>) -> Result<usize> {
    let mut w =
        csv::Writer::from_path(out).with_context(|| format!("creating {}", out.display()))?;
    let mut header = vec!["patient_id", "session", "split", "condition", "label"];
    header.extend(FEATURE_NAMES);
    header.push("missing");
    w.write_record(&header)?;
    let mut n = 0;
    for s in read_series(data, classifier)? {
        let Some(f) = features::features(&s.evidence) else {
            continue;
        };
        let mut line = vec![
            s.patient_id.clone(),
            s.session.to_string(),
            s.split.clone(),
            s.condition.clone(),
            u8::from(s.positive).to_string(),
        ];
        line.extend(f.values.iter().map(|v| {
            if v.is_finite() {
                v.to_string()
            } else {
                String::new()
            }
        }));
        let missing: Vec<&str> = f.missing.iter().map(|e| e.name()).collect();
        line.push(missing.join(" "));
        w.write_record(&line)?;
        n += 1;
    }
    w.flush()?;
    Ok(n)
}

/// Which landmark rule `clinic evaluate-series` runs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum LandmarkRule {
    /// The series model at its manifest threshold.
    Series,
    /// The eye-narrowing rule at this fissure-ratio threshold.
    EyeNarrowing(f32),
}

/// The figures of one landmark rule on one split.
#[derive(Debug, Clone, Serialize)]
pub struct SeriesEvaluation {
    /// Synthetic data only.
    pub note: String,
    /// The data-set folder.
    pub data: String,
    /// The split.
    pub split: String,
    /// The rule's record name and threshold.
    pub rule: Rule,
    /// Answered series (refer or not).
    pub metrics: Metrics,
    /// Referred / series, by condition group.
    pub referred: BTreeMap<String, [usize; 2]>,
    /// Series answered incomplete.
    pub incomplete: usize,
    /// Every series' decision (score: the rule's; higher is more suspicious).
    pub decisions: Vec<SeriesDecision>,
}

/// Runs `rule` over the series of `split` (session 0 only: one screening
/// per patient, as the classifier's evaluation counts them).
pub fn evaluate(
    data: &Path,
    models: &Path,
    split: &str,
    rule: LandmarkRule,
    resamples: usize,
    seed: u64,
) -> Result<SeriesEvaluation> {
    let manifest = Manifest::load(models)?;
    let (rule, model) = match rule {
        LandmarkRule::Series => {
            let model = SeriesModel::load(&manifest)?;
            (model.rule(), Some(model))
        }
        LandmarkRule::EyeNarrowing(threshold) => (Rule::EyeNarrowing { threshold }, None),
    };
    let classifier = match &model {
        Some(m) if m.needs_classifier() => Some(Classifier::load(&manifest, Variant::Int8)?),
        _ => None,
    };
    let series: Vec<SeriesSample> = read_series(data, classifier.as_ref())?
        .into_iter()
        .filter(|s| s.session == 0 && (split == "all" || s.split == split))
        .collect();
    if series.is_empty() {
        bail!("no series of split {split:?} in {}", data.display());
    }
    let mut decisions = Vec::new();
    let mut referred: BTreeMap<String, [usize; 2]> = BTreeMap::new();
    for s in &series {
        let d = series_model::decide(&s.evidence, rule, model.as_ref());
        let tally = referred.entry(s.condition.clone()).or_default();
        tally[0] += usize::from(d.outcome == Outcome::Refer);
        tally[1] += 1;
        decisions.push(SeriesDecision {
            patient_id: s.patient_id.clone(),
            truth: u8::from(s.positive),
            condition: s.condition.clone(),
            outcome: d.outcome,
            score: d.score,
            deciding: d.deciding,
            missing: d.missing,
        });
    }
    let threshold = match rule {
        Rule::EyeNarrowing { threshold } => 1.0 - threshold,
        Rule::Classifier { threshold } | Rule::Series { threshold } => threshold,
    };
    let answered: Vec<&SeriesDecision> = decisions
        .iter()
        .filter(|d| d.outcome != Outcome::Incomplete)
        .collect();
    let items: Vec<(bool, f32)> = answered
        .iter()
        .map(|d| {
            let refer = d.outcome == Outcome::Refer;
            (
                d.truth == 1,
                d.score.unwrap_or(if refer { 1.0 } else { 0.0 }),
            )
        })
        .collect();
    let patients: Vec<&str> = answered.iter().map(|d| d.patient_id.as_str()).collect();
    let opts = EvaluateOptions {
        data: PathBuf::from(data),
        models: PathBuf::from(models),
        variants: Vec::new(),
        split: split.to_string(),
        resamples,
        seed,
    };
    Ok(SeriesEvaluation {
        note: "virtual patients only (clinic synth); not a clinical validation".into(),
        data: data.display().to_string(),
        split: split.to_string(),
        rule,
        metrics: metrics(&items, threshold, &patients, &opts),
        referred,
        incomplete: decisions.len() - answered.len(),
        decisions,
    })
}

impl SeriesEvaluation {
    /// A few lines for the terminal.
    pub fn summary(&self) -> String {
        let m = &self.metrics;
        let pct = |e: &Option<crate::evaluate::stats::Estimate>| {
            e.map_or("n/a".to_string(), |e| {
                format!("{:.3} [{:.3}, {:.3}]", e.value, e.ci95[0], e.ci95[1])
            })
        };
        let mut s = format!(
            "{} split, rule {} (virtual patients): {} series answered, {} incomplete\n\
             accuracy {}  precision {}  recall {}  specificity {}  ROC AUC {}\n",
            self.split,
            self.rule.name(),
            m.n,
            self.incomplete,
            pct(&m.accuracy),
            pct(&m.precision),
            pct(&m.recall),
            pct(&m.specificity),
            pct(&m.auc),
        );
        for (condition, [r, n]) in &self.referred {
            s.push_str(&format!("  {condition}: referred {r}/{n}\n"));
        }
        s
    }
}
