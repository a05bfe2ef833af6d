#!/usr/bin/env bash
# Runs `kiosk demo` on the same virtual patients with the build machine's
# kiosk and with a cross-built one under qemu-user, and checks that both say
# the same thing: every word of the summary equal, every number within the
# tolerance (the summary prints 3 decimals; kernels differ between x86_64 and
# ARM in the order they add, so the last digit may differ by rounding).
#
#   scripts/compare-demo.sh aarch64                     dev builds, three patients
#   scripts/compare-demo.sh armv7 --profile release
#   scripts/compare-demo.sh aarch64 --cases "synkinetic:7 healthy:11" --tolerance 0.002
#
# Both binaries must already be built (cargo build -p device --bin kiosk and
# scripts/cross-build.sh TARGET, with the same profile and CARGO_TARGET_DIR).
# Only the wall time, file paths and the record's place differ and are ignored.
#
# The emulated CPU decides which tract kernels run: qemu's default `max` CPU
# has SVE2 and dot-product instructions, which no Pi has, so aarch64 runs as a
# Cortex-A72 (Pi 4) unless --cpu says otherwise (cortex-a53: Pi 3 / Zero 2 W,
# cortex-a76: Pi 5, max: everything qemu can do).
# Exit status: 0 same, 1 different, 2 bad input or a missing binary.
set -euo pipefail
cd "$(dirname "$0")/.."

usage() {
  echo "usage: scripts/compare-demo.sh aarch64|armv7 [--profile dev|release|NAME] [--cases \"COND:SEED ...\"] [--tolerance T] [--cpu QEMU_CPU] [--keep DIR]" >&2
  exit 2
}

[ $# -ge 1 ] || usage
case "$1" in
  aarch64 | aarch64-unknown-linux-gnu) triple=aarch64-unknown-linux-gnu qemu="qemu-aarch64 -L /usr/aarch64-linux-gnu" cpu=cortex-a72 ;;
  armv7 | armv7-unknown-linux-gnueabihf) triple=armv7-unknown-linux-gnueabihf qemu="qemu-arm -L /usr/arm-linux-gnueabihf" cpu=cortex-a15 ;;
  *) echo "compare-demo: unknown target '$1'; valid targets: aarch64, armv7" >&2; exit 2 ;;
esac
shift

profile=dev
cases="synkinetic:7 healthy:3 flaccid:5"
tolerance=0.002
keep=
while [ $# -gt 0 ]; do
  case "$1" in
    --profile) profile=${2:?}; shift 2 ;;
    --cases) cases=${2:?}; shift 2 ;;
    --tolerance) tolerance=${2:?}; shift 2 ;;
    --cpu) cpu=${2:?}; shift 2 ;;
    --keep) keep=${2:?}; shift 2 ;;
    *) usage ;;
  esac
done

dir=$profile
[ "$profile" = dev ] && dir=debug
target_dir=${CARGO_TARGET_DIR:-target}
host_bin=$target_dir/$dir/kiosk
cross_bin=$target_dir/$triple/$dir/kiosk
flag="--profile $profile"
[ "$profile" = dev ] && flag=""
[ -x "$host_bin" ] || { echo "compare-demo: no $host_bin; build it: cargo build -p device --bin kiosk $flag" >&2; exit 2; }
[ -x "$cross_bin" ] || { echo "compare-demo: no $cross_bin; build it: scripts/cross-build.sh ${triple%%-*} $flag" >&2; exit 2; }
command -v "${qemu%% *}" >/dev/null || { echo "compare-demo: ${qemu%% *} missing: apt-get install qemu-user" >&2; exit 2; }

work=${keep:-$(mktemp -d)}
mkdir -p "$work"
[ -n "$keep" ] || trap 'rm -rf "$work"' EXIT
# Both read the same models (the source tree's) whatever their own default.
export SCREENING_MODELS=${SCREENING_MODELS:-$PWD/models}
export TRACT_CPU_ARM32_NEON=true
export QEMU_CPU=$cpu

status=0
for c in $cases; do
  cond=${c%%:*} seed=${c##*:}
  echo "== $cond seed $seed: $host_bin vs $(basename "${qemu%% *}") -cpu $cpu $cross_bin"
  "$host_bin" demo --condition "$cond" --seed "$seed" --out "$work/host-$c" >"$work/host-$c.txt"
  # shellcheck disable=SC2086 # $qemu is a command with its arguments
  $qemu "$cross_bin" demo --condition "$cond" --seed "$seed" --out "$work/cross-$c" >"$work/cross-$c.txt"
  if python3 - "$work/host-$c.txt" "$work/cross-$c.txt" "$tolerance" <<'EOF'; then echo "   same (numbers within $tolerance)"; else status=1; fi
import re, sys

host, cross, tol = open(sys.argv[1]).read(), open(sys.argv[2]).read(), float(sys.argv[3])
# Lines that differ by nature between two runs: timing and file places.
skip = re.compile(r"^\s*(Wall time|saved:|Screens:)")
number = re.compile(r"[-+]?\d+\.\d+|[-+]?\d+")

def lines(text):
    return [l for l in text.splitlines() if not skip.match(l)]

a, b = lines(host), lines(cross)
worst, bad = 0.0, []
if len(a) != len(b):
    bad.append(f"{len(a)} summary lines against {len(b)}")
for i, (la, lb) in enumerate(zip(a, b)):
    if number.sub("#", la) != number.sub("#", lb):
        bad.append(f"line {i + 1} differs:\n     x86_64: {la}\n     cross:  {lb}")
        continue
    for na, nb in zip(number.findall(la), number.findall(lb)):
        d = abs(float(na) - float(nb))
        worst = max(worst, d)
        if d > tol + 1e-9:
            bad.append(f"line {i + 1}: {na} against {nb} (difference {d:.4f} > {tol}):\n     x86_64: {la}\n     cross:  {lb}")
for line in a:
    if line.startswith("Result:") or "against threshold" in line:
        print("   " + line.strip())
print(f"   largest difference of a printed number: {worst:.4f}")
for m in bad:
    print("   DIFFERENT: " + m)
sys.exit(1 if bad else 0)
EOF
done
if [ "$status" -ne 0 ]; then
  echo "compare-demo: the $triple build disagrees with the x86_64 build (outputs in $work; rerun with --keep DIR to keep them)" >&2
fi
exit "$status"
