"""Time the two face models in onnxruntime, single-threaded, for comparison
with tract (screening/benches/face.rs).

Inputs are derived from one 640x480 frame the way the Rust face stage does it:
the detector gets the frame letterboxed to 128x128 in [-1, 1], the landmark
model a 192x192 crop in [0, 1]. Resizing is nearest-neighbour here because
only the inference is timed.

    models/face/.venv/bin/python -m pip install --no-deps --only-binary=:all: \
        -r models/face/requirements-bench.txt
    models/face/.venv/bin/python models/face/bench_onnxruntime.py [--runs N]
"""
import argparse
import os
import statistics
import sys
import time

import numpy as np
import onnxruntime as ort

# The shared timing loop lives beside the model folders (models/ort_timing.py).
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from ort_timing import time_single_thread as bench  # noqa: E402

MODELS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")


def frame_640x480() -> np.ndarray:
    """A deterministic, textured frame (not a face: timing does not depend on content)."""
    rng = np.random.default_rng(7)
    y, x = np.mgrid[0:480, 0:640]
    base = ((x + y) % 256).astype(np.float32)
    noise = rng.integers(0, 64, size=(480, 640), dtype=np.int32).astype(np.float32)
    grey = np.clip(base * 0.75 + noise, 0, 255)
    return np.stack([grey, grey * 0.9, grey * 0.8], axis=-1).astype(np.uint8)


def nearest(img: np.ndarray, w: int, h: int) -> np.ndarray:
    ys = (np.arange(h) * img.shape[0] / h).astype(int)
    xs = (np.arange(w) * img.shape[1] / w).astype(int)
    return img[ys][:, xs]


def detector_input(frame: np.ndarray) -> np.ndarray:
    # Letterbox: 640x480 -> 128x96 with 16 rows of padding above and below.
    scaled = nearest(frame, 128, 96).astype(np.float32)
    boxed = np.zeros((128, 128, 3), np.float32)
    boxed[16:112] = scaled
    t = boxed / 127.5 - 1.0
    return t.transpose(2, 0, 1)[np.newaxis].copy()


def landmark_input(frame: np.ndarray) -> np.ndarray:
    crop = nearest(frame[120:360, 200:440], 192, 192).astype(np.float32) / 255.0
    return crop.transpose(2, 0, 1)[np.newaxis].copy()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=300)
    ap.add_argument("--warmup", type=int, default=30)
    args = ap.parse_args()
    frame = frame_640x480()
    print(f"onnxruntime {ort.__version__}, 1 intra-op thread, 1 inter-op thread, {args.runs} runs")
    for name, feed in [
        ("face_detection_short_range.onnx", detector_input(frame)),
        ("face_landmark.onnx", landmark_input(frame)),
    ]:
        t = bench(os.path.join(MODELS, name), feed, args.runs, args.warmup)
        print(
            f"{name:34} mean {statistics.fmean(t):7.3f} ms  median {statistics.median(t):7.3f} ms"
            f"  min {min(t):7.3f} ms"
        )


if __name__ == "__main__":
    main()
