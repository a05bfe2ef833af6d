//! Runs a classifier ONNX file N times on a fixed input, for measuring
//! candidate networks and quantization forms without touching the manifest:
//! per-inference ARM cost is `(insns(N2) - insns(N1)) / (N2 - N1)` with
//! `../shared/tools/qemu-insn`, and on the build machine it prints the mean
//! wall time.
//!
//! `cargo run --release -p screening --example onnx_cost -- FILE.onnx [N] [SIZE]`

use std::time::Instant;

use screening::model::{output_slice, LoadedModel};
use tract_onnx::prelude::Tensor;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let path = args.next().ok_or("usage: onnx_cost FILE.onnx [N] [SIZE]")?;
    let n: usize = args.next().map_or(Ok(100), |s| s.parse())?;
    let size: usize = args.next().map_or(Ok(112), |s| s.parse())?;
    let bytes = std::fs::read(&path)?;
    let model = LoadedModel::from_onnx_bytes(&path, &bytes, &[1, 3, size, size])?;
    // A smooth, deterministic pattern in the range of normalised pixels.
    let input: Vec<f32> = (0..3 * size * size)
        .map(|i| ((i % 97) as f32 / 48.0) - 1.0)
        .collect();
    let tensor = Tensor::from_shape(&[1, 3, size, size], &input)?;
    let started = Instant::now();
    let mut first = 0.0;
    for i in 0..n {
        let out = model.run(tensor.clone())?;
        if i == 0 {
            first = output_slice(&model, &out, 0)?[0];
        }
    }
    let per = started.elapsed().as_secs_f64() * 1e3 / n.max(1) as f64;
    println!("{path}: {n} runs, {per:.3} ms each, first logit {first}");
    Ok(())
}
