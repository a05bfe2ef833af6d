#!/usr/bin/env bash
# Installs the Debian packages the build and the hardware tests need.
# Idempotent: installs only what is missing, and runs `apt-get update` only then.
#
#   libclang-dev       the `v4l` crate generates its V4L2 bindings with bindgen at build time
#   qemu-system-x86    vm/run-vm-test.sh boots Debian's kernel under TCG
#   linux-image-amd64  that kernel, with the vivid (camera) and vfb (framebuffer) modules
#   busybox-static     the VM's userland
#   cpio, kmod         to pack the initramfs and resolve module dependencies
#   v4l-utils          v4l2-ctl, to unplug vivid and damage a frame inside the VM
#   python3            vm/check.py reads the results (standard library only)
#   chromium, chromium-driver   headless browser and its WebDriver for tests/tests/web_browser.rs
#
# Usage: .ci/install-deps.sh [build|vm|browser|all]   (default: all)
set -euo pipefail

want=()
case "${1:-all}" in
  build) want=(libclang-dev) ;;
  vm) want=(qemu-system-x86 linux-image-amd64 busybox-static cpio kmod v4l-utils python3) ;;
  browser) want=(chromium chromium-driver) ;;
  all) want=(libclang-dev qemu-system-x86 linux-image-amd64 busybox-static cpio kmod v4l-utils python3 chromium chromium-driver) ;;
  *) echo "usage: $0 [build|vm|browser|all]" >&2; exit 2 ;;
esac

missing=()
for pkg in "${want[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$pkg")
  fi
done

if [ "${#missing[@]}" -eq 0 ]; then
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: missing ${missing[*]}; run as root (or: sudo $0)" >&2
  exit 1
fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# The VM boots the kernel with its own initramfs: skip building Debian's (saves a minute).
export INITRD=No
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
