"""Seed ensembles: several training runs of one setting in one ONNX graph.

Runs that differ only in their seed flip on partly different retakes of the
invariance set; their mean removes the flips one run makes alone, not the
ones every run makes (session 9: 458 of 480 retakes kept against 437-460 for
its three members; model card). The merged graph feeds the same `image` to
every member and outputs the mean of their `logits` and the mean of their
`cam`, so the file keeps the one-network output contract (logits [1, 2],
cam [1, h, w]) and the runtime, the kiosk and the web page need no change.
The mean of the CAMs is the CAM of the mean logit, since each member's CAM
is linear in its logit difference.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import compose, helper, numpy_helper

OUTPUTS = ("logits", "cam")
INPUT = "image"


def merge(members: list[Path], out: Path) -> None:
    """Writes one graph whose outputs are the members' means."""
    if len(members) < 2:
        raise ValueError("an ensemble needs at least two members")
    models = [onnx.load(str(p)) for p in members]
    first = models[0]
    for p, m in zip(members, models):
        if [i.name for i in m.graph.input] != [INPUT] or [o.name for o in m.graph.output] != list(OUTPUTS):
            raise ValueError(f"{p}: expected input {INPUT!r} and outputs {OUTPUTS}")
        if m.opset_import != first.opset_import:
            raise ValueError(f"{p}: opset {m.opset_import} differs from {members[0]}'s")

    nodes, initializers, value_info = [], [], []
    for i, m in enumerate(models):
        prefix = f"m{i}_"
        m = compose.add_prefix(m, prefix)
        for node in m.graph.node:
            # Every member reads the one shared input.
            renamed = [INPUT if name == prefix + INPUT else name for name in node.input]
            del node.input[:]
            node.input.extend(renamed)
        nodes.extend(m.graph.node)
        initializers.extend(m.graph.initializer)
        value_info.extend(m.graph.value_info)
        # The members' outputs become inner values; their shapes stay known.
        value_info.extend(m.graph.output)

    scale = "ensemble_scale"
    initializers.append(numpy_helper.from_array(np.array(1.0 / len(models), dtype=np.float32), scale))
    for name in OUTPUTS:
        total = f"m0_{name}"
        for i in range(1, len(models)):
            step = f"ensemble_{name}_sum{i}"
            nodes.append(helper.make_node("Add", [total, f"m{i}_{name}"], [step], name=step))
            total = step
        nodes.append(helper.make_node("Mul", [total, scale], [name], name=f"ensemble_{name}_mean"))

    graph = helper.make_graph(
        nodes,
        "synkinesis_ensemble",
        inputs=list(first.graph.input),
        outputs=list(first.graph.output),
        initializer=initializers,
        value_info=value_info,
    )
    merged = helper.make_model(graph, opset_imports=list(first.opset_import), producer_name="models/train/ensemble.py")
    merged.ir_version = first.ir_version
    onnx.checker.check_model(merged)
    onnx.save(merged, str(out))
