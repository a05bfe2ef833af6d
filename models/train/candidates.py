"""Architecture selection: train a few candidate sizes briefly and time them.

    python models/train/candidates.py --data DIR --epochs 12 --out candidates.json

For each candidate (input side, channel widths, downsampling) it trains with
the pipeline's own code for a few epochs, exports and quantizes, then reports
the validation AUC and per-image accuracy at the recall-0.97 threshold
(onnxruntime), onnxruntime single-thread latency of both files, and
file sizes (--epochs 0: timings and sizes only, untrained weights). The
figures go into MODEL_CARD.md.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
from sklearn.metrics import roc_auc_score  # noqa: E402

import data  # noqa: E402
import evaluate  # noqa: E402
import quantize  # noqa: E402
from model import Net, export  # noqa: E402
from train import Config, train  # noqa: E402

CANDIDATES = [
    (28, (16, 32, 48), "stride"),
    (56, (16, 32, 48, 64), "stride"),
    (56, (16, 32, 48, 64), "max"),
    (56, (24, 48, 64, 96), "stride"),
    (56, (16, 32, 48, 64, 64), "stride"),
    (112, (16, 24, 32, 48, 64), "stride"),
    (112, (8, 16, 32, 48, 64), "stride"),
    (112, (8, 16, 32, 48, 64, 64), "stride"),
    (112, (8, 16, 32, 48, 64, 64), "max"),
]


def main() -> None:
    a = argparse.ArgumentParser()
    a.add_argument("--data", type=Path, required=True)
    a.add_argument("--epochs", type=int, default=12)
    a.add_argument("--seed", type=int, default=1)
    a.add_argument("--out", type=Path, required=True)
    a.add_argument("--only", type=int, nargs="*", help="indices of CANDIDATES to run")
    args = a.parse_args()
    ds = data.load(args.data)
    tr, va = ds.indices("train"), ds.indices("validation")
    mean, std = data.channel_stats(ds.images[tr])
    y_va = ds.labels()[va]
    results = json.loads(args.out.read_text()) if args.out.exists() else []
    for k, (size, widths, pool) in enumerate(CANDIDATES):
        if args.only and k not in args.only:
            continue
        cfg = Config(size=size, widths=widths, pool=pool, epochs=args.epochs, patience=args.epochs, seed=args.seed)
        if args.epochs > 0:
            net, hist = train(ds, mean, std, cfg, log=lambda s: None)
        else:  # timing only: untrained weights, same graph and cost
            net, hist = Net(list(widths), pool).eval(), {"best_epoch": None}
        with tempfile.TemporaryDirectory() as tmp:
            f32, int8 = Path(tmp) / "f32.onnx", Path(tmp) / "int8.onnx"
            export(net, size, str(f32))
            pick = tr[np.linspace(0, len(tr) - 1, min(300, len(tr))).astype(int)]
            quantize.quantize(f32, int8, data.preprocess(ds.images[pick], size, mean, std))
            x_va = data.preprocess(ds.images[va], size, mean, std)
            row = {"size": size, "widths": list(widths), "pool": pool, "epochs": args.epochs,
                   "best_epoch": hist["best_epoch"]}
            for name, path in (("f32", f32), ("int8", int8)):
                row[name] = {"ort_1_thread": evaluate.timing(str(path), size), "bytes": path.stat().st_size}
                if args.epochs > 0:
                    p = evaluate.softmax1(evaluate.run(str(path), x_va)[0])
                    t = evaluate.choose_threshold(y_va, p)["threshold"]
                    row[name]["val_auc"] = round(float(roc_auc_score(y_va, p)), 4)
                    row[name]["val_accuracy_at_threshold"] = round(float(((p >= t) == (y_va == 1)).mean()), 4)
        print(json.dumps(row), flush=True)
        results.append(row)
        args.out.write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
