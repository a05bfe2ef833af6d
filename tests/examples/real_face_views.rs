//! Writes the real-face set as an image series model sees it: for every
//! photo the gate takes, its aligned standard view at rest (the photo as
//! framed) and the aligned view of each alteration (as is, one eye
//! narrowed to two thirds on either side, both eyes narrowed alike), with
//! the nine landmark features of that series, into `OUT/index.csv`.
//!
//! `cargo run --release -p tests --example real_face_views -- OUT`
//!
//! What models/experiments/series-mirror-change scores with onnxruntime;
//! the series is built as `tests/tests/real_faces.rs` builds it: the framed
//! photo is rest, the altered photo every sign expression.

use std::fmt::Write as _;
use std::path::PathBuf;

use screening::decision::ExpressionEvidence;
use screening::geometry::Side;
use screening::protocol::{Expression, SIGN_EXPRESSIONS};
use screening::series_model::features::{features, FIRST_LOGIT};
use screening::series_model::FEATURE_NAMES;
use tests::real_faces::{altered, framed, photos, see, Alteration};

/// A third of the opening lost, as in the real-face test.
const NARROWED: f32 = 0.67;
/// The landmark features (the classifier logits that follow are not used).
const LANDMARK_FEATURES: usize = FIRST_LOGIT;

fn main() {
    let out = PathBuf::from(
        std::env::args()
            .nth(1)
            .expect("usage: real_face_views OUT_DIR"),
    );
    std::fs::create_dir_all(&out).expect("output folder");
    let stage = tests::face_stage();
    let mut csv = String::from("photo,alteration,kind,rest,shown");
    for name in &FEATURE_NAMES[..LANDMARK_FEATURES] {
        write!(csv, ",{name}").unwrap();
    }
    csv.push('\n');
    let alterations = [
        ("as_is", "as_is", Alteration::AsIs),
        (
            "left_eye",
            "one_eye",
            Alteration::OneEye(Side::Left, NARROWED),
        ),
        (
            "right_eye",
            "one_eye",
            Alteration::OneEye(Side::Right, NARROWED),
        ),
        ("both_eyes", "both_eyes", Alteration::BothEyes(NARROWED)),
    ];
    for (n, photo) in photos().into_iter().enumerate() {
        let image = framed(stage, &photo.image);
        let Some(analysis) = stage.analyse_still(&image).ok() else {
            println!("{}: the face stage fails", photo.name);
            continue;
        };
        if let Some(why) = analysis.message() {
            println!("{}: left out, the gate says \"{why}\"", photo.name);
            continue;
        }
        let (Some(aligned), Some(rest)) = (analysis.aligned, see(stage, None, &image)) else {
            println!("{}: no aligned view", photo.name);
            continue;
        };
        let rest_file = format!("{n:02}-rest.png");
        aligned
            .image
            .save(out.join(&rest_file))
            .expect("view written");
        for (label, kind, how) in alterations {
            let shown_image = altered(stage, &image, how).expect("the face is found");
            let shown_analysis = stage.analyse_still(&shown_image).expect("face stage");
            let shown = see(stage, None, &shown_image).expect("measures");
            let shown_file = format!("{n:02}-{label}.png");
            shown_analysis
                .aligned
                .expect("aligned view")
                .image
                .save(out.join(&shown_file))
                .expect("view written");
            let series: Vec<ExpressionEvidence> = std::iter::once(rest.evidence(Expression::Rest))
                .chain(SIGN_EXPRESSIONS.iter().map(|&e| shown.evidence(e)))
                .collect();
            let values = features(&series)
                .expect("a full series has features")
                .values;
            write!(
                csv,
                "{},{label},{kind},{rest_file},{shown_file}",
                photo.name
            )
            .unwrap();
            for v in &values[..LANDMARK_FEATURES] {
                write!(csv, ",{v}").unwrap();
            }
            csv.push('\n');
        }
        println!("{}: written", photo.name);
    }
    std::fs::write(out.join("index.csv"), csv).expect("index written");
}
