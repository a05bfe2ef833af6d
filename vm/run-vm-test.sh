#!/usr/bin/env bash
# The kiosk's real hardware paths, tested without hardware (issue 4, item 6).
#
# Boots Debian's kernel (package linux-image-amd64, not the running kernel)
# under qemu-system-x86_64 with TCG and a busybox initramfs that holds the
# `kiosk` binary and the vivid (virtual V4L2 camera) and vfb (virtual
# framebuffer) modules with their dependencies. Inside the VM the kiosk
# lists cameras, captures YUYV frames through the V4L2 mmap path, draws
# screens on /dev/fb0 at 32 and 16 bpp and reads them back; the files come
# back base64-encoded on the serial console between markers. The host then
# checks them with vm/check.py.
#
# Usage: vm/run-vm-test.sh [--keep]     (KIOSK_BIN=path to use a prebuilt kiosk)
# Output: target/vm-test/ (serial log, decoded files, check report).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
ms() { echo $(( $(date +%s%N) / 1000000 )); }
started=$(ms)
secs() { local d=$(( $(ms) - $1 )); printf '%d.%d' $((d / 1000)) $(((d % 1000) / 100)); }
keep=${1:-}

say() { echo "[vm-test $(secs "$started")s] $*"; }
die() { echo "vm-test: FAIL: $*" >&2; exit 1; }

.ci/install-deps.sh vm

# The kernel of the installed Debian package (the newest one, if several).
kernel=$(ls /boot/vmlinuz-* 2>/dev/null | sort -V | tail -n 1)
[ -n "$kernel" ] || die "no /boot/vmlinuz-*: is linux-image-amd64 installed?"
kver=${kernel#/boot/vmlinuz-}
[ -d "/lib/modules/$kver" ] || die "no /lib/modules/$kver for $kernel"
[ -r "$kernel" ] || die "$kernel is not readable"

if [ -z "${KIOSK_BIN:-}" ]; then
  say "building kiosk"
  # The README's test command builds this same binary, with the features the
  # whole workspace unifies to. `cargo build -p device` alone unifies fewer
  # and compiled tract and most dependencies a second time: 351 s of a cold
  # CI run, for a binary that was already there.
  cargo test -q --workspace --no-run --locked
  KIOSK_BIN="${CARGO_TARGET_DIR:-$root/target}/debug/kiosk"
fi
[ -x "$KIOSK_BIN" ] || die "no kiosk binary at $KIOSK_BIN"

out="$root/target/vm-test"
rm -rf "$out"
mkdir -p "$out"
work=$(mktemp -d /tmp/kiosk-vm.XXXXXX)
trap '[ "$keep" = "--keep" ] && echo "kept $work" || rm -rf "$work"' EXIT
rd="$work/initramfs"
mkdir -p "$rd"/{bin,dev,proc,sys,tmp,lib/modules}

# Userland: busybox, the kiosk, v4l2-ctl (to pull vivid's "unplug" and
# "damaged frame" levers) and the shared libraries they link, with the loader.
cp /bin/busybox "$rd/bin/busybox"
# Debug info is most of a dev build: leave it out (a smaller initramfs boots faster under TCG).
strip --strip-debug -o "$rd/bin/kiosk" "$KIOSK_BIN" 2>/dev/null || cp "$KIOSK_BIN" "$rd/bin/kiosk"
cp /usr/bin/v4l2-ctl "$rd/bin/v4l2-ctl"
for lib in $(ldd "$KIOSK_BIN" /usr/bin/v4l2-ctl | grep -o '/[^ ]*' | grep -v ':$' | sort -u); do
  mkdir -p "$rd$(dirname "$lib")"
  cp -L "$lib" "$rd$lib"
done

# Modules with their dependencies, in load order, as the installed package resolves them.
: > "$rd/load-modules.sh"
for module in vivid vfb; do
  params=""
  case $module in
    # One single-planar capture node (/dev/video0) whose first input is the webcam.
    vivid) params="n_devs=1 node_types=0x1 multiplanar=1" ;;
    # 640x480 at 32 bpp needs more than vfb's default 1 MiB.
    vfb) params="vfb_enable=1 videomemorysize=4194304 mode_option=640x480-32" ;;
  esac
  modprobe -S "$kver" --show-depends "$module" | while read -r cmd path _; do
    [ "$cmd" = insmod ] || continue
    mkdir -p "$rd$(dirname "$path")"
    cp "$path" "$rd$path"
    name=$(basename "$path"); name=${name%%.ko*}
    if [ "$name" = "$module" ]; then
      echo "insmod $path $params" >> "$rd/load-modules.sh"
    else
      echo "insmod $path" >> "$rd/load-modules.sh"
    fi
  done
done
awk '!seen[$0]++' "$rd/load-modules.sh" > "$rd/load-modules.tmp" && mv "$rd/load-modules.tmp" "$rd/load-modules.sh"
grep -q vivid "$rd/load-modules.sh" || die "vivid module not found for $kver"
grep -q vfb "$rd/load-modules.sh" || die "vfb module not found for $kver"
vfb_path=$(grep '/vfb.ko' "$rd/load-modules.sh" | awk '{print $2}')

cat > "$rd/init" <<INIT
#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tmpfs tmpfs /tmp
step() { echo "==STEP \$(cut -d' ' -f1 /proc/uptime) \$*"; }
send() { echo "==BEGIN \$1"; base64 "\$2"; echo "==END \$1"; }
step booted
sh /load-modules.sh 2>&1
# Keep the framebuffer console off the screen under test.
for v in /sys/class/vtconsole/vtcon*/bind; do echo 0 > "\$v" 2>/dev/null; done
step modules-loaded
ls -l /dev/video* /dev/fb* 2>&1

step cameras
kiosk cameras > /tmp/cameras.txt 2>&1; echo "rc=\$?" >> /tmp/cameras.txt
cat /tmp/cameras.txt
send cameras.txt /tmp/cameras.txt

step capture
kiosk capture --device /dev/video0 --frames 10 --format yuyv --out /tmp/capture.png > /tmp/capture.txt 2>&1
echo "rc=\$?" >> /tmp/capture.txt
cat /tmp/capture.txt
send capture.txt /tmp/capture.txt
[ -f /tmp/capture.png ] && send capture.png /tmp/capture.png

for bpp in 32 16; do
  if [ \$bpp = 16 ]; then
    rmmod vfb && insmod $vfb_path vfb_enable=1 videomemorysize=4194304 mode_option=640x480-16
    for v in /sys/class/vtconsole/vtcon*/bind; do echo 0 > "\$v" 2>/dev/null; done
  fi
  for show in welcome result-demo; do
    step "screen \$show \$bpp"
    kiosk screen --display fb:/dev/fb0 --show \$show > /tmp/screen.txt 2>&1 &&
      kiosk fb-dump --device /dev/fb0 --out /tmp/fb-\$show-\$bpp.png >> /tmp/screen.txt 2>&1
    echo "rc=\$?" >> /tmp/screen.txt
    cat /tmp/screen.txt
    send screen-\$show-\$bpp.txt /tmp/screen.txt
    [ -f /tmp/fb-\$show-\$bpp.png ] && send fb-\$show-\$bpp.png /tmp/fb-\$show-\$bpp.png
  done
done

# A camera that sends a damaged frame, then drops off the bus mid-capture
# (vivid's "Disconnect": every open file fails with ENODEV) and comes back:
# the kiosk must skip the frame, report the loss, reopen and carry on.
step unplug
( timeout 120 kiosk capture --device /dev/video0 --frames 30 --format yuyv --progress 2>&1; echo "rc=\$?" ) > /tmp/unplug.txt &
pid=\$!
frames() { grep -c '^frame' /tmp/unplug.txt; }
waitfor() { i=0; while [ "\$(frames)" -lt \$1 ] && [ \$i -lt 600 ]; do sleep 0.1; i=\$((i + 1)); done; }
waitfor 3
v4l2-ctl -d /dev/video0 -c inject_v4l2_buf_flag_error=1 >> /tmp/unplug.txt 2>&1
waitfor 6
v4l2-ctl -d /dev/video0 -c disconnect=1 >> /tmp/unplug.txt 2>&1
wait \$pid
cat /tmp/unplug.txt
send unplug.txt /tmp/unplug.txt

# A camera that is gone for good: the device node disappears.
step gone
rmmod vivid
( kiosk capture --device /dev/video0 --frames 1 2>&1; echo "rc=\$?" ) > /tmp/gone.txt
cat /tmp/gone.txt
send gone.txt /tmp/gone.txt

step done
poweroff -f
INIT
chmod +x "$rd/init"

say "packing initramfs ($(du -sh "$rd" | cut -f1))"
(cd "$rd" && find . | cpio -o -H newc --quiet | gzip -1) > "$work/initramfs.cpio.gz"

# TCG as in CI, where /dev/kvm may be missing; VM_ACCEL=kvm for a quick local run.
accel=${VM_ACCEL:-tcg}
say "booting $kernel under qemu ($accel)"
vm_start=$(ms)
timeout 300 qemu-system-x86_64 -accel "$accel" -m 512 -smp 1 -nographic -no-reboot \
  -kernel "$kernel" -initrd "$work/initramfs.cpio.gz" \
  -append "console=ttyS0 quiet loglevel=4 panic=-1 vt.global_cursor_default=0" \
  > "$out/serial.log" 2>&1 || die "qemu failed or timed out (see $out/serial.log)"
say "VM ran for $(secs "$vm_start")s"

# Decode the files sent between markers.
awk -v dir="$out" '
  { sub(/\r$/, "") }
  /^==BEGIN / { name = $2; file = dir "/" name ".b64"; printf "" > file; next }
  /^==END /   { close(file); name = ""; next }
  name != ""  { print >> file }
' "$out/serial.log"
for b in "$out"/*.b64; do
  [ -e "$b" ] || die "the VM sent no files (see $out/serial.log)"
  base64 -d "$b" > "${b%.b64}" || die "bad base64 in $b"
  rm "$b"
done
grep '^==STEP' "$out/serial.log" | tr -d '\r' > "$out/steps.txt" || true

# Offscreen references, rendered by the same binary on the host.
for show in welcome result-demo; do
  "$KIOSK_BIN" screen --display "png:$out/ref-$show.png" --size 640x480 --show "$show" > /dev/null
done

say "checking"
/usr/bin/env python3 vm/check.py "$out" | tee "$out/report.txt"
say "passed (whole test $(secs "$started")s)"
