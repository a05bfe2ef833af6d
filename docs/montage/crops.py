"""Montage of aligned standard views from a `clinic synth` data set.

Usage: python docs/montage/crops.py DATASET_DIR docs/montage/crops.png
Rows are patients (the first eight in index.csv), columns the expressions.
"""
import csv
import sys

from PIL import Image

root, out = sys.argv[1], sys.argv[2]
rows = list(csv.DictReader(open(f"{root}/index.csv")))
patients = list(dict.fromkeys(r["patient_id"] for r in rows))[:8]
expressions = list(dict.fromkeys(r["expression"] for r in rows))
size = 112
sheet = Image.new("RGB", (size * len(expressions), size * len(patients)), "black")
for r in rows:
    if r["patient_id"] in patients and r["file"]:
        img = Image.open(f"{root}/{r['file']}").convert("RGB")
        sheet.paste(img, (expressions.index(r["expression"]) * size, patients.index(r["patient_id"]) * size))
sheet.save(out)
