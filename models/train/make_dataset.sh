#!/usr/bin/env bash
# Renders the synthetic data set the committed classifier was trained on.
#   models/train/make_dataset.sh [OUT_DIR]
# Needs only the Rust workspace; takes a while (every image goes through the
# kiosk's face stage). The pipeline then reads OUT_DIR/index.csv.
set -euo pipefail
SEED=20261127
PATIENTS=600
OUT=${1:-data/synkinesis-seed$SEED}
cd "$(dirname "$0")/../.."
cargo run -p host --bin clinic -- synth --patients "$PATIENTS" --seed "$SEED" --out "$OUT"
