"""One entry point: data-set folder -> committed classifier artifacts.

    python models/train/pipeline.py --data /work/data/synth --seed 1 --out models/

Trains (early stopping on validation), exports the f32 ONNX graph, quantizes
it to int8, picks the screening threshold on the validation split, measures
both files in onnxruntime on the test split, writes golden vectors, the two
manifest entries and `train/metrics.json` under --out.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import platform
import shutil
import sys
from pathlib import Path

# One thread everywhere, before numpy/torch load their thread pools.
for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ.setdefault(var, "1")

import numpy as np  # noqa: E402
import onnx  # noqa: E402
import onnxruntime  # noqa: E402
import torch  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))

import data  # noqa: E402
import evaluate  # noqa: E402
import manifest  # noqa: E402
import quantize  # noqa: E402
from model import export  # noqa: E402
from train import Config, train  # noqa: E402

F32_FILE = "synkinesis-f32.onnx"
INT8_FILE = "synkinesis-int8.onnx"
CALIBRATION_IMAGES = 400


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def strict_json(v):
    """`v` with every NaN or infinity (a figure undefined for a group, such
    as precision where nothing was referred) as null, so metrics.json is
    JSON that any reader parses, not Python's NaN extension."""
    if isinstance(v, float):
        return v if math.isfinite(v) else None
    if isinstance(v, dict):
        return {k: strict_json(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [strict_json(x) for x in v]
    return v


def parse() -> argparse.Namespace:
    a = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    a.add_argument("--data", type=Path, required=True, help="data-set folder (index.csv + images)")
    a.add_argument("--seed", type=int, default=1)
    a.add_argument("--out", type=Path, default=Path(__file__).resolve().parent.parent, help="models folder")
    a.add_argument("--size", type=int, default=Config.size, help="input side: 112, 56 or 28")
    a.add_argument("--widths", default=",".join(map(str, Config.widths)), help="channels per block")
    a.add_argument("--pool", choices=["stride", "max"], default=Config.pool)
    a.add_argument("--asymmetry", action="store_true", help="add the left-right difference channels")
    a.add_argument("--augment", choices=["camera", "light"], default=Config.augment,
                   help="augmentation strength (light: less geometry, no blur, rare JPEG)")
    a.add_argument("--aux-weight", type=float, default=Config.aux_weight,
                   help="weight of the eyelid-asymmetry regression head (needs fissure_ratio_truth)")
    a.add_argument("--mouth-weight", type=float, default=Config.mouth_weight,
                   help="weight of the mouth-tilt regression head (needs mouth_tilt_truth); 0 leaves it out")
    a.add_argument("--stop-on", choices=["loss", "auc"], default=Config.stop_on,
                   help="early stopping and best-epoch criterion on the validation split")
    a.add_argument("--weight-decay", type=float, default=Config.weight_decay)
    a.add_argument("--consistency", type=float, default=Config.consistency,
                   help="weight of the twin-consistency loss (two sessions of one patient and expression "
                        "must get the same probability); 0 trains without it")
    a.add_argument("--epochs", type=int, default=Config.epochs)
    a.add_argument("--patience", type=int, default=Config.patience)
    a.add_argument("--recall", type=float, default=0.9, help="validation series recall the threshold keeps")
    a.add_argument("--dataset-seed", type=int, help="seed `clinic synth` used (read from report.json when absent)")
    return a.parse_args()


def main() -> None:
    args = parse()
    out: Path = args.out
    (out / "train").mkdir(parents=True, exist_ok=True)
    cfg = Config(
        size=args.size,
        widths=tuple(int(w) for w in args.widths.split(",")),
        pool=args.pool,
        asymmetry=args.asymmetry,
        augment=args.augment,
        aux_weight=args.aux_weight,
        mouth_weight=args.mouth_weight,
        stop_on=args.stop_on,
        weight_decay=args.weight_decay,
        consistency=args.consistency,
        epochs=args.epochs,
        patience=args.patience,
        seed=args.seed,
    )
    ds = data.load(args.data)
    tr, va, te = (ds.indices(s) for s in data.SPLITS)
    print(f"{len(ds.rows)} images ({ds.skipped} rows without a face skipped): "
          f"train {len(tr)}, validation {len(va)}, test {len(te)}")
    mean, std = data.channel_stats(ds.images[tr])

    net, history = train(ds, mean, std, cfg)

    f32_path, int8_path = out / F32_FILE, out / INT8_FILE
    export(net, cfg.size, str(f32_path))
    onnx.checker.check_model(onnx.load(str(f32_path)))
    # Calibrate on a fixed, evenly spaced sample of training images.
    pick = tr[np.linspace(0, len(tr) - 1, min(CALIBRATION_IMAGES, len(tr))).astype(int)]
    quantize.quantize(f32_path, int8_path, data.preprocess(ds.images[pick], cfg.size, mean, std))

    x_va = data.preprocess(ds.images[va], cfg.size, mean, std)
    x_te = data.preprocess(ds.images[te], cfg.size, mean, std)
    # The exported graph must match torch.
    with torch.no_grad():
        ref = net(torch.from_numpy(x_te[:32])).numpy()
    got, _ = evaluate.run(str(f32_path), x_te[:32])
    export_error = float(np.abs(ref - got).max())
    assert export_error < 1e-3, f"ONNX export differs from torch by {export_error}"

    y_va = ds.labels()[va]
    p_va = {m: evaluate.softmax1(evaluate.run(str(p), x_va)[0]) for m, p in (("int8", int8_path), ("f32", f32_path))}
    # The kiosk decides per series (the highest probability among the sign
    # expressions), so the threshold is chosen on the validation patients'
    # series scores, not on single images.
    _, ys_va, ps_va, _ = evaluate.series_scores(ds, va, p_va["int8"])
    choice = evaluate.choose_threshold(np.asarray(ys_va), np.asarray(ps_va), args.recall)
    choice["rule"] += ", on the validation patients' series scores"
    threshold = choice["threshold"]
    print(f"threshold {threshold} ({choice['rule']})")

    results, p_te = {}, {}
    for m, path in (("int8", int8_path), ("f32", f32_path)):
        p_te[m] = evaluate.softmax1(evaluate.run(str(path), x_te)[0])
        results[m] = {
            "test": evaluate.report(ds, te, p_te[m], threshold, args.seed),
            "validation": evaluate.report(ds, va, p_va[m], threshold, args.seed),
            "onnxruntime_1_thread": evaluate.timing(str(path), cfg.size),
            "file_bytes": path.stat().st_size,
            "sha256": sha256(path),
        }
    agree = float(((p_te["int8"] >= threshold) == (p_te["f32"] >= threshold)).mean())
    max_diff = float(np.abs(p_te["int8"] - p_te["f32"]).max())
    print(f"int8/f32 decision agreement on test: {agree:.4f}; largest probability gap {max_diff:.4f}")

    golden = write_golden(ds, te, x_te, f32_path, int8_path, out / "golden", cfg.size, mean, std)

    report_path = args.data / "report.json"
    report = json.loads(report_path.read_text()) if report_path.exists() else {}
    dataset = {
        "generator": report.get("generator", "unknown"),
        "seed": args.dataset_seed if args.dataset_seed is not None else report.get("seed"),
        "patients": len({r.patient_id for r in ds.rows}),
        "images": len(ds.rows),
        "split_images": {"train": len(tr), "validation": len(va), "test": len(te)},
        "split_positive_images": {s: int(ds.labels()[i].sum()) for s, i in zip(data.SPLITS, (tr, va, te))},
        "skipped_rows": ds.skipped,
    }
    metrics = {
        "config": cfg.__dict__ | {"widths": list(cfg.widths)},
        "mean": mean,
        "std": std,
        "threshold": choice,
        "dataset": dataset,
        "training": {k: v for k, v in history.items()},
        "export_max_logit_error": export_error,
        "int8_f32_test_agreement": round(agree, 4),
        "int8_f32_test_max_probability_gap": round(max_diff, 4),
        "golden": golden,
        "models": results,
        "versions": {
            "python": platform.python_version(),
            "torch": torch.__version__,
            "onnx": onnx.__version__,
            "onnxruntime": onnxruntime.__version__,
            "numpy": np.__version__,
        },
    }
    (out / "train" / "metrics.json").write_text(
        json.dumps(strict_json(metrics), indent=1, allow_nan=False) + "\n")
    manifest.write(out / "manifest.toml", cfg, mean, std, threshold, choice["rule"], dataset, results,
                   {"f32": (F32_FILE, sha256(f32_path)), "int8": (INT8_FILE, sha256(int8_path))})
    for m in ("int8", "f32"):
        h = evaluate.headline(results[m]["test"])
        print(m, json.dumps(h))


GOLDEN_CASES = [
    # (condition, pattern, expression) -- the first test image that fits.
    ("healthy", "", "big_smile"),
    ("flaccid", "", "big_smile"),
    ("synkinetic", "oral_ocular", "big_smile"),
    ("synkinetic", "oral_ocular", "pucker"),
    ("synkinetic", "ocular_oral", "tight_eye_closure"),
    ("synkinetic", "both", "rest"),
]


def write_golden(ds, te, x_te, f32_path, int8_path, folder: Path, size, mean, std) -> list[dict]:
    """A few test-split standard views with onnxruntime's outputs for both files."""
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    cases = []
    for cond, pattern, expr in GOLDEN_CASES:
        for j, i in enumerate(te):
            r = ds.rows[i]
            if r.condition == cond and r.pattern == pattern and r.expression == expr:
                cases.append((j, i))
                break
    entries = []
    for j, i in cases:
        r = ds.rows[i]
        name = f"{r.condition}-{r.pattern + '-' if r.pattern else ''}{r.expression}.png".replace("_", "-")
        src = Path(r.file)
        shutil.copyfile(ds.root / src, folder / name)
        # Re-read the copy, so the vectors describe exactly the committed PNG.
        x = data.preprocess(data.read_view(folder / name)[None], size, mean, std)
        assert np.array_equal(x, x_te[j : j + 1])
        entry = {
            "file": name,
            "patient_id": r.patient_id,
            "expression": r.expression,
            "condition": r.condition,
            "severity": r.severity,
            "pattern": r.pattern,
            "label": r.label,
            "input_shape": list(x.shape),
            "input_sha256_f32le": hashlib.sha256(x.astype("<f4").tobytes()).hexdigest(),
            "input_first": [float(v) for v in x.reshape(-1)[:8]],
            "input_sum": float(x.astype(np.float64).sum()),
        }
        for m, path in (("f32", f32_path), ("int8", int8_path)):
            logits, cam = evaluate.run(str(path), x)
            entry[m] = {
                "logits": [float(v) for v in logits[0]],
                "probability": float(evaluate.softmax1(logits)[0]),
                "cam_shape": list(cam.shape[1:]),
                "cam": [[float(v) for v in row] for row in cam[0]],
            }
        entries.append(entry)
    doc = {
        "about": "Standard views from the test split with onnxruntime's outputs for "
        "synkinesis-f32.onnx and synkinesis-int8.onnx (written by models/train/pipeline.py). "
        "input = (pixel/255 - mean)/std after the manifest's flatten_light and exact k x k "
        "box averaging of the 112-px view; "
        "input_sha256_f32le hashes the NCHW float32 little-endian tensor. probability = "
        "softmax(logits)[1].",
        "onnxruntime": onnxruntime.__version__,
        "input_size": size,
        "mean": mean,
        "std": std,
        "cases": entries,
    }
    (folder / "golden.json").write_text(json.dumps(doc, indent=1) + "\n")
    return [{"file": e["file"], "p_f32": e["f32"]["probability"], "p_int8": e["int8"]["probability"]} for e in entries]


if __name__ == "__main__":
    main()
