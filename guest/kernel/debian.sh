#!/usr/bin/env bash
# debian.sh OUTDIR: fetch Debian's stock cloud kernel (the "stock distro VM"
# case, and the L1 kernel of the end-to-end rig) and lay it out in OUTDIR:
#
#   OUTDIR/vmlinuz        the bzImage
#   OUTDIR/config         its Kconfig
#   OUTDIR/release        its `uname -r`, e.g. 6.1.0-56-cloud-amd64
#   OUTDIR/modules/*.ko   uncompressed modules (Debian 6.1 uses MODULE_COMPRESS_NONE)
#   OUTDIR/modules/kvm.order     irqbypass, kvm, kvm-amd, tun: insmod in this order (rig L1;
#                                tun gives L1 /dev/net/tun for gvmm --net tap)
#   OUTDIR/modules/virtio.order  virtio PCI/net/console/blk and pvpanic-pci with
#                                their dependencies, dependencies first (guest)
#
# The package is linux-image-cloud-amd64's current dependency unless
# GVMM_DEBIAN_KERNEL_PKG names one (e.g. linux-image-6.1.0-56-cloud-amd64).
# It comes from `apt-get download` (so `apt-get update` must have run once)
# and is unpacked with `dpkg-deb -x`; nothing is installed on the host.
# Cached under $(gvmm_cache_dir)/debian-kernel-<key>, keyed by the package
# name and version and this script.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$here/lib.sh"

[ $# -eq 1 ] || die "usage: $0 OUTDIR"
outdir=$1
need_cmd apt-get apt
need_cmd dpkg-deb dpkg
need_cmd modinfo kmod

# Module groups, by module name (as modinfo spells dependencies).
kvm_modules="irqbypass kvm kvm_amd tun"
virtio_modules="virtio_pci virtio_net virtio_console virtio_blk pvpanic_pci"

pkg=${GVMM_DEBIAN_KERNEL_PKG:-}
if [ -z "$pkg" ]; then
	pkg=$(apt-cache depends linux-image-cloud-amd64 2>/dev/null |
		sed -n 's/^ *Depends: \(linux-image-[0-9].*-cloud-amd64\)$/\1/p' | head -n1)
	[ -n "$pkg" ] || die "cannot resolve linux-image-cloud-amd64: run apt-get update (or set GVMM_DEBIAN_KERNEL_PKG)"
fi
ver=$(apt-cache policy "$pkg" 2>/dev/null | sed -n 's/^ *Candidate: //p')
[ -n "$ver" ] && [ "$ver" != "(none)" ] || die "package $pkg unknown to apt: run apt-get update"

key=$( { cat "$here/debian.sh" "$here/lib.sh"; echo "$pkg=$ver"; } | sha256sum | cut -c1-16)
cache=$(gvmm_cache_dir)
entry=$cache/debian-kernel-$key
mkdir -p "$cache"
exec 9>"$cache/debian-kernel.lock"
flock 9

# find_module TREE NAME: the .ko file of module NAME (names use _ where files may use -).
find_module() {
	local f
	f=$(find "$1" -name "$2.ko" -o -name "${2//_/-}.ko" | head -n1)
	[ -n "$f" ] || die "module $2 not found in $pkg"
	printf '%s\n' "$f"
}

# load_order TREE NAME...: NAMEs and their dependencies, dependencies first, once each.
load_order() {
	local tree=$1
	shift
	local -A seen=()
	local out=()
	visit() {
		local m=$1 dep deps
		[ -z "${seen[$m]:-}" ] || return 0
		seen[$m]=1
		deps=$(modinfo -F depends "$(find_module "$tree" "$m")")
		for dep in ${deps//,/ }; do
			visit "$dep"
		done
		out+=("$m")
	}
	local m
	for m in "$@"; do
		visit "$m"
	done
	printf '%s\n' "${out[@]}"
}

if [ ! -s "$entry/vmlinuz" ]; then
	work=$(mktemp -d "$cache/debian-kernel.XXXXXX")
	trap 'rm -rf "$work"' EXIT
	log "downloading $pkg $ver"
	(cd "$work" && apt-get download -q "$pkg=$ver" >/dev/null 2>"$work/apt.err") ||
		die "apt-get download $pkg=$ver failed: $(tail -n1 "$work/apt.err")"
	dpkg-deb -x "$work"/*.deb "$work/root"
	release=$(basename "$(ls -d "$work"/root/lib/modules/*)")
	tree=$work/root/lib/modules/$release

	mkdir -p "$work/out/modules"
	cp "$work/root/boot/vmlinuz-$release" "$work/out/vmlinuz"
	cp "$work/root/boot/config-$release" "$work/out/config"
	echo "$release" >"$work/out/release"
	echo "$pkg=$ver" >"$work/out/package"
	load_order "$tree" $kvm_modules >"$work/out/modules/kvm.order"
	load_order "$tree" $virtio_modules >"$work/out/modules/virtio.order"
	sort -u "$work/out/modules/kvm.order" "$work/out/modules/virtio.order" |
		while read -r m; do
			cp "$(find_module "$tree" "$m")" "$work/out/modules/$m.ko"
		done
	rm -rf "$entry"
	mv "$work/out" "$entry"
else
	log "cache hit: $entry"
fi

rm -rf "$outdir.tmp"
mkdir -p "$(dirname "$outdir")"
cp -r "$entry" "$outdir.tmp"
rm -rf "$outdir"
mv "$outdir.tmp" "$outdir"
log "$outdir: $(cat "$outdir/release"), $(ls "$outdir/modules" | grep -c '\.ko$') modules"
