//! A network parsed, typed and optimised once by tract from the bytes the
//! manifest's sha256 vouched for, and run frame after frame.

use std::io::Cursor;
use std::sync::Arc;

use tract_onnx::prelude::*;

use super::ModelError;

/// A network parsed, typed and optimised once by tract, ready to run.
#[derive(Debug, Clone)]
pub struct LoadedModel {
    name: String,
    input_shape: Vec<usize>,
    output_shapes: Vec<Vec<usize>>,
    plan: Arc<TypedSimplePlan>,
}

impl LoadedModel {
    /// Loads ONNX `bytes` with a single f32 input of `input_shape`.
    pub fn from_onnx_bytes(
        name: &str,
        bytes: &[u8],
        input_shape: &[usize],
    ) -> Result<LoadedModel, ModelError> {
        let load_err = |e: TractError| ModelError::Load {
            name: name.to_string(),
            message: format!("{e:#}"),
        };
        // Value info is ignored because converters often leave symbolic or stale
        // shapes there; the input shape pinned below is the truth.
        let model = tract_onnx::onnx()
            .with_ignore_value_info(true)
            .model_for_read(&mut Cursor::new(bytes))
            .map_err(load_err)?;
        let inputs = model.input_outlets().map_err(load_err)?.len();
        if inputs != 1 {
            return Err(ModelError::Incompatible {
                name: name.to_string(),
                message: format!("expected one input, the graph has {inputs}"),
            });
        }
        let plan = model
            .with_input_fact(0, f32::fact(input_shape).into())
            .and_then(|m| m.into_optimized())
            .and_then(|m| m.into_runnable())
            .map_err(load_err)?;
        let mut output_shapes = Vec::new();
        for ix in 0..plan.model().outputs.len() {
            let fact = plan.model().output_fact(ix).map_err(load_err)?;
            let shape = fact
                .shape
                .as_concrete()
                .map(|s| s.to_vec())
                .ok_or_else(|| ModelError::Incompatible {
                    name: name.to_string(),
                    message: format!("output {ix} has no fixed shape ({:?})", fact.shape),
                })?;
            output_shapes.push(shape);
        }
        Ok(LoadedModel {
            name: name.to_string(),
            input_shape: input_shape.to_vec(),
            output_shapes,
            plan,
        })
    }

    /// The manifest entry this model was loaded from.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The pinned input shape.
    pub fn input_shape(&self) -> &[usize] {
        &self.input_shape
    }

    /// The output shapes, in graph order.
    pub fn output_shapes(&self) -> &[Vec<usize>] {
        &self.output_shapes
    }

    /// Index of the first output whose shape is `shape`.
    pub fn output_with_shape(&self, shape: &[usize]) -> Result<usize, ModelError> {
        self.output_shapes
            .iter()
            .position(|s| s == shape)
            .ok_or_else(|| ModelError::Incompatible {
                name: self.name.clone(),
                message: format!(
                    "no output of shape {shape:?} (outputs: {:?})",
                    self.output_shapes
                ),
            })
    }

    /// Runs the network on `input` (which must have the pinned shape) and
    /// returns its outputs in graph order.
    pub fn run(&self, input: Tensor) -> Result<TVec<TValue>, ModelError> {
        if input.shape() != self.input_shape.as_slice() {
            return Err(ModelError::Incompatible {
                name: self.name.clone(),
                message: format!(
                    "input of shape {:?} given, {:?} expected",
                    input.shape(),
                    self.input_shape
                ),
            });
        }
        run_plan(&self.plan, input).map_err(|e| ModelError::Run {
            name: self.name.clone(),
            message: format!("{e:#}"),
        })
    }
}

/// Runs `plan` on its one input. Every tract run goes through here, so the
/// vector registers are left clean for the SSE code that follows
/// ([`crate::vector_state`]).
pub(crate) fn run_plan(plan: &Arc<TypedSimplePlan>, input: Tensor) -> TractResult<TVec<TValue>> {
    let outputs = plan.run(tvec![input.into()]);
    crate::vector_state::clear_upper_halves();
    outputs
}

/// Reads output `ix` of `outputs` as a flat f32 slice.
pub fn output_slice<'a>(
    model: &LoadedModel,
    outputs: &'a TVec<TValue>,
    ix: usize,
) -> Result<&'a [f32], ModelError> {
    let incompatible = |message: String| ModelError::Incompatible {
        name: model.name.clone(),
        message,
    };
    let value = outputs
        .get(ix)
        .ok_or_else(|| incompatible(format!("no output {ix}")))?;
    value
        .try_as_plain_ram()
        .and_then(|v| v.as_slice::<f32>())
        .map_err(|e| incompatible(format!("output {ix} is not f32: {e}")))
}
