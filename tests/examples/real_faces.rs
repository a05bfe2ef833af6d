//! Prints what the face stage and the decisions make of the real-face set:
//! how much of a known eye narrowing the lid measure sees, and what each
//! rule answers for the photos as they are, with one eye narrowed and with
//! both narrowed alike.
//!
//! `cargo run --release -p tests --example real_faces [-- OVERLAY_DIR]`;
//! with a folder, it also writes each photo's eyes at 8x zoom with the
//! measured lid contour drawn on them, to check the contour by eye.

use std::path::PathBuf;

use image::{Rgb, RgbImage};
use screening::classifier::{Classifier, Variant};
use screening::decision::{relative_fissure_ratio, ExpressionEvidence};
use screening::geometry::Side;
use screening::protocol::Expression;
use tests::real_faces::{altered, photos, see, Alteration, Seen};

const NARROWINGS: [f32; 5] = [0.9, 0.8, 0.7, 0.6, 0.5];

fn main() {
    let overlay = std::env::args().nth(1).map(PathBuf::from);
    let stage = tests::face_stage();
    let classifier = Classifier::load_dir(&tests::models_dir(), Variant::Int8).expect("classifier");
    // Framed as the kiosk would have framed the patient, unless asked for
    // the photos as they ship (the first runs of the lid-measure experiment).
    let mut set = photos();
    if std::env::var_os("REAL_FACES_UNFRAMED").is_none() {
        for p in &mut set {
            p.image = tests::real_faces::framed(stage, &p.image);
        }
    }
    println!(
        "{} photos; narrowing k = one eye's opening after the warp / before",
        set.len()
    );
    println!(
        "{:<34} {:>5} {:>6} {:>6} {:>6} | measured warped/unwarped opening at k = {:?}",
        "photo", "gate", "L", "R", "p", NARROWINGS
    );
    // Response (1 - measured) / (1 - k) at k = 0.7 and 0.6, per group
    // (models/experiments/lid-measure/RULE.md).
    let mut response: [Vec<f32>; 2] = [Vec::new(), Vec::new()];
    for photo in &set {
        let Some(base) = see(stage, Some(&classifier), &photo.image) else {
            println!("{:<34} no face", photo.name);
            continue;
        };
        let group = usize::from(photo.name.starts_with("faces/"));
        let mut line = format!(
            "{:<34} {:>5} {:>6.3} {:>6.3} {:>6.3} |",
            photo.name,
            if base.refused.is_none() { "ok" } else { "no" },
            base.fissure.left,
            base.fissure.right,
            base.probability.unwrap_or(f32::NAN)
        );
        for &k in &NARROWINGS {
            for side in [Side::Left, Side::Right] {
                let warped = altered(stage, &photo.image, Alteration::OneEye(side, k))
                    .and_then(|img| see(stage, Some(&classifier), &img));
                let r = warped.map_or(f32::NAN, |w| w.fissure.get(side) / base.fissure.get(side));
                line += &format!(" {r:.2}");
                if k == 0.7 || k == 0.6 {
                    response[group].push((1.0 - r) / (1.0 - k));
                }
            }
            line += " ·";
        }
        println!("{line}");
        if let Some(why) = base.refused {
            println!("{:<34} gate: {why}", "");
        }
        if let Some(dir) = &overlay {
            write_overlay(dir, &photo.name, &photo.image);
            if let Some(img) = altered(stage, &photo.image, Alteration::OneEye(Side::Left, 0.6)) {
                write_overlay(dir, &format!("{}-left-0.6", photo.name), &img);
            }
        }
    }
    for (name, mut r) in ["choice photos", "report-only photos (faces/)"]
        .into_iter()
        .zip(response)
    {
        r.sort_by(f32::total_cmp);
        let median = if r.is_empty() {
            f32::NAN
        } else {
            r[r.len() / 2] * 0.5 + r[(r.len() - 1) / 2] * 0.5
        };
        println!(
            "response at k = 0.7 and 0.6, {name}: median {median:.2} of {} eyes",
            r.len()
        );
    }
    println!();
    println!("decisions at k = 0.67 (a third of the opening lost), per photo:");
    println!(
        "{:<34} {:>22} {:>22} {:>22}",
        "photo", "as is: ratio/rest/p", "one eye: ratio/rest/p", "both: ratio/rest/p"
    );
    for photo in &set {
        let Some(base) = see(stage, Some(&classifier), &photo.image) else {
            continue;
        };
        let mut line = format!("{:<34}", photo.name);
        for how in [
            Alteration::AsIs,
            Alteration::OneEye(Side::Left, 0.67),
            Alteration::BothEyes(0.67),
        ] {
            let Some(s) =
                altered(stage, &photo.image, how).and_then(|i| see(stage, Some(&classifier), &i))
            else {
                line += &format!(" {:>22}", "no face");
                continue;
            };
            let alone = relative_fissure_ratio(&evidence(&s), None).unwrap_or(f32::NAN);
            let rest =
                relative_fissure_ratio(&evidence(&s), Some(&evidence(&base))).unwrap_or(f32::NAN);
            line += &format!(
                " {:>8.3}/{:.3}/{:.3}",
                alone,
                rest,
                s.probability.unwrap_or(f32::NAN)
            );
        }
        println!("{line}");
    }
}

fn evidence(s: &Seen) -> ExpressionEvidence {
    s.evidence(Expression::BigSmile)
}

/// Both eyes at 8x, the iris model's lid contour in red (upper) and blue (lower).
fn write_overlay(dir: &std::path::Path, name: &str, image: &RgbImage) {
    let stage = tests::face_stage();
    let Some(model) = stage.eyelid_model() else {
        return;
    };
    let Some(landmarks) = stage.analyse(image, None).ok().and_then(|a| a.landmarks) else {
        return;
    };
    let Ok(contours) = model.refine(image, &landmarks) else {
        return;
    };
    std::fs::create_dir_all(dir).expect("overlay folder");
    for side in [Side::Left, Side::Right] {
        let c = contours.get(side);
        let eye = landmarks.eye(side);
        let centre = eye.centre();
        let half = eye.outer.distance(eye.inner) * 0.9;
        let zoom = 8.0;
        let size = (2.0 * half * zoom) as u32;
        let mut out = RgbImage::new(size, size);
        for (x, y, px) in out.enumerate_pixels_mut() {
            let fx = centre.x - half + x as f32 / zoom;
            let fy = centre.y - half + y as f32 / zoom;
            let (ix, iy) = (fx.floor().max(0.0) as u32, fy.floor().max(0.0) as u32);
            *px = *image.get_pixel(ix.min(image.width() - 1), iy.min(image.height() - 1));
        }
        let mut dot = |p: screening::geometry::Point, colour: Rgb<u8>| {
            let x = ((p.x - centre.x + half) * zoom) as i64;
            let y = ((p.y - centre.y + half) * zoom) as i64;
            for dy in -3..=3 {
                for dx in -3..=3 {
                    let (px, py) = (x + dx, y + dy);
                    if px >= 0 && py >= 0 && (px as u32) < size && (py as u32) < size {
                        out.put_pixel(px as u32, py as u32, colour);
                    }
                }
            }
        };
        for &p in &c.upper {
            dot(p, Rgb([255, 0, 0]));
        }
        for &p in &c.lower {
            dot(p, Rgb([0, 80, 255]));
        }
        for &p in c.margins.iter().flatten() {
            dot(p, Rgb([0, 255, 0]));
        }
        let file = format!("{}-{:?}.png", name.replace('/', "_"), side).to_lowercase();
        out.save(dir.join(file)).expect("overlay written");
    }
}
