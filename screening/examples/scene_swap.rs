//! Finds which part of the scene moves the classifier. For the invariance
//! set (`virtual_patient::retake`, which `tests/classifier.rs` also uses),
//! it re-photographs each case with another scene's setting, first all of
//! it, then one factor at a time (light, exposure, background, sensor), and
//! prints every case whose decision flips, with the probabilities. With
//! `--views DIR` it also writes
//! every standard view it classified (`p{patient}-base.png`,
//! `p{patient}-s{scene}-{factor}.png`), to look at or to score with another
//! model. `--cases N` takes the first N cases of the same sequence instead
//! of the set's 24, for a larger sample.
//!
//! `cargo run --release -p screening --example scene_swap [-- --views DIR] [--cases N]`

use std::path::PathBuf;

use screening::classifier::{Classifier, Variant};
use screening::face::FaceStage;
use screening::model::{default_models_dir, Manifest};
use virtual_patient::retake::{self, retakes};
use virtual_patient::Scene;

/// One way of mixing the other scene into the base one.
type Swap = fn(&Scene, &Scene) -> Scene;

const SWAPS: [(&str, Swap); 5] = [
    ("all", |base, other| base.in_setting_of(other)),
    ("light", |base, other| Scene {
        light_azimuth_deg: other.light_azimuth_deg,
        light_elevation_deg: other.light_elevation_deg,
        ambient: other.ambient,
        light_temperature_k: other.light_temperature_k,
        ..*base
    }),
    ("exposure", |base, other| Scene {
        exposure: other.exposure,
        ..*base
    }),
    ("background", |base, other| Scene {
        background: other.background,
        ..*base
    }),
    ("sensor", |base, other| Scene {
        noise_sigma: other.noise_sigma,
        blur_sigma: other.blur_sigma,
        jpeg_quality: other.jpeg_quality,
        noise_seed: other.noise_seed,
        ..*base
    }),
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let views = args
        .iter()
        .position(|a| a == "--views")
        .and_then(|i| args.get(i + 1))
        .map(PathBuf::from);
    if let Some(dir) = &views {
        std::fs::create_dir_all(dir)?;
    }
    let cases = match args.iter().position(|a| a == "--cases") {
        Some(i) => args.get(i + 1).ok_or("--cases needs a number")?.parse()?,
        None => retake::CASES,
    };
    let dir = default_models_dir();
    let stage = FaceStage::load(&dir)?;
    let classifier = Classifier::load(&Manifest::load(&dir)?, Variant::Int8)?;
    let threshold = classifier.threshold();
    let mut flips = [0usize; SWAPS.len()];
    let mut total = 0usize;
    for case in retakes(0..cases) {
        let (i, expression) = (case.case, case.expression);
        let view = |scene: &Scene| stage.analyse(&case.photo(scene), None).ok()?.sole_view();
        let Some(reference) = view(&case.base) else {
            continue;
        };
        let p0 = classifier.classify(&reference)?.probability;
        if let Some(dir) = &views {
            reference.save(dir.join(format!("p{i}-base.png")))?;
        }
        for (j, other) in case.others.iter().enumerate() {
            total += 1;
            for (k, (name, swap)) in SWAPS.iter().enumerate() {
                let Some(v) = view(&swap(&case.base, other)) else {
                    println!("patient {i} scene {j} {name}: no single face");
                    continue;
                };
                let p = classifier.classify(&v)?.probability;
                if let Some(dir) = &views {
                    v.save(dir.join(format!("p{i}-s{j}-{name}.png")))?;
                }
                if (p >= threshold) != (p0 >= threshold) {
                    flips[k] += 1;
                    println!("patient {i} {expression:?} scene {j} {name}: {p0:.3} -> {p:.3}");
                }
            }
        }
    }
    for ((name, _), n) in SWAPS.iter().zip(flips) {
        println!("{name}: decision flipped in {n} of {total}");
    }
    Ok(())
}
