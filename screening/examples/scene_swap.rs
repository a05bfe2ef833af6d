//! Finds which part of the scene moves the classifier. For the patients of
//! the invariance test (`tests/classifier.rs`), it re-photographs each one
//! with another scene's setting, first all of it, then one factor at a time
//! (light, exposure, background, sensor), and prints every case whose
//! decision flips, with the probabilities. With `--views DIR` it also writes
//! every standard view it classified (`p{patient}-base.png`,
//! `p{patient}-s{scene}-{factor}.png`), to look at or to score with another
//! model.
//!
//! `cargo run --release -p screening --example scene_swap [-- --views DIR]`

use std::path::PathBuf;

use screening::classifier::{Classifier, Variant};
use screening::face::FaceStage;
use screening::model::{default_models_dir, Manifest};
use screening::synth::{render, Expression, FaceState, Patient, Scene};

/// One way of mixing the other scene into the base one.
type Swap = fn(&Scene, &Scene) -> Scene;

const SWAPS: [(&str, Swap); 5] = [
    ("all", |base, other| Scene {
        yaw_deg: base.yaw_deg,
        pitch_deg: base.pitch_deg,
        roll_deg: base.roll_deg,
        offset: base.offset,
        face_height: base.face_height,
        ..*other
    }),
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
    let dir = default_models_dir();
    let stage = FaceStage::load(&dir)?;
    let classifier = Classifier::load(&Manifest::load(&dir)?, Variant::Int8)?;
    let threshold = classifier.threshold();
    let expressions = [
        Expression::BigSmile,
        Expression::Pucker,
        Expression::TightEyeClosure,
    ];
    let mut flips = [0usize; SWAPS.len()];
    let mut total = 0usize;
    for i in 0..24u64 {
        let patient = Patient::random(1000 + i);
        let expression = expressions[i as usize % 3];
        let state = FaceState::full(expression);
        let base = Scene::random(5000 + i);
        let view = |scene: &Scene| -> Option<image::RgbImage> {
            let frame = render(&patient, &state, scene, 640, 480);
            let a = stage.analyse(&frame.image, None).ok()?;
            a.aligned
                .filter(|_| a.detections.len() == 1)
                .map(|a| a.image)
        };
        let Some(reference) = view(&base) else {
            continue;
        };
        let p0 = classifier.classify(&reference)?.probability;
        if let Some(dir) = &views {
            reference.save(dir.join(format!("p{i}-base.png")))?;
        }
        for j in 0..4u64 {
            let other = Scene::random(9000 + 10 * i + j);
            total += 1;
            for (k, (name, swap)) in SWAPS.iter().enumerate() {
                let Some(v) = view(&swap(&base, &other)) else {
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
