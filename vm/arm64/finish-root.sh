#!/bin/sh
# Runs in the arm64 root (chroot, inside the VM) right after debootstrap's
# second stage, before the host caches the disk image.
set -e
# The VM has no network: the root needs no apt sources (and keeps no mirror name).
rm -f /etc/apt/sources.list
apt-get clean
rm -f /etc/dpkg/dpkg.cfg.d/vm-arm64-unsafe-io
echo kiosk-vm > /etc/hostname
# A fresh machine id on every boot (an empty file: systemd makes a transient one).
: > /etc/machine-id
# No console login on the serial line the test talks on.
ln -sf /dev/null /etc/systemd/system/serial-getty@ttyAMA0.service
ln -sf /dev/null /etc/systemd/system/getty@tty1.service
dpkg-query -W -f '${db:Status-Abbrev} ${Package} ${Version}\n' > /root/packages.txt
echo "root: $(wc -l < /root/packages.txt) packages, $(dpkg-query -W -f '${Version}' libc6) libc6, $(dpkg-query -W -f '${Version}' systemd) systemd"
