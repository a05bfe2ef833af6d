//! Render time of a virtual-patient frame: the live virtual camera needs a
//! 640×480 frame in well under a frame period.

use criterion::{criterion_group, criterion_main, Criterion};
use virtual_patient::{self as synth, Expression, FaceState, Patient, Scene};

fn bench(c: &mut Criterion) {
    let patient = Patient::random(42);
    let smile = FaceState::full(Expression::BigSmile);
    let studio = Scene::studio();
    c.bench_function("render 640x480 studio", |b| {
        b.iter(|| synth::render(&patient, &smile, &studio, 640, 480))
    });
    let mut clean = Scene::random(7);
    clean.jpeg_quality = None;
    clean.blur_sigma = 0.0;
    c.bench_function("render 640x480 random scene, no blur/jpeg", |b| {
        b.iter(|| synth::render(&patient, &smile, &clean, 640, 480))
    });
    let mut full = Scene::random(7);
    full.jpeg_quality = Some(85);
    full.blur_sigma = 0.8;
    full.noise_sigma = 3.0;
    c.bench_function("render 640x480 with blur, noise, jpeg", |b| {
        b.iter(|| synth::render(&patient, &smile, &full, 640, 480))
    });
    c.bench_function("render 160x160 studio", |b| {
        b.iter(|| synth::render(&patient, &smile, &studio, 160, 160))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
