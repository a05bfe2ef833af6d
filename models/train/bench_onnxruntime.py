"""Time the synkinesis classifier in onnxruntime, single-threaded, for
comparison with tract (screening/benches/classify.rs: `cargo bench -p
screening --bench classify`).

The input is the first golden standard view (models/golden/, by file name, as
the Rust bench picks it), made into the network's input by training's own
`models/train/data.py` `preprocess` with the manifest's `flatten_light`, so
both sides time the same tensor.
Only `session.run` is timed: pre-processing and the softmax are not.

    models/train/.venv/bin/python models/train/bench_onnxruntime.py [--runs N]

(needs only numpy, onnxruntime and pillow from requirements.txt).
"""
import argparse
import os
import statistics
import sys
import time
import tomllib

import numpy as np
import onnxruntime as ort

# The shared timing loop lives beside the model folders (models/ort_timing.py).
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from ort_timing import time_single_thread as bench  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import data  # noqa: E402
from PIL import Image

MODELS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
ENTRIES = [("int8", "synkinesis"), ("f32", "synkinesis_f32")]


def view_tensor(entry: dict, view_size: int) -> np.ndarray:
    golden = os.path.join(MODELS, "golden")
    first = sorted(f for f in os.listdir(golden) if f.endswith(".png"))[0]
    img = np.asarray(Image.open(os.path.join(golden, first)).convert("RGB"))
    size = entry["input"]["shape"][2]
    k = view_size // size
    if entry["input"].get("dtype", "f32") == "u8":
        x = img.reshape(size, k, size, k, 3).astype(np.float32).mean(axis=(1, 3))
        return np.round(x).astype(np.uint8).transpose(2, 0, 1)[np.newaxis].copy()
    return data.preprocess(img[np.newaxis], size, entry["mean"], entry["std"], entry.get("flatten_light"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=2000)
    ap.add_argument("--warmup", type=int, default=200)
    args = ap.parse_args()
    with open(os.path.join(MODELS, "manifest.toml"), "rb") as f:
        manifest = tomllib.load(f)
    view_size = manifest["standard_view"]["size"]
    print(f"onnxruntime {ort.__version__}, 1 intra-op thread, 1 inter-op thread, {args.runs} runs")
    for variant, name in ENTRIES:
        entry = manifest["models"][name]
        path = os.path.join(MODELS, entry["file"])
        t = bench(path, view_tensor(entry, view_size), args.runs, args.warmup)
        print(
            f"{variant:5} {entry['file']:24} mean {statistics.fmean(t):7.3f} ms"
            f"  median {statistics.median(t):7.3f} ms  min {min(t):7.3f} ms"
        )


if __name__ == "__main__":
    main()
