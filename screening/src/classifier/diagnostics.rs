//! What tract made of the network: the matrix kernels it picked (the proof
//! that int8 runs on integer kernels) and the optimised graph, for benches
//! and tests on new hardware.

use tract_onnx::tract_core::ops::matmul::optimized::OptMatMul;

use super::Classifier;

/// Which matrix kernel tract runs for one matrix product of the optimised
/// graph (a convolution after im2col, or a fully connected layer).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MatMulKernel {
    /// The node of the optimised graph (named after the ONNX node).
    pub node: String,
    /// The kernel(s) tract may pick between at run time, e.g.
    /// `avx512vnni_mmm_i32_8x8` or `arm64simd_mmm_i32_8x8`.
    pub kernels: Vec<String>,
    /// The kernels' accumulator types (`I32` for integer kernels).
    pub accumulators: Vec<String>,
}

impl MatMulKernel {
    /// True when every kernel of the node accumulates in 32-bit integers.
    pub fn is_integer(&self) -> bool {
        !self.accumulators.is_empty() && self.accumulators.iter().all(|a| a == "I32")
    }
}

impl Classifier {
    /// The matrix products of the optimised graph and the kernels tract
    /// picked for them: the proof that the int8 network runs on integer
    /// kernels (and a diagnostic for benchmarks on new hardware).
    pub fn matmul_kernels(&self) -> Vec<MatMulKernel> {
        self.plan
            .model()
            .nodes()
            .iter()
            .filter_map(|node| {
                let op = node.op_as::<OptMatMul>()?;
                Some(MatMulKernel {
                    node: node.name.clone(),
                    kernels: op.mmm.iter().map(|m| m.name().to_string()).collect(),
                    accumulators: op
                        .mmm
                        .iter()
                        .map(|m| format!("{:?}", m.internal_type()))
                        .collect(),
                })
            })
            .collect()
    }

    /// The optimised graph, one line a node (`name: op`), for diagnostics.
    pub fn describe_graph(&self) -> Vec<String> {
        let model = self.plan.model();
        model
            .nodes()
            .iter()
            .map(|n| {
                let facts = n
                    .outputs
                    .iter()
                    .map(|o| format!("{:?}", o.fact.datum_type))
                    .collect::<Vec<_>>()
                    .join(",");
                format!("{}: {} -> {facts}", n.name, n.op.name())
            })
            .collect()
    }
}
