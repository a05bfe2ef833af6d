"""int8 model in the one form tract runs on integer kernels.

onnxruntime `quantize_static` in QOperator format, per-tensor weights
(per_channel=False), uint8 activations, int8 weights, only Conv / Relu /
MaxPool quantized (tract 0.23.9 cannot load QGemm or
QLinearGlobalAveragePool), batch norm folded first by `quant_pre_process`.
The tail (global average pool, fully connected layer, CAM) stays float after
a DequantizeLinear: the CAM's 1x1 convolution is excluded by name.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import onnx
from onnxruntime.quantization import (
    CalibrationDataReader,
    CalibrationMethod,
    QuantFormat,
    QuantType,
    quantize_static,
)
from onnxruntime.quantization.shape_inference import quant_pre_process

QUANTIZED_OPS = ["Conv", "Relu", "MaxPool"]


class Calibration(CalibrationDataReader):
    """Feeds preprocessed training images one at a time."""

    def __init__(self, inputs: np.ndarray):
        self.inputs = inputs
        self.i = 0

    def get_next(self):
        if self.i >= len(self.inputs):
            return None
        x = self.inputs[self.i : self.i + 1]
        self.i += 1
        return {"image": x}

    def rewind(self):
        self.i = 0


def cam_nodes(model: onnx.ModelProto) -> list[str]:
    """Names of the nodes that compute the `cam` output from the features (in
    an ensemble, every member's CAM and their mean)."""
    producers = {o: n for n in model.graph.node for o in n.output}
    names, frontier = [], ["cam"]
    while frontier:
        node = producers.get(frontier.pop())
        if node is None or node.op_type == "Relu":
            continue
        names.append(node.name)
        if node.op_type == "Conv":
            continue  # the 1x1 CAM convolution; its input is the last ReLU
        frontier.extend(node.input)
    return names


def quantize(f32_path: Path, int8_path: Path, calibration: np.ndarray) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        pre = Path(tmp) / "pre.onnx"
        quant_pre_process(str(f32_path), str(pre), skip_symbolic_shape=True)
        model = onnx.load(str(pre))
        exclude = cam_nodes(model)
        quantize_static(
            str(pre),
            str(int8_path),
            Calibration(calibration),
            quant_format=QuantFormat.QOperator,
            per_channel=False,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            op_types_to_quantize=QUANTIZED_OPS,
            nodes_to_exclude=exclude,
            calibrate_method=CalibrationMethod.MinMax,
        )
    check(int8_path)


def check(path: Path) -> None:
    """Refuses ops tract 0.23.9 cannot load, and a CAM that got quantized."""
    model = onnx.load(str(path))
    ops = {n.op_type for n in model.graph.node}
    bad = ops & {"QGemm", "QLinearGlobalAveragePool", "QLinearAdd", "QLinearMul", "QLinearSoftmax"}
    if bad:
        raise RuntimeError(f"{path}: ops tract cannot load: {sorted(bad)}")
    if "QLinearConv" not in ops:
        raise RuntimeError(f"{path}: no QLinearConv, nothing was quantized")
