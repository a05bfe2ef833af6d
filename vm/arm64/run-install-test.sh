#!/usr/bin/env bash
# A real arm64 install of the kiosk package (issue 25, item 3).
#
# Boots Debian's arm64 kernel (linux-image-arm64) under qemu-system-aarch64
# (TCG, -M virt, 2 x Cortex-A72) on a Debian root built from Debian's arm64
# packages by debootstrap, with the vivid camera and a framebuffer. Inside,
# systemd runs vm/arm64/guest-test.sh:
#   first boot   `dpkg -i` the .deb; edit /etc/kiosk/kiosk.toml like a
#                technician ([input] automatic: the VM has no GPIO); start
#                kiosk.service: active, as the kiosk user, READY with vivid's
#                /dev/video0 and /dev/fb0; switch to the virtual patient and
#                wait for its screening's record in /var/lib/kiosk/records.log;
#                `dpkg -i` the package again as an upgrade: conffile and
#                record log kept, unit restarted and active;
#   second boot  (same disk) systemd started kiosk.service by itself.
# The evidence comes back on the serial console; the host prints one
# PASS/FAIL line per checked point and exits 1 on any failure.
#
# Usage: vm/arm64/run-install-test.sh      (as root)
#   KIOSK_DEB=path.deb    the arm64 package to install (default: build it with
#                         scripts/cross-build.sh aarch64 build -p device --bin kiosk
#                         and scripts/package-deb.sh aarch64 --profile dev)
#   KIOSK_UPGRADE_DEB=    the package for the upgrade step (default: KIOSK_DEB
#                         repacked as version <v>+vmupgrade1, so dpkg really upgrades)
#   VM_ARM64_REFRESH=1    re-resolve the kernel and rebuild the root image
#   VM_ARM64_ROOT_ONLY=1  only fill the cache (kernel, root image), no test
#   VM_TIMEOUT=seconds    hard limit on the first boot (default 1200; second: VM_BOOT_TIMEOUT, 400)
#   VM_ARM64_KEEP=1       keep the work folder (initramfs, overlay disk)
# Output: target/vm-arm64/ (serial-*.log, files/ the VM sent, report.txt).
# Cache:  target/vm-arm64/cache/ (arm64 apt lists, root .debs, the kernel and
#         modules, the configured root image); a warm run needs no network.
#
# Debian's arm64 kernel is built without vfb (CONFIG_FB_VIRTUAL is not set,
# unlike amd64's): the framebuffer is qemu's bochs-display through the
# kernel's bochs DRM driver, /dev/fb0 by DRM's fbdev emulation (the way a
# Pi's HDMI screen appears under KMS).
#
# No binfmt_misc is needed (none is registered here): nothing arm64 runs on
# the host. The cold run unpacks the packages on the host (debootstrap
# --foreign) and lets arm64 dpkg configure them inside the VM, once; the
# configured disk is cached, and each run boots a throw-away qcow2 overlay
# of it.
set -euo pipefail
# Package paths may be given relative to where the script was started from.
[ -n "${KIOSK_DEB:-}" ] && KIOSK_DEB=$(realpath -e "$KIOSK_DEB")
[ -n "${KIOSK_UPGRADE_DEB:-}" ] && KIOSK_UPGRADE_DEB=$(realpath -e "$KIOSK_UPGRADE_DEB")
cd "$(dirname "$0")/../.."
repo=$(pwd)
here=$repo/vm/arm64

# Host packages this script needs (installed when missing, as root):
#   qemu-system-arm        qemu-system-aarch64
#   qemu-utils             qemu-img: a throw-away overlay on the cached root disk
#   debootstrap            the arm64 root, from Debian's arm64 packages
#   debian-archive-keyring checks the archive's signatures (apt, debootstrap)
#   e2fsprogs              mkfs.ext4 -d: the root disk from a folder
#   cpio, gzip             the initramfs
#   kmod                   depmod/modprobe -S: arm64 module dependencies
#   python3                apt sources, the record-log check (standard library)
host_packages=(qemu-system-arm qemu-utils debootstrap debian-archive-keyring e2fsprogs cpio gzip kmod python3)

suite=${VM_ARM64_SUITE:-bookworm}
# The root: minbase (dpkg, passwd, init-system-helpers, ...) plus systemd as
# init, udev (it gives /dev/video0 and /dev/fb0 to the video group), kmod
# (modules-load.d) and procps (ps).
root_include=systemd,systemd-sysv,udev,kmod,procps
# Modules the VM needs beyond the kernel's built-ins, with their dependencies:
# the initramfs loads the disk ones, the root gets all of them.
disk_modules=(virtio_mmio virtio_blk ext4)
root_modules=(vivid bochs)

out=$repo/target/vm-arm64
cache=$out/cache
ms() { echo $(($(date +%s%N) / 1000000)); }
started=$(ms)
secs() { local d=$(($(ms) - $1)); printf '%d.%d' $((d / 1000)) $(((d % 1000) / 100)); }
say() { echo "[vm-arm64 $(secs "$started")s] $*"; }
die() {
  echo "vm-arm64: FAIL: $*" >&2
  exit 1
}

# --- host packages ---
missing=()
for pkg in "${host_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ "${#missing[@]}" -gt 0 ]; then
  [ "$(id -u)" -eq 0 ] || die "missing ${missing[*]}; run as root (or: sudo apt-get install ${missing[*]})"
  say "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  for try in 1 2 3 4 5 6 7 8 9 10; do
    # Another apt may hold the lock for a while: wait for it.
    if apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; then
      break
    fi
    [ "$try" = 10 ] && die "could not install ${missing[*]}"
    sleep 30
  done
fi
[ "$(id -u)" -eq 0 ] || die "run as root: the root image needs root-owned files (debootstrap, mkfs.ext4 -d)"

mkdir -p "$cache"
work=$(mktemp -d "$out/work.XXXXXX")
trap '[ "${VM_ARM64_KEEP:-}" = 1 ] && echo "kept $work" || rm -rf "$work"' EXIT

# --- an apt of its own for arm64 (this machine's apt is left as it is) ---
aptdir=$cache/apt
apt_opts=(-o "Dir::State=$aptdir" -o "Dir::State::status=$aptdir/status" -o "Dir::Cache=$aptdir"
  -o "Dir::Etc::SourceList=$aptdir/sources.list" -o "Dir::Etc::SourceParts=$aptdir/sources.list.d"
  -o "Dir::Etc::Preferences=$aptdir/preferences" -o "Dir::Etc::PreferencesParts=$aptdir/preferences.d"
  -o APT::Architecture=arm64 -o "APT::Architectures::=arm64" -o Acquire::Languages=none
  -o APT::Sandbox::User=root)
apt_arm64() { apt-get -q "${apt_opts[@]}" "$@"; }
apt_update() {
  mkdir -p "$aptdir/lists/partial" "$aptdir/archives/partial" "$aptdir/sources.list.d" "$aptdir/preferences.d"
  : > "$aptdir/status"
  : > "$aptdir/preferences"
  python3 "$here/apt-sources.py" "$suite" arm64 > "$aptdir/sources.list" || die "no apt source for $suite"
  apt_arm64 update -qq || die "apt-get update (arm64) failed"
}

# --- the kernel: Debian's linux-image-arm64 ---
kernel_stamp=$cache/kernel/version
if [ "${VM_ARM64_REFRESH:-}" = 1 ] || [ ! -s "$kernel_stamp" ]; then
  say "resolving linux-image-arm64 ($suite)"
  apt_update
  kpkg=$(apt-cache "${apt_opts[@]}" depends linux-image-arm64 | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
  [ -n "$kpkg" ] || die "linux-image-arm64 has no linux-image-<version> dependency"
  rm -rf "$cache/kernel" "$cache/debs-kernel"
  mkdir -p "$cache/debs-kernel" "$cache/kernel"
  (cd "$cache/debs-kernel" && apt_arm64 download "$kpkg" busybox-static >/dev/null) || die "downloading $kpkg failed"
  say "unpacking $kpkg"
  dpkg-deb -x "$cache"/debs-kernel/linux-image-*.deb "$cache/kernel/tree"
  dpkg-deb -x "$cache"/debs-kernel/busybox-static_*.deb "$cache/kernel/busybox"
  kver=$(ls "$cache/kernel/tree/lib/modules")
  /sbin/depmod -b "$cache/kernel/tree" "$kver"
  # Keep the kernel, the modules this test uses and their dependencies.
  mkdir -p "$cache/kernel/modules/lib/modules/$kver"
  cp "$cache/kernel/tree/boot/vmlinuz-$kver" "$cache/kernel/tree/boot/config-$kver" "$cache/kernel/"
  for m in "${disk_modules[@]}" "${root_modules[@]}"; do
    /sbin/modprobe -d "$cache/kernel/tree" -S "$kver" --show-depends "$m" | while read -r cmd path _; do
      [ "$cmd" = insmod ] || continue
      rel=${path#"$cache/kernel/tree/lib/modules/$kver/"}
      mkdir -p "$cache/kernel/modules/lib/modules/$kver/$(dirname "$rel")"
      cp "$path" "$cache/kernel/modules/lib/modules/$kver/$rel"
      case " ${disk_modules[*]} " in *" $m "*) basename "$path" >> "$cache/kernel/disk-load-order" ;; esac
    done || die "module $m not found in $kpkg"
  done
  cp "$cache/kernel/tree/lib/modules/$kver"/modules.{order,builtin,builtin.modinfo} "$cache/kernel/modules/lib/modules/$kver/"
  /sbin/depmod -b "$cache/kernel/modules" "$kver"
  cp "$cache/kernel/busybox/bin/busybox" "$cache/kernel/busybox.bin"
  rm -rf "$cache/kernel/tree" "$cache/kernel/busybox" "$cache/debs-kernel"
  echo "$kver $kpkg" > "$kernel_stamp"
fi
read -r kver kpkg < "$kernel_stamp"
kernel=$cache/kernel/vmlinuz-$kver
for m in "${root_modules[@]}"; do
  find "$cache/kernel/modules" -name "$m.ko*" | grep -q . || die "no $m module in $kpkg"
done
grep -q '^# CONFIG_FB_VIRTUAL is not set' "$cache/kernel/config-$kver" && say "kernel $kver (no vfb in Debian's arm64 kernel: bochs-display DRM fbdev is /dev/fb0)"

# --- the root: Debian's arm64 packages, configured by arm64 dpkg in the VM ---
# shellcheck disable=SC2054  # commas belong to qemu's option values
qemu_base=(qemu-system-aarch64 -M virt -cpu cortex-a72 -smp 2 -m 2048 -accel tcg,thread=multi
  -nographic -no-reboot -nic none -kernel "$kernel")
make_initramfs() { # DIR OUT: busybox, the disk modules, /init, and whatever DIR/payload holds
  local dir=$1
  mkdir -p "$dir"/{bin,dev,proc,sys,modules}
  cp "$cache/kernel/busybox.bin" "$dir/bin/busybox"
  cp "$here/init" "$dir/init"
  chmod 755 "$dir/init" "$dir/bin/busybox"
  while read -r m; do
    find "$cache/kernel/modules" -name "$m" -exec cp {} "$dir/modules/" \;
  done < "$cache/kernel/disk-load-order"
  cp "$cache/kernel/disk-load-order" "$dir/modules/load-order"
  (cd "$dir" && find . | cpio -o -H newc --quiet | gzip -1) > "$2"
}
# The cached root depends on these; bump root_recipe when the second stage changes (init).
root_recipe=1
root_key=$(printf '%s\n' "$root_recipe" "$suite" "$root_include" "$(sha256sum < "$here/finish-root.sh")" | sha256sum | cut -c1-12)
root_img=$cache/root-$suite-$root_key.img
if [ "${VM_ARM64_REFRESH:-}" = 1 ] || [ ! -s "$root_img" ]; then
  rm -f "$cache"/root-*.img
  [ -s "$aptdir/sources.list" ] || apt_update
  mirror=$(awk -v s="$suite" '$1 == "deb" { i = 2; if ($2 ~ /^\[/) { while ($i !~ /\]$/) i++; i++ } if ($(i + 1) == s) { print $i; exit } }' "$aptdir/sources.list")
  [ -n "$mirror" ] || die "no mirror for $suite in this machine's apt sources"
  say "debootstrap --foreign $suite arm64 (minbase + $root_include)"
  tree=$work/root
  mkdir -p "$cache/debs-root"
  debootstrap --foreign --arch=arm64 --variant=minbase --include="$root_include" \
    --cache-dir="$cache/debs-root" "$suite" "$tree" "$mirror" > "$work/debootstrap.log" 2>&1 ||
    { tail -n 20 "$work/debootstrap.log"; die "debootstrap (first stage) failed"; }
  # debootstrap links /proc to the host's when it guesses a container: the VM mounts its own.
  [ -L "$tree/proc" ] && rm "$tree/proc" && mkdir "$tree/proc"
  # The second stage parses the Packages index inside the VM, where every
  # instruction is emulated: give it only the stanzas of the packages it has.
  python3 - "$tree" <<'EOF'
import glob, os, sys
tree = sys.argv[1]
have = {line.split()[0] for line in open(os.path.join(tree, "debootstrap/debpaths")) if line.strip()}
for path in glob.glob(os.path.join(tree, "var/lib/apt/lists/*_Packages")):
    stanzas = open(path, encoding="utf-8").read().split("\n\n")
    keep = [s for s in stanzas if any(l.startswith("Package: ") and l[9:].strip() in have for l in s.splitlines())]
    open(path, "w", encoding="utf-8").write("\n\n".join(keep) + "\n")
EOF
  # dpkg fsyncs every file it unpacks; this disk is rebuilt if the VM dies.
  echo force-unsafe-io > "$tree/etc/dpkg/dpkg.cfg.d/vm-arm64-unsafe-io"
  install -m 755 "$here/finish-root.sh" "$tree/root/finish-root.sh"
  mkfs.ext4 -q -F -L kiosk-root -d "$tree" "$work/root.img" 2G > /dev/null || die "mkfs.ext4 -d failed"
  rm -rf "$tree"
  make_initramfs "$work/initramfs-stage2" "$work/initramfs-stage2.cpio.gz"
  say "configuring the root with arm64 dpkg inside the VM (once; cached)"
  t=$(ms)
  timeout "${VM_STAGE2_TIMEOUT:-2400}" "${qemu_base[@]}" -initrd "$work/initramfs-stage2.cpio.gz" \
    -append "console=ttyAMA0 quiet loglevel=4 panic=-1" \
    -drive if=none,file="$work/root.img",format=raw,id=hd,cache=unsafe -device virtio-blk-device,drive=hd \
    > "$out/stage2-serial.log" 2>&1 || die "the root-building VM failed or timed out (see $out/stage2-serial.log)"
  grep -q '^==SECOND-STAGE OK' <(tr -d '\r' < "$out/stage2-serial.log") ||
    { tr -d '\r' < "$out/stage2-serial.log" | tail -n 30; die "debootstrap --second-stage failed (see $out/stage2-serial.log)"; }
  tr -d '\r' < "$out/stage2-serial.log" | grep '^root: ' || true
  say "root configured in $(secs "$t")s"
  mv "$work/root.img" "$root_img"
fi
say "root image $(basename "$root_img") ($(du -h "$root_img" | cut -f1) used)"

if [ "${VM_ARM64_ROOT_ONLY:-}" = 1 ]; then
  say "kernel and root cached in $cache (VM_ARM64_ROOT_ONLY=1: no test)"
  exit 0
fi

# --- the package ---
if [ -z "${KIOSK_DEB:-}" ]; then
  say "building the arm64 kiosk (dev profile) and its package"
  scripts/cross-build.sh aarch64 build -p device --bin kiosk
  KIOSK_DEB=$(scripts/package-deb.sh aarch64 --profile dev | tail -n 1 | cut -d' ' -f1)
fi
[ -f "$KIOSK_DEB" ] || die "no package at $KIOSK_DEB"
[ "$(dpkg-deb -f "$KIOSK_DEB" Architecture)" = arm64 ] || die "$KIOSK_DEB is not an arm64 package"
version=$(dpkg-deb -f "$KIOSK_DEB" Version)
if [ -z "${KIOSK_UPGRADE_DEB:-}" ]; then
  # The same files under a higher version: dpkg runs the upgrade path
  # (prerm upgrade, conffile merge, postinst configure <old version>).
  KIOSK_UPGRADE_DEB=$work/kiosk_${version}+vmupgrade1_arm64.deb
  dpkg-deb -R "$KIOSK_DEB" "$work/upgrade"
  sed -i "s/^Version: .*/Version: ${version}+vmupgrade1/" "$work/upgrade/DEBIAN/control"
  dpkg-deb --root-owner-group -Zgzip -z1 --build "$work/upgrade" "$KIOSK_UPGRADE_DEB" >/dev/null
  rm -rf "$work/upgrade"
fi
[ "$(dpkg --compare-versions "$(dpkg-deb -f "$KIOSK_UPGRADE_DEB" Version)" gt "$version" && echo gt)" = gt ] ||
  die "$KIOSK_UPGRADE_DEB is not newer than $KIOSK_DEB"
say "package $KIOSK_DEB ($version), upgrade to $(dpkg-deb -f "$KIOSK_UPGRADE_DEB" Version)"

# --- this run: modules, configuration, the packages and the test, in the initramfs ---
rd=$work/initramfs
pl=$rd/payload
mkdir -p "$pl/usr/lib" "$pl/etc/modules-load.d" "$pl/etc/modprobe.d" \
  "$pl/etc/systemd/system/multi-user.target.wants" "$pl/root/vmtest"
cp -a "$cache/kernel/modules/lib/modules" "$pl/usr/lib/"
# The camera as in vm/run-vm-test.sh: one single-planar capture node, /dev/video0.
echo vivid > "$pl/etc/modules-load.d/vm-arm64.conf"
echo "options vivid n_devs=1 node_types=0x1 multiplanar=1" > "$pl/etc/modprobe.d/vm-arm64.conf"
cp "$here/vmtest.service" "$pl/etc/systemd/system/"
ln -s ../vmtest.service "$pl/etc/systemd/system/multi-user.target.wants/vmtest.service"
cp "$here/guest-test.sh" "$pl/root/vmtest/"
cp "$KIOSK_DEB" "$pl/root/vmtest/$(basename "$KIOSK_DEB")"
cp "$KIOSK_UPGRADE_DEB" "$pl/root/vmtest/$(basename "$KIOSK_UPGRADE_DEB")"
cat > "$pl/root/vmtest/vmtest.env" <<EOF
KIOSK_DEB=$(basename "$KIOSK_DEB")
KIOSK_DEB_UPGRADE=$(basename "$KIOSK_UPGRADE_DEB")
START_TIMEOUT_S=${START_TIMEOUT_S:-300}
SCREENING_TIMEOUT_S=${SCREENING_TIMEOUT_S:-600}
EOF
make_initramfs "$rd" "$work/initramfs.cpio.gz"

rm -rf "$out/files" "$out"/serial*.log "$out/report.txt" "$out/records.txt" "$out/screens.txt"
mkdir -p "$out/files"
# Both boots write to one throw-away overlay; the cached image stays as it is.
qemu-img create -q -f qcow2 -F raw -b "$root_img" "$work/disk.qcow2"
# boot PHASE TIMEOUT LOG: one boot of the test VM; its ==STEP/==CHECK lines are shown as they come.
boot() {
  local t rc
  t=$(ms)
  say "boot ($1): $kpkg under qemu-system-aarch64 (TCG, Cortex-A72 x2), vivid + bochs-display"
  set +e
  timeout "$2" "${qemu_base[@]}" -initrd "$work/initramfs.cpio.gz" \
    -append "console=ttyAMA0 quiet loglevel=4 panic=-1 systemd.show_status=0 vt.global_cursor_default=0 vmtest.phase=$1" \
    -drive if=none,file="$work/disk.qcow2",format=qcow2,id=hd,cache=unsafe -device virtio-blk-device,drive=hd \
    -device bochs-display,romfile=,xres=640,yres=480 2>&1 |
    tee "$3" | tr -d '\r' | sed -un 's/^==\(STEP\|CHECK\|FATAL\)/  ==\1/p'
  rc=${PIPESTATUS[0]}
  set -e
  say "boot ($1) ran for $(secs "$t")s (qemu rc=$rc)"
  [ "$rc" = 0 ] || echo "FAIL vm-$1: qemu exited with $rc (124: killed after $2 s)" >> "$work/vm-failures"
  return 0
}
: > "$work/vm-failures"
boot install "${VM_TIMEOUT:-1200}" "$out/serial-1-install.log"
if tr -d '\r' < "$out/serial-1-install.log" | grep -q '^==STEP [0-9.]* done$'; then
  boot boot "${VM_BOOT_TIMEOUT:-400}" "$out/serial-2-boot.log"
fi

# --- the files the VM sent ---
cat "$out"/serial*.log | tr -d '\r' | awk -v dir="$out/files" '
  /^==BEGIN / { name = $2; file = dir "/" name ".b64"; printf "" > file; next }
  /^==END /   { close(file); name = ""; next }
  name != ""  { print >> file }
'
for b in "$out"/files/*.b64; do
  [ -e "$b" ] || break
  base64 -d "$b" > "${b%.b64}" 2>/dev/null || echo "vm-arm64: bad base64 in $(basename "$b")"
  rm "$b"
done

# --- the report ---
expected=(devices dpkg-install kiosk-user unit-enabled unit-active runs-as-kiosk ready uses-vivid-and-fb
  unit-active-virtual screening-recorded dpkg-upgrade conffile-kept records-kept
  unit-active-after-upgrade runs-as-kiosk-after-upgrade
  started-at-boot runs-as-kiosk-at-boot ready-at-boot kept-after-reboot)
{
  echo "arm64 install test: $kpkg, $(basename "$root_img"), $(basename "$KIOSK_DEB") -> $(basename "$KIOSK_UPGRADE_DEB")"
  for log in "$out"/serial*.log; do
    echo "  $(basename "$log"): $(tr -d '\r' < "$log" | grep '^==STEP' | sed 's/^==STEP //' | awk '{printf "%s%s %ss", (NR > 1 ? ", " : ""), $2, $1}')"
  done
  cat "$work/vm-failures"
  for c in "${expected[@]}"; do
    line=$(cat "$out"/serial*.log | tr -d '\r' | grep -m 1 "^==CHECK [A-Z]* $c: " || true)
    if [ -z "$line" ]; then
      echo "FAIL $c: not reached (see $out/serial*.log)"
    else
      echo "${line#==CHECK }"
    fi
  done
  if [ -f "$out/files/records.log" ]; then
    if python3 "$here/records.py" "$out/files/records.log" "$out/files/records-before-upgrade.log" > "$out/records.txt" 2>&1; then
      echo "PASS record-log: $(head -n 1 "$out/records.txt" | sed 's/^records.log: //'); $(tail -n 1 "$out/records.txt")"
    else
      echo "FAIL record-log: $(grep -m 1 -E 'DAMAGED|NOT|signed records' "$out/records.txt")"
    fi
  else
    echo "FAIL record-log: the VM sent no records.log"
  fi
  if [ ! -f "$out/files/fb-vivid.png" ]; then
    echo "FAIL screen-vivid: the VM sent no fb-vivid.png"
  elif python3 -B "$here/screens.py" "$out/files/fb-vivid.png" > "$out/screens.txt" 2>&1; then
    echo "PASS screen-vivid: /dev/fb0 read back while the kiosk ran: $(cat "$out/screens.txt")"
  else
    echo "FAIL screen-vivid: $(tail -n 1 "$out/screens.txt")"
  fi
} > "$out/report.txt"
echo "---- the screening (journal) ----"
sed 's/^/  /' "$out/files/screening.txt" 2>/dev/null || true
echo "---- the record log ----"
sed 's/^/  /' "$out/records.txt" 2>/dev/null || true
sed 's/^/  /' "$out/files/export.txt" 2>/dev/null || true
echo "---- summary ----"
cat "$out/report.txt"
fails=$(grep -c '^FAIL' "$out/report.txt" || true)
if [ "$fails" -gt 0 ]; then
  say "FAILED: $fails of $(($(grep -c '^\(PASS\|FAIL\)' "$out/report.txt"))) points (evidence in $out)"
  exit 1
fi
say "PASSED all $(grep -c '^PASS' "$out/report.txt") points (whole test $(secs "$started")s)"
