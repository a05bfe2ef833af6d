"""Adds the training rows of further photo sessions to a data set.

`clinic synth --session N` photographs the same virtual patients (same ids,
same patient-disjoint split, same file names) in another room, light and
camera. Training on two settings per patient teaches the network the
patient rather than the room; validation and test stay single-session, so
their figures are comparable with a one-session data set.

    python3 merge_sessions.py DATA_DIR session1 [session2 ...]

Each SESSION is a folder inside DATA_DIR written by `clinic synth --session`.
DATA_DIR/index.csv keeps session 0's rows first, in their order, then each
session's training rows with `file` prefixed by the session folder; the
original is kept as index-session0.csv, so running it twice is refused.
Standard library only.
"""
from __future__ import annotations

import csv
import sys
from pathlib import Path


def main() -> None:
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    data = Path(sys.argv[1])
    original = data / "index-session0.csv"
    if original.exists():
        sys.exit(f"{original} exists: sessions were merged already")
    with open(data / "index.csv", newline="") as f:
        reader = csv.DictReader(f)
        fields = list(reader.fieldnames or [])
        rows = list(reader)
    merged = list(rows)
    ids = {r["patient_id"] for r in rows if r["split"] == "train"}
    for name in sys.argv[2:]:
        with open(data / name / "index.csv", newline="") as f:
            extra = [r for r in csv.DictReader(f) if r["split"] == "train" and r["file"]]
        if any(r["patient_id"] not in ids for r in extra):
            sys.exit(f"{name}: training patients differ from session 0's (another seed or patient count?)")
        for r in extra:
            r["file"] = f"{name}/{r['file']}"
        merged.extend(extra)
        print(f"{name}: {len(extra)} training images added")
    (data / "index.csv").rename(original)
    with open(data / "index.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=fields)
        w.writeheader()
        w.writerows(merged)
    print(f"{data / 'index.csv'}: {len(merged)} rows ({len(rows)} from session 0)")


if __name__ == "__main__":
    main()
