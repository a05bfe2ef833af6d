#!/usr/bin/env bash
# Builds the kiosk's Debian package from an already cross-built binary:
#
#   scripts/cross-build.sh aarch64 --profile device
#   scripts/package-deb.sh aarch64 --profile device      -> target/deb/kiosk_<version>_arm64.deb
#
# TARGET: aarch64 (arm64 package) or armv7 (armhf package). Options:
#   --profile NAME  which build of kiosk to package (default: device; dev = debug build)
#   --models DIR    folder with manifest.toml and the model files (default: models/)
#   --out DIR       where the .deb goes (default: <target dir>/deb)
#
# The package holds /usr/bin/kiosk, the models the manifest lists in
# /usr/share/kiosk/models (checked against the manifest's sha256: a missing
# or different file stops the build), /etc/kiosk/kiosk.toml (a conffile),
# the systemd unit, a udev rule and the maintainer scripts from packaging/.
# Plain dpkg-deb of a staged tree: nothing beyond dpkg, binutils and python3.
set -euo pipefail
cd "$(dirname "$0")/.."

usage() {
  echo "usage: scripts/package-deb.sh aarch64|armv7 [--profile NAME] [--models DIR] [--out DIR]" >&2
  exit 2
}
die() {
  echo "package-deb: $*" >&2
  exit 1
}

[ $# -ge 1 ] || usage
case "$1" in
  aarch64 | aarch64-unknown-linux-gnu) triple=aarch64-unknown-linux-gnu gnu=aarch64-linux-gnu debarch=arm64 machine=AArch64 ;;
  armv7 | armv7-unknown-linux-gnueabihf) triple=armv7-unknown-linux-gnueabihf gnu=arm-linux-gnueabihf debarch=armhf machine=ARM ;;
  *) echo "package-deb: unknown target '$1'; valid targets: aarch64 (arm64), armv7 (armhf)" >&2; exit 2 ;;
esac
shift

profile=device
models=models
target_dir=${CARGO_TARGET_DIR:-target}
out=$target_dir/deb
while [ $# -gt 0 ]; do
  case "$1" in
    --profile) profile=${2:?}; shift 2 ;;
    --models) models=${2:?}; shift 2 ;;
    --out) out=${2:?}; shift 2 ;;
    *) usage ;;
  esac
done
dir=$profile
[ "$profile" = dev ] && dir=debug
bin=$target_dir/$triple/$dir/kiosk

for tool in dpkg-deb python3 "$gnu-objdump" "$gnu-strip" readelf; do
  command -v "$tool" >/dev/null || die "$tool is missing (.ci/install-deps.sh cross installs the cross binutils)"
done

# --- the models: exactly what the manifest lists, each with the right sha256 ---
[ -f "$models/manifest.toml" ] || die "no manifest.toml in $models"
model_files=$(python3 - "$models" <<'EOF'
import hashlib, pathlib, sys, tomllib

folder = pathlib.Path(sys.argv[1])
manifest = tomllib.loads((folder / "manifest.toml").read_text())
problems, files = [], []
for name, entry in sorted(manifest.get("models", {}).items()):
    path = folder / entry["file"]
    if not path.is_file():
        problems.append(f"model {name}: {path} is missing")
        continue
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != entry["sha256"].lower():
        problems.append(f"model {name}: {path} has sha256 {digest}, manifest.toml says {entry['sha256']}")
        continue
    files.append(entry["file"])
if problems:
    sys.stderr.write("".join(f"package-deb: {p}\n" for p in problems))
    sys.exit(1)
if not files:
    sys.exit("package-deb: manifest.toml lists no models")
print("\n".join(files))
EOF
) || die "refusing to package models that do not match $models/manifest.toml (regenerate them with models/face/convert.sh, or fix the manifest)"

# --- the binary ---
if [ ! -x "$bin" ]; then
  flag="--profile $profile"
  [ "$profile" = dev ] && flag=""
  die "no kiosk binary at $bin; build it first: scripts/cross-build.sh ${triple%%-*} $flag"
fi
readelf -h "$bin" | grep -q "Machine:.*$machine" || die "$bin is not an $machine binary"

version=$(cargo metadata --no-deps --format-version 1 --offline |
  python3 -c 'import json,sys; print(next(p["version"] for p in json.load(sys.stdin)["packages"] if p["name"] == "device"))')

# --- stage the tree ---
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
root=$stage/root
install -d "$root/DEBIAN" "$root/usr/bin" "$root/usr/share/kiosk/models" "$root/etc/kiosk" \
  "$root/usr/lib/systemd/system" "$root/usr/lib/udev/rules.d" "$root/usr/share/doc/kiosk" \
  "$root/usr/share/synkinesis"
"$gnu-strip" -o "$root/usr/bin/kiosk" "$bin"
chmod 755 "$root/usr/bin/kiosk"
install -m 644 "$models/manifest.toml" "$root/usr/share/kiosk/models/"
while IFS= read -r f; do
  install -m 644 "$models/$f" "$root/usr/share/kiosk/models/$f"
done <<<"$model_files"
[ -f "$models/NOTICE" ] && install -m 644 "$models/NOTICE" "$root/usr/share/kiosk/models/"
# Where the kiosk looks when no configuration names a models folder
# (<exe dir>/../share/synkinesis/models), e.g. for `kiosk demo`.
ln -s ../kiosk/models "$root/usr/share/synkinesis/models"
install -m 644 packaging/kiosk.toml "$root/etc/kiosk/kiosk.toml"
install -m 644 packaging/kiosk.service "$root/usr/lib/systemd/system/kiosk.service"
install -m 644 packaging/60-kiosk.rules "$root/usr/lib/udev/rules.d/60-kiosk.rules"
install -m 644 packaging/README.Debian "$root/usr/share/doc/kiosk/README.Debian"
{
  echo "The synkinesis screening kiosk. Licence: MIT OR Apache-2.0."
  echo "The models in /usr/share/kiosk/models carry their own licences:"
  echo
  cat "$models/NOTICE" 2>/dev/null || true
} >"$root/usr/share/doc/kiosk/copyright"
install -m 755 packaging/deb/postinst packaging/deb/prerm packaging/deb/postrm "$root/DEBIAN/"
echo /etc/kiosk/kiosk.toml >"$root/DEBIAN/conffiles"

# Dependencies from the binary itself: the newest glibc symbol version it uses
# and the shared libraries it links.
glibc=$("$gnu-objdump" -T "$bin" | grep -o 'GLIBC_[0-9.]*' | sed 's/GLIBC_//' | sort -uV | tail -1)
depends="libc6 (>= $glibc)"
readelf -d "$bin" | grep -q 'NEEDED.*libgcc_s' && depends+=", libgcc-s1"
depends+=", passwd"
cat >"$root/DEBIAN/control" <<EOF
Package: kiosk
Version: $version
Architecture: $debarch
Maintainer: Synkinesis kiosk developers <kiosk@example.invalid>
Installed-Size: $(du -sk --exclude=DEBIAN "$root" | cut -f1)
Depends: $depends
Section: misc
Priority: optional
Homepage: https://example.invalid/synkinesis-kiosk
Description: edge screening kiosk for facial synkinesis
 Guides a patient through a few facial expressions in front of a camera,
 measures the face on the device and says whether to refer the patient to a
 facial palsy specialist. A screening aid, not a diagnostic device. Runs as
 the kiosk.service systemd unit; configure it in /etc/kiosk/kiosk.toml.
EOF
(cd "$root" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | xargs -0 md5sum) >"$root/DEBIAN/md5sums"

mkdir -p "$out"
deb=$out/kiosk_${version}_${debarch}.deb
dpkg-deb --root-owner-group -Zxz --build "$root" "$deb" >/dev/null
echo "$deb ($(du -h "$deb" | cut -f1); kiosk $(du -h "$root/usr/bin/kiosk" | cut -f1) stripped; Depends: $depends)"
