#!/usr/bin/env bash
# Installs the Debian packages the build and the hardware tests need.
# Idempotent: installs only what is missing, and runs `apt-get update` only then.
#
#   qemu-system-x86    vm/run-vm-test.sh boots Debian's kernel under TCG
#   linux-image-amd64  that kernel, with the vivid (camera) and vfb (framebuffer) modules
#   busybox-static     the VM's userland
#   cpio, kmod         to pack the initramfs and resolve module dependencies
#   v4l-utils          v4l2-ctl, to unplug vivid and damage a frame inside the VM
#   python3            vm/check.py reads the results (standard library only)
#
# cross (scripts/cross-build.sh, scripts/compare-demo.sh; docker-free cross builds):
#   gcc-aarch64-linux-gnu, gcc-arm-linux-gnueabihf    linkers and C compilers (rusqlite's bundled SQLite)
#   libc6-dev-arm64-cross, libc6-dev-armhf-cross      the targets' glibc and kernel headers and libraries
#   qemu-user                                         qemu-aarch64 / qemu-arm run the ARM binaries here
# deb (scripts/package-deb.sh and its checks):
#   systemd            systemd-analyze verify checks the unit
# test (what the README's test command, scripts/test.sh, needs beyond the Rust toolchain):
#   chromium, chromium-driver   headless Chromium and its WebDriver (tests/tests/web_browser.rs)
#
# Building needs nothing beyond the Rust toolchain and gcc: the V4L2 bindings
# are committed (third_party/v4l2-sys-mit), so there is no libclang to install.
#
# Usage: .ci/install-deps.sh [test|vm|cross|deb|all]...   (default: all; several modes add up)
set -euo pipefail

vm=(qemu-system-x86 linux-image-amd64 busybox-static cpio kmod v4l-utils python3)
cross=(gcc-aarch64-linux-gnu gcc-arm-linux-gnueabihf libc6-dev-arm64-cross libc6-dev-armhf-cross qemu-user)
deb=(systemd)
test=(chromium chromium-driver)

want=()
for mode in "${@:-all}"; do
  case "$mode" in
    vm) want+=("${vm[@]}") ;;
    cross) want+=("${cross[@]}") ;;
    deb) want+=("${deb[@]}") ;;
    test) want+=("${test[@]}") ;;
    all) want+=("${test[@]}" "${vm[@]}") ;;
    *) echo "usage: $0 [test|vm|cross|deb|all]..." >&2; exit 2 ;;
  esac
done

missing=()
for pkg in "${want[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$pkg")
  fi
done

if [ "${#missing[@]}" -eq 0 ]; then
  exit 0
fi

# Root installs directly; anyone else through sudo, which asks for a password
# where it must (a developer's laptop) and is refused in a plain container.
as_root=()
if [ "$(id -u)" -ne 0 ]; then
  if ! command -v sudo >/dev/null 2>&1; then
    echo "install-deps: missing ${missing[*]}; run as root: $0 $*" >&2
    exit 1
  fi
  as_root=(sudo --preserve-env=DEBIAN_FRONTEND,INITRD)
fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# The VM boots the kernel with its own initramfs: skip building Debian's (saves a minute).
export INITRD=No
"${as_root[@]}" apt-get update -qq
"${as_root[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
