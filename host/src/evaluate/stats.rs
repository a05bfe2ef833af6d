//! The statistics of `clinic evaluate`: confusion counts, Wilson intervals
//! for proportions, ROC curves and their area, and a patient-clustered
//! bootstrap for the figures that are not proportions (AUC, F1).

use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

/// Two-sided 95 % normal quantile.
const Z95: f64 = 1.959_963_984_540_054;

/// A figure with its 95 % interval (absent when it is undefined, e.g. a
/// precision with no positive prediction).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Estimate {
    /// The point estimate.
    pub value: f64,
    /// Lower and upper 95 % bounds.
    pub ci95: [f64; 2],
}

/// `successes / n` with its Wilson score interval; `None` when `n = 0`.
pub fn wilson(successes: usize, n: usize) -> Option<Estimate> {
    if n == 0 {
        return None;
    }
    let (k, n) = (successes as f64, n as f64);
    let p = k / n;
    let z2 = Z95 * Z95;
    let centre = (p + z2 / (2.0 * n)) / (1.0 + z2 / n);
    let half = Z95 / (1.0 + z2 / n) * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt();
    Some(Estimate {
        value: p,
        ci95: [(centre - half).max(0.0), (centre + half).min(1.0)],
    })
}

/// Confusion counts at one threshold.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Confusion {
    /// Positive and predicted positive.
    pub tp: usize,
    /// Negative but predicted positive.
    pub fp: usize,
    /// Negative and predicted negative.
    pub tn: usize,
    /// Positive but predicted negative.
    pub fn_: usize,
}

impl Confusion {
    /// Counts `(truth, predicted)` pairs.
    pub fn count(pairs: impl IntoIterator<Item = (bool, bool)>) -> Confusion {
        let mut c = Confusion::default();
        for (truth, predicted) in pairs {
            match (truth, predicted) {
                (true, true) => c.tp += 1,
                (false, true) => c.fp += 1,
                (false, false) => c.tn += 1,
                (true, false) => c.fn_ += 1,
            }
        }
        c
    }

    /// All counted.
    pub fn n(&self) -> usize {
        self.tp + self.fp + self.tn + self.fn_
    }

    /// F1 score, `None` when there is no positive at all (true or predicted).
    pub fn f1(&self) -> Option<f64> {
        let d = 2 * self.tp + self.fp + self.fn_;
        (d > 0).then(|| 2.0 * self.tp as f64 / d as f64)
    }

    /// `[[tn, fp], [fn, tp]]`: rows are the truth (negative, positive),
    /// columns the prediction.
    pub fn matrix(&self) -> [[usize; 2]; 2] {
        [[self.tn, self.fp], [self.fn_, self.tp]]
    }
}

/// Area under the ROC curve (the Mann-Whitney statistic, ties counted as
/// half); `None` unless both classes are present.
pub fn auc(scores: &[(f32, bool)]) -> Option<f64> {
    let pos = scores.iter().filter(|s| s.1).count();
    let neg = scores.len() - pos;
    if pos == 0 || neg == 0 {
        return None;
    }
    let mut sorted: Vec<(f32, bool)> = scores.to_vec();
    sorted.sort_by(|a, b| a.0.total_cmp(&b.0));
    // Sum of the positives' mid-ranks.
    let mut rank_sum = 0.0;
    let mut i = 0;
    while i < sorted.len() {
        let mut j = i;
        while j + 1 < sorted.len() && sorted[j + 1].0 == sorted[i].0 {
            j += 1;
        }
        let mid = (i + j) as f64 / 2.0 + 1.0;
        rank_sum += mid * sorted[i..=j].iter().filter(|s| s.1).count() as f64;
        i = j + 1;
    }
    let (p, n) = (pos as f64, neg as f64);
    Some((rank_sum - p * (p + 1.0) / 2.0) / (p * n))
}

/// The ROC curve: `(false positive rate, true positive rate)` from `(0, 0)`
/// to `(1, 1)`, one point per distinct score; empty unless both classes
/// are present.
pub fn roc_curve(scores: &[(f32, bool)]) -> Vec<[f64; 2]> {
    let pos = scores.iter().filter(|s| s.1).count() as f64;
    let neg = scores.len() as f64 - pos;
    if pos == 0.0 || neg == 0.0 {
        return Vec::new();
    }
    let mut sorted: Vec<(f32, bool)> = scores.to_vec();
    sorted.sort_by(|a, b| b.0.total_cmp(&a.0));
    let mut points = vec![[0.0, 0.0]];
    let (mut tp, mut fp) = (0.0, 0.0);
    for (i, s) in sorted.iter().enumerate() {
        if s.1 {
            tp += 1.0;
        } else {
            fp += 1.0;
        }
        if sorted.get(i + 1).is_none_or(|next| next.0 != s.0) {
            points.push([fp / neg, tp / pos]);
        }
    }
    points
}

/// A bootstrap over patients: each resample draws as many patients as there
/// are, with replacement, and takes all of their images, because images of
/// one patient are not independent.
pub struct PatientBootstrap {
    /// Image indices per patient.
    groups: Vec<Vec<usize>>,
    resamples: usize,
    seed: u64,
}

impl PatientBootstrap {
    /// Groups items by their patient key.
    pub fn new<'a>(
        patients: impl IntoIterator<Item = &'a str>,
        resamples: usize,
        seed: u64,
    ) -> PatientBootstrap {
        let mut index: std::collections::BTreeMap<&str, Vec<usize>> = Default::default();
        for (i, p) in patients.into_iter().enumerate() {
            index.entry(p).or_default().push(i);
        }
        PatientBootstrap {
            groups: index.into_values().collect(),
            resamples,
            seed,
        }
    }

    /// `statistic` on the whole sample with a percentile 95 % interval over
    /// the resamples; `None` when the statistic is undefined on the sample.
    /// Resamples where it is undefined are skipped.
    pub fn estimate(&self, statistic: impl Fn(&[usize]) -> Option<f64>) -> Option<Estimate> {
        let all: Vec<usize> = self.groups.iter().flatten().copied().collect();
        let value = statistic(&all)?;
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed);
        let mut values = Vec::with_capacity(self.resamples);
        let mut pick = Vec::with_capacity(all.len());
        for _ in 0..self.resamples {
            pick.clear();
            for _ in 0..self.groups.len() {
                if let Some(g) = self.groups.choose(&mut rng) {
                    pick.extend_from_slice(g);
                }
            }
            if let Some(v) = statistic(&pick) {
                values.push(v);
            }
        }
        if values.is_empty() {
            return Some(Estimate {
                value,
                ci95: [value, value],
            });
        }
        values.sort_by(f64::total_cmp);
        let q = |f: f64| values[((values.len() - 1) as f64 * f).round() as usize];
        Some(Estimate {
            value,
            ci95: [q(0.025), q(0.975)],
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wilson_matches_a_textbook_value() {
        // 8 of 10: Wilson 95 % interval 0.490 .. 0.943.
        let e = wilson(8, 10).unwrap();
        assert!((e.value - 0.8).abs() < 1e-12);
        assert!((e.ci95[0] - 0.4902).abs() < 1e-3, "{e:?}");
        assert!((e.ci95[1] - 0.9433).abs() < 1e-3, "{e:?}");
        let all = wilson(10, 10).unwrap();
        assert!(all.ci95[1] > 0.999_999);
        assert!(all.ci95[0] > 0.65 && all.ci95[0] < 0.75);
        assert!(wilson(0, 0).is_none());
    }

    #[test]
    fn auc_counts_ties_as_half() {
        let perfect = [(0.9, true), (0.8, true), (0.2, false), (0.1, false)];
        assert_eq!(auc(&perfect), Some(1.0));
        let inverted = [(0.1, true), (0.9, false)];
        assert_eq!(auc(&inverted), Some(0.0));
        let tied = [(0.5, true), (0.5, false)];
        assert_eq!(auc(&tied), Some(0.5));
        let mixed = [(0.9, true), (0.4, true), (0.6, false), (0.1, false)];
        assert_eq!(auc(&mixed), Some(0.75));
        assert_eq!(auc(&[(0.3, true)]), None);
    }

    #[test]
    fn roc_runs_from_origin_to_one_and_its_area_is_the_auc() {
        let s = [
            (0.9, true),
            (0.4, true),
            (0.6, false),
            (0.1, false),
            (0.4, false),
        ];
        let c = roc_curve(&s);
        assert_eq!(c.first(), Some(&[0.0, 0.0]));
        assert_eq!(c.last(), Some(&[1.0, 1.0]));
        let area: f64 = c
            .windows(2)
            .map(|w| (w[1][0] - w[0][0]) * (w[1][1] + w[0][1]) / 2.0)
            .sum();
        assert!((area - auc(&s).unwrap()).abs() < 1e-12);
    }

    #[test]
    fn confusion_and_f1() {
        let c = Confusion::count([(true, true), (true, false), (false, true), (false, false)]);
        assert_eq!(c.matrix(), [[1, 1], [1, 1]]);
        assert_eq!(c.f1(), Some(0.5));
        assert_eq!(Confusion::default().f1(), None);
    }

    #[test]
    fn bootstrap_is_seeded_and_brackets_the_value() {
        let patients: Vec<String> = (0..40).map(|i| format!("p{}", i / 2)).collect();
        let data: Vec<f64> = (0..40).map(|i| (i % 7) as f64).collect();
        let mean = |ix: &[usize]| Some(ix.iter().map(|&i| data[i]).sum::<f64>() / ix.len() as f64);
        let b = PatientBootstrap::new(patients.iter().map(String::as_str), 500, 3);
        let e1 = b.estimate(mean).unwrap();
        let e2 = b.estimate(mean).unwrap();
        assert_eq!(e1, e2);
        assert!(e1.ci95[0] < e1.value && e1.value < e1.ci95[1], "{e1:?}");
    }
}
