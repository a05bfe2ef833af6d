"""Metrics, in onnxruntime, on the exported files (what the kiosk ships).

Per image: accuracy, precision, recall, F1 with Wilson 95 % intervals, ROC
AUC with a patient-cluster bootstrap interval. Per series (one patient's
photos): the series is positive when the highest probability over big smile,
pucker and tight eye closure (screening::decision::SIGN_EXPRESSIONS) reaches
the threshold, judged against the patient label. Broken down by condition and
severity, expression and Fitzpatrick group.
"""

from __future__ import annotations

import math
import time
from collections import defaultdict

import numpy as np
import onnxruntime as ort
from sklearn.metrics import roc_auc_score

from data import DataSet

SIGN_EXPRESSIONS = ("big_smile", "pucker", "tight_eye_closure")
Z = 1.959964


def session(path: str, threads: int = 1) -> ort.InferenceSession:
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    return ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])


def run(path: str, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Logits [N, 2] and CAMs [N, h, w] for inputs [N, 3, S, S], one at a time."""
    s = session(path)
    logits, cams = [], []
    for i in range(len(x)):
        lo, cam = s.run(["logits", "cam"], {"image": x[i : i + 1]})
        logits.append(lo[0])
        cams.append(cam[0])
    return np.stack(logits), np.stack(cams)


def softmax1(logits: np.ndarray) -> np.ndarray:
    """Probability of class 1, computed as the Rust runtime does."""
    z = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e[:, 1] / e.sum(axis=1)


def timing(path: str, size: int, repeats: int = 300) -> dict:
    """Median and p90 wall time of one inference, single thread."""
    s = session(path)
    x = np.zeros((1, 3, size, size), np.float32)
    for _ in range(30):
        s.run(None, {"image": x})
    t = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        s.run(None, {"image": x})
        t.append(time.perf_counter() - t0)
    t = np.array(t) * 1e3
    return {"median_ms": round(float(np.median(t)), 4), "p90_ms": round(float(np.percentile(t, 90)), 4)}


def wilson(k: int, n: int) -> list[float]:
    if n == 0:
        return [float("nan"), float("nan")]
    p = k / n
    d = 1 + Z * Z / n
    c = (p + Z * Z / (2 * n)) / d
    h = Z * math.sqrt(p * (1 - p) / n + Z * Z / (4 * n * n)) / d
    return [round(max(0.0, c - h), 4), round(min(1.0, c + h), 4)]


def binary(y: np.ndarray, pred: np.ndarray) -> dict:
    """Confusion counts and proportions with Wilson intervals."""
    tp = int(((pred == 1) & (y == 1)).sum())
    tn = int(((pred == 0) & (y == 0)).sum())
    fp = int(((pred == 1) & (y == 0)).sum())
    fn = int(((pred == 0) & (y == 1)).sum())
    n = tp + tn + fp + fn

    def prop(k, m):
        return {"value": round(k / m, 4) if m else None, "ci95": wilson(k, m), "n": m}

    prec, rec = (tp / (tp + fp) if tp + fp else 0.0), (tp / (tp + fn) if tp + fn else 0.0)
    return {
        "n": n,
        "confusion": {"tp": tp, "fp": fp, "tn": tn, "fn": fn},
        "accuracy": prop(tp + tn, n),
        "precision": prop(tp, tp + fp),
        "recall": prop(tp, tp + fn),
        "specificity": prop(tn, tn + fp),
        "f1": round(2 * prec * rec / (prec + rec), 4) if prec + rec else 0.0,
    }


def auc_ci(y: np.ndarray, p: np.ndarray, groups: list[str], seed: int, reps: int = 1000) -> dict:
    """ROC AUC with a bootstrap interval that resamples patients (a patient's
    photos are not independent)."""
    if y.min() == y.max():
        return {"value": None, "ci95": [None, None]}
    auc = float(roc_auc_score(y, p))
    by = defaultdict(list)
    for i, g in enumerate(groups):
        by[g].append(i)
    keys = sorted(by)
    rng = np.random.default_rng(seed)
    stats = []
    for _ in range(reps):
        pick = rng.integers(0, len(keys), len(keys))
        idx = np.concatenate([by[keys[j]] for j in pick])
        if y[idx].min() != y[idx].max():
            stats.append(roc_auc_score(y[idx], p[idx]))
    lo, hi = np.percentile(stats, [2.5, 97.5])
    return {"value": round(auc, 4), "ci95": [round(float(lo), 4), round(float(hi), 4)]}


def choose_threshold(y: np.ndarray, p: np.ndarray, recall: float = 0.97) -> dict:
    """The largest threshold whose recall on (`y`, `p`) is at least `recall`
    (per image or per series: whatever the scores are); Youden's J when that
    would flag (almost) everything."""
    pos = np.sort(p[y == 1])
    k = int(math.floor((1 - recall) * len(pos)))  # positives we may miss
    t = float(pos[k]) if len(pos) else 0.5
    spec = float((p[y == 0] < t).mean()) if (y == 0).any() else 1.0
    rule = f"largest threshold with validation recall >= {recall}"
    if spec < 0.5:
        best, t = -1.0, 0.5
        for c in np.unique(p):
            j = (p[y == 1] >= c).mean() + (p[y == 0] < c).mean() - 1
            if j > best:
                best, t = j, float(c)
        rule = "Youden's J (the recall rule flagged over half the negatives)"
    # Round down so the written threshold keeps every positive it counted.
    t = math.floor(t * 1e4) / 1e4
    return {"threshold": t, "rule": rule}


def series_scores(ds: DataSet, idx: np.ndarray, p: np.ndarray) -> tuple[list[str], np.ndarray, np.ndarray, dict]:
    """Per patient: the highest probability over the sign expressions present,
    the patient label, and the patient's condition/severity."""
    best: dict[str, float] = {}
    info: dict[str, tuple[int, str, str]] = {}
    for j, i in enumerate(idx):
        r = ds.rows[i]
        info[r.patient_id] = (r.patient_label, r.condition, r.severity)
        if r.expression in SIGN_EXPRESSIONS:
            best[r.patient_id] = max(best.get(r.patient_id, 0.0), float(p[j]))
    ids = sorted(best)
    return ids, np.array([info[k][0] for k in ids]), np.array([best[k] for k in ids]), info


def report(ds: DataSet, idx: np.ndarray, p: np.ndarray, threshold: float, seed: int) -> dict:
    """Every figure for one model on one split."""
    rows = [ds.rows[i] for i in idx]
    y = np.array([r.label for r in rows])
    pred = (p >= threshold).astype(int)
    groups = [r.patient_id for r in rows]
    out = {"per_image": binary(y, pred) | {"auc": auc_ci(y, p, groups, seed)}}

    ids, ys, ps, info = series_scores(ds, idx, p)
    out["per_series"] = binary(ys, (ps >= threshold).astype(int)) | {"auc": auc_ci(ys, ps, ids, seed)}
    # Series by condition and severity: the share referred.
    by_cond = defaultdict(list)
    for k, s in zip(ids, ps):
        lab, cond, sev = info[k]
        by_cond[cond + (f"/{sev}" if sev else "")].append(s >= threshold)
    out["series_referred_by_condition"] = {
        k: {"referred": int(sum(v)), "n": len(v), "rate": round(sum(v) / len(v), 4), "ci95": wilson(int(sum(v)), len(v))}
        for k, v in sorted(by_cond.items())
    }

    def grouped(key):
        g = defaultdict(list)
        for j, r in enumerate(rows):
            g[key(r)].append(j)
        res = {}
        for k, js in sorted(g.items()):
            js = np.array(js)
            res[k] = binary(y[js], pred[js])
            res[k]["positive_rate"] = round(float(pred[js].mean()), 4)
        return res

    out["per_expression"] = grouped(lambda r: r.expression)
    out["per_condition"] = grouped(lambda r: r.condition + (f"/{r.severity}" if r.severity else ""))
    out["per_pattern_expression"] = grouped(lambda r: f"{r.pattern or r.condition}/{r.expression}")
    out["per_fitzpatrick"] = grouped(lambda r: f"type {r.fitzpatrick}")
    return out


def headline(rep: dict) -> dict:
    """The few figures the manifest carries."""
    def pick(b):
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

    return {"per_image": pick(rep["per_image"]), "per_series": pick(rep["per_series"])}
