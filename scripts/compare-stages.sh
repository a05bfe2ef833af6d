#!/usr/bin/env bash
# Checks that an ARM build of the pipeline sees exactly what the x86_64 build
# sees: runs the `stage_trace` example (three virtual patients, eight
# expressions each) natively and under qemu-user and compares
#   - the rendered frames and the standard views: byte for byte (hashes);
#   - the f32 and int8 probabilities: within 1e-4.
# Detections, landmarks and transforms are printed but not compared: tract's
# float kernels add in another order on each CPU, which is why the alignment
# snaps the eyes to a grid (screening::face::align::EYE_GRID).
#
#   scripts/compare-stages.sh aarch64 [NATIVE_TRACE CROSS_TRACE]
#
# Both examples must already be built (`cargo test` builds the native one;
# `scripts/cross-build.sh aarch64 build -p screening --examples` the other).
# armv7 is not supported: its renderer (tiny-skia, libm) draws slightly
# different frames, so only decisions can be compared there
# (scripts/compare-demo.sh armv7). Exit status: 0 same, 1 different, 2 usage.
set -euo pipefail
cd "$(dirname "$0")/.."

case "${1:-}" in
  aarch64 | aarch64-unknown-linux-gnu) triple=aarch64-unknown-linux-gnu ;;
  *)
    echo "usage: scripts/compare-stages.sh aarch64 (armv7 renders different frames; use compare-demo.sh)" >&2
    exit 2 ;;
esac
target_dir=${CARGO_TARGET_DIR:-target}
native=$target_dir/debug/examples/stage_trace
cross=$target_dir/$triple/debug/examples/stage_trace
for bin in "$native" "$cross"; do
  if [ ! -x "$bin" ]; then
    echo "compare-stages: $bin is not built (see the header of this script)" >&2
    exit 2
  fi
done

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$native" models >"$work/native.txt"
qemu-aarch64 -cpu cortex-a72 -L /usr/aarch64-linux-gnu "$cross" models >"$work/cross.txt"

python3 - "$work/native.txt" "$work/cross.txt" <<'EOF'
import re
import sys

native, cross = (open(p).read().splitlines() for p in sys.argv[1:3])
if len(native) != len(cross) or not native:
    print(f"compare-stages: {len(native)} lines against {len(cross)}")
    sys.exit(1)
bad, views, probs, case = 0, 0, 0, ""
for a, b in zip(native, cross):
    if not a.startswith(" "):
        case = a
        if a != b:
            print(f"compare-stages: case {a!r} against {b!r}")
            bad += 1
        continue
    key = a.split()[0]
    if key in ("frame", "view", "no", "not"):
        views += key == "view"
        if a != b:
            print(f"DIFFERENT {case}: {a.strip()} against {b.strip()}")
            bad += 1
    elif key in ("f32", "int8"):
        pa = float(re.search(r"probability (\S+)", a).group(1))
        pb = float(re.search(r"probability (\S+)", b).group(1))
        probs += 1
        if abs(pa - pb) > 1e-4:
            print(f"DIFFERENT {case}: {key} probability {pa} against {pb}")
            bad += 1
print(f"compare-stages: {views} standard views, {probs} probabilities; {bad} differences")
sys.exit(1 if bad else 0)
EOF
