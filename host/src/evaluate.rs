//! `clinic evaluate`: the classifier's figures on a data set, computed with
//! the same Rust runtime the kiosk runs (`screening::classifier`).
//!
//! It reads a data-set folder in the format `clinic synth` writes (and that a
//! hospital can produce from its own photos): `index.csv` plus the standard
//! views it names. Only one split is evaluated (`test` by default: patients
//! never seen in training). For each variant of the network it reports, per
//! image, accuracy, precision, recall, specificity and F1 at the manifest's
//! threshold and the ROC AUC, with 95 % intervals (Wilson for proportions; a
//! seeded bootstrap over patients for AUC and F1, since one patient's images
//! are not independent); the same per condition (healthy, flaccid,
//! synkinetic by severity), per expression and per skin-tone group
//! (Fitzpatrick I-II, III-IV, V-VI); per series (one patient's expressions
//! combined by [`screening::decision::decide`], judged against the patient's
//! label); and, when both variants run, how often int8 and f32 decide alike.
//!
//! Per-image truth is the `label` column (1 when this photo shows
//! synkinesis). Per-series truth is `patient_label`; data sets written
//! before that column existed fall back to "any image of the patient is
//! labelled 1". Rows without a standard view (the face stage found no single
//! face) count as missing photos of their series.

pub mod plot;
pub mod stats;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use screening::classifier::{Classifier, Variant};
use screening::decision::{self, ExpressionEvidence, Outcome, Rule};
use screening::model::Manifest;
use screening::protocol::Expression;
use serde::Serialize;

use self::stats::{Confusion, Estimate, PatientBootstrap};

/// What `clinic evaluate` was asked for.
#[derive(Debug, Clone)]
pub struct EvaluateOptions {
    /// The data-set folder (holds `index.csv`).
    pub data: PathBuf,
    /// The models folder (holds `manifest.toml`).
    pub models: PathBuf,
    /// Which networks to run; the first is the primary one (plots, series).
    pub variants: Vec<Variant>,
    /// Which split to evaluate (`test`, `validation`, `train` or `all`).
    pub split: String,
    /// Bootstrap resamples for the AUC and F1 intervals.
    pub resamples: usize,
    /// Seed of the bootstrap.
    pub seed: u64,
}

/// One row of `index.csv` that the evaluation uses.
#[derive(Debug, Clone)]
struct Sample {
    patient_id: String,
    expression: String,
    condition: String,
    severity: String,
    label: bool,
    patient_label: Option<bool>,
    file: String,
    fitzpatrick: Option<u8>,
}

impl Sample {
    fn condition_group(&self) -> String {
        if self.condition == "synkinetic" && !self.severity.is_empty() {
            format!("synkinetic_{}", self.severity)
        } else {
            self.condition.clone()
        }
    }

    fn skin_group(&self) -> &'static str {
        match self.fitzpatrick {
            Some(1 | 2) => "I-II",
            Some(3 | 4) => "III-IV",
            Some(5 | 6) => "V-VI",
            _ => "unknown",
        }
    }
}

/// The whole report, written as JSON.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// Always true for data made by `clinic synth`; the figures are then
    /// about synthetic faces only.
    pub note: String,
    /// The data-set folder.
    pub data: String,
    /// The split evaluated.
    pub split: String,
    /// Rows of that split in `index.csv`.
    pub rows: usize,
    /// Rows without a standard view (no single face found).
    pub rows_without_view: usize,
    /// Patients in the split.
    pub patients: usize,
    /// Bootstrap resamples and seed behind the AUC and F1 intervals.
    pub bootstrap: BootstrapInfo,
    /// Figures per variant (`int8`, `f32`).
    pub variants: BTreeMap<String, VariantReport>,
    /// int8 against f32, when both ran.
    pub agreement: Option<Agreement>,
}

/// How the bootstrap intervals were made.
#[derive(Debug, Clone, Serialize)]
pub struct BootstrapInfo {
    /// Resamples.
    pub resamples: usize,
    /// Seed.
    pub seed: u64,
    /// What is resampled.
    pub unit: &'static str,
}

/// Figures of one variant.
#[derive(Debug, Clone, Serialize)]
pub struct VariantReport {
    /// Manifest entry.
    pub entry: String,
    /// The screening threshold from the manifest.
    pub threshold: f32,
    /// Per image.
    pub per_image: Metrics,
    /// Per condition group (`healthy`, `flaccid`, `synkinetic_mild`, ...).
    pub per_condition: BTreeMap<String, Metrics>,
    /// Per expression.
    pub per_expression: BTreeMap<String, Metrics>,
    /// Per Fitzpatrick group (`I-II`, `III-IV`, `V-VI`).
    pub per_skin_tone: BTreeMap<String, Metrics>,
    /// Per series (one patient's expressions, one decision).
    pub per_series: SeriesReport,
    /// Per image: file and probability, in `index.csv` order.
    pub scores: Vec<Score>,
}

/// One image's score.
#[derive(Debug, Clone, Serialize)]
pub struct Score {
    /// The standard view, relative to the data folder.
    pub file: String,
    /// Its label.
    pub label: u8,
    /// Probability of synkinesis.
    pub probability: f32,
}

/// Binary-classification figures for a set of images or series.
#[derive(Debug, Clone, Serialize)]
pub struct Metrics {
    /// Items.
    pub n: usize,
    /// Items whose truth is positive.
    pub positives: usize,
    /// `[[tn, fp], [fn, tp]]`, rows truth, columns prediction.
    pub confusion: [[usize; 2]; 2],
    /// Share decided correctly.
    pub accuracy: Option<Estimate>,
    /// Of those flagged, the share truly positive.
    pub precision: Option<Estimate>,
    /// Of the positives, the share flagged (sensitivity).
    pub recall: Option<Estimate>,
    /// Of the negatives, the share not flagged.
    pub specificity: Option<Estimate>,
    /// Share flagged.
    pub flagged: Option<Estimate>,
    /// F1 score (bootstrap interval).
    pub f1: Option<Estimate>,
    /// ROC AUC (bootstrap interval); absent unless both classes occur.
    pub auc: Option<Estimate>,
}

/// Per-series figures and decisions.
#[derive(Debug, Clone, Serialize)]
pub struct SeriesReport {
    /// Series that got an answer (refer or no synkinesis detected).
    pub metrics: Metrics,
    /// Series answered "incomplete" (missing photos and no clear sign).
    pub incomplete: usize,
    /// Incomplete series whose patient has synkinesis.
    pub incomplete_positive: usize,
    /// Every series' decision.
    pub decisions: Vec<SeriesDecision>,
}

/// One patient's decision.
#[derive(Debug, Clone, Serialize)]
pub struct SeriesDecision {
    /// Patient id.
    pub patient_id: String,
    /// The patient's label.
    pub truth: u8,
    /// `healthy`, `flaccid`, `synkinetic_mild`, ...
    pub condition: String,
    /// The decision.
    pub outcome: Outcome,
    /// Highest sign-expression probability.
    pub score: Option<f32>,
    /// The expression that gave it.
    pub deciding: Option<Expression>,
    /// Sign expressions without a usable photo.
    pub missing: Vec<Expression>,
}

/// How often the two variants decide alike.
#[derive(Debug, Clone, Serialize)]
pub struct Agreement {
    /// Images both classified.
    pub images: usize,
    /// Share of images with the same decision at each variant's threshold.
    pub image_decisions: Option<Estimate>,
    /// Largest |p(int8) − p(f32)|.
    pub max_probability_difference: f32,
    /// Mean |p(int8) − p(f32)|.
    pub mean_probability_difference: f32,
    /// Share of series with the same outcome.
    pub series_outcomes: Option<Estimate>,
}

/// Runs the evaluation. Returns the report; the caller writes it.
pub fn evaluate(opts: &EvaluateOptions) -> Result<Report> {
    if opts.variants.is_empty() {
        bail!("no classifier variant to evaluate");
    }
    let all = read_index(&opts.data.join("index.csv"))?;
    let split_known = all.iter().any(|(split, _)| split == &opts.split);
    if !split_known && opts.split != "all" {
        let mut splits: Vec<&str> = all.iter().map(|(s, _)| s.as_str()).collect();
        splits.sort_unstable();
        splits.dedup();
        bail!(
            "index.csv has no row of split {:?} (it has: {})",
            opts.split,
            splits.join(", ")
        );
    }
    let samples: Vec<Sample> = all
        .into_iter()
        .filter(|(split, _)| opts.split == "all" || split == &opts.split)
        .map(|(_, s)| s)
        .collect();
    let manifest = Manifest::load(&opts.models)
        .with_context(|| format!("reading the models in {}", opts.models.display()))?;
    let classifiers = opts
        .variants
        .iter()
        .map(|&v| {
            Classifier::load(&manifest, v).with_context(|| format!("loading the {v} classifier"))
        })
        .collect::<Result<Vec<_>>>()?;

    // One probability per classifier and row (None: no view).
    let mut probabilities: Vec<Vec<Option<f32>>> = vec![Vec::new(); classifiers.len()];
    for s in &samples {
        if s.file.is_empty() {
            probabilities.iter_mut().for_each(|p| p.push(None));
            continue;
        }
        let path = opts.data.join(&s.file);
        let view = image::open(&path)
            .with_context(|| format!("reading {}", path.display()))?
            .to_rgb8();
        for (c, p) in classifiers.iter().zip(&mut probabilities) {
            let out = c
                .classify(&view)
                .with_context(|| format!("classifying {}", path.display()))?;
            p.push(Some(out.probability));
        }
    }

    let truth = patient_truth(&samples);
    let mut variants = BTreeMap::new();
    let mut series_outcomes = Vec::new();
    for (c, probs) in classifiers.iter().zip(&probabilities) {
        let report = variant_report(c, &samples, probs, &truth, opts);
        series_outcomes.push(
            report
                .per_series
                .decisions
                .iter()
                .map(|d| d.outcome)
                .collect::<Vec<_>>(),
        );
        variants.insert(c.variant().name().to_string(), report);
    }

    let agreement = (classifiers.len() == 2).then(|| {
        let (a, b) = (&probabilities[0], &probabilities[1]);
        let (ta, tb) = (classifiers[0].threshold(), classifiers[1].threshold());
        let pairs: Vec<(f32, f32)> = a
            .iter()
            .zip(b)
            .filter_map(|(x, y)| Some(((*x)?, (*y)?)))
            .collect();
        let same = pairs
            .iter()
            .filter(|(x, y)| (*x >= ta) == (*y >= tb))
            .count();
        let diffs: Vec<f32> = pairs.iter().map(|(x, y)| (x - y).abs()).collect();
        let same_series = series_outcomes[0]
            .iter()
            .zip(&series_outcomes[1])
            .filter(|(x, y)| x == y)
            .count();
        Agreement {
            images: pairs.len(),
            image_decisions: stats::wilson(same, pairs.len()),
            max_probability_difference: diffs.iter().copied().fold(0.0, f32::max),
            mean_probability_difference: diffs.iter().sum::<f32>() / diffs.len().max(1) as f32,
            series_outcomes: stats::wilson(same_series, series_outcomes[0].len()),
        }
    });

    Ok(Report {
        note: "figures on synthetic test data (virtual patients), not on real patients".into(),
        data: opts.data.display().to_string(),
        split: opts.split.clone(),
        rows: samples.len(),
        rows_without_view: samples.iter().filter(|s| s.file.is_empty()).count(),
        patients: truth.len(),
        bootstrap: BootstrapInfo {
            resamples: opts.resamples,
            seed: opts.seed,
            unit: "patient",
        },
        variants,
        agreement,
    })
}

/// Writes the report as pretty JSON.
pub fn write_report(report: &Report, path: &Path) -> Result<()> {
    let text = serde_json::to_string_pretty(report)?;
    std::fs::write(path, text + "\n").with_context(|| format!("writing {}", path.display()))
}

impl Report {
    /// A few lines for the terminal.
    pub fn summary(&self) -> String {
        let mut s = format!(
            "{} split: {} images ({} without a view), {} patients; synthetic data\n",
            self.split, self.rows, self.rows_without_view, self.patients
        );
        let pct = |e: &Option<Estimate>| {
            e.map_or("n/a".to_string(), |e| {
                format!(
                    "{:.1} % [{:.1}, {:.1}]",
                    100.0 * e.value,
                    100.0 * e.ci95[0],
                    100.0 * e.ci95[1]
                )
            })
        };
        for (name, v) in &self.variants {
            for (what, m) in [("image", &v.per_image), ("series", &v.per_series.metrics)] {
                s += &format!(
                    "{name} per {what} (n {}): accuracy {}, precision {}, recall {}, F1 {}, AUC {}\n",
                    m.n,
                    pct(&m.accuracy),
                    pct(&m.precision),
                    pct(&m.recall),
                    m.f1.map_or("n/a".into(), |e| format!("{:.3}", e.value)),
                    m.auc.map_or("n/a".into(), |e| format!(
                        "{:.3} [{:.3}, {:.3}]",
                        e.value, e.ci95[0], e.ci95[1]
                    )),
                );
            }
            s += &format!("{name}: {} incomplete series\n", v.per_series.incomplete);
        }
        if let Some(a) = &self.agreement {
            s += &format!(
                "int8 vs f32: same decision on {} of images, max |dp| {:.4}\n",
                pct(&a.image_decisions),
                a.max_probability_difference
            );
        }
        s
    }
}

/// Reads `index.csv` into `(split, sample)` pairs.
fn read_index(path: &Path) -> Result<Vec<(String, Sample)>> {
    let mut reader =
        csv::Reader::from_path(path).with_context(|| format!("opening {}", path.display()))?;
    let headers = reader.headers()?.clone();
    let column = |name: &str| headers.iter().position(|h| h == name);
    let required = |name: &str| {
        column(name).with_context(|| format!("{}: no column {name:?}", path.display()))
    };
    let (patient, expression, condition, label, split, file) = (
        required("patient_id")?,
        required("expression")?,
        required("condition")?,
        required("label")?,
        required("split")?,
        required("file")?,
    );
    let (severity, patient_label, fitzpatrick) = (
        column("severity"),
        column("patient_label"),
        column("fitzpatrick"),
    );
    let mut out = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let line = i + 2;
        let record = record.with_context(|| format!("{}:{line}", path.display()))?;
        let get = |ix: usize| record.get(ix).unwrap_or("").trim().to_string();
        let flag = |ix: usize, name: &str| -> Result<Option<bool>> {
            match get(ix).as_str() {
                "" => Ok(None),
                "0" => Ok(Some(false)),
                "1" => Ok(Some(true)),
                other => bail!(
                    "{}:{line}: {name} must be 0 or 1, not {other:?}",
                    path.display()
                ),
            }
        };
        let sample = Sample {
            patient_id: get(patient),
            expression: get(expression),
            condition: get(condition),
            severity: severity.map(get).unwrap_or_default(),
            label: flag(label, "label")?
                .with_context(|| format!("{}:{line}: label is empty", path.display()))?,
            patient_label: match patient_label {
                Some(ix) => flag(ix, "patient_label")?,
                None => None,
            },
            file: get(file),
            fitzpatrick: fitzpatrick.and_then(|ix| get(ix).parse().ok()),
        };
        out.push((get(split), sample));
    }
    Ok(out)
}

/// Each patient's label: `patient_label` when given, else whether any of
/// their images is labelled 1.
fn patient_truth(samples: &[Sample]) -> BTreeMap<String, bool> {
    let mut truth: BTreeMap<String, bool> = BTreeMap::new();
    for s in samples {
        let t = s.patient_label.unwrap_or(s.label);
        let e = truth.entry(s.patient_id.clone()).or_insert(false);
        *e |= t;
    }
    truth
}

pub(crate) fn metrics(
    items: &[(bool, f32)],
    threshold: f32,
    patients: &[&str],
    opts: &EvaluateOptions,
) -> Metrics {
    let predicted = |p: f32| screening::decision::reaches(p, threshold);
    let c = Confusion::count(items.iter().map(|&(t, p)| (t, predicted(p))));
    let boot = PatientBootstrap::new(patients.iter().copied(), opts.resamples, opts.seed);
    let f1 = boot.estimate(|ix| {
        Confusion::count(ix.iter().map(|&i| (items[i].0, predicted(items[i].1)))).f1()
    });
    let auc = boot.estimate(|ix| {
        let s: Vec<(f32, bool)> = ix.iter().map(|&i| (items[i].1, items[i].0)).collect();
        stats::auc(&s)
    });
    Metrics {
        n: c.n(),
        positives: c.tp + c.fn_,
        confusion: c.matrix(),
        accuracy: stats::wilson(c.tp + c.tn, c.n()),
        precision: stats::wilson(c.tp, c.tp + c.fp),
        recall: stats::wilson(c.tp, c.tp + c.fn_),
        specificity: stats::wilson(c.tn, c.tn + c.fp),
        flagged: stats::wilson(c.tp + c.fp, c.n()),
        f1,
        auc,
    }
}

fn variant_report(
    c: &Classifier,
    samples: &[Sample],
    probs: &[Option<f32>],
    truth: &BTreeMap<String, bool>,
    opts: &EvaluateOptions,
) -> VariantReport {
    let t = c.threshold();
    let scored: Vec<(&Sample, f32)> = samples
        .iter()
        .zip(probs)
        .filter_map(|(s, p)| Some((s, (*p)?)))
        .collect();
    let group = |key: &dyn Fn(&Sample) -> String| {
        let mut groups: BTreeMap<String, Vec<(&Sample, f32)>> = BTreeMap::new();
        for &(s, p) in &scored {
            groups.entry(key(s)).or_default().push((s, p));
        }
        groups
            .into_iter()
            .map(|(k, v)| {
                let items: Vec<(bool, f32)> = v.iter().map(|(s, p)| (s.label, *p)).collect();
                let patients: Vec<&str> = v.iter().map(|(s, _)| s.patient_id.as_str()).collect();
                (k, metrics(&items, t, &patients, opts))
            })
            .collect::<BTreeMap<_, _>>()
    };
    let items: Vec<(bool, f32)> = scored.iter().map(|(s, p)| (s.label, *p)).collect();
    let patients: Vec<&str> = scored.iter().map(|(s, _)| s.patient_id.as_str()).collect();
    let per_image = metrics(&items, t, &patients, opts);

    // Series: every patient's expressions through the kiosk's decision rule.
    let rule = Rule::Classifier { threshold: t };
    let mut decisions = Vec::new();
    for (patient, &positive) in truth {
        let rows: Vec<(&Sample, Option<f32>)> = samples
            .iter()
            .zip(probs)
            .filter(|(s, _)| &s.patient_id == patient)
            .map(|(s, p)| (s, *p))
            .collect();
        let evidence: Vec<ExpressionEvidence> = rows
            .iter()
            .filter_map(|(s, p)| {
                Some(ExpressionEvidence {
                    expression: expression_named(&s.expression)?,
                    probability: Some((*p)?),
                    fissure_left: 0.0,
                    fissure_right: 0.0,
                    mouth: None,
                })
            })
            .collect();
        let d = decision::decide(&evidence, rule);
        decisions.push(SeriesDecision {
            patient_id: patient.clone(),
            truth: u8::from(positive),
            condition: rows
                .first()
                .map(|(s, _)| s.condition_group())
                .unwrap_or_default(),
            outcome: d.outcome,
            score: d.score,
            deciding: d.deciding,
            missing: d.missing,
        });
    }
    let answered: Vec<&SeriesDecision> = decisions
        .iter()
        .filter(|d| d.outcome != Outcome::Incomplete)
        .collect();
    // Series metrics use the series score (the highest sign-expression
    // probability) so the AUC is the series' own; the decision is the rule's.
    let series_items: Vec<(bool, f32)> = answered
        .iter()
        .map(|d| {
            let refer = d.outcome == Outcome::Refer;
            // Keep the score consistent with the outcome at this threshold.
            let s = d.score.unwrap_or(if refer { 1.0 } else { 0.0 });
            (d.truth == 1, s)
        })
        .collect();
    let series_patients: Vec<&str> = answered.iter().map(|d| d.patient_id.as_str()).collect();
    let incomplete: Vec<&SeriesDecision> = decisions
        .iter()
        .filter(|d| d.outcome == Outcome::Incomplete)
        .collect();

    VariantReport {
        entry: c.variant().entry().to_string(),
        threshold: t,
        per_image,
        per_condition: group(&|s: &Sample| s.condition_group()),
        per_expression: group(&|s: &Sample| s.expression.clone()),
        per_skin_tone: group(&|s: &Sample| s.skin_group().to_string()),
        per_series: SeriesReport {
            metrics: metrics(&series_items, t, &series_patients, opts),
            incomplete: incomplete.len(),
            incomplete_positive: incomplete.iter().filter(|d| d.truth == 1).count(),
            decisions,
        },
        scores: samples
            .iter()
            .zip(probs)
            .filter_map(|(s, p)| {
                Some(Score {
                    file: s.file.clone(),
                    label: u8::from(s.label),
                    probability: (*p)?,
                })
            })
            .collect(),
    }
}

fn expression_named(name: &str) -> Option<Expression> {
    Expression::ALL.into_iter().find(|e| e.name() == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn models() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../models")
    }

    /// A data set of golden standard views: patient a (synkinetic) has all
    /// three sign expressions, b (healthy) lacks tight eye closure, c is in
    /// the train split, d (flaccid) has a row without a view.
    fn tiny_data_set(dir: &Path) {
        let golden = models().join("golden");
        let mut views: Vec<PathBuf> = std::fs::read_dir(&golden)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "png"))
            .collect();
        views.sort();
        std::fs::create_dir_all(dir.join("images")).unwrap();
        for (i, v) in views.iter().enumerate() {
            std::fs::copy(v, dir.join(format!("images/{i}.png"))).unwrap();
        }
        let n = views.len();
        let img = |i: usize| format!("images/{}.png", i % n);
        let rows = [
            (
                "a",
                "rest",
                "synkinetic",
                "moderate",
                0,
                1,
                "test",
                img(0),
                2,
            ),
            (
                "a",
                "big_smile",
                "synkinetic",
                "moderate",
                1,
                1,
                "test",
                img(1),
                2,
            ),
            (
                "a",
                "pucker",
                "synkinetic",
                "moderate",
                1,
                1,
                "test",
                img(2),
                2,
            ),
            (
                "a",
                "tight_eye_closure",
                "synkinetic",
                "moderate",
                1,
                1,
                "test",
                img(3),
                2,
            ),
            ("b", "big_smile", "healthy", "", 0, 0, "test", img(4), 5),
            ("b", "pucker", "healthy", "", 0, 0, "test", img(5), 5),
            ("c", "big_smile", "healthy", "", 0, 0, "train", img(0), 3),
            ("d", "big_smile", "flaccid", "", 0, 0, "test", img(2), 4),
            ("d", "pucker", "flaccid", "", 0, 0, "test", String::new(), 4),
            (
                "d",
                "tight_eye_closure",
                "flaccid",
                "",
                0,
                0,
                "test",
                img(1),
                4,
            ),
        ];
        let mut csv = String::from(
            "patient_id,expression,condition,side,severity,pattern,label,patient_label,split,file,fitzpatrick\n",
        );
        for (p, e, c, s, l, pl, split, f, fz) in rows {
            csv += &format!("{p},{e},{c},left,{s},,{l},{pl},{split},{f},{fz}\n");
        }
        std::fs::write(dir.join("index.csv"), csv).unwrap();
    }

    fn options(data: &Path) -> EvaluateOptions {
        EvaluateOptions {
            data: data.to_path_buf(),
            models: models(),
            variants: Variant::BOTH.to_vec(),
            split: "test".into(),
            resamples: 50,
            seed: 7,
        }
    }

    #[test]
    fn evaluate_on_a_tiny_data_set() {
        let dir = tempfile::tempdir().unwrap();
        tiny_data_set(dir.path());
        let report = evaluate(&options(dir.path())).unwrap();
        assert_eq!(report.rows, 9, "the train row is left out");
        assert_eq!(report.rows_without_view, 1);
        assert_eq!(report.patients, 3);
        let int8 = &report.variants["int8"];
        let m = &int8.per_image;
        assert_eq!(m.n, 8);
        assert_eq!(m.positives, 3);
        // The confusion matrix is the scores against the threshold.
        let flagged = int8
            .scores
            .iter()
            .filter(|s| s.probability >= int8.threshold)
            .count();
        assert_eq!(m.confusion[0][1] + m.confusion[1][1], flagged);
        let acc = m.accuracy.unwrap();
        assert!(acc.ci95[0] <= acc.value && acc.value <= acc.ci95[1]);
        assert_eq!(
            int8.per_condition.keys().collect::<Vec<_>>(),
            ["flaccid", "healthy", "synkinetic_moderate"]
        );
        assert_eq!(
            int8.per_skin_tone.keys().collect::<Vec<_>>(),
            ["I-II", "III-IV", "V-VI"]
        );
        assert_eq!(int8.per_expression["big_smile"].n, 3);

        // Series: a complete; b lacks tight eye closure; d's pucker has no view.
        let series = &int8.per_series;
        assert_eq!(series.decisions.len(), 3);
        let by_id = |id: &str| {
            series
                .decisions
                .iter()
                .find(|d| d.patient_id == id)
                .unwrap()
        };
        let a = by_id("a");
        assert_eq!(a.truth, 1);
        assert!(a.missing.is_empty());
        assert_ne!(a.outcome, Outcome::Incomplete);
        let expected = |d: &SeriesDecision, missing: Expression| {
            assert_eq!(d.missing, vec![missing]);
            let refer = d.score.unwrap() >= int8.threshold;
            let want = if refer {
                Outcome::Refer
            } else {
                Outcome::Incomplete
            };
            assert_eq!(d.outcome, want, "{d:?}");
        };
        expected(by_id("b"), Expression::TightEyeClosure);
        expected(by_id("d"), Expression::Pucker);
        assert_eq!(
            series.metrics.n + series.incomplete,
            3,
            "every series is answered or incomplete"
        );

        let agreement = report.agreement.as_ref().unwrap();
        assert_eq!(agreement.images, 8);
        assert!(agreement.max_probability_difference < 0.1);

        // Same seed, same report; JSON and plot are written.
        let again = evaluate(&options(dir.path())).unwrap();
        assert_eq!(
            serde_json::to_string(&again).unwrap(),
            serde_json::to_string(&report).unwrap()
        );
        let json = dir.path().join("report.json");
        write_report(&report, &json).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
        assert!(v["note"].as_str().unwrap().contains("synthetic"));
        assert!(v["variants"]["f32"]["per_image"]["auc"].is_object());
        let png = dir.path().join("roc.png");
        plot::write_plot(&report, &png).unwrap();
        let img = image::open(&png).unwrap().to_rgb8();
        assert_eq!(img.dimensions(), (960, 460));
        assert!(
            img.pixels().any(|p| p.0 == [30, 90, 200]),
            "the int8 ROC curve is drawn"
        );
    }

    #[test]
    fn unknown_split_and_bad_labels_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        tiny_data_set(dir.path());
        let mut opts = options(dir.path());
        opts.split = "holdout".into();
        let err = format!("{:#}", evaluate(&opts).unwrap_err());
        assert!(err.contains("holdout") && err.contains("test"), "{err}");
        let csv = std::fs::read_to_string(dir.path().join("index.csv")).unwrap();
        std::fs::write(
            dir.path().join("index.csv"),
            csv.replacen(",1,1,test,", ",yes,1,test,", 1),
        )
        .unwrap();
        let err = format!("{:#}", evaluate(&options(dir.path())).unwrap_err());
        assert!(err.contains("label must be 0 or 1"), "{err}");
    }

    #[test]
    fn patient_label_falls_back_to_image_labels() {
        let s = |p: &str, label: bool| Sample {
            patient_id: p.into(),
            expression: "big_smile".into(),
            condition: "healthy".into(),
            severity: String::new(),
            label,
            patient_label: None,
            file: String::new(),
            fitzpatrick: None,
        };
        let t = patient_truth(&[s("a", false), s("a", true), s("b", false)]);
        assert!(t["a"]);
        assert!(!t["b"]);
    }
}
