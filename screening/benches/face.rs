//! Face stage timings on one 640×480 frame, single thread: detect, landmarks,
//! align, and the whole `analyse`. Compare with onnxruntime's figures from
//! `models/face/bench_onnxruntime.py` (same models, one thread).
//!
//! Targets on the x86 dev machine: detect ≤ 4 ms, landmarks ≤ 15 ms, align ≤ 1 ms.

use std::path::Path;

use criterion::{criterion_group, criterion_main, Criterion};
use image::{Rgb, RgbImage};
use screening::face::{align, decode_image, FaceStage};

/// Grace Hopper's photograph fitted into a 640×480 frame, as a kiosk camera
/// would deliver it.
fn frame() -> RgbImage {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let photo =
        decode_image(&std::fs::read(root.join("tests/data/grace_hopper.jpg")).unwrap()).unwrap();
    let photo = image::imageops::resize(&photo, 410, 480, image::imageops::FilterType::Triangle);
    let mut frame = RgbImage::from_pixel(640, 480, Rgb([90, 110, 150]));
    image::imageops::overlay(&mut frame, &photo, 115, 0);
    frame
}

fn face(c: &mut Criterion) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../models");
    let stage = FaceStage::load(&root).unwrap();
    let frame = frame();
    let detection = stage.detector().detect(&frame).unwrap()[0];
    let landmarks = stage
        .landmark_model()
        .landmarks(&frame, &detection)
        .unwrap();
    let eyes = landmarks.eye_centres();
    let first = stage.analyse(&frame, None).unwrap();
    assert!(
        first.passed(),
        "the bench frame should pass the gate: {:?}",
        first.verdict
    );

    let mut g = c.benchmark_group("face_640x480");
    g.bench_function("detect", |b| {
        b.iter(|| stage.detector().detect(&frame).unwrap())
    });
    g.bench_function("landmarks", |b| {
        b.iter(|| {
            stage
                .landmark_model()
                .landmarks(&frame, &detection)
                .unwrap()
        })
    });
    g.bench_function("align", |b| {
        b.iter(|| align(&frame, eyes, stage.standard_view()).unwrap())
    });
    g.bench_function("analyse", |b| {
        b.iter(|| stage.analyse(&frame, Some(&first)).unwrap())
    });
    g.finish();
}

criterion_group!(benches, face);
criterion_main!(benches);
