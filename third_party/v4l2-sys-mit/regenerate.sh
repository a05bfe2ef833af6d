#!/usr/bin/env bash
# Makes src/bindings/*.rs again with the upstream crate's own build script
# (v4l2-sys-mit 0.3.0 from crates.io: bindgen 0.65.1 over
# `#include <linux/videodev2.h>`), once per target, against Debian's kernel
# headers for that target. Only a maintainer moving to newer headers needs
# this; building the kiosk never does.
#
#   third_party/v4l2-sys-mit/regenerate.sh          write the three files
#   third_party/v4l2-sys-mit/regenerate.sh --check  only say whether they differ
#
# Needs (as root: apt-get install): libclang-dev, linux-libc-dev,
# libc6-dev-arm64-cross, libc6-dev-armhf-cross, and the Rust targets
# aarch64-unknown-linux-gnu and armv7-unknown-linux-gnueabihf.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
mode=${1:-write}

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
# A crate outside the workspace, so that the workspace's [patch] (which points
# at this folder) does not apply and the registry's build script runs.
mkdir -p "$scratch/src"
cat >"$scratch/Cargo.toml" <<'TOML'
[package]
name = "regenerate-v4l2-bindings"
version = "0.0.0"
edition = "2021"
publish = false
[dependencies]
v4l2-sys-mit = "=0.3.0"
[workspace]
TOML
: >"$scratch/src/lib.rs"

# bindgen must read each target's headers, not this machine's.
export BINDGEN_EXTRA_CLANG_ARGS_aarch64_unknown_linux_gnu="--sysroot=/usr/aarch64-linux-gnu -I/usr/aarch64-linux-gnu/include"
export BINDGEN_EXTRA_CLANG_ARGS_armv7_unknown_linux_gnueabihf="--sysroot=/usr/arm-linux-gnueabihf -I/usr/arm-linux-gnueabihf/include"

differ=0
for pair in x86_64-unknown-linux-gnu:x86_64 aarch64-unknown-linux-gnu:aarch64 armv7-unknown-linux-gnueabihf:arm; do
  triple=${pair%%:*} file=${pair##*:}
  (cd "$scratch" && cargo build -q --target "$triple" --target-dir "$scratch/target")
  made=$(find "$scratch/target/$triple" -name v4l2_bindings.rs | head -n 1)
  [ -n "$made" ] || { echo "regenerate: bindgen wrote nothing for $triple" >&2; exit 1; }
  if [ "$mode" = --check ]; then
    if cmp -s "$made" "$here/src/bindings/$file.rs"; then
      echo "same: src/bindings/$file.rs ($triple)"
    else
      echo "DIFFERENT: src/bindings/$file.rs ($triple)"
      differ=1
    fi
  else
    cp "$made" "$here/src/bindings/$file.rs"
    echo "wrote src/bindings/$file.rs ($triple, $(wc -l <"$made") lines)"
  fi
done
exit $differ
