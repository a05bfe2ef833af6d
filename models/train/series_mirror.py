"""An image series model: each sign expression's change from rest, each side
against the other (models/experiments/series-mirror-change/RULE.md).

Per series (one patient in one session): the aligned 112 x 112 views of rest
and of big smile, pucker and tight eye closure, light-flattened as the
classifier's are, made grey; `d_e = grey(V_e) - grey(rest)`. A shared
convolutional trunk sees each `d_e` and its horizontal mirror; the mean over
columns of |T(d) - T(mirror d)| is a row profile of left/right difference,
and a small head turns the three profiles (and, for M2, the nine landmark
features) into one probability. By construction an unchanged view, a change
that is the same on both sides, and a patient's sides swapped all give the
same answer as no change at all.

    python models/train/series_mirror.py --data DATA --features F0.csv \
        --features F1.csv --record models/experiments/series-mirror-change \
        [--candidates M1 M2]
    python models/train/series_mirror.py --choose \
        --record models/experiments/series-mirror-change --real-faces VIEWS_DIR

DATA is a `clinic synth` folder whose `session1/` holds the second session;
F0/F1 are `clinic series-features` of each (for M2). Training: the training
patients of both sessions; choice and threshold: validation patients,
session 0; the test patients are not read. VIEWS_DIR is what
`cargo run -p tests --example real_face_views` writes.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from data import flatten_light, read_view
from series import summary, youden_threshold

SIGNS = ("big_smile", "pucker", "tight_eye_closure")
VIEWS = ("rest",) + SIGNS
LANDMARKS = 9


def grey(views: np.ndarray) -> np.ndarray:
    """uint8 N x 112 x 112 x 3 -> float32 N x 112 x 112 in [0, 1]."""
    out = []
    for start in range(0, len(views), 512):
        out.append(flatten_light(views[start:start + 512]).mean(axis=3) / np.float32(255.0))
    return np.concatenate(out).astype(np.float32)


class Series:
    """The series of one data-set folder (one session): per series the grey
    views of rest and the sign expressions (rest required), NaN-free."""

    def __init__(self, folder: Path, session: int, splits: set[str]):
        by_patient: dict[str, dict] = {}
        with open(folder / "index.csv", newline="") as f:
            for rec in csv.DictReader(f):
                if rec["split"] not in splits or rec["expression"] not in VIEWS:
                    continue
                p = by_patient.setdefault(rec["patient_id"], {
                    "split": rec["split"], "label": int(rec["patient_label"]),
                    "condition": rec["condition"], "severity": rec.get("severity", ""),
                    "files": {},
                })
                if rec["file"]:
                    p["files"][rec["expression"]] = folder / rec["file"]
        self.ids, self.meta, self.no_rest = [], [], 0
        files = []
        for pid, p in sorted(by_patient.items()):
            if "rest" not in p["files"]:
                self.no_rest += 1
                continue
            self.ids.append((pid, session))
            self.meta.append(p)
            files.append([p["files"].get(v) for v in VIEWS])
        raw = np.zeros((len(files), len(VIEWS), 112, 112, 3), np.uint8)
        self.present = np.zeros((len(files), len(VIEWS)), bool)
        for i, row in enumerate(files):
            for j, path in enumerate(row):
                if path is not None:
                    raw[i, j] = read_view(path)
                    self.present[i, j] = True
        self.grey = grey(raw.reshape(-1, 112, 112, 3)).reshape(len(files), len(VIEWS), 112, 112)
        self.labels = np.array([p["label"] for p in self.meta], np.float32)
        self.features = np.zeros((len(files), LANDMARKS), np.float32)
        self.has_features = np.zeros(len(files), bool)

    def add_features(self, path: Path, names: list[str]):
        index = {key: i for i, key in enumerate(self.ids)}
        with open(path, newline="") as f:
            for rec in csv.DictReader(f):
                i = index.get((rec["patient_id"], int(rec["session"])))
                if i is not None:
                    self.features[i] = [float(rec[n]) for n in names]
                    self.has_features[i] = True


def shifted(a: np.ndarray, dx: int, dy: int) -> np.ndarray:
    """`a` (112 x 112) moved by whole pixels, edges repeated."""
    p = np.pad(a, 1, mode="edge")
    return p[1 - dy:1 - dy + 112, 1 - dx:1 - dx + 112]


def eye_band() -> np.ndarray:
    """Row weights of the eye band (models/experiments/series-mirror-eyes):
    1 on rows 30 to 56 of the standard view, falling linearly to 0 over
    the 4 rows on either side."""
    y = np.arange(112, dtype=np.float32)
    ramp = np.minimum(np.clip((y - 26) / 4, 0, 1), np.clip((60 - y) / 4, 0, 1))
    return ramp.astype(np.float32)[:, None]


EYE_BAND = eye_band()


def differences(grey: np.ndarray, present: np.ndarray, rng: np.random.Generator | None,
                eyes_only: float = 0.0) -> np.ndarray:
    """B x 4 x 112 x 112 grey views -> B x 6 x 112 x 112: the three
    changes from rest, then their mirrors; a missing view gives 0. With
    `rng`, each view is first shifted by a pixel drawn from {-1, 0, 1},
    and with probability `eyes_only` a series keeps its changes only in
    the eye band."""
    out = np.zeros((len(grey), 6, 112, 112), np.float32)
    for i in range(len(grey)):
        views = grey[i]
        band = None
        if rng is not None:
            views = np.stack([shifted(v, *rng.integers(-1, 2, size=2)) for v in views])
            if eyes_only > 0 and rng.random() < eyes_only:
                band = EYE_BAND
        for e in range(3):
            if present[i, e + 1]:
                d = views[e + 1] - views[0]
                if band is not None:
                    d = d * band
                out[i, e] = d
                out[i, e + 3] = d[:, ::-1]
    return out


def block(cin, cout):
    return [nn.Conv2d(cin, cout, 3, stride=2, padding=1), nn.BatchNorm2d(cout), nn.ReLU()]


class MirrorChange(nn.Module):
    """The RULE.md model. `forward(x [B, 6, 112, 112], f [B, 9] or None)`."""

    def __init__(self, landmarks: bool, mean=None, std=None):
        super().__init__()
        self.trunk = nn.Sequential(*block(1, 8), *block(8, 8), *block(8, 16), *block(16, 32))
        self.landmarks = landmarks
        width = 3 * 32 * 7 + (LANDMARKS if landmarks else 0)
        self.head = nn.Sequential(nn.Linear(width, 16), nn.ReLU(), nn.Linear(16, 1))
        if landmarks:
            self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32))
            self.register_buffer("std", torch.tensor(std, dtype=torch.float32))

    def profile(self, x):
        b = x.shape[0]
        # One trunk call for views and mirrors, so that training's batch
        # statistics are the same for both and the symmetry holds there too.
        t = self.trunk(x.reshape(b * 6, 1, 112, 112)).reshape(b, 6, 32, 7, 7)
        a = (t[:, :3] - t[:, 3:]).abs().mean(dim=4)
        return a.reshape(b, 3 * 32 * 7)

    def forward(self, x, f=None):
        z = self.profile(x)
        if self.landmarks:
            z = torch.cat([z, (f - self.mean) / self.std], dim=1)
        return torch.sigmoid(self.head(z))[:, 0]


class Exported(nn.Module):
    """The kiosk's graph: one series, `views [6, 1, 112, 112]` (the three
    changes, then their mirrors) and, for M2, `features [1, 9]`."""

    def __init__(self, model: MirrorChange):
        super().__init__()
        self.model = model

    def forward(self, views, features=None):
        p = self.model(views.reshape(1, 6, 112, 112), features)
        return p.reshape(1, 1)


def train(model, data: Series, epochs: int, seed: int, log, eyes_only: float = 0.0) -> list[float]:
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, weight_decay=1e-4)
    loss_fn = nn.BCELoss()
    losses = []
    n = len(data.labels)
    for epoch in range(epochs):
        model.train()
        order = rng.permutation(n)
        total, t0 = 0.0, time.time()
        for start in range(0, n, 32):
            idx = order[start:start + 32]
            x = torch.from_numpy(differences(data.grey[idx], data.present[idx], rng, eyes_only))
            f = torch.from_numpy(data.features[idx])
            y = torch.from_numpy(data.labels[idx])
            opt.zero_grad()
            loss = loss_fn(model(x, f), y)
            loss.backward()
            opt.step()
            total += float(loss) * len(idx)
        losses.append(total / n)
        log(f"epoch {epoch + 1}/{epochs}: loss {total / n:.4f} ({time.time() - t0:.1f} s)")
    return losses


@torch.no_grad()
def predict(model, grey, present, features) -> np.ndarray:
    model.eval()
    out = []
    for start in range(0, len(grey), 64):
        x = torch.from_numpy(differences(grey[start:start + 64], present[start:start + 64], None))
        f = torch.from_numpy(features[start:start + 64])
        out.append(model(x, f).numpy())
    return np.concatenate(out).astype(np.float64)


def export(model: MirrorChange, path: Path) -> bytes:
    model.eval()
    wrapped = Exported(model).eval()
    views = torch.zeros(6, 1, 112, 112)
    if model.landmarks:
        args, names = (views, torch.zeros(1, LANDMARKS)), ["views", "features"]
    else:
        args, names = (views,), ["views"]
    torch.onnx.export(wrapped, args, str(path), input_names=names, output_names=["probability"],
                      opset_version=13, do_constant_folding=True, dynamo=False)
    return path.read_bytes()


def ort_scores(data: bytes, grey, present, features, landmarks: bool) -> np.ndarray:
    import onnxruntime as ort
    so = ort.SessionOptions(); so.intra_op_num_threads = 1
    sess = ort.InferenceSession(data, so)
    out = []
    for i in range(len(grey)):
        x = differences(grey[i:i + 1], present[i:i + 1], None).reshape(6, 1, 112, 112)
        feed = {"views": x}
        if landmarks:
            feed["features"] = features[i:i + 1]
        out.append(float(sess.run(None, feed)[0][0, 0]))
    return np.array(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path)
    ap.add_argument("--features", type=Path, action="append", default=[],
                    help="clinic series-features CSVs (session 0, session 1), for M2")
    ap.add_argument("--record", type=Path, required=True, help="experiment folder")
    ap.add_argument("--real-faces", type=Path)
    ap.add_argument("--candidates", nargs="+", default=["M1", "M2"])
    ap.add_argument("--choose", action="store_true",
                    help="only choose between the trained candidates and score the real faces")
    ap.add_argument("--epochs", type=int, default=40)
    args = ap.parse_args()
    torch.set_num_threads(1)
    if args.choose:
        return choose(args.record, args.real_faces)
    args.record.mkdir(parents=True, exist_ok=True)
    logfile = open(args.record / f"train-{'-'.join(args.candidates)}.log", "w")

    def log(msg):
        print(msg, flush=True)
        logfile.write(msg + "\n"); logfile.flush()

    train_sets = [Series(args.data, 0, {"train"}), Series(args.data / "session1", 1, {"train"})]
    val = Series(args.data, 0, {"validation"})
    names = None
    if "M2" in args.candidates:
        with open(args.features[0], newline="") as f:
            header = next(csv.reader(f))
        meta = {"patient_id", "session", "split", "condition", "label", "missing"}
        names = [n for n in header if n not in meta and not n.startswith("logit_")]
        assert len(names) == LANDMARKS, names
        for s in train_sets + [val]:
            for path in args.features:
                s.add_features(path, names)
    tr = train_sets[0]
    for extra in train_sets[1:]:
        tr.grey = np.concatenate([tr.grey, extra.grey]); tr.present = np.concatenate([tr.present, extra.present])
        tr.labels = np.concatenate([tr.labels, extra.labels]); tr.features = np.concatenate([tr.features, extra.features])
        tr.has_features = np.concatenate([tr.has_features, extra.has_features])
        tr.ids += extra.ids; tr.meta += extra.meta; tr.no_rest += extra.no_rest
    log(f"training series {len(tr.labels)} ({int(tr.labels.sum())} synkinesis; {tr.no_rest} without rest left out); "
        f"validation series {len(val.labels)} ({int(val.labels.sum())} synkinesis; {val.no_rest} without rest)")
    if names:
        log(f"landmark features found for {tr.has_features.sum()} training and {val.has_features.sum()} validation series")

    for key in args.candidates:
        landmarks = key == "M2"
        # E1: M1 taught that an eye change alone counts (series-mirror-eyes).
        eyes_only = 0.5 if key == "E1" else 0.0
        mean = tr.features[tr.has_features].mean(axis=0) if landmarks else None
        std = tr.features[tr.has_features].std(axis=0) + 1e-6 if landmarks else None
        torch.manual_seed(1)
        model = MirrorChange(landmarks, mean, std)
        losses = train(model, tr, args.epochs, 1, lambda m: log(f"{key} {m}"), eyes_only)
        data = export(model, args.record / f"{key}.onnx")
        torch_val = predict(model, val.grey, val.present, val.features)
        ort_val = ort_scores(data, val.grey, val.present, val.features, landmarks)
        y = val.labels.astype(int)
        threshold, _, _ = youden_threshold(ort_val, y)
        # No view changed from rest (and, for M2, no landmark moved).
        p0 = ort_scores(data, np.zeros((1, 4, 112, 112), np.float32), np.ones((1, 4), bool),
                        np.zeros((1, LANDMARKS), np.float32), landmarks)[0]
        result = {
            "candidate": key, "landmark_features": names if landmarks else [],
            "parameters": sum(p.numel() for p in model.parameters()),
            "sha256": hashlib.sha256(data).hexdigest(),
            "train_series": len(tr.labels), "validation_series": len(val.labels),
            "training_loss": [round(v, 5) for v in losses],
            "validation": summary(ort_val, y, threshold), "threshold": threshold, "p0": float(p0),
            "onnx_vs_torch_max_gap": float(np.abs(ort_val - torch_val).max()),
            "validation_scores": [round(v, 6) for v in ort_val.tolist()],
            "note": "virtual patients only; the test patients are not read",
        }
        (args.record / f"metrics-{key}.json").write_text(json.dumps(result, indent=1) + "\n")
        log(f"{key}: {result['parameters']} parameters, validation {result['validation']}, "
            f"threshold {threshold:.4f}, p0 {p0:.4f}")


def choose(record: Path, views: Path | None):
    """The rule's choice between the trained candidates, then the real faces
    scored by the chosen one (read after the choice)."""
    results = {k: json.loads((record / f"metrics-{k}.json").read_text())
               for k in ("M1", "M2", "E1") if (record / f"metrics-{k}.json").exists()}
    aucs = {k: r["validation"]["auc"] for k, r in results.items()}
    best = max(aucs.values())
    chosen = "M1" if "M1" in aucs and aucs["M1"] >= best - 0.005 else max(aucs, key=aucs.get)
    c = results[chosen]
    out = {"validation_auc": aucs, "chosen": chosen, "threshold": c["threshold"], "p0": c["p0"],
           "validation": c["validation"]}
    if views is not None:
        rows = list(csv.DictReader(open(views / "index.csv", newline="")))
        raw = np.stack([np.stack([read_view(views / r["rest"])] + [read_view(views / r["shown"])] * 3)
                        for r in rows])
        g = grey(raw.reshape(-1, 112, 112, 3)).reshape(len(rows), 4, 112, 112)
        names = c["landmark_features"]
        feats = np.array([[float(r[n]) for n in names] if names else [0.0] * LANDMARKS for r in rows],
                         np.float32)
        p = ort_scores((record / f"{chosen}.onnx").read_bytes(), g, np.ones((len(rows), 4), bool),
                       feats, bool(names))
        tally = {"as_is": [0, 0], "one_eye": [0, 0], "both_eyes": [0, 0]}
        per_photo = []
        for r, s in zip(rows, p):
            referred = bool(s >= c["threshold"])
            tally[r["kind"]][0] += int(referred)
            tally[r["kind"]][1] += 1
            per_photo.append({"photo": r["photo"], "alteration": r["alteration"],
                              "p": round(float(s), 6), "referred": referred})
        out["real_faces"] = {
            "as_is_not_referred": f"{tally['as_is'][1] - tally['as_is'][0]}/{tally['as_is'][1]}",
            "one_eye_referred": f"{tally['one_eye'][0]}/{tally['one_eye'][1]}",
            "both_eyes_not_referred": f"{tally['both_eyes'][1] - tally['both_eyes'][0]}/{tally['both_eyes'][1]}",
            "per_photo": per_photo,
        }
    (record / "choice.json").write_text(json.dumps(out, indent=1) + "\n")
    print(json.dumps({k: v for k, v in out.items() if k != "real_faces"}, indent=1))
    if "real_faces" in out:
        print(json.dumps({k: v for k, v in out["real_faces"].items() if k != "per_photo"}))


if __name__ == "__main__":
    main()
