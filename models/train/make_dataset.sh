#!/usr/bin/env bash
# Renders the data set the committed classifier was trained on (keep OUT_DIR
# outside the repository): 800 virtual patients, pinned seed, each
# photographed in two settings. Session 0 gives every split; session 1 adds
# a second setting for the training patients only (merge_sessions.py), so
# validation and test stay one photo series per patient.
#   models/train/make_dataset.sh OUT_DIR     (about 10 minutes on 2 cores)
# PATIENTS=1600 makes a larger set (about 18 minutes; the session 7 runs of the
# model card). The split is redrawn for every patient count, so two counts'
# splits share patients across train and test.
set -euo pipefail
SEED=20261127
PATIENTS=${PATIENTS:-800}
OUT=${1:?usage: make_dataset.sh OUT_DIR}
OUT=$(realpath -m "$OUT")
cd "$(dirname "$0")/../.."
cargo run -p host --bin clinic -- synth --patients "$PATIENTS" --seed "$SEED" --out "$OUT"
cargo run -p host --bin clinic -- synth --patients "$PATIENTS" --seed "$SEED" --session 1 --out "$OUT/session1"
python3 models/train/merge_sessions.py "$OUT" session1
