#!/bin/sh
# Runs inside the arm64 VM as vmtest.service, once systemd has booted the
# Debian root (vm/arm64/run-install-test.sh puts it at /root/vmtest/).
#
# First boot (vmtest.phase=install on the kernel command line): installs the
# kiosk .deb with dpkg, edits /etc/kiosk/kiosk.toml the way a technician
# would, starts kiosk.service and checks it; then a screening of the virtual
# patient; then the package again as an upgrade. Second boot of the same
# disk (vmtest.phase=boot): systemd started kiosk.service by itself, with the
# kept configuration and record log. Every checked point is one line on the
# serial console:
#     ==CHECK PASS|FAIL <name>: <detail>
# and the evidence (journal, conffile, record log, ...) goes back as files,
# base64 between ==BEGIN <name> / ==END <name>. The host decides: a check
# that never printed counts as failed.
#
# Environment from the host (vmtest.env): KIOSK_DEB, KIOSK_DEB_UPGRADE,
# SCREENING_TIMEOUT_S, START_TIMEOUT_S.
set -u
here=/root/vmtest
# shellcheck source=/dev/null
. "$here/vmtest.env"
out=/root/vmtest-out
mkdir -p "$out"
conf=/etc/kiosk/kiosk.toml
log=/var/lib/kiosk/records.log

step() { echo "==STEP $(cut -d' ' -f1 /proc/uptime) $*"; }
send() { [ -f "$2" ] || return 0; echo "==BEGIN $1"; base64 "$2"; echo "==END $1"; }
pass() { echo "==CHECK PASS $1: $2"; }
fail() { echo "==CHECK FAIL $1: $2"; }
# check NAME DETAIL COMMAND...: PASS when COMMAND succeeds.
check() {
  name=$1 detail=$2
  shift 2
  if "$@"; then pass "$name" "$detail"; else fail "$name" "$detail"; fi
}
show() { systemctl show -p "$1" --value kiosk.service; }
# The kiosk's log lines as the journal has them, without terminal colour codes.
kiosk_log() { journalctl -u kiosk.service -o cat --no-pager | sed 's/\x1b\[[0-9;]*m//g'; }
# Seconds from the main process's start to the unit becoming active.
ready_after() {
  awk -v a="$(show ExecMainStartTimestampMonotonic)" -v b="$(show ActiveEnterTimestampMonotonic)" 'BEGIN { printf "%.1f", (b - a) / 1e6 }'
}
# Replaces the body of [SECTION] in the conffile with the lines on stdin,
# leaving every other line (comments included) as it was.
set_section() {
  body=$(cat)
  awk -v sec="[$1]" -v body="$body" '
    /^\[/ { if (skip) skip = 0; if ($0 == sec) { print; print body; print ""; skip = 1; done = 1; next } }
    !skip { print }
    END { if (!done) { print ""; print sec; print body } }
  ' "$conf" > "$conf.new" && cat "$conf.new" > "$conf" && rm "$conf.new"
}
# Waits until kiosk.service is active and running (READY=1 received), at most $1 s.
wait_active() {
  i=0
  while [ "$(show ActiveState)/$(show SubState)" != active/running ] && [ "$i" -lt "$1" ]; do
    sleep 1
    i=$((i + 1))
  done
  [ "$(show ActiveState)/$(show SubState)" = active/running ]
}
# The kiosk's main process runs as the kiosk user (real, effective, saved, fs uid).
runs_as_kiosk() {
  pid=$(show MainPID)
  uid=$(id -u kiosk)
  [ "$pid" -gt 0 ] && [ "$(uid_line "$pid")" = "Uid: ${uid} ${uid} ${uid} ${uid}" ]
}
# The process's Uid: line (real, effective, saved, filesystem uid), one space apart.
uid_line() { grep '^Uid:' "/proc/$1/status" 2>/dev/null | tr -s '\t ' ' '; }
opens() {
  for fd in "/proc/$(show MainPID)/fd"/*; do
    [ "$(readlink "$fd")" = "$1" ] && return 0
  done
  return 1
}
opens_camera_and_fb() { opens /dev/video0 && opens /dev/fb0; }
status_of() {
  pid=$(show MainPID)
  echo "systemctl show: $(systemctl show -p ActiveState,SubState,MainPID,User,Type,NRestarts kiosk.service | tr '\n' ' ')"
  ps -o user,group,supgrp,pid,etime,args -p "$pid" 2>&1
  grep -E '^(Uid|Gid|Groups):' "/proc/$pid/status" 2>&1
  for fd in "/proc/$pid/fd"/*; do
    target=$(readlink "$fd")
    case $target in /dev/video* | /dev/fb* | */records.log) echo "fd ${fd##*/} -> $target" ;; esac
  done
}
saved_count() { kiosk_log | grep -c 'record saved'; }

phase=$(sed -n 's/.*vmtest\.phase=\([a-z]*\).*/\1/p' /proc/cmdline)

# --- second boot: nobody starts the kiosk, systemd does ---
if [ "$phase" = boot ]; then
  step boot
  [ -f "$out/phase1-done" ] || { echo "==FATAL the first boot did not finish"; exit 1; }
  # shellcheck source=/dev/null  # size_final, sha_log_final, sha_conf_final
  . "$out/phase1.env"
  : "${size_final:?}" "${sha_log_final:?}" "${sha_conf_final:?}"
  # Started during boot, before this test (multi-user.target waits for it).
  test_started=$(systemctl show -p ExecMainStartTimestampMonotonic --value vmtest.service)
  kiosk_started=$(show ExecMainStartTimestampMonotonic)
  status_of | tee "$out/status-boot.txt"
  check started-at-boot "$(show ActiveState)/$(show SubState) at boot, process started $(echo "$kiosk_started" | awk '{printf "%.1f", $1 / 1e6}') s after the kernel, READY $(ready_after) s later; nobody ran systemctl start" \
    sh -c "[ \"\$(systemctl show -p ActiveState,SubState --value kiosk.service | tr '\n' /)\" = active/running/ ] && [ '$kiosk_started' -gt 0 ] && [ '$kiosk_started' -lt '$test_started' ]"
  check runs-as-kiosk-at-boot "MainPID $(show MainPID), $(uid_line "$(show MainPID)")" runs_as_kiosk
  journalctl -b -u kiosk.service -o cat --no-pager | sed 's/\x1b\[[0-9;]*m//g' | grep 'kiosk ready' | tail -n 1 > "$out/ready-boot.txt"
  check ready-at-boot "$(sed 's/^.*INFO //' "$out/ready-boot.txt")" sh -c "grep -q 'camera=virtual patient' '$out/ready-boot.txt'"
  check kept-after-reboot "conffile sha256 unchanged; records.log still begins with the $size_final bytes it had; now $(stat -c %s "$log") bytes" \
    sh -c "[ \"\$(sha256sum < '$conf' | cut -d' ' -f1)\" = '$sha_conf_final' ] && [ \"\$(head -c '$size_final' '$log' | sha256sum | cut -d' ' -f1)\" = '$sha_log_final' ]"
  journalctl -b -u kiosk.service -o short-monotonic --no-pager 2>&1 | sed 's/\x1b\[[0-9;]*m//g' > "$out/journal-kiosk-boot2.txt"
  for f in status-boot.txt ready-boot.txt journal-kiosk-boot2.txt; do send "$f" "$out/$f"; done
  step done-boot
  exit 0
fi

# --- first boot ---
step vmtest
echo "kernel $(uname -r), $(nproc) CPUs, $(systemctl is-system-running 2>&1)"
systemctl --failed --no-pager --plain 2>&1
ls -l /dev/video0 /dev/fb0 2>&1
cat /sys/class/graphics/fb0/name /sys/class/video4linux/video0/name 2>&1
check devices "/dev/video0 (vivid) and /dev/fb0 present, group video" \
  sh -c '[ -c /dev/video0 ] && [ -c /dev/fb0 ] && [ "$(stat -c %G /dev/video0)" = video ] && [ "$(stat -c %G /dev/fb0)" = video ]'

# --- 1. first install ---
step install
dpkg -i "$here/$KIOSK_DEB" < /dev/null > "$out/dpkg-install.txt" 2>&1
rc=$?
cat "$out/dpkg-install.txt"
check dpkg-install "dpkg -i $KIOSK_DEB rc=$rc, $(dpkg-query -W -f '${Package} ${Version} ${Architecture}: ${Status}' kiosk 2>&1)" \
  sh -c "[ $rc = 0 ] && dpkg-query -W -f '\${Status}' kiosk | grep -qx 'install ok installed'"
id kiosk 2>&1
check kiosk-user "$(id kiosk 2>&1)" sh -c 'id kiosk >/dev/null && id -nG kiosk | grep -qw video && [ "$(getent passwd kiosk | cut -d: -f7)" = /usr/sbin/nologin ]'
check unit-enabled "systemctl is-enabled kiosk: $(systemctl is-enabled kiosk.service 2>&1)" \
  sh -c '[ "$(systemctl is-enabled kiosk.service)" = enabled ]'

# --- 2. the technician's edit: this VM has no GPIO button ---
step configure
cp "$conf" "$out/kiosk.toml.packaged"
set_section input <<'EOF'
kind = "automatic"       # vm/arm64: no GPIO in the VM; screenings start by themselves
EOF
diff -u "$out/kiosk.toml.packaged" "$conf"

# --- 3. the service with vivid and the framebuffer ---
step start-vivid
t0=$(cut -d' ' -f1 /proc/uptime)
timeout "$START_TIMEOUT_S" systemctl start kiosk.service
rc=$?
t1=$(cut -d' ' -f1 /proc/uptime)
wait_active 5
status_of | tee "$out/status-vivid.txt"
check unit-active "systemctl start kiosk rc=$rc after $(echo "$t0 $t1" | awk '{printf "%.1f", $2 - $1}') s; $(show ActiveState)/$(show SubState), Type=$(show Type)" \
  sh -c "[ $rc = 0 ] && [ \"\$(systemctl show -p ActiveState,SubState --value kiosk.service | tr '\n' /)\" = active/running/ ]"
check runs-as-kiosk "MainPID $(show MainPID) User=$(show User), $(uid_line "$(show MainPID)") (kiosk is $(id -u kiosk))" runs_as_kiosk
kiosk_log | grep 'kiosk ready' | tail -n 1 > "$out/ready-vivid.txt"
check ready "Type=notify: active $(ready_after) s after the process started, once READY=1 came; log: $(sed 's/^.*INFO //' "$out/ready-vivid.txt")" \
  sh -c "grep -q 'camera=.*/dev/video0' '$out/ready-vivid.txt' && grep -q 'display=.*fb0' '$out/ready-vivid.txt'"
check uses-vivid-and-fb "the kiosk process holds /dev/video0 and /dev/fb0 open" opens_camera_and_fb
# What the kiosk drew on the framebuffer, read back by root.
sleep 3
kiosk fb-dump --device /dev/fb0 --out "$out/fb-vivid.png" 2>&1

# --- 4. a screening of the virtual patient ---
step screening
set_section camera <<'EOF'
source = "virtual"       # vm/arm64: the virtual patient sits at the kiosk
condition = "synkinetic"
seed = 7
fps = 5                  # fewer frames per second of patient time: TCG is slow
EOF
diff -u "$out/kiosk.toml.packaged" "$conf" > "$out/kiosk.toml.diff"
cat "$out/kiosk.toml.diff"
saved_before=$(saved_count)
timeout "$START_TIMEOUT_S" systemctl restart kiosk.service
rc=$?
wait_active 5
status_of | tee "$out/status-virtual.txt"
check unit-active-virtual "systemctl restart kiosk rc=$rc; $(show ActiveState)/$(show SubState)" \
  sh -c "[ $rc = 0 ] && [ \"\$(systemctl show -p ActiveState --value kiosk.service)\" = active ]"
t0=$(cut -d' ' -f1 /proc/uptime)
i=0
while [ "$(saved_count)" -le "${saved_before:-0}" ] && [ "$i" -lt "$SCREENING_TIMEOUT_S" ]; do
  sleep 2
  i=$((i + 2))
done
t1=$(cut -d' ' -f1 /proc/uptime)
kiosk_log | grep -E 'screening started|captured|skipped|decided|record saved|record NOT' | tail -n 8 > "$out/screening.txt"
cat "$out/screening.txt"
check screening-recorded "$(grep 'record saved' "$out/screening.txt" | tail -n 1 | sed 's/^.*INFO //') after $(echo "$t0 $t1" | awk '{printf "%.0f", $2 - $1}') s; $(grep 'decided' "$out/screening.txt" | tail -n 1 | sed 's/^.*INFO //')" \
  sh -c "[ $(saved_count) -gt ${saved_before:-0} ] && [ -s '$log' ]"
kiosk fb-dump --device /dev/fb0 --out "$out/fb-virtual.png" 2>&1

# --- 5. the package again, as an upgrade, while the kiosk runs ---
step upgrade
ls -l /var/lib/kiosk
# The kiosk keeps running (and may append): take the log once, then compare with that.
cp "$log" "$out/records-before-upgrade.log"
size_before=$(stat -c %s "$out/records-before-upgrade.log")
sha_log_before=$(sha256sum < "$out/records-before-upgrade.log" | cut -d' ' -f1)
sha_conf_before=$(sha256sum < "$conf" | cut -d' ' -f1)
pid_before=$(show MainPID)
dpkg -i "$here/$KIOSK_DEB_UPGRADE" < /dev/null > "$out/dpkg-upgrade.txt" 2>&1
rc=$?
cat "$out/dpkg-upgrade.txt"
check dpkg-upgrade "dpkg -i $KIOSK_DEB_UPGRADE rc=$rc, now $(dpkg-query -W -f '${Version}: ${Status}' kiosk 2>&1)" \
  sh -c "[ $rc = 0 ] && dpkg-query -W -f '\${Status}' kiosk | grep -qx 'install ok installed'"
ls -l /etc/kiosk
check conffile-kept "sha256 $(sha256sum < "$conf" | cut -c1-16)… as before, edits present, no .dpkg-new/.dpkg-dist; dpkg: packaged md5 $(dpkg-query -W -f '${Conffiles}' kiosk | awk '$1 == "/etc/kiosk/kiosk.toml" {print substr($2, 1, 12)}')…, file md5 $(md5sum < "$conf" | cut -c1-12)… (locally modified)" \
  sh -c "[ \"\$(sha256sum < '$conf' | cut -d' ' -f1)\" = '$sha_conf_before' ] && grep -q '^kind = \"automatic\"' '$conf' && grep -q '^source = \"virtual\"' '$conf' && ! ls /etc/kiosk/*.dpkg-* >/dev/null 2>&1"
# The kiosk may append another screening after its restart: the log must
# still begin with every byte it had before the upgrade.
check records-kept "records.log: first $size_before bytes unchanged (sha256 $(echo "$sha_log_before" | cut -c1-16)…), now $(stat -c %s "$log") bytes" \
  sh -c "[ \"\$(head -c '$size_before' '$log' | sha256sum | cut -d' ' -f1)\" = '$sha_log_before' ]"
wait_active "$START_TIMEOUT_S"
status_of | tee "$out/status-upgraded.txt"
check unit-active-after-upgrade "$(show ActiveState)/$(show SubState), MainPID $pid_before -> $(show MainPID) (restarted by the postinst)" \
  sh -c "[ \"\$(systemctl show -p ActiveState,SubState --value kiosk.service | tr '\n' /)\" = active/running/ ] && [ \"\$(systemctl show -p MainPID --value kiosk.service)\" != '$pid_before' ]"
check runs-as-kiosk-after-upgrade "MainPID $(show MainPID), $(uid_line "$(show MainPID)")" runs_as_kiosk

# --- 6. the evidence ---
step evidence
systemctl stop kiosk.service
cp "$log" "$out/records.log"
cat > "$out/phase1.env" <<EOF
size_final=$(stat -c %s "$out/records.log")
sha_log_final=$(sha256sum < "$out/records.log" | cut -d' ' -f1)
sha_conf_final=$(sha256sum < "$conf" | cut -d' ' -f1)
EOF
install -d -o kiosk -g kiosk /tmp/usb
# Bundles are sealed to the paired clinic's key: pair with a public key made
# for this test (its secret was not kept), without an address, so the kiosk
# never tries to sync.
runuser -u kiosk -- kiosk pair --data /var/lib/kiosk \
  --host-key 59a80ac0d9421820ccb10298da7fd8354a07af733b9ff5c0aadc9f9a72737517 2>&1 | sed 's/\x1b\[[0-9;]*m//g' > "$out/pair.txt"
runuser -u kiosk -- kiosk export --data /var/lib/kiosk /tmp/usb 2>&1 | sed 's/\x1b\[[0-9;]*m//g' > "$out/export.txt"
cat "$out/export.txt"
find /tmp/usb -name manifest.json -exec cp {} "$out/export-manifest.json" \;
journalctl -u kiosk.service -o short-monotonic --no-pager 2>&1 | sed 's/\x1b\[[0-9;]*m//g' > "$out/journal-kiosk.txt"
echo "multi-user.target active $(systemctl show -p ActiveEnterTimestampMonotonic --value multi-user.target | awk '{printf "%.1f", $1 / 1e6}') s after the kernel started" > "$out/boot-time.txt"
cp "$conf" "$out/kiosk.toml"
for f in "$out"/*; do
  case $f in *.env) ;; *) send "$(basename "$f")" "$f" ;; esac
done
touch "$out/phase1-done"
sync
step "done"
