#!/usr/bin/env bash
# Fetches the two real photographs used by the face-detector tests from the
# pinned wheels that ship them (PyPI only), so the fixtures can be re-made and
# checked byte for byte (sha256 below, also in LICENCES.md). Run from anywhere;
# writes next to this script.
set -euo pipefail

SKIMAGE_VERSION=0.25.2
MATPLOTLIB_VERSION=3.10.8
# The images are identical in every platform's wheel; pin one so the download
# does not depend on the local Python.
PIP_PLATFORM=(--only-binary=:all: --python-version 3.11 --implementation cp
              --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64)

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

python3 -m pip download --quiet --no-deps "${PIP_PLATFORM[@]}" -d "$tmp" \
    "scikit-image==${SKIMAGE_VERSION}" "matplotlib==${MATPLOTLIB_VERSION}"

unzip_one() { # wheel-glob, member, destination
    local wheel
    wheel="$(ls "$tmp"/$1)"
    python3 - "$wheel" "$2" "$3" <<'PY'
import sys, zipfile
wheel, member, dest = sys.argv[1:]
with zipfile.ZipFile(wheel) as z, open(dest, "wb") as out:
    out.write(z.read(member))
PY
}

unzip_one 'scikit_image-*.whl' skimage/data/astronaut.png "$here/astronaut.png"
unzip_one 'matplotlib-*.whl' matplotlib/mpl-data/sample_data/grace_hopper.jpg "$here/grace_hopper.jpg"

cd "$here"
sha256sum -c <<'SUMS'
88431cd9653ccd539741b555fb0a46b61558b301d4110412b5bc28b5e3ea6cb5  astronaut.png
a8ca6d734765703b09728ab47fe59f473d93ae3967fc24c7c0288c3c7adb7130  grace_hopper.jpg
SUMS
