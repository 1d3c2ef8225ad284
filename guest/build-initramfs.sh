#!/usr/bin/env bash
# Build the u-root initramfs with `gvmm-initramfs` (guest/cmd/gvmm-initramfs), cached outside the
# checkout under a key made of everything that goes into it: the guest
# agent and image builder sources, go.mod/go.sum, and the extra flags with
# the files they name (a module order file and the modules beside it).
#
#   guest/build-initramfs.sh OUT [gvmm-initramfs flags...]
set -euo pipefail
out=$1
shift
cache=${GVMM_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/gvmm}

inputs() {
	find guest -path guest/kernel -prune -o -path guest/testguests -prune -o \
		-type f \( -name '*.go' -o -name '*.s' \) ! -name '*_test.go' -print | LC_ALL=C sort | xargs sha256sum
	sha256sum go.mod go.sum guest/build-initramfs.sh
	printf '%s\n' "$@"
	for arg in "$@"; do
		if [ -f "$arg" ]; then
			sha256sum "$arg"
			# A module order file names .ko files beside it.
			while read -r m; do
				[ -f "$(dirname "$arg")/$m.ko" ] && sha256sum "$(dirname "$arg")/$m.ko"
			done <"$arg" || true
		fi
	done
}
key=$(inputs "$@" | sha256sum | cut -c1-16)
cached="$cache/initramfs-$key.cpio"

mkdir -p "$cache" "$(dirname "$out")"
if [ ! -s "$cached" ]; then
	echo "building initramfs (cache key $key)" >&2
	go run ./guest/cmd/gvmm-initramfs -o "$cached.tmp" "$@"
	mv "$cached.tmp" "$cached"
fi
cp "$cached" "$out"
echo "$out (cached as $cached)" >&2
