#!/usr/bin/env bash
# Renders the synthetic data set the committed classifier was trained on:
#   models/train/make_dataset.sh OUT_DIR
# OUT_DIR must be new or empty; keep it outside the repository. Every image
# goes through the kiosk's face stage, so this takes a while (about 20 min on
# two busy cores). The pipeline then reads OUT_DIR/index.csv.
set -euo pipefail
SEED=20261127
PATIENTS=800
OUT=${1:?usage: make_dataset.sh OUT_DIR}
cd "$(dirname "$0")/../.."
cargo run -p host --bin clinic -- synth --patients "$PATIENTS" --seed "$SEED" --out "$OUT"
