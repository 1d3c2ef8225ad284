#!/usr/bin/env bash
# build.sh OUTDIR: a Debian bookworm VM that boots from its own disk.
#
#   OUTDIR/image.ext4    the root file system, a sparse ext4 image, as built
#   OUTDIR/rootfs.ext4   a copy of it that `make run-debian` boots (/dev/vda);
#                        kept across runs until the image is rebuilt
#   OUTDIR/vmlinuz       Debian's cloud kernel, as installed in the image
#   OUTDIR/initrd.img    Debian's own initramfs (initramfs-tools) for it: it
#                        loads virtio_pci and virtio_blk and mounts /dev/vda
#   OUTDIR/release       the kernel's `uname -r`
#   OUTDIR/cmdline       the kernel command line that boots it under gvmm
#
# The tree is made by mmdebstrap from Debian's packages (variant minbase plus
# systemd, udev, iproute2, nginx and fio) with the files in this directory
# laid over it: the units that give the guest its address from the kernel
# command line (gvmm-net.service) and say READY once nginx is up
# (gvmm-ready.service, running guest/cmd/gvmm-ready, built here with Go). The disk is made by mkfs.ext4 -d, no loop mount.
# root has no password: log in on the serial console as root.
#
# The kernel package is linux-image-cloud-amd64's current dependency, the
# same one guest/kernel/debian.sh resolves. Cached under
# $(gvmm_cache_dir)/debian-image-<key>, keyed by this directory's files and
# the kernel package's version; OUTDIR gets copies (the disks stay sparse),
# so a VM that writes to OUTDIR/rootfs.ext4 never changes the cache.
# Needs root (mmdebstrap --mode=root), mmdebstrap and e2fsprogs, and the
# Debian mirror that apt uses.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../kernel/lib.sh
. "$here/../kernel/lib.sh"

[ $# -eq 1 ] || die "usage: $0 OUTDIR"
outdir=$1
need_cmd mmdebstrap mmdebstrap
need_cmd mkfs.ext4 e2fsprogs
need_cmd apt-cache apt
[ "$(id -u)" -eq 0 ] || die "mmdebstrap needs root here (--mode=root): run as root"

suite=bookworm
mirror=${GVMM_DEBIAN_MIRROR:-http://deb.debian.org/debian}
security=${GVMM_DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}
# Debian's kernel updates come through bookworm-security and
# bookworm-updates: without them apt finds no kernel of the version
# linux-image-cloud-amd64 now depends on.
sources=("deb $mirror $suite main" "deb $mirror $suite-updates main" "deb $security $suite-security main")
# The disk's size: the tree takes about 450 MiB; the rest is the guest's.
disk_size=${GVMM_DEBIAN_DISK_SIZE:-2G}
packages=(systemd-sysv udev kmod iproute2 procps nginx fio initramfs-tools zstd)

kpkg=$(apt-cache depends linux-image-cloud-amd64 2>/dev/null |
	sed -n 's/^ *Depends: \(linux-image-[0-9].*-cloud-amd64\)$/\1/p' | head -n1)
[ -n "$kpkg" ] || die "cannot resolve linux-image-cloud-amd64: run apt-get update"
kver=$(apt-cache policy "$kpkg" 2>/dev/null | sed -n 's/^ *Candidate: //p')

# The READY signaller (guest/cmd/gvmm-ready), built static from this
# checkout; its bytes are part of the key.
tools=$(mktemp -d)
trap 'rm -rf "$tools"' EXIT
need_cmd go "Go (https://go.dev/dl, or /usr/local/go/bin on PATH)"
(cd "$here/../.." && CGO_ENABLED=0 go build -trimpath -o "$tools/gvmm-ready" ./guest/cmd/gvmm-ready) ||
	die "cannot build guest/cmd/gvmm-ready"

key=$({
	sha256sum "$tools/gvmm-ready" | cut -d' ' -f1
	find "$here" -type f | LC_ALL=C sort | xargs sha256sum | sed "s|$here/||"
	sha256sum "$here/../kernel/lib.sh" | cut -d' ' -f1
	echo "$suite ${sources[*]} $disk_size $kpkg=$kver ${packages[*]}"
} | sha256sum | cut -c1-16)
cache=$(gvmm_cache_dir)
entry=$cache/debian-image-$key
mkdir -p "$cache"
exec 9>"$cache/debian-image.lock"
flock 9

if [ ! -f "$entry/done" ]; then
	log "building the Debian $suite disk image ($kpkg $kver); a few minutes"
	rm -rf "$entry" "$entry.tmp"
	mkdir -p "$entry.tmp"
	tree=$entry.tmp/tree
	# Debian's initramfs with the modules a gvmm VM needs, and no others
	# (MODULES=list: the default, most, makes it five times larger). It
	# goes in before the kernel package, whose postinst builds the
	# initramfs.
	mmdebstrap --mode=root --variant=minbase --format=directory \
		--include="$(
			IFS=,
			echo "${packages[*]},$kpkg"
		)" \
		--essential-hook="mkdir -p \"\$1/etc/initramfs-tools/conf.d\" \"\$1/etc/initramfs-tools/hooks\"" \
		--essential-hook="cp '$here/initramfs.conf' \"\$1/etc/initramfs-tools/conf.d/gvmm.conf\"" \
		--essential-hook="install -m 0755 '$here/initramfs-hook' \"\$1/etc/initramfs-tools/hooks/gvmm\"" \
		--customize-hook="'$here/customize.sh' \"\$1\" '$here' '$tools'" \
		--dpkgopt='path-exclude=/usr/share/doc/*' \
		--dpkgopt='path-exclude=/usr/share/man/*' \
		--dpkgopt='path-exclude=/usr/share/locale/*' \
		--dpkgopt='path-include=/usr/share/locale/locale.alias' \
		"$suite" "$tree" "${sources[@]}" >&2
	release=$(basename "$(ls -d "$tree"/lib/modules/*)")
	if [ ! -f "$tree/boot/vmlinuz-$release" ] || [ ! -f "$tree/boot/initrd.img-$release" ]; then
		die "the image has no kernel or initramfs for $release"
	fi
	cp "$tree/boot/vmlinuz-$release" "$entry.tmp/vmlinuz"
	cp "$tree/boot/initrd.img-$release" "$entry.tmp/initrd.img"
	echo "$release" >"$entry.tmp/release"
	cp "$here/cmdline" "$entry.tmp/cmdline"
	# -d copies the tree in; the label lets fstab find the disk by name
	# whatever its place (vda, vdb) on the bus.
	truncate -s "$disk_size" "$entry.tmp/rootfs.ext4"
	mkfs.ext4 -q -F -L gvmm-root -d "$tree" "$entry.tmp/rootfs.ext4"
	rm -rf "$tree"
	mv "$entry.tmp" "$entry"
	touch "$entry/done"
fi

mkdir -p "$outdir"
for f in vmlinuz initrd.img release cmdline; do
	install_copy "$entry/$f" "$outdir/$f"
done
# image.ext4 is the image as built, for tests to copy; rootfs.ext4 is the
# disk `make run-debian` boots and writes to. It is made from image.ext4
# when missing or when the image was rebuilt (its key changed), and kept
# otherwise, so what you do in the VM survives to the next run.
sparse_copy() {
	cp --sparse=always -f "$1" "$2.tmp.$$" && mv -f "$2.tmp.$$" "$2"
}
if [ "$(cat "$outdir/key" 2>/dev/null)" != "$key" ] || [ ! -f "$outdir/image.ext4" ]; then
	sparse_copy "$entry/rootfs.ext4" "$outdir/image.ext4"
	sparse_copy "$entry/rootfs.ext4" "$outdir/rootfs.ext4"
	echo "$key" >"$outdir/key"
elif [ ! -f "$outdir/rootfs.ext4" ]; then
	sparse_copy "$outdir/image.ext4" "$outdir/rootfs.ext4"
fi
log "$outdir: $(cat "$outdir/release"), rootfs.ext4 $(du -h --apparent-size "$outdir/rootfs.ext4" | cut -f1) ($(du -h "$outdir/rootfs.ext4" | cut -f1) used)"
