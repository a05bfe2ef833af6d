#!/usr/bin/env bash
# Checks a kiosk .deb without installing it on this machine:
#   - unpacks it (dpkg-deb -x) into a scratch root and checks what a kiosk
#     needs is there: binary for the package's architecture, every model the
#     packaged manifest lists with its sha256, the conffile, the unit;
#   - `systemd-analyze verify` of kiosk.service against that root;
#   - the maintainer scripts parse (sh -n);
#   - bad input: package-deb.sh refuses a models folder with a missing file
#     and one with a changed file, and says which.
#
#   scripts/check-deb.sh target/deb/kiosk_0.1.0_arm64.deb
#
# Installing it for real, in a Debian arm64 system that systemd boots under
# qemu-system-aarch64, is vm/arm64/run-install-test.sh (CI runs it).
set -euo pipefail
cd "$(dirname "$0")/.."

[ $# -eq 1 ] && [ -f "$1" ] || { echo "usage: scripts/check-deb.sh KIOSK.deb" >&2; exit 2; }
deb=$1
fail=0
ok() { echo "  ok    $*"; }
bad() { echo "  FAIL  $*"; fail=1; }

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
root=$scratch/root
dpkg-deb -x "$deb" "$root"
dpkg-deb -e "$deb" "$root/DEBIAN"
arch=$(dpkg-deb -f "$deb" Architecture)
echo "== $deb ($arch, version $(dpkg-deb -f "$deb" Version))"
echo "   Depends: $(dpkg-deb -f "$deb" Depends)"

case "$arch" in
  arm64) machine=AArch64 ;;
  armhf) machine=ARM ;;
  amd64) machine=X86-64 ;;
  *) machine=unknown ;;
esac
if readelf -h "$root/usr/bin/kiosk" 2>/dev/null | grep -q "Machine:.*$machine"; then
  ok "/usr/bin/kiosk is an $machine executable ($(du -h "$root/usr/bin/kiosk" | cut -f1))"
else
  bad "/usr/bin/kiosk missing or not an $machine executable"
fi

if python3 - "$root/usr/share/kiosk/models" <<'EOF'; then ok "models match /usr/share/kiosk/models/manifest.toml"; else bad "models"; fi
import hashlib, pathlib, sys, tomllib
folder = pathlib.Path(sys.argv[1])
manifest = tomllib.loads((folder / "manifest.toml").read_text())
bad = 0
for name, e in manifest["models"].items():
    p = folder / e["file"]
    if not p.is_file() or hashlib.sha256(p.read_bytes()).hexdigest() != e["sha256"]:
        print(f"  model {name}: {p} missing or wrong sha256"); bad = 1
sys.exit(bad)
EOF
[ "$(readlink -f "$root/usr/share/synkinesis/models")" = "$(readlink -f "$root/usr/share/kiosk/models")" ] &&
  ok "/usr/share/synkinesis/models -> /usr/share/kiosk/models (the kiosk's default search place)" ||
  bad "/usr/share/synkinesis/models link"
grep -qx /etc/kiosk/kiosk.toml "$root/DEBIAN/conffiles" && [ -f "$root/etc/kiosk/kiosk.toml" ] &&
  ok "/etc/kiosk/kiosk.toml is a conffile" || bad "/etc/kiosk/kiosk.toml conffile"
for s in postinst prerm postrm; do
  sh -n "$root/DEBIAN/$s" && ok "DEBIAN/$s parses" || bad "DEBIAN/$s"
done

unit=$root/usr/lib/systemd/system/kiosk.service
if command -v systemd-analyze >/dev/null; then
  # verify looks up ExecStart= and the unit's dependencies (sysinit.target,
  # multi-user.target...) under --root: lend it this machine's units.
  for d in /usr/lib/systemd/system /lib/systemd/system; do
    [ -d "$d" ] && cp -rn "$d/." "$root/usr/lib/systemd/system/"
  done
  # Any output (a bad directive only warns) counts as a failure.
  if out=$(systemd-analyze verify --man=no --root="$root" "$unit" 2>&1) && [ -z "$out" ]; then
    ok "systemd-analyze verify kiosk.service: no complaints"
  else
    bad "systemd-analyze verify kiosk.service:"
    echo "$out" | sed 's/^/        /'
  fi
else
  bad "systemd-analyze missing (.ci/install-deps.sh deb)"
fi

echo "== bad input: a models folder that does not match its manifest"
target=aarch64
[ "$arch" = armhf ] && target=armv7
for breakage in missing changed; do
  models=$scratch/models-$breakage
  cp -r models "$models"
  victim=$(sed -n 's/^file = "\(.*\)"/\1/p' models/manifest.toml | head -1)
  if [ "$breakage" = missing ]; then rm "$models/$victim"; else echo tampered >>"$models/$victim"; fi
  if msg=$(scripts/package-deb.sh "$target" --profile "${PROFILE:-device}" --models "$models" --out "$scratch/out" 2>&1); then
    bad "package-deb.sh accepted a $breakage $victim"
  elif echo "$msg" | grep -q "$victim"; then
    ok "$breakage $victim refused: $(echo "$msg" | head -1)"
  else
    bad "package-deb.sh failed without naming $victim: $msg"
  fi
done

[ "$fail" -eq 0 ] && echo "check-deb: all checks passed" || echo "check-deb: some checks FAILED" >&2
exit "$fail"
