#!/bin/sh
# customize.sh ROOT HERE TOOLS: mmdebstrap's customize hook. Lays this
# directory's files/ over the tree at ROOT, adds the gvmm-ready binary
# from TOOLS and configures the tree for a gvmm VM.
set -eu
root=$1
here=$2
tools=$3

cp -a "$here/files/." "$root/"
install -m 0755 "$tools/gvmm-ready" "$root/usr/local/sbin/gvmm-ready"
echo gvmm-debian >"$root/etc/hostname"
printf '127.0.0.1\tlocalhost\n127.0.1.1\tgvmm-debian\n' >"$root/etc/hosts"
# The root disk, by the label mkfs.ext4 gave it, so that it is found
# wherever it sits on the bus (vda under gvmm; under QEMU's microvm the
# virtio-mmio disks are numbered in another order). The kernel mounts it
# (root= on its command line); systemd checks this entry and remounts it
# as written here.
printf 'LABEL=gvmm-root\t/\text4\tdefaults,errors=remount-ro\t0\t1\n' >"$root/etc/fstab"
# root logs in on the serial console without a password (a course VM, on
# a host-only network).
chroot "$root" passwd -d root >/dev/null
# The units gvmm's VM needs: an address from the kernel command line, and
# READY once nginx is up.
chroot "$root" systemctl enable gvmm-net.service gvmm-ready.service >/dev/null 2>&1
# The serial console's getty (systemd starts one for the last console=
# anyway; enabling it makes the login independent of the command line).
chroot "$root" systemctl enable serial-getty@ttyS0.service >/dev/null 2>&1
# There is no screen: no getty on the first virtual terminal.
chroot "$root" systemctl disable getty@tty1.service >/dev/null 2>&1 || true
# Nothing in this VM needs these timers; they only make the first minutes
# busier.
chroot "$root" systemctl mask apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer fstrim.timer >/dev/null 2>&1 || true
# Nor these boot services (systemd-analyze blame in the rig: e2scrub_reap
# 11 s, getty-static 5 s, off the critical path but busy): no LVM
# snapshots to reap, and the serial getty is the console.
chroot "$root" systemctl mask e2scrub_reap.service getty-static.service >/dev/null 2>&1 || true
rm -rf "$root/var/lib/apt/lists/"* "$root/var/cache/apt/"*.bin "$root/var/cache/apt/archives/"*.deb
