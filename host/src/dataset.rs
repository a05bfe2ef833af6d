//! Synthetic training data sets: virtual patients rendered through a whole
//! expression series, run through the same face stage as the kiosk, and
//! written as aligned standard views plus `index.csv`.
//!
//! The same pass checks the face stage against the renderer's ground truth
//! (one face found, eyes where the alignment should put them, eyelid
//! apertures measured), so every data set carries its own quality report.
//! Images where the detector misses the face are listed, never dropped
//! silently.

use anyhow::{bail, Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use screening::face::{FaceStage, Measures};
use screening::geometry::Side;
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use virtual_patient::{self as synth, Condition, Expression, Patient, Pattern, Rendered, Severity};

use crate::split::{self, Split};

/// What `clinic synth` was asked for.
#[derive(Debug, Clone)]
pub struct SynthOptions {
    /// Number of virtual patients.
    pub patients: usize,
    /// Seed of the whole data set.
    pub seed: u64,
    /// Output folder.
    pub out: PathBuf,
    /// Rendered frame width.
    pub width: u32,
    /// Rendered frame height.
    pub height: u32,
    /// Worker threads.
    pub threads: usize,
    /// Keep the full frames as well as the standard views.
    pub keep_frames: bool,
    /// Which photo session: 0 is the data set's own setting per patient;
    /// session N > 0 photographs the same patients (same split, same file
    /// names) in another room, light and camera, so data sets of one seed
    /// and several sessions can be merged to teach a network the patient
    /// rather than the room.
    pub session: u32,
}

/// Version of the generator, written into every report so a model's
/// provenance names the data it was trained on.
pub const GENERATOR_VERSION: &str = concat!("screening-synth ", env!("CARGO_PKG_VERSION"));

/// The seed of patient `index` in a data set with seed `seed`.
pub fn patient_seed(seed: u64, index: usize) -> u64 {
    // SplitMix64 step: neighbouring indices give unrelated patients.
    let mut z = seed.wrapping_add((index as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The seed of the setting (room, light, camera) in which patient `index`
/// is photographed in `session`. Session 0 keeps the seeds data sets have
/// always used.
pub fn scene_seed(seed: u64, session: u32, index: usize) -> u64 {
    let base = seed ^ 0x5CE9E;
    if session == 0 {
        patient_seed(base, index)
    } else {
        patient_seed(patient_seed(base, usize::MAX - session as usize), index)
    }
}

/// The virtual patient `index` of a data set.
pub fn patient(seed: u64, index: usize) -> Patient {
    let mut p = Patient::random(patient_seed(seed, index));
    p.id = format!("vp-{index:05}");
    p
}

/// How the face stage did on one rendered image, against ground truth.
#[derive(Debug, Clone, Serialize)]
pub struct ImageCheck {
    /// Faces the detector reported.
    pub faces: usize,
    /// Largest distance between a true eye centre, mapped into the standard
    /// view, and where the view puts that eye, as a fraction of the crop width.
    pub eye_error: Option<f32>,
    /// Smaller ÷ larger palpebral fissure height, from FaceMesh.
    pub fissure_ratio: Option<f32>,
    /// Smaller ÷ larger eyelid aperture, from the renderer.
    pub fissure_ratio_truth: f32,
    /// Height difference of the true mouth corners in the standard view,
    /// as a fraction of the view's eye distance; `None` without a view.
    pub mouth_tilt_truth: Option<f32>,
    /// The gate's verdict as a short code (`ok` or the reason).
    pub gate: String,
    /// The face stage's measures (refined fissures, mouth corners in the
    /// face frame): the landmark evidence the kiosk's series model reads.
    pub measures: Option<Measures>,
}

/// Runs the face stage on one rendered image and compares with its truth.
/// Returns the check and, when exactly one face was found, the standard view.
pub fn check_image(
    stage: &FaceStage,
    rendered: &Rendered,
) -> Result<(ImageCheck, Option<image::RgbImage>)> {
    let analysis = stage
        .analyse_still(&rendered.image)
        .context("running the face stage")?;
    let truth = &rendered.truth;
    let faces = analysis.detections.len();
    let gate = match &analysis.verdict {
        Ok(()) => "ok".to_string(),
        Err(reason) => reason.to_string(),
    };
    let mut check = ImageCheck {
        faces,
        eye_error: None,
        fissure_ratio: analysis.measures.as_ref().map(|m| m.fissure_ratio),
        fissure_ratio_truth: min_max_ratio(truth.eyelid_aperture.left, truth.eyelid_aperture.right),
        mouth_tilt_truth: None,
        gate,
        measures: analysis.measures,
    };
    let Some(aligned) = analysis.aligned.filter(|_| faces == 1) else {
        return Ok((check, None));
    };
    let view = stage.standard_view();
    let size = view.size as f32;
    let eyes = view.eyes();
    let err = Side::BOTH
        .iter()
        .map(|&s| {
            aligned
                .transform
                .apply(*truth.eye_centre.get(s))
                .distance(*eyes.get(s))
                / size
        })
        .fold(0.0f32, f32::max);
    check.eye_error = Some(err);
    // In the view, not the frame: the tilt the network can see once head
    // roll is aligned away (the oral sign of ocular-oral synkinesis).
    let corners = truth.mouth_corners.map(|p| aligned.transform.apply(p));
    check.mouth_tilt_truth =
        Some((corners.left.y - corners.right.y).abs() / eyes.left.distance(eyes.right));
    Ok((check, Some(aligned.image)))
}

fn min_max_ratio(a: f32, b: f32) -> f32 {
    let (lo, hi) = if a < b { (a, b) } else { (b, a) };
    if hi > 0.0 {
        lo / hi
    } else {
        1.0
    }
}

/// One line of `index.csv`.
#[derive(Debug, Clone, Serialize)]
pub struct IndexRow {
    /// Patient id; all of a patient's images share one split.
    pub patient_id: String,
    /// Expression name (`rest`, `big_smile`, ...).
    pub expression: &'static str,
    /// `healthy`, `flaccid` or `synkinetic`.
    pub condition: &'static str,
    /// Affected side, empty when healthy.
    pub side: &'static str,
    /// `mild`, `moderate`, `severe`, empty unless synkinetic.
    pub severity: &'static str,
    /// `oral_ocular`, `ocular_oral`, `both`, empty unless synkinetic.
    pub pattern: &'static str,
    /// 1 when this image shows synkinesis (see [`shows_synkinesis`]), else 0:
    /// the per-image label the classifier learns.
    pub label: u8,
    /// 1 when the patient has synkinesis, else 0 (a per-patient label; a
    /// series is judged against it).
    pub patient_label: u8,
    /// `train`, `validation` or `test`.
    pub split: &'static str,
    /// Standard view, relative to the data set folder; empty when no single face was found.
    pub file: String,
    /// Fitzpatrick skin type, 1 to 6.
    pub fitzpatrick: u8,
    /// Faces the detector found (1 is the only usable value).
    pub faces: usize,
    /// The quality gate's verdict.
    pub gate: String,
    /// Alignment error against ground truth, fraction of the crop width.
    pub eye_error: Option<f32>,
    /// Eyelid aperture ratio measured by FaceMesh (smaller ÷ larger).
    pub fissure_ratio: Option<f32>,
    /// Eyelid aperture ratio from the renderer.
    pub fissure_ratio_truth: f32,
    /// The photo session ([`SynthOptions::session`]), so a merged data set
    /// still says which setting each row was photographed in.
    pub session: u32,
    /// Mouth-corner height difference from the renderer, in the standard
    /// view, over the eye distance (see [`ImageCheck::mouth_tilt_truth`]).
    pub mouth_tilt_truth: Option<f32>,
    /// Refined palpebral fissure of the patient's left eye ÷ interocular
    /// distance, as the kiosk measures it.
    pub fissure_left: Option<f32>,
    /// The same for the right eye.
    pub fissure_right: Option<f32>,
    /// The left mouth corner in the face frame
    /// ([`screening::face::Measures::commissure_face`]), x then y.
    pub mouth_left_x: Option<f32>,
    /// See `mouth_left_x`.
    pub mouth_left_y: Option<f32>,
    /// The right mouth corner in the face frame, x.
    pub mouth_right_x: Option<f32>,
    /// See `mouth_right_x`.
    pub mouth_right_y: Option<f32>,
}

fn condition_fields(c: &Condition) -> (&'static str, &'static str, &'static str, &'static str) {
    (
        c.kind().name(),
        c.side().map_or("", Side::name),
        c.severity().map_or("", Severity::name),
        c.pattern().map_or("", Pattern::name),
    )
}

/// Whether a photo of `expression` shows the synkinesis of `condition`.
///
/// Follows the renderer (`virtual_patient::activation`): the eye narrows
/// with the oral drive (`max(min(1.4 × smile, 1), pucker)` of the command)
/// and the mouth corner pulls with the ocular drive (`max(lid closure,
/// 0.7 × brow raise, squeeze)`). So oral-ocular synkinesis shows in small
/// smile, big smile and pucker; lower-lip depression asks for neither smile
/// nor pucker, and the small smile share of tight eye closure (drive 0.11)
/// narrows an eye that is already shut, so neither shows it. Ocular-oral
/// synkinesis shows in brow elevation, gentle and tight eye closure. Both
/// patterns show in the union. Rest never shows it.
pub fn shows_synkinesis(condition: &Condition, expression: Expression) -> bool {
    let Some(pattern) = condition.pattern() else {
        return false;
    };
    let oral = matches!(
        expression,
        Expression::SmallSmile | Expression::BigSmile | Expression::Pucker
    );
    let ocular = matches!(
        expression,
        Expression::BrowElevation | Expression::GentleEyeClosure | Expression::TightEyeClosure
    );
    (pattern.oral_ocular() && oral) || (pattern.ocular_oral() && ocular)
}

/// The figures a data set run reports, and that the foundation tests check.
#[derive(Debug, Clone, Default, Serialize)]
pub struct QualityReport {
    /// Generator version.
    pub generator: String,
    /// Data set seed.
    pub seed: u64,
    /// Photo session (see [`SynthOptions::session`]).
    pub session: u32,
    /// Patients rendered.
    pub patients: usize,
    /// Images rendered.
    pub images: usize,
    /// Images with exactly one face found.
    pub one_face: usize,
    /// Images with no face found: `patient/expression`.
    pub missed: Vec<String>,
    /// Images with more than one face found: `patient/expression`.
    pub multiple: Vec<String>,
    /// Images whose aligned eyes are within 3 % of the crop width of the truth.
    pub eyes_within_3pct: usize,
    /// Alignment error quantiles (fraction of the crop width): 50, 90, 99 %.
    pub eye_error_quantiles: [f32; 3],
    /// FaceMesh fissure ratio during big smile, healthy patients.
    pub big_smile_healthy: Distribution,
    /// FaceMesh fissure ratio during big smile, severe oral-ocular synkinesis.
    pub big_smile_severe_oral_ocular: Distribution,
    /// Probability that a severe case's ratio is below a healthy one's (ROC AUC).
    pub big_smile_separation_auc: f32,
    /// Patients per split.
    pub split_patients: [usize; 3],
}

/// Summary of a sample of values.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Distribution {
    /// Sample size.
    pub n: usize,
    /// Mean.
    pub mean: f32,
    /// Standard deviation.
    pub sd: f32,
    /// Smallest value.
    pub min: f32,
    /// 5th, 25th, 50th, 75th and 95th percentile.
    pub quantiles: [f32; 5],
    /// Largest value.
    pub max: f32,
}

impl Distribution {
    /// Summarises `values` (order does not matter).
    pub fn of(values: &[f32]) -> Distribution {
        if values.is_empty() {
            return Distribution::default();
        }
        let mut v = values.to_vec();
        v.sort_by(f32::total_cmp);
        let n = v.len();
        let mean = v.iter().sum::<f32>() / n as f32;
        let var =
            v.iter().map(|x| (x - mean).powi(2)).sum::<f32>() / n.max(2).saturating_sub(1) as f32;
        Distribution {
            n,
            mean,
            sd: var.sqrt(),
            min: v[0],
            quantiles: [0.05, 0.25, 0.5, 0.75, 0.95].map(|q| quantile(&v, q)),
            max: v[n - 1],
        }
    }
}

fn quantile(sorted: &[f32], q: f32) -> f32 {
    if sorted.is_empty() {
        return f32::NAN;
    }
    let i = ((sorted.len() - 1) as f32 * q).round() as usize;
    sorted[i]
}

/// Mann–Whitney estimate of P(low < high): 1 means every `low` value is
/// below every `high` value.
pub fn auc_below(low: &[f32], high: &[f32]) -> f32 {
    if low.is_empty() || high.is_empty() {
        return f32::NAN;
    }
    let mut wins = 0.0f64;
    for &l in low {
        for &h in high {
            wins += if l < h {
                1.0
            } else if l == h {
                0.5
            } else {
                0.0
            };
        }
    }
    (wins / (low.len() * high.len()) as f64) as f32
}

impl QualityReport {
    /// Builds the report from per-image results, in data set order.
    pub fn from_rows(seed: u64, patients: usize, rows: &[(Condition, IndexRow)]) -> QualityReport {
        let mut r = QualityReport {
            generator: GENERATOR_VERSION.to_string(),
            seed,
            patients,
            images: rows.len(),
            ..QualityReport::default()
        };
        let mut errors = Vec::new();
        let (mut healthy, mut severe) = (Vec::new(), Vec::new());
        for (condition, row) in rows {
            let name = format!("{}/{}", row.patient_id, row.expression);
            match row.faces {
                0 => r.missed.push(name),
                1 => r.one_face += 1,
                _ => r.multiple.push(name),
            }
            if let Some(e) = row.eye_error {
                errors.push(e);
                if e <= 0.03 {
                    r.eyes_within_3pct += 1;
                }
            }
            if row.expression == Expression::BigSmile.name() {
                if let Some(ratio) = row.fissure_ratio {
                    match condition {
                        Condition::Healthy => healthy.push(ratio),
                        Condition::Synkinetic {
                            severity: Severity::Severe,
                            pattern: Pattern::OralOcular | Pattern::Both,
                            ..
                        } => severe.push(ratio),
                        _ => {}
                    }
                }
            }
        }
        errors.sort_by(f32::total_cmp);
        r.eye_error_quantiles = [0.5, 0.9, 0.99].map(|q| quantile(&errors, q));
        r.big_smile_healthy = Distribution::of(&healthy);
        r.big_smile_severe_oral_ocular = Distribution::of(&severe);
        r.big_smile_separation_auc = auc_below(&severe, &healthy);
        for (_, row) in rows
            .iter()
            .filter(|(_, row)| row.expression == Expression::Rest.name())
        {
            let i = match row.split {
                "train" => 0,
                "validation" => 1,
                _ => 2,
            };
            r.split_patients[i] += 1;
        }
        r
    }

    /// Fraction of images with exactly one face found.
    pub fn detection_rate(&self) -> f32 {
        self.one_face as f32 / self.images.max(1) as f32
    }

    /// Fraction of images whose aligned eyes are within 3 % of the crop width.
    pub fn eyes_within_3pct_rate(&self) -> f32 {
        self.eyes_within_3pct as f32 / self.images.max(1) as f32
    }

    /// A few lines for the terminal.
    pub fn summary(&self) -> String {
        let d = |d: &Distribution| {
            format!(
                "n={} mean={:.3} sd={:.3} [p5 {:.3}, p50 {:.3}, p95 {:.3}]",
                d.n, d.mean, d.sd, d.quantiles[0], d.quantiles[2], d.quantiles[4]
            )
        };
        format!(
            "{images} images of {patients} virtual patients (synthetic; {generator}, seed {seed}, session {session})\n\
             patients per split: train {t}, validation {v}, test {te}\n\
             one face found: {one} ({rate:.1} %); missed {missed}, more than one face {multi}\n\
             aligned eyes within 3 % of crop width: {within} ({wrate:.1} %); error p50 {q0:.4}, p90 {q1:.4}, p99 {q2:.4}\n\
             big smile fissure ratio, healthy: {h}\n\
             big smile fissure ratio, severe oral-ocular synkinesis: {s}\n\
             separation (P[severe < healthy]): {auc:.3}",
            images = self.images,
            patients = self.patients,
            generator = self.generator,
            seed = self.seed,
            session = self.session,
            t = self.split_patients[0],
            v = self.split_patients[1],
            te = self.split_patients[2],
            one = self.one_face,
            rate = 100.0 * self.detection_rate(),
            missed = self.missed.len(),
            multi = self.multiple.len(),
            within = self.eyes_within_3pct,
            wrate = 100.0 * self.eyes_within_3pct_rate(),
            q0 = self.eye_error_quantiles[0],
            q1 = self.eye_error_quantiles[1],
            q2 = self.eye_error_quantiles[2],
            h = d(&self.big_smile_healthy),
            s = d(&self.big_smile_severe_oral_ocular),
            auc = self.big_smile_separation_auc,
        )
    }
}

/// Renders, checks and writes a whole data set. `progress` shows a bar on stderr.
pub fn synthesize(models: &Path, opts: &SynthOptions, progress: bool) -> Result<QualityReport> {
    if opts.patients == 0 {
        bail!("--patients must be at least 1");
    }
    prepare_out_dir(&opts.out)?;
    let stage = FaceStage::load(models)
        .with_context(|| format!("loading the face models from {}", models.display()))?;

    let patients: Vec<Patient> = (0..opts.patients).map(|i| patient(opts.seed, i)).collect();
    let strata: Vec<(String, String)> = patients
        .iter()
        .map(|p| (p.id.clone(), p.condition.kind().name().to_string()))
        .collect();
    let splits = split::assign(&strata, opts.seed);

    let total = (opts.patients * Expression::ALL.len()) as u64;
    let bar = if progress {
        ProgressBar::new(total)
    } else {
        ProgressBar::hidden()
    };
    bar.set_style(
        ProgressStyle::with_template("{msg} {wide_bar} {pos}/{len} images, {elapsed} (eta {eta})")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar.set_message("rendering virtual patients");

    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<Result<Vec<IndexRow>>>>> =
        Mutex::new((0..patients.len()).map(|_| None).collect());
    std::thread::scope(|scope| {
        for _ in 0..opts.threads.max(1) {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(p) = patients.get(i) else { break };
                let split = splits.get(&p.id).copied().unwrap_or(Split::Train);
                let rows = write_patient(&stage, p, i, split, opts, &bar);
                if let Ok(mut r) = results.lock() {
                    r[i] = Some(rows);
                }
            });
        }
    });
    bar.finish_and_clear();

    let mut rows = Vec::with_capacity(total as usize);
    let results = results
        .into_inner()
        .map_err(|_| anyhow::anyhow!("a worker thread panicked"))?;
    for (p, r) in patients.iter().zip(results) {
        let patient_rows = r
            .context("a worker thread stopped early")?
            .with_context(|| format!("patient {}", p.id))?;
        rows.extend(patient_rows.into_iter().map(|row| (p.condition, row)));
    }
    write_index(&opts.out.join("index.csv"), rows.iter().map(|(_, r)| r))?;
    let mut report = QualityReport::from_rows(opts.seed, opts.patients, &rows);
    report.session = opts.session;
    let json = serde_json::to_string_pretty(&report)?;
    std::fs::write(opts.out.join("report.json"), json).context("writing report.json")?;
    Ok(report)
}

fn prepare_out_dir(out: &Path) -> Result<()> {
    if out.exists() {
        let mut entries =
            std::fs::read_dir(out).with_context(|| format!("reading {}", out.display()))?;
        if entries.next().is_some() {
            bail!(
                "{} is not empty: choose a new folder so an older data set is not mixed in",
                out.display()
            );
        }
    }
    std::fs::create_dir_all(out.join("images"))
        .with_context(|| format!("creating {}", out.display()))
}

/// The index row of one rendered photo of `p`, checked by the face stage;
/// `file` is its standard view's path in the data set (empty without one).
pub fn index_row(
    p: &Patient,
    rendered: &Rendered,
    check: &ImageCheck,
    split: &'static str,
    file: String,
    session: u32,
) -> IndexRow {
    let (condition, side, severity, pattern) = condition_fields(&p.condition);
    IndexRow {
        patient_id: p.id.clone(),
        expression: rendered.truth.expression.name(),
        condition,
        side,
        severity,
        pattern,
        label: u8::from(shows_synkinesis(&p.condition, rendered.truth.expression)),
        patient_label: u8::from(p.condition.has_synkinesis()),
        split,
        file,
        fitzpatrick: rendered.truth.fitzpatrick,
        faces: check.faces,
        gate: check.gate.clone(),
        eye_error: check.eye_error,
        fissure_ratio: check.fissure_ratio,
        fissure_ratio_truth: check.fissure_ratio_truth,
        session,
        mouth_tilt_truth: check.mouth_tilt_truth,
        fissure_left: check.measures.map(|m| m.palpebral_fissure.left),
        fissure_right: check.measures.map(|m| m.palpebral_fissure.right),
        mouth_left_x: check.measures.map(|m| m.commissure_face.left.x),
        mouth_left_y: check.measures.map(|m| m.commissure_face.left.y),
        mouth_right_x: check.measures.map(|m| m.commissure_face.right.x),
        mouth_right_y: check.measures.map(|m| m.commissure_face.right.y),
    }
}

fn write_patient(
    stage: &FaceStage,
    p: &Patient,
    index: usize,
    split: Split,
    opts: &SynthOptions,
    bar: &ProgressBar,
) -> Result<Vec<IndexRow>> {
    let scene_seed = scene_seed(opts.seed, opts.session, index);
    let mut rows = Vec::with_capacity(Expression::ALL.len());
    for rendered in synth::series(p, scene_seed, opts.width, opts.height) {
        let expression = rendered.truth.expression.name();
        let (check, view) = check_image(stage, &rendered)?;
        let file = match view {
            Some(view) => {
                let rel = format!("images/{}/{}.png", p.id, expression);
                save_png(&view, &opts.out.join(&rel))?;
                rel
            }
            None => String::new(),
        };
        if opts.keep_frames {
            save_png(
                &rendered.image,
                &opts.out.join(format!("frames/{}/{}.png", p.id, expression)),
            )?;
        }
        rows.push(index_row(
            p,
            &rendered,
            &check,
            split.name(),
            file,
            opts.session,
        ));
        bar.inc(1);
    }
    Ok(rows)
}

fn save_png(img: &image::RgbImage, path: &Path) -> Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    img.save_with_format(path, image::ImageFormat::Png)
        .with_context(|| format!("writing {}", path.display()))
}

fn write_index<'a>(path: &Path, rows: impl Iterator<Item = &'a IndexRow>) -> Result<()> {
    let mut w =
        csv::Writer::from_path(path).with_context(|| format!("creating {}", path.display()))?;
    for row in rows {
        w.serialize(row)?;
    }
    w.flush()
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distribution_of_known_values() {
        let d = Distribution::of(&[1.0, 2.0, 3.0, 4.0, 5.0]);
        assert_eq!(d.n, 5);
        assert!((d.mean - 3.0).abs() < 1e-6);
        assert_eq!(d.min, 1.0);
        assert_eq!(d.max, 5.0);
        assert_eq!(d.quantiles[2], 3.0);
    }

    #[test]
    fn auc_orders_samples() {
        assert_eq!(auc_below(&[0.1, 0.2], &[0.8, 0.9]), 1.0);
        assert_eq!(auc_below(&[0.8, 0.9], &[0.1, 0.2]), 0.0);
        assert_eq!(auc_below(&[0.5], &[0.5]), 0.5);
    }

    #[test]
    fn image_label_follows_the_pattern_and_expression() {
        let synk = |pattern| Condition::Synkinetic {
            side: Side::Left,
            severity: Severity::Mild,
            pattern,
        };
        let shown = |c: &Condition| -> Vec<&'static str> {
            Expression::ALL
                .iter()
                .filter(|&&e| shows_synkinesis(c, e))
                .map(|e| e.name())
                .collect()
        };
        assert_eq!(
            shown(&synk(Pattern::OralOcular)),
            ["small_smile", "big_smile", "pucker"]
        );
        assert_eq!(
            shown(&synk(Pattern::OcularOral)),
            ["brow_elevation", "gentle_eye_closure", "tight_eye_closure"]
        );
        assert_eq!(shown(&synk(Pattern::Both)).len(), 6);
        assert!(shown(&Condition::Healthy).is_empty());
        assert!(shown(&Condition::Flaccid { side: Side::Right }).is_empty());
    }

    #[test]
    fn patient_seeds_differ_and_repeat() {
        assert_eq!(patient_seed(1, 5), patient_seed(1, 5));
        assert_ne!(patient_seed(1, 5), patient_seed(1, 6));
        assert_ne!(patient_seed(1, 5), patient_seed(2, 5));
    }

    #[test]
    fn sessions_change_the_setting_not_the_patient() {
        // Session 0 keeps the seeds every earlier data set was made with.
        assert_eq!(scene_seed(7, 0, 3), patient_seed(7 ^ 0x5CE9E, 3));
        // Every (session, patient) pair gets a setting of its own.
        let seeds: std::collections::HashSet<u64> = (0..4u32)
            .flat_map(|session| (0..250).map(move |i| scene_seed(7, session, i)))
            .collect();
        assert_eq!(seeds.len(), 1000, "two photo settings share a seed");
        // One patient in two sessions: the same person and expressions, other pictures.
        let p = patient(7, 3);
        let first = synth::series(&p, scene_seed(7, 0, 3), 96, 72);
        let second = synth::series(&p, scene_seed(7, 1, 3), 96, 72);
        assert_eq!(first.len(), Expression::ALL.len());
        assert_eq!(first.len(), second.len());
        for (a, b) in first.iter().zip(&second) {
            assert_eq!(a.truth.expression, b.truth.expression);
            assert_eq!(a.truth.condition, b.truth.condition);
            assert_eq!(a.truth.fitzpatrick, b.truth.fitzpatrick);
            assert_ne!(a.image, b.image, "{:?}", a.truth.expression);
        }
    }

    #[test]
    fn index_names_the_session_of_every_row() {
        let dir = tempfile::tempdir().unwrap();
        let models = Path::new(env!("CARGO_MANIFEST_DIR")).join("../models");
        let opts = SynthOptions {
            patients: 2,
            seed: 11,
            out: dir.path().join("s3"),
            width: 320,
            height: 240,
            threads: 1,
            keep_frames: false,
            session: 3,
        };
        let report = synthesize(&models, &opts, false).unwrap();
        assert_eq!(report.session, 3);
        let mut reader = csv::Reader::from_path(opts.out.join("index.csv")).unwrap();
        let headers = reader.headers().unwrap().clone();
        let column = headers.iter().position(|h| h == "session").unwrap();
        let rows: Vec<csv::StringRecord> = reader.records().map(|r| r.unwrap()).collect();
        assert_eq!(rows.len(), 2 * Expression::ALL.len());
        assert!(rows.iter().all(|r| &r[column] == "3"), "{rows:?}");
    }

    #[test]
    fn non_empty_output_folder_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("old.csv"), "x").unwrap();
        let err = prepare_out_dir(dir.path()).unwrap_err().to_string();
        assert!(err.contains("not empty"), "{err}");
    }
}
