//! Patient-disjoint train / validation / test splits.
//!
//! A patient's whole photo series goes to one split, so a model is never
//! tested on a face it was trained on. Proportions follow the Regensburg study
//! (285 / 29 / 71 of 385 images, about 74 / 8 / 18 %), and each condition is
//! split on its own so that rare conditions reach every split.

use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::Serialize;
use std::collections::BTreeMap;

/// Which part of a data set an image belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Split {
    /// Used to fit the weights.
    Train,
    /// Used for early stopping and to choose the screening threshold.
    Validation,
    /// Held out; only for the reported figures.
    Test,
}

impl Split {
    /// Lower-case name, as written in `index.csv`.
    pub fn name(self) -> &'static str {
        match self {
            Split::Train => "train",
            Split::Validation => "validation",
            Split::Test => "test",
        }
    }
}

/// Fractions of patients for validation and test; the rest is training.
pub const VALIDATION_FRACTION: f64 = 29.0 / 385.0;
/// See [`VALIDATION_FRACTION`].
pub const TEST_FRACTION: f64 = 71.0 / 385.0;

/// Assigns each patient to one split.
///
/// `patients` pairs a patient id with its stratum (the condition); the result
/// maps every id to its split and is the same for the same seed and input,
/// whatever the input order.
pub fn assign(patients: &[(String, String)], seed: u64) -> BTreeMap<String, Split> {
    let mut strata: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (id, stratum) in patients {
        strata
            .entry(stratum.as_str())
            .or_default()
            .push(id.as_str());
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x5eed_5911_7000);
    let mut out = BTreeMap::new();
    for ids in strata.values_mut() {
        ids.sort_unstable();
        ids.dedup();
        ids.shuffle(&mut rng);
        let n = ids.len();
        let n_test = (n as f64 * TEST_FRACTION).round() as usize;
        let n_val = (n as f64 * VALIDATION_FRACTION).round() as usize;
        for (i, id) in ids.iter().enumerate() {
            let split = if i < n_test {
                Split::Test
            } else if i < n_test + n_val {
                Split::Validation
            } else {
                Split::Train
            };
            out.insert((*id).to_string(), split);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn patients(n: usize) -> Vec<(String, String)> {
        (0..n)
            .map(|i| {
                (
                    format!("vp-{i:04}"),
                    ["healthy", "flaccid", "synkinetic"][i % 3].to_string(),
                )
            })
            .collect()
    }

    #[test]
    fn every_patient_gets_exactly_one_split_in_study_proportions() {
        let p = patients(600);
        let s = assign(&p, 7);
        assert_eq!(s.len(), 600);
        let count = |x| s.values().filter(|&&v| v == x).count() as f64 / 600.0;
        assert!((count(Split::Test) - TEST_FRACTION).abs() < 0.01);
        assert!((count(Split::Validation) - VALIDATION_FRACTION).abs() < 0.01);
    }

    #[test]
    fn split_does_not_depend_on_input_order() {
        let mut p = patients(90);
        let a = assign(&p, 3);
        p.reverse();
        assert_eq!(a, assign(&p, 3));
        assert_ne!(a, assign(&p, 4), "another seed should shuffle differently");
    }

    #[test]
    fn each_condition_reaches_the_test_split() {
        let p = patients(60);
        let s = assign(&p, 1);
        for stratum in ["healthy", "flaccid", "synkinetic"] {
            assert!(
                p.iter()
                    .any(|(id, st)| st == stratum && s[id] == Split::Test),
                "{stratum}"
            );
        }
    }
}
