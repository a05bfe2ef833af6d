"""One entry point: data-set folder -> committed classifier artifacts.

    python models/train/pipeline.py --data /work/data/synth --seed 1 --out models/
    python models/train/pipeline.py --data /work/data/synth --seeds 1,2,3 --out models/

Trains (early stopping on validation), exports the f32 ONNX graph, quantizes
it to int8, picks the screening threshold on the validation split, measures
both files in onnxruntime on the test split, writes golden vectors, the two
manifest entries and `train/metrics.json` under --out.

With --seeds it trains one member per seed, one after the other, and ships
their mean in one graph (ensemble.py). --members does the same from finished
single-seed runs of one setting (their --out folders), so members can be
trained on several machines and combined afterwards.
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
import tempfile
from dataclasses import dataclass, replace
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
import ensemble  # noqa: E402
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
    a.add_argument("--seed", type=int, default=1, help="training seed of a one-network run")
    members = a.add_mutually_exclusive_group()
    members.add_argument("--seeds", help="comma-separated seeds: train one member per seed and ship their mean")
    members.add_argument("--members", help="comma-separated --out folders of finished one-seed runs of this "
                                           "setting on this data set: ship their mean without training")
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
    a.add_argument("--flatten-radius", type=int, default=Config.flatten_radius,
                   help="box radius of the light flattening's blur (written to the manifest)")
    a.add_argument("--epochs", type=int, default=Config.epochs)
    a.add_argument("--patience", type=int, default=Config.patience)
    a.add_argument("--recall", type=float, default=0.9, help="validation series recall the threshold keeps")
    a.add_argument("--dataset-seed", type=int, help="seed `clinic synth` used (read from report.json when absent)")
    return a.parse_args()


@dataclass
class Member:
    """One trained network of the shipped graph."""

    seed: int
    f32: Path
    training: dict
    export_error: float


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
        flatten_radius=args.flatten_radius,
        epochs=args.epochs,
        patience=args.patience,
        seed=args.seed,
    )
    data.set_flatten_radius(cfg.flatten_radius)
    ds = data.load(args.data)
    tr, va, te = (ds.indices(s) for s in data.SPLITS)
    print(f"{len(ds.rows)} images ({ds.skipped} rows without a face skipped): "
          f"train {len(tr)}, validation {len(va)}, test {len(te)}")
    mean, std = data.channel_stats(ds.images[tr])
    x_va = data.preprocess(ds.images[va], cfg.size, mean, std)
    x_te = data.preprocess(ds.images[te], cfg.size, mean, std)

    f32_path, int8_path = out / F32_FILE, out / INT8_FILE
    with tempfile.TemporaryDirectory() as work:
        if args.members:
            members = [finished_member(Path(d), cfg, mean, std) for d in args.members.split(",")]
        else:
            seeds = [int(s) for s in args.seeds.split(",")] if args.seeds else [args.seed]
            members = []
            for seed in seeds:
                path = f32_path if len(seeds) == 1 else Path(work) / f"member-seed{seed}.onnx"
                members.append(train_member(ds, mean, std, replace(cfg, seed=seed), path, x_te[:32]))
        cfg = replace(cfg, seed=members[0].seed)
        ensemble_error = None
        if len(members) > 1:
            ensemble.merge([m.f32 for m in members], f32_path)
            ensemble_error = check_mean(f32_path, [m.f32 for m in members], x_te[:32])
            print(f"{len(members)} members (seeds {[m.seed for m in members]}) merged; "
                  f"largest logit gap to the members' mean {ensemble_error:.2e}")
        elif members[0].f32 != f32_path:
            shutil.copyfile(members[0].f32, f32_path)
    # Calibrate on a fixed, evenly spaced sample of training images.
    pick = tr[np.linspace(0, len(tr) - 1, min(CALIBRATION_IMAGES, len(tr))).astype(int)]
    quantize.quantize(f32_path, int8_path, data.preprocess(ds.images[pick], cfg.size, mean, std))

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
            "test": evaluate.report(ds, te, p_te[m], threshold, cfg.seed),
            "validation": evaluate.report(ds, va, p_va[m], threshold, cfg.seed),
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
        "config": config_record(cfg) | ({"seeds": [m.seed for m in members]} if len(members) > 1 else {}),
        "mean": mean,
        "std": std,
        "threshold": choice,
        "dataset": dataset,
        "training": members[0].training if len(members) == 1 else {
            "members": [{"seed": m.seed, "export_max_logit_error": m.export_error} | m.training for m in members]
        },
        "export_max_logit_error": max(m.export_error for m in members),
        **({"ensemble_max_logit_error": ensemble_error} if ensemble_error is not None else {}),
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
                   {"f32": (F32_FILE, sha256(f32_path)), "int8": (INT8_FILE, sha256(int8_path))},
                   [m.seed for m in members])
    for m in ("int8", "f32"):
        h = evaluate.headline(results[m]["test"])
        print(m, json.dumps(h))


def config_record(cfg: Config) -> dict:
    """The settings as `metrics.json` records them (and `--members` compares them)."""
    return cfg.__dict__ | {"widths": list(cfg.widths)}


def train_member(ds, mean, std, cfg: Config, path: Path, x_check: np.ndarray) -> Member:
    """Trains one network and exports it to `path`, checked against torch."""
    net, history = train(ds, mean, std, cfg)
    export(net, cfg.size, str(path))
    onnx.checker.check_model(onnx.load(str(path)))
    with torch.no_grad():
        ref = net(torch.from_numpy(x_check)).numpy()
    got, _ = evaluate.run(str(path), x_check)
    error = float(np.abs(ref - got).max())
    assert error < 1e-3, f"ONNX export of seed {cfg.seed} differs from torch by {error}"
    return Member(cfg.seed, path, history, error)


def finished_member(folder: Path, cfg: Config, mean, std) -> Member:
    """A member from an earlier one-seed run's --out folder, refused unless it
    was trained with this setting (any seed) on this data set's training
    split, and its f32 file is the one that run wrote."""
    metrics = json.loads((folder / "train" / "metrics.json").read_text())
    theirs = dict(metrics["config"])
    if "seeds" in theirs:
        raise ValueError(f"{folder}: already an ensemble")
    # Keys added to Config after that run were at their defaults then.
    ours = config_record(cfg)
    differ = sorted(k for k in ours if k != "seed" and theirs.get(k, getattr(Config, k)) != ours[k])
    if differ:
        raise ValueError(f"{folder}: trained with other settings: {differ}")
    if metrics["mean"] != mean or metrics["std"] != std:
        raise ValueError(f"{folder}: other channel statistics, so another training split or data set")
    path = folder / F32_FILE
    if sha256(path) != metrics["models"]["f32"]["sha256"]:
        raise ValueError(f"{path}: not the file that run wrote (sha256 differs)")
    return Member(theirs["seed"], path, metrics["training"], metrics["export_max_logit_error"])


def check_mean(merged: Path, members: list[Path], x: np.ndarray) -> float:
    """Largest gap between the merged graph's outputs and the members' mean."""
    got_logits, got_cam = evaluate.run(str(merged), x)
    runs = [evaluate.run(str(p), x) for p in members]
    want_logits = np.mean([r[0] for r in runs], axis=0)
    want_cam = np.mean([r[1] for r in runs], axis=0)
    error = float(max(np.abs(got_logits - want_logits).max(), np.abs(got_cam - want_cam).max()))
    assert error < 1e-4, f"merged graph differs from the members' mean by {error}"
    return error


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
