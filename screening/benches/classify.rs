//! Classifier timings on one golden standard view, single thread: int8 and
//! f32 `classify` (pre-processing, network, softmax, CAM read-out), and the
//! pre-processing alone (`network_input`). Compare
//! with onnxruntime's figures from `models/train/bench_onnxruntime.py` (same
//! files, one thread).
//!
//! Targets on the x86 dev machine: int8 ≤ 2 ms, and int8 no slower than f32.

use std::path::Path;

use criterion::{criterion_group, criterion_main, Criterion};
use screening::classifier::{Classifier, Variant};
use screening::model::Manifest;

fn classify(c: &mut Criterion) {
    let models = std::env::var_os("SCREENING_MODELS")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../models"));
    let manifest = Manifest::load(&models).unwrap();
    let golden = models.join("golden");
    let view = std::fs::read_dir(&golden)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "png"))
        .min()
        .expect("a golden standard view");
    let view = image::open(&view).unwrap().to_rgb8();

    let mut g = c.benchmark_group("classify_standard_view");
    for variant in Variant::BOTH {
        let classifier = Classifier::load(&manifest, variant).unwrap();
        if variant == Variant::Int8 {
            for k in classifier.matmul_kernels() {
                eprintln!("int8 {}: {:?}", k.node, k.kernels);
            }
        }
        g.bench_function(variant.name(), |b| {
            b.iter(|| classifier.classify(&view).unwrap())
        });
    }
    g.finish();

    // The part of `classify` before the network: light flattening (when the
    // manifest asks for it), box averaging and normalisation.
    let classifier = Classifier::load(&manifest, Variant::Int8).unwrap();
    c.bench_function("network_input", |b| {
        b.iter(|| classifier.network_input(&view).unwrap())
    });
}

criterion_group!(benches, classify);
criterion_main!(benches);
