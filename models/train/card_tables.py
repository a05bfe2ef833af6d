"""Prints the model card's result tables from a run's metrics.json, so the
figures in MODEL_CARD.md are copied by a program, not by hand.

    python models/train/card_tables.py models/train/metrics.json > /tmp/tables.md
"""

from __future__ import annotations

import json
import sys


def fmt(x) -> str:
    return "n/a" if x is None else f"{x:.3f}"


def ci(m: dict) -> str:
    if m.get("value") is None:
        return "n/a"
    lo, hi = m["ci95"]
    return f"{m['value']:.3f} [{lo:.3f}, {hi:.3f}]"


def headline(metrics: dict) -> list[str]:
    out = [
        "| model | level | n | accuracy | precision | recall | specificity | F1 | ROC AUC |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name in ("int8", "f32"):
        test = metrics["models"][name]["test"]
        for level in ("per_image", "per_series"):
            r = test[level]
            out.append(
                f"| {name} | {level.replace('_', ' ')} | {r['n']} | {ci(r['accuracy'])} | "
                f"{ci(r['precision'])} | {ci(r['recall'])} | {ci(r['specificity'])} | "
                f"{fmt(r['f1'])} | {ci(r['auc'])} |"
            )
    return out


def referred(test: dict) -> list[str]:
    out = ["| condition | referred / patients | rate |", "|---|---|---|"]
    for cond, r in test["series_referred_by_condition"].items():
        lo, hi = r["ci95"]
        out.append(f"| {cond} | {r['referred']} / {r['n']} | {r['rate']:.3f} [{lo:.3f}, {hi:.3f}] |")
    return out


def by_group(groups: dict, first: str) -> list[str]:
    out = [f"| {first} | images | positive | recall | specificity |", "|---|---|---|---|---|"]
    for name, r in groups.items():
        c = r["confusion"]
        out.append(
            f"| {name} | {r['n']} | {c['tp'] + c['fn']} | {ci(r['recall'])} | {ci(r['specificity'])} |"
        )
    return out


def by_skin(groups: dict) -> list[str]:
    out = ["| type | images | accuracy | recall | specificity |", "|---|---|---|---|---|"]
    for name, r in groups.items():
        out.append(f"| {name} | {r['n']} | {ci(r['accuracy'])} | {ci(r['recall'])} | {ci(r['specificity'])} |")
    return out


def epochs(train: dict) -> str:
    if "members" not in train:
        return f"Best epoch {train['best_epoch']} of {train['epochs_run']} run."
    each = "; ".join(f"seed {m['seed']}: {m['best_epoch']} of {m['epochs_run']}" for m in train["members"])
    return f"Best epochs ({len(train['members'])} members, their mean shipped): {each}."


def main() -> None:
    metrics = json.load(open(sys.argv[1] if len(sys.argv) > 1 else "models/train/metrics.json"))
    int8 = metrics["models"]["int8"]
    test = int8["test"]
    th = metrics["threshold"]
    train = metrics["training"]
    blocks = [
        [
            f"Threshold **{th['threshold']}** ({th['rule']}; chosen on the int8 model's validation "
            "outputs and used for both files). Intervals are 95 %: Wilson for proportions, a "
            "1000-fold bootstrap over test patients for AUC. "
            epochs(train)
        ],
        headline(metrics),
        [
            f"int8 and f32 decisions agree on **{100 * metrics['int8_f32_test_agreement']:.1f} %** of the "
            f"{test['per_image']['n']} test images (largest probability gap "
            f"{metrics['int8_f32_test_max_probability_gap']})."
        ],
        ["Per series (int8): share of test patients referred, by condition:"],
        referred(test),
        ["Per image (int8), by expression:"],
        by_group(test["per_expression"], "expression"),
        ["Per image (int8), by condition and severity:"],
        by_group(test["per_condition"], "condition"),
        ["Per image (int8), by Fitzpatrick skin type:"],
        by_skin(test["per_fitzpatrick"]),
        [
            f"onnxruntime {metrics['versions']['onnxruntime']}, one thread, this machine: int8 median "
            f"{int8['onnxruntime_1_thread']['median_ms']} ms (p90 {int8['onnxruntime_1_thread']['p90_ms']}), "
            f"f32 median {metrics['models']['f32']['onnxruntime_1_thread']['median_ms']} ms "
            f"(p90 {metrics['models']['f32']['onnxruntime_1_thread']['p90_ms']}). Files: int8 "
            f"{int8['file_bytes']} bytes, f32 {metrics['models']['f32']['file_bytes']} bytes."
        ],
    ]
    print("\n\n".join("\n".join(b) for b in blocks))


if __name__ == "__main__":
    main()
