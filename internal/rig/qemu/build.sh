#!/usr/bin/env bash
# build.sh OUT: build the rig's L1 emulator, Debian's QEMU 7.2 with
# svm-interrupt-lock.patch, and copy qemu-system-x86_64 to OUT.
#
# Why a patched QEMU: NESTED.md ("A race in QEMU's TCG SVM emulation").
# helper_vmrun and the CR8 write update cs->interrupt_request without the
# big QEMU lock while the I/O thread raises L1's APIC timer under it; the
# timer interrupt is lost and L1 freezes while L2 spins, or worse. Stock
# QEMU with -smp 2 passes ~98% of L2 boots; with the lock taken, 64 of 64.
# The e2e tests boot L2 several times per CI run and move 200 MiB through
# it, so the stock 2% per boot failed whole CI runs.
#
# Source: Debian bookworm's qemu source package with Debian's patches (via
# a private deb-src list, so the host's apt configuration is untouched).
# Only x86_64-softmmu with TCG and KVM is built (~5 minutes on 2 cores):
# TCG for the rig's L1, KVM so that the same binary (whose few libraries
# the rig copies in) runs inside L1 as the peer of gvmm's network
# benchmark (bench/, `make bench-net`). The
# binary's data directory is /usr/share/qemu, where Debian's
# qemu-system-data (a dependency of qemu-system-x86) keeps SeaBIOS and the
# option ROMs, with SeaBIOS in /usr/share/seabios (the firmware path
# Debian's own build uses). Cached under $(gvmm_cache_dir)/rig-qemu-<key>, keyed by this
# script and the patch.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../../../guest/kernel/lib.sh
. "$here/../../../guest/kernel/lib.sh"

[ $# -eq 1 ] || die "usage: $0 OUT"
out=$1
qemu_version=7.2
for c in "apt-get apt" "meson meson" "ninja ninja-build" "pkg-config pkg-config" \
	"patch patch" "cc gcc" "xz xz-utils" "dpkg-source dpkg-dev"; do
	need_cmd $c
done
pkg-config --exists glib-2.0 || die "glib-2.0 development files missing: apt-get install libglib2.0-dev"
pkg-config --exists pixman-1 || die "pixman development files missing: apt-get install libpixman-1-dev"
# x86_64-softmmu requires the flattened device tree library (meson:
# "fdt not available but required by targets x86_64-softmmu").
[ -e /usr/include/libfdt.h ] || die "libfdt development files missing: apt-get install libfdt-dev"
[ -e /usr/share/seabios/bios-256k.bin ] || die "no SeaBIOS in /usr/share/seabios: apt-get install qemu-system-x86"

key=$( { cat "$here/build.sh" "$here/svm-interrupt-lock.patch"; echo "$qemu_version"; } | sha256sum | cut -c1-16)
cache=$(gvmm_cache_dir)
entry=$cache/rig-qemu-$key
mkdir -p "$cache"
exec 9>"$cache/rig-qemu.lock"
flock 9

if [ ! -x "$entry/qemu-system-x86_64" ]; then
	work=$(mktemp -d "$cache/rig-qemu.XXXXXX")
	trap 'rm -rf "$work"' EXIT
	log "fetching the qemu source package (bookworm)"
	mkdir -p "$work/apt/sources" "$work/apt/lists/partial" "$work/src"
	cat >"$work/apt/sources/debian-src.sources" <<-EOF
		Types: deb-src
		URIs: http://deb.debian.org/debian
		Suites: bookworm
		Components: main
		Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
	EOF
	apt_opts=(-q -o Dir::Etc::sourcelist=/dev/null -o "Dir::Etc::sourceparts=$work/apt/sources"
		-o "Dir::State::Lists=$work/apt/lists" -o APT::Sandbox::User=root)
	apt-get "${apt_opts[@]}" update >"$work/apt.log" 2>&1 ||
		die "apt-get update (deb-src) failed: $(tail -n1 "$work/apt.log")"
	(cd "$work/src" && apt-get "${apt_opts[@]}" source --download-only qemu) >>"$work/apt.log" 2>&1 ||
		die "apt-get source qemu failed: $(tail -n1 "$work/apt.log")"
	dsc=$(ls "$work"/src/qemu_*"$qemu_version"*.dsc 2>/dev/null | head -n1)
	[ -n "$dsc" ] || die "bookworm's qemu source is not $qemu_version any more: update $0 and the patch"
	# dpkg-source applies Debian's patches, among them the 7.2.x stable
	# releases: plain 7.2.0's SVM emulation triple-faults L2 at once.
	(cd "$work/src" && dpkg-source --no-check -x "$dsc" qemu) >>"$work/apt.log" 2>&1 ||
		die "dpkg-source -x $dsc failed: $(tail -n1 "$work/apt.log")"
	srcdir=$work/src/qemu
	patch -d "$srcdir" -p1 --quiet <"$here/svm-interrupt-lock.patch"

	log "building qemu-system-x86_64 $qemu_version (TCG and KVM; about 5 minutes)"
	mkdir -p "$srcdir/build"
	# QEMU's configure runs the first python3 on PATH with Debian's meson:
	# keep the system's python first so both agree.
	(cd "$srcdir/build" && PATH=/usr/bin:$PATH ../configure \
		--prefix=/usr --firmwarepath=/usr/share/qemu:/usr/share/seabios:/usr/lib/ipxe/qemu \
		--meson=/usr/bin/meson --target-list=x86_64-softmmu \
		--without-default-features --enable-tcg --enable-kvm --disable-werror \
		--disable-docs --disable-install-blobs) >"$work/build.log" 2>&1 ||
		die "configure failed; see the end of its log: $(tail -n3 "$work/build.log")"
	(cd "$srcdir/build" && PATH=/usr/bin:$PATH ninja qemu-system-x86_64) >>"$work/build.log" 2>&1 ||
		die "build failed: $(grep -m1 -i error "$work/build.log")"
	mkdir -p "$work/out"
	cp "$srcdir/build/qemu-system-x86_64" "$work/out/"
	echo "qemu $(cat "$srcdir/VERSION") ($(basename "$dsc" .dsc)) + svm-interrupt-lock.patch" >"$work/out/version"
	rm -rf "$entry"
	mv "$work/out" "$entry"
else
	log "cache hit: $entry"
fi

mkdir -p "$(dirname "$out")"
install_copy "$entry/qemu-system-x86_64" "$out"
chmod +x "$out"
log "$out: $(cat "$entry/version")"
