#!/usr/bin/env bash
# Docker-free cross builds of the kiosk for Raspberry-Pi-class boards, with
# Debian's cross compilers and qemu-user (cross.toml is the docker route).
#
#   scripts/cross-build.sh aarch64                 dev build of `kiosk` (package `device`)
#   scripts/cross-build.sh aarch64 --release       release build (fat LTO; slow)
#   scripts/cross-build.sh armv7 --profile device  the size-tuned profile (Cargo.toml)
#   scripts/cross-build.sh aarch64 test -p screening   any cargo command for the target;
#                                                  binaries run under qemu-user
#
# TARGET is aarch64 (Pi 3/4/5, Zero 2 W on a 64-bit OS) or armv7 (32-bit OS);
# the full Rust triples are accepted too. Arguments after TARGET that start
# with `-` are added to `cargo build -p device --bin kiosk`; otherwise they
# are the cargo command. CARGO_TARGET_DIR is honoured. The binary lands in
# <target dir>/<triple>/<profile>/kiosk.
#
# Nothing is installed: a missing prerequisite is reported with the command
# that installs it (`.ci/install-deps.sh cross` installs all of them).
set -euo pipefail
cd "$(dirname "$0")/.."

usage() {
  cat >&2 <<'EOF'
usage: scripts/cross-build.sh TARGET [--release | --profile NAME | CARGO-COMMAND ARGS...]
  TARGET: aarch64 (aarch64-unknown-linux-gnu) or armv7 (armv7-unknown-linux-gnueabihf)
EOF
}

if [ $# -lt 1 ]; then
  usage
  exit 2
fi

case "$1" in
  aarch64 | aarch64-unknown-linux-gnu)
    triple=aarch64-unknown-linux-gnu gnu=aarch64-linux-gnu debarch=arm64 qemu=qemu-aarch64 ;;
  armv7 | armv7-unknown-linux-gnueabihf)
    triple=armv7-unknown-linux-gnueabihf gnu=arm-linux-gnueabihf debarch=armhf qemu=qemu-arm ;;
  *)
    echo "cross-build: unknown target '$1'; valid targets: aarch64 (aarch64-unknown-linux-gnu), armv7 (armv7-unknown-linux-gnueabihf)" >&2
    exit 2 ;;
esac
shift

# --- prerequisites: collect every missing one, then say how to get them all ---
missing=()
if command -v rustup >/dev/null 2>&1; then
  if ! rustup target list --installed | grep -qx "$triple"; then
    missing+=("Rust standard library for $triple: rustup target add $triple")
  fi
elif ! command -v rustc >/dev/null 2>&1 || [ ! -d "$(rustc --print sysroot)/lib/rustlib/$triple" ]; then
  missing+=("Rust standard library for $triple (no rustup here: install a toolchain that has it)")
fi
if ! command -v "$gnu-gcc" >/dev/null 2>&1; then
  missing+=("cross linker and C compiler $gnu-gcc: apt-get install gcc-$gnu")
fi
sysroot=/usr/$gnu
if [ ! -f "$sysroot/include/stdio.h" ] || [ ! -f "$sysroot/include/linux/videodev2.h" ]; then
  missing+=("$debarch glibc and kernel headers in $sysroot: apt-get install libc6-dev-$debarch-cross")
fi
if [ "${#missing[@]}" -gt 0 ]; then
  echo "cross-build: cannot build for $triple, missing:" >&2
  printf '  - %s\n' "${missing[@]}" >&2
  echo "(.ci/install-deps.sh cross installs all the Debian packages, as root)" >&2
  exit 1
fi

# --- environment for cargo and cc-rs (rusqlite's bundled SQLite) ---
# The V4L2 bindings are committed per target (third_party/v4l2-sys-mit), so no
# bindgen runs and no sysroot is needed for them.
upper=$(echo "$triple" | tr 'a-z-' 'A-Z_')
lower=${triple//-/_}
export "CARGO_TARGET_${upper}_LINKER=$gnu-gcc"
export "CC_${lower}=$gnu-gcc"
export "AR_${lower}=$gnu-ar"
# `cargo run` / `cargo test` for the target run under qemu-user. Under qemu-arm
# tract cannot read NEON support from /proc/cpuinfo: tell it.
if command -v "$qemu" >/dev/null 2>&1; then
  if [ "$qemu" = qemu-arm ]; then
    export "CARGO_TARGET_${upper}_RUNNER=env TRACT_CPU_ARM32_NEON=true $qemu -cpu cortex-a7 -L $sysroot"
  else
    export "CARGO_TARGET_${upper}_RUNNER=$qemu -cpu cortex-a72 -L $sysroot"
  fi
fi

if [ $# -eq 0 ] || [[ "$1" == -* ]]; then
  set -- build -p device --bin kiosk "$@"
fi
cmd=$1
shift
echo "cross-build: cargo $cmd --target $triple $*" >&2
exec cargo "$cmd" --target "$triple" "$@"
