"""Writes the classifier's two entries into models/manifest.toml.

The entries live between two marker comments at the end of the file; a new
run replaces what is between them and leaves every other line alone.
"""

from __future__ import annotations

import json
from pathlib import Path

from data import FLATTEN_LIGHT

BEGIN = "# >>> synkinesis classifier: written by models/train/pipeline.py, do not edit by hand"
END = "# <<< synkinesis classifier"
LICENCE = "MIT OR Apache-2.0 (this project; trained by models/train on synthetic faces only)"


def toml_value(v) -> str:
    """Inline TOML for the plain values used here."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v) if v == v else '"nan"'
    if isinstance(v, str):
        return json.dumps(v)
    if v is None:
        return '"none"'
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{k} = {toml_value(x)}" for k, x in v.items()) + " }"
    raise TypeError(type(v))


def entry(name, file, sha, cfg, mean, std, threshold, rule, dataset, result, note, seeds) -> str:
    size = cfg.size
    feat = size
    for _ in range(len(cfg.widths) - 1):
        feat = (feat + 1) // 2
    headline = result["test"]
    pi, ps = headline["per_image"], headline["per_series"]

    def m(b):
        return {
            "accuracy": b["accuracy"]["value"],
            "accuracy_ci95": b["accuracy"]["ci95"],
            "precision": b["precision"]["value"],
            "precision_ci95": b["precision"]["ci95"],
            "recall": b["recall"]["value"],
            "recall_ci95": b["recall"]["ci95"],
            "f1": b["f1"],
            "auc": b["auc"]["value"],
            "auc_ci95": b["auc"]["ci95"],
            "n": b["n"],
        }

    lines = [
        f"[models.{name}]",
        f"file = {toml_value(file)}",
        f'sha256 = "{sha}"',
        f"licence = {toml_value(LICENCE)}",
        f"# {note}",
        "# Input: the 112-px standard view with its light flattened (flatten_light: each",
        "# pixel x gain / (floor + luminance box-blurred `passes` times with `radius`),",
        f"# shrunk by exact k x k box averaging in float (k = 112 / {size}), then per",
        "# channel (pixel / 255 - mean) / std. Softmax is not in the graph:",
        "# probability = softmax(logits)[1], computed by the runtime.",
        "input = " + toml_value({"name": "image", "shape": [1, 3, size, size], "layout": "NCHW",
                                 "colour": "RGB", "dtype": "f32"}),
        f"mean = {toml_value(mean)}",
        f"std = {toml_value(std)}",
        f"flatten_light = {toml_value(FLATTEN_LIGHT)}",
        "outputs = [",
        "    " + toml_value({"name": "logits", "shape": [1, 2],
                             "meaning": "index 0 no synkinesis, 1 synkinesis; softmax gives the probability"}) + ",",
        "    " + toml_value({"name": "cam", "shape": [1, feat, feat],
                             "meaning": "class-activation map: sum over channels of (W[1,c] - W[0,c]) * F[c], "
                                        "F the last feature map after ReLU, W the FC weights; positive = "
                                        "evidence for synkinesis; upsample to the view to overlay"}) + ",",
        "]",
        'labels = ["no_synkinesis", "synkinesis"]',
        f"# Screening threshold on the probability, chosen on the validation split: {rule}.",
        f"threshold = {toml_value(threshold)}",
        "series_rule = \"refer when the highest probability over big_smile, pucker, tight_eye_closure >= threshold\"",
        "architecture = " + toml_value({"blocks": list(cfg.widths), "downsampling": cfg.pool,
                                         "head": "global average pool + one fully connected layer"}),
        *(["ensemble = " + toml_value({"seeds": seeds, "combine": "mean of the members' logits and of their cam; "
                                       "each member has the architecture above"})] if len(seeds) > 1 else []),
        "dataset = " + toml_value({k: dataset[k] for k in ("generator", "seed", "patients", "images")}),
        "# Test split (patients never seen in training), onnxruntime, 95 % intervals",
        "# (Wilson for proportions, patient bootstrap for AUC); all figures on synthetic faces.",
        "metrics = { per_image = " + toml_value(m(pi)) + ", per_series = " + toml_value(m(ps)) + " }",
        "",
    ]
    return "\n".join(lines)


def write(path: Path, cfg, mean, std, threshold, rule, dataset, results, files, seeds) -> None:
    text = path.read_text() if path.exists() else ""
    if BEGIN in text:
        head, rest = text.split(BEGIN, 1)
        tail = rest.split(END, 1)[1] if END in rest else ""
        tail = tail.lstrip("\n")
    else:
        head, tail = text, ""
    head = head.rstrip("\n") + "\n\n" if head.strip() else ""
    block = [BEGIN, ""]
    block.append(entry("synkinesis", files["int8"][0], files["int8"][1], cfg, mean, std, threshold, rule,
                       dataset, results["int8"],
                       "int8 (QOperator, per-tensor weights, uint8 activations): what the kiosk runs.", seeds))
    block.append(entry("synkinesis_f32", files["f32"][0], files["f32"][1], cfg, mean, std, threshold, rule,
                       dataset, results["f32"],
                       "f32 reference of the same network (same threshold), for checks and for hosts.", seeds))
    block.append(END + "\n")
    out = head + "\n".join(block) + ("\n" + tail if tail else "")
    path.write_text(out)
