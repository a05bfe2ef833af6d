//! Writes the virtual-patient montages used to eyeball the renderer:
//!
//! - `docs/montage/patients.png`: rows are conditions (healthy, flaccid,
//!   synkinetic mild / moderate / severe), columns the eight expressions;
//! - `docs/montage/variety.png`: 24 random patients at rest in random scenes.
//!
//! `cargo run --release -p screening --example montage [out_dir]`
//!
//! `... --example montage -- closeup <file.png> <seed> <expression> [scene_seed|studio] [condition]`
//! writes one 640×480 frame instead, for a close look.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use image::{Rgb, RgbImage};
use virtual_patient::{
    self as synth, Condition, Expression, FaceState, Patient, Pattern, Scene, Severity, Side,
};

/// A 3×5 pixel font for labels: each glyph is five rows of three bits.
fn glyph(c: char) -> [u8; 5] {
    match c.to_ascii_lowercase() {
        'a' => [0b010, 0b101, 0b111, 0b101, 0b101],
        'b' => [0b110, 0b101, 0b110, 0b101, 0b110],
        'c' => [0b011, 0b100, 0b100, 0b100, 0b011],
        'd' => [0b110, 0b101, 0b101, 0b101, 0b110],
        'e' => [0b111, 0b100, 0b110, 0b100, 0b111],
        'f' => [0b111, 0b100, 0b110, 0b100, 0b100],
        'g' => [0b011, 0b100, 0b101, 0b101, 0b011],
        'h' => [0b101, 0b101, 0b111, 0b101, 0b101],
        'i' => [0b111, 0b010, 0b010, 0b010, 0b111],
        'j' => [0b001, 0b001, 0b001, 0b101, 0b010],
        'k' => [0b101, 0b101, 0b110, 0b101, 0b101],
        'l' => [0b100, 0b100, 0b100, 0b100, 0b111],
        'm' => [0b101, 0b111, 0b111, 0b101, 0b101],
        'n' => [0b110, 0b101, 0b101, 0b101, 0b101],
        'o' => [0b010, 0b101, 0b101, 0b101, 0b010],
        'p' => [0b110, 0b101, 0b110, 0b100, 0b100],
        'q' => [0b010, 0b101, 0b101, 0b110, 0b011],
        'r' => [0b110, 0b101, 0b110, 0b101, 0b101],
        's' => [0b011, 0b100, 0b010, 0b001, 0b110],
        't' => [0b111, 0b010, 0b010, 0b010, 0b010],
        'u' => [0b101, 0b101, 0b101, 0b101, 0b111],
        'v' => [0b101, 0b101, 0b101, 0b101, 0b010],
        'w' => [0b101, 0b101, 0b111, 0b111, 0b101],
        'x' => [0b101, 0b101, 0b010, 0b101, 0b101],
        'y' => [0b101, 0b101, 0b010, 0b010, 0b010],
        'z' => [0b111, 0b001, 0b010, 0b100, 0b111],
        '0' => [0b111, 0b101, 0b101, 0b101, 0b111],
        '1' => [0b010, 0b110, 0b010, 0b010, 0b111],
        '2' => [0b110, 0b001, 0b010, 0b100, 0b111],
        '3' => [0b110, 0b001, 0b010, 0b001, 0b110],
        '4' => [0b101, 0b101, 0b111, 0b001, 0b001],
        '5' => [0b111, 0b100, 0b110, 0b001, 0b110],
        '6' => [0b011, 0b100, 0b111, 0b101, 0b111],
        '7' => [0b111, 0b001, 0b010, 0b010, 0b010],
        '8' => [0b111, 0b101, 0b111, 0b101, 0b111],
        '9' => [0b111, 0b101, 0b111, 0b001, 0b110],
        '.' => [0, 0, 0, 0, 0b010],
        ':' => [0, 0b010, 0, 0b010, 0],
        '-' => [0, 0, 0b111, 0, 0],
        '_' => [0, 0, 0, 0, 0b111],
        '/' => [0b001, 0b001, 0b010, 0b100, 0b100],
        '=' => [0, 0b111, 0, 0b111, 0],
        _ => [0; 5],
    }
}

/// Writes `text` at `(x, y)` with pixels scaled by `k`.
fn label(img: &mut RgbImage, x: u32, y: u32, text: &str, k: u32, colour: Rgb<u8>) {
    for (i, c) in text.chars().enumerate() {
        let g = glyph(c);
        for (row, bits) in g.iter().enumerate() {
            for col in 0..3u32 {
                if bits & (0b100 >> col) == 0 {
                    continue;
                }
                for dy in 0..k {
                    for dx in 0..k {
                        let px = x + (i as u32 * 4 + col) * k + dx;
                        let py = y + row as u32 * k + dy;
                        if px < img.width() && py < img.height() {
                            img.put_pixel(px, py, colour);
                        }
                    }
                }
            }
        }
    }
}

fn paste(dst: &mut RgbImage, src: &RgbImage, x: u32, y: u32) {
    for (sx, sy, p) in src.enumerate_pixels() {
        if x + sx < dst.width() && y + sy < dst.height() {
            dst.put_pixel(x + sx, y + sy, *p);
        }
    }
}

const CELL: u32 = 176;
const BAR: u32 = 14;

fn patients(out: &Path) -> Result<(), image::ImageError> {
    let side = Side::Left;
    let rows: [(&str, Condition); 5] = [
        ("healthy", Condition::Healthy),
        ("flaccid L", Condition::Flaccid { side }),
        (
            "synk L mild",
            Condition::Synkinetic {
                side,
                severity: Severity::Mild,
                pattern: Pattern::Both,
            },
        ),
        (
            "synk L moderate",
            Condition::Synkinetic {
                side,
                severity: Severity::Moderate,
                pattern: Pattern::Both,
            },
        ),
        (
            "synk L severe",
            Condition::Synkinetic {
                side,
                severity: Severity::Severe,
                pattern: Pattern::Both,
            },
        ),
    ];
    let (cols, nrows) = (Expression::ALL.len() as u32, rows.len() as u32);
    let mut img = RgbImage::from_pixel(cols * CELL, nrows * (CELL + BAR) + BAR, Rgb([30, 30, 34]));
    for (c, e) in Expression::ALL.iter().enumerate() {
        label(
            &mut img,
            c as u32 * CELL + 4,
            4,
            e.name(),
            2,
            Rgb([230, 230, 230]),
        );
    }
    let mut scene = Scene::studio();
    scene.face_height = 0.6;
    for (r, (name, condition)) in rows.iter().enumerate() {
        let patient = Patient::with_condition(7, *condition);
        let y = BAR + r as u32 * (CELL + BAR);
        for (c, &e) in Expression::ALL.iter().enumerate() {
            let frame = synth::render(&patient, &FaceState::full(e), &scene, CELL, CELL);
            paste(&mut img, &frame.image, c as u32 * CELL, y + BAR);
            // The affected (left) eye's aperture over the other's.
            let t = &frame.truth;
            let blue = Rgb([200, 220, 255]);
            if c == 0 {
                label(&mut img, c as u32 * CELL + 3, y + 3, name, 2, blue);
            }
            if c > 0 && t.eyelid_aperture.right > 0.5 {
                let ratio = t.eyelid_aperture.left / t.eyelid_aperture.right;
                let text = format!("l/r {ratio:.2}");
                label(&mut img, (c as u32 + 1) * CELL - 66, y + 3, &text, 2, blue);
            }
        }
    }
    img.save(out)
}

fn variety(out: &Path) -> Result<(), image::ImageError> {
    let (cols, rows) = (6u32, 4u32);
    let mut img = RgbImage::from_pixel(cols * CELL, rows * (CELL + BAR), Rgb([30, 30, 34]));
    for i in 0..cols * rows {
        let seed = 1000 + u64::from(i);
        let patient = Patient::random(seed);
        let frame = synth::render(
            &patient,
            &FaceState::full(Expression::Rest),
            &Scene::random(seed),
            CELL,
            CELL,
        );
        let (x, y) = ((i % cols) * CELL, (i / cols) * (CELL + BAR));
        paste(&mut img, &frame.image, x, y + BAR);
        let id = &patient.identity;
        let text = format!(
            "f{} {:.0}y {}",
            id.fitzpatrick,
            id.age,
            patient.condition.kind()
        );
        label(&mut img, x + 3, y + 3, &text, 2, Rgb([200, 220, 255]));
    }
    img.save(out)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = if args.first().map(String::as_str) == Some("closeup") {
        let path = PathBuf::from(args.get(1).cloned().unwrap_or_else(|| "closeup.png".into()));
        let seed = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(7);
        let expression: Expression = args
            .get(3)
            .and_then(|s| s.parse().ok())
            .unwrap_or(Expression::Rest);
        let scene = args
            .get(4)
            .and_then(|s| s.parse().ok())
            .map(Scene::random)
            .unwrap_or_else(Scene::studio);
        let patient = match args.get(5).and_then(|c| c.parse::<Condition>().ok()) {
            Some(condition) => Patient::with_condition(seed, condition),
            None => Patient::random(seed),
        };
        let frame = synth::render(&patient, &FaceState::full(expression), &scene, 640, 480);
        println!("{:#?}", frame.truth);
        frame.image.save(&path)
    } else {
        let dir = PathBuf::from(
            args.first()
                .cloned()
                .unwrap_or_else(|| "docs/montage".into()),
        );
        std::fs::create_dir_all(&dir)
            .map_err(image::ImageError::IoError)
            .and_then(|()| patients(&dir.join("patients.png")))
            .and_then(|()| variety(&dir.join("variety.png")))
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("montage: {e}");
            ExitCode::FAILURE
        }
    }
}
