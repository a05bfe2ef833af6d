"""Fits the series model on `clinic series-features` output and writes it.

The features are computed by the kiosk's own code
(`screening::series_model::features`), so this script only fits weights:
it never measures a face. Candidates and the choice follow
the experiment's `RULE.md`: fitted on the training series (both sessions)
or on the `--fit` files, chosen and thresholded on the validation series
(session 0) of `--features`; the test series are not read
(`clinic evaluate-series` reports them).

    # models/experiments/series-landmarks: the nine landmark features
    python models/train/series.py --features features.csv --out models/ \
        [--record models/experiments/series-landmarks]
    # models/experiments/series-fusion: landmarks and classifier logits,
    # fitted on patients the classifier never saw
    python models/train/series.py --family fusion --features features.csv \
        --fit fit.csv --fit fit-session1.csv --out models/ \
        [--record models/experiments/series-fusion]

Writes `OUT/series.onnx`, its `[models.series]` block in
`OUT/manifest.toml` (between the markers below) and `series-metrics.json`
into the record folder. Deterministic: lbfgs from a fixed seed, one thread.
"""

import argparse
import csv
import hashlib
import json
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.neural_network import MLPClassifier

BEGIN = "# >>> series model: written by models/train/series.py, do not edit by hand"
END = "# <<< series model"
META = ["patient_id", "session", "split", "condition", "label", "missing"]
UNSIGNED = ["narrow_big_smile", "narrow_pucker"]
LOGITS = ["logit_big_smile", "logit_pucker", "logit_tight_eye_closure"]


def read(path):
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    names = [k for k in rows[0] if k not in META]
    return rows, names


def candidates_of(family, names):
    """The RULE.md candidates of `family`, simplest first."""
    if family == "landmarks":
        marks = [n for n in names if n not in LOGITS]
        return marks, {
            "C": Standardised("logistic", marks, UNSIGNED),
            "A": Standardised("logistic", marks, marks),
            "B": Standardised("mlp", marks, marks),
        }
    missing = [n for n in LOGITS if n not in names]
    if missing:
        raise SystemExit(f"{missing} not in the features: run clinic series-features --classifier int8")
    return names, {
        "E": Standardised("logistic", names, LOGITS),
        "D": Standardised("logistic", names, names),
        "F": Standardised("mlp", names, names),
    }


def matrix(rows, names):
    x = np.array([[float(r[n]) for n in names] for r in rows], dtype=np.float64)
    y = np.array([int(r["label"]) for r in rows])
    return x, y


class Standardised:
    """A fitted classifier behind per-feature standardisation."""

    def __init__(self, kind, names, used):
        self.kind, self.names, self.used = kind, names, used

    def cols(self, x):
        return x[:, [self.names.index(n) for n in self.used]]

    def fit(self, x, y):
        x = self.cols(x)
        self.mean = x.mean(axis=0)
        self.std = x.std(axis=0) + 1e-6
        z = (x - self.mean) / self.std
        if self.kind == "mlp":
            self.clf = MLPClassifier(
                hidden_layer_sizes=(16,), alpha=1e-3, solver="lbfgs",
                max_iter=2000, random_state=1,
            )
        else:
            self.clf = LogisticRegression(C=1.0, max_iter=2000)
        self.clf.fit(z, y)
        return self

    def predict(self, x):
        return self.clf.predict_proba((self.cols(x) - self.mean) / self.std)[:, 1]

    def layers(self):
        """(weights [in, out], bias [out]) per layer on the full feature
        vector, standardisation folded into the first layer."""
        full = len(self.names)
        if self.kind == "mlp":
            ws, bs = self.clf.coefs_, self.clf.intercepts_
        else:
            ws, bs = [self.clf.coef_.T], [self.clf.intercept_]
        w0 = ws[0] / self.std[:, None]
        b0 = bs[0] - (self.mean / self.std) @ ws[0]
        first = np.zeros((full, w0.shape[1]))
        for i, n in enumerate(self.used):
            first[self.names.index(n)] = w0[i]
        return [(first, b0)] + list(zip(ws[1:], bs[1:]))


def onnx_graph(model):
    nodes, inits, prev = [], [], "features"
    layers = model.layers()
    for i, (w, b) in enumerate(layers):
        inits += [
            numpy_helper.from_array(w.astype(np.float32), f"w{i}"),
            numpy_helper.from_array(b.astype(np.float32).reshape(1, -1), f"b{i}"),
        ]
        nodes += [
            helper.make_node("MatMul", [prev, f"w{i}"], [f"m{i}"]),
            helper.make_node("Add", [f"m{i}", f"b{i}"], [f"a{i}"]),
        ]
        prev = f"a{i}"
        if i + 1 < len(layers):
            nodes.append(helper.make_node("Relu", [prev], [f"r{i}"]))
            prev = f"r{i}"
    nodes.append(helper.make_node("Sigmoid", [prev], ["probability"]))
    graph = helper.make_graph(
        nodes, "series_model",
        [helper.make_tensor_value_info("features", TensorProto.FLOAT, [1, len(model.names)])],
        [helper.make_tensor_value_info("probability", TensorProto.FLOAT, [1, 1])],
        inits,
    )
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)],
                          producer_name="models/train/series.py")
    m.ir_version = 8
    onnx.checker.check_model(m)
    return m


def youden_threshold(scores, y):
    """The threshold maximising recall + specificity; ties: the higher.
    It is set midway to the next lower score, so that no validation series
    sits on the line and float rounding in another runtime cannot move it."""
    best = None
    levels = sorted(set(scores.tolist()), reverse=True)
    for i, t in enumerate(levels):
        if i + 1 < len(levels):
            t = (t + levels[i + 1]) / 2
        refer = scores >= t
        rec = (refer & (y == 1)).sum() / max((y == 1).sum(), 1)
        spec = (~refer & (y == 0)).sum() / max((y == 0).sum(), 1)
        if best is None or rec + spec > best[0] + 1e-12:
            best = (rec + spec, t, rec, spec)
    return best[1], best[2], best[3]


def summary(scores, y, t):
    refer = scores >= t
    tp = int((refer & (y == 1)).sum()); fp = int((refer & (y == 0)).sum())
    fn = int((~refer & (y == 1)).sum()); tn = int((~refer & (y == 0)).sum())
    return {
        "n": len(y), "auc": float(roc_auc_score(y, scores)),
        "accuracy": (tp + tn) / len(y), "recall": tp / max(tp + fn, 1),
        "specificity": tn / max(tn + fp, 1), "confusion": [[tn, fp], [fn, tp]],
    }


def manifest_block(file, sha, names, threshold, chosen, val, provenance):
    feats = ", ".join(f'"{n}"' for n in names)
    return "\n".join([
        BEGIN,
        "",
        "[models.series]",
        f'file = "{file}"',
        f'sha256 = "{sha}"',
        'licence = "MIT OR Apache-2.0 (this project; fitted by models/train/series.py on virtual patients only)"',
        "# One probability of synkinesis per series from the evidence of rest, big smile,",
        "# pucker and tight eye closure (screening::series_model::features).",
        f"# Candidate {chosen}; threshold maximises recall + specificity on the",
        f"# validation series (recall {val['recall']:.3f}, specificity {val['specificity']:.3f}, AUC {val['auc']:.3f}).",
        f"input = {{ name = \"features\", shape = [1, {len(names)}] }}",
        'outputs = [{ name = "probability", shape = [1, 1], meaning = "probability of synkinesis for the series" }]',
        f"features = [{feats}]",
        f"threshold = {threshold:.6f}",
        provenance,
        "",
        END,
    ])


def write_manifest(path, block):
    text = path.read_text()
    if BEGIN in text:
        head, rest = text.split(BEGIN, 1)
        _, tail = rest.split(END, 1)
        text = head + block + tail
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    path.write_text(text)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--features", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True, help="models folder")
    ap.add_argument("--record", type=Path, help="experiment folder for series-metrics.json")
    ap.add_argument("--family", choices=["landmarks", "fusion"], default="landmarks")
    ap.add_argument("--fit", type=Path, action="append",
                    help="fit on every series of these files instead of the training split")
    args = ap.parse_args()

    rows, names = read(args.features)
    names, candidates = candidates_of(args.family, names)
    split = lambda s, session0: [r for r in rows if r["split"] == s and (not session0 or r["session"] == "0")]
    fit_rows = [r for f in args.fit for r in read(f)[0]] if args.fit else split("train", False)
    xtr, ytr = matrix(fit_rows, names)
    xva, yva = matrix(split("validation", True), names)
    record = {"family": args.family, "features": names, "train_series": len(ytr),
              "fitted_on": [str(f) for f in args.fit] if args.fit else "training split",
              "validation_series": len(yva), "candidates": {}}
    for key, model in candidates.items():
        model.fit(xtr, ytr)
        auc = float(roc_auc_score(yva, model.predict(xva)))
        record["candidates"][key] = {"kind": model.kind, "features": model.used,
                                     "validation_auc": auc}
        print(f"candidate {key} ({model.kind}, {len(model.used)} features): validation AUC {auc:.4f}")
    # Highest validation AUC; within 0.005, the simpler (insertion order).
    best_auc = max(c["validation_auc"] for c in record["candidates"].values())
    chosen = next(k for k in candidates if record["candidates"][k]["validation_auc"] >= best_auc - 0.005)
    model = candidates[chosen]

    graph = onnx_graph(model)
    file = "series.onnx"
    data = graph.SerializeToString()
    (args.out / file).write_bytes(data)
    sha = hashlib.sha256(data).hexdigest()

    import onnxruntime as ort
    so = ort.SessionOptions(); so.intra_op_num_threads = 1
    sess = ort.InferenceSession(data, so)
    ort_va = np.array([sess.run(None, {"features": x[None].astype(np.float32)})[0][0, 0] for x in xva])
    gap = float(np.abs(ort_va - model.predict(xva)).max())
    # Chosen on what the shipped graph outputs, in float32 as the kiosk runs it.
    threshold, _, _ = youden_threshold(ort_va.astype(np.float64), yva)

    val = summary(ort_va, yva, threshold)
    record.update({
        "chosen": chosen, "threshold": threshold, "sha256": sha,
        "validation": val,
        "onnx_vs_sklearn_max_gap": gap,
        "note": "virtual patients only; the test split is not read here (clinic evaluate-series reports it)",
    })
    experiment = args.record.as_posix() if args.record else "none"
    provenance = (f'dataset = {{ features = "clinic series-features", train_series = {len(ytr)}, '
                  f'validation_series = {len(yva)}, experiment = "{experiment}" }}')
    write_manifest(args.out / "manifest.toml",
                   manifest_block(file, sha, names, threshold, chosen, val, provenance))
    print(json.dumps({k: record[k] for k in ["chosen", "threshold", "validation"]}, indent=1))
    if args.record:
        args.record.mkdir(parents=True, exist_ok=True)
        (args.record / "series-metrics.json").write_text(json.dumps(record, indent=1) + "\n")


if __name__ == "__main__":
    main()
