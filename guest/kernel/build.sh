#!/usr/bin/env bash
# build.sh OUTDIR: build gvmm's minimal microVM kernel and put bzImage and
# vmlinux into OUTDIR (usually build/kernel).
#
# Recipe: Debian's linux-source-6.1 tarball, `make allnoconfig` with
# microvm.config as KCONFIG_ALLCONFIG (every symbol in the fragment is forced,
# everything else is off), a check that each fragment line survived Kconfig's
# dependency resolution, then `make bzImage vmlinux` under nice with -j2.
#
# The result is cached under $(gvmm_cache_dir)/kernel-<key>, where key is the
# sha256 of the fragment, this script, lib.sh and the linux-source-6.1
# package version. A cache hit only copies two files (well under a second);
# a miss costs about 5 minutes on 2 cores. The unpacked source tree is kept
# (kernel-tree-<version>) so that a changed fragment rebuilds incrementally.
#
# Environment: GVMM_CACHE_DIR (cache root), GVMM_KERNEL_JOBS (default 2).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$here/lib.sh"

[ $# -eq 1 ] || die "usage: $0 OUTDIR"
outdir=$1
fragment=$here/microvm.config
jobs=${GVMM_KERNEL_JOBS:-2}

src_pkg=linux-source-6.1
src_tar=/usr/src/linux-source-6.1.tar.xz
src_ver=$(pkg_version "$src_pkg")
[ -r "$src_tar" ] || die "$src_tar missing: apt-get install --reinstall $src_pkg"
for c in gcc:build-essential make:build-essential bc:bc flex:flex bison:bison \
	lz4:lz4 xz:xz-utils; do
	need_cmd "${c%%:*}" "${c#*:}"
done
[ -e /usr/include/libelf.h ] || die "libelf.h not found: apt-get install libelf-dev"
[ -e /usr/include/openssl/ssl.h ] || die "openssl headers not found: apt-get install libssl-dev"

key=$( { cat "$fragment" "$here/build.sh" "$here/lib.sh"; echo "$src_pkg=$src_ver"; } |
	sha256sum | cut -c1-16)
cache=$(gvmm_cache_dir)
entry=$cache/kernel-$key
mkdir -p "$cache" "$outdir"

# One build at a time per cache (the lead, CI and a helper may all ask).
exec 9>"$cache/kernel.lock"
flock 9

if [ ! -s "$entry/bzImage" ] || [ ! -s "$entry/vmlinux" ]; then
	tree=$cache/kernel-tree-$src_ver
	srcdir=$tree/linux-source-6.1
	if [ ! -e "$tree/.unpacked" ]; then
		log "unpacking $src_tar (linux-source-6.1 $src_ver)"
		rm -rf "$tree"
		mkdir -p "$tree"
		tar -xJf "$src_tar" -C "$tree"
		touch "$tree/.unpacked"
	fi

	log "configuring: allnoconfig + $(basename "$fragment")"
	start=$(date +%s)
	nice make -C "$srcdir" -s KCONFIG_ALLCONFIG="$fragment" allnoconfig

	# Kconfig silently drops a symbol whose dependencies are unmet: catch that.
	missing=0
	while IFS= read -r line; do
		case "$line" in
		CONFIG_*=*) want=$line ;;
		"# CONFIG_"*" is not set") want=$line ;;
		*) continue ;;
		esac
		if ! grep -qxF "$want" "$srcdir/.config"; then
			sym=${want#\# }
			sym=${sym%%[= ]*}
			got=$(grep -E "^(# )?$sym[= ]" "$srcdir/.config" || echo "$sym absent")
			log "fragment line '$want' did not survive Kconfig: .config has '$got'"
			missing=1
		fi
	done <"$fragment"
	[ "$missing" -eq 0 ] || die "fix $fragment: some options have unmet dependencies (see above)"

	log "building bzImage and vmlinux with -j$jobs (about 5 minutes on 2 cores)"
	nice make -C "$srcdir" -s -j"$jobs" bzImage vmlinux
	log "kernel built in $(($(date +%s) - start)) s"

	rm -rf "$entry.tmp"
	mkdir -p "$entry.tmp"
	cp "$srcdir/arch/x86/boot/bzImage" "$srcdir/vmlinux" "$srcdir/.config" "$entry.tmp/"
	echo "$src_pkg=$src_ver" >"$entry.tmp/source"
	rm -rf "$entry"
	mv "$entry.tmp" "$entry"
else
	log "cache hit: $entry"
fi

install_copy "$entry/bzImage" "$outdir/bzImage"
install_copy "$entry/vmlinux" "$outdir/vmlinux"
install_copy "$entry/.config" "$outdir/config"
log "$outdir/bzImage $(stat -c %s "$outdir/bzImage") bytes, $outdir/vmlinux $(stat -c %s "$outdir/vmlinux") bytes"
