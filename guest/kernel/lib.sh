# shellcheck shell=bash
# Helpers shared by build.sh and debian.sh. Sourced, not executed.
#
# The cache lives outside the checkout so that CI runs on the same machine
# (and `git clean`) keep it: ${GVMM_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/gvmm}.
# Every entry is keyed by the sha256 of everything that determines its contents,
# so a changed input gives a new entry and a stale one is never reused.

gvmm_cache_dir() {
	printf '%s\n' "${GVMM_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/gvmm}"
}

die() {
	printf '%s: error: %s\n' "${0##*/}" "$*" >&2
	exit 1
}

log() {
	printf '%s: %s\n' "${0##*/}" "$*" >&2
}

# need_cmd NAME PACKAGE: fail with the apt package to install when NAME is missing.
need_cmd() {
	command -v "$1" >/dev/null 2>&1 || die "$1 not found: apt-get install $2"
}

# pkg_version PACKAGE: the installed Debian version, or fail saying how to install it.
pkg_version() {
	local v
	v=$(dpkg-query -W -f='${Status} ${Version}' "$1" 2>/dev/null) || true
	case "$v" in
	"install ok installed "*) printf '%s\n' "${v##* }" ;;
	*) die "Debian package $1 is not installed: apt-get install $1" ;;
	esac
}

# install_copy SRC DST: copy SRC to DST atomically (a reader never sees half a file).
install_copy() {
	cp -f "$1" "$2.tmp.$$" && mv -f "$2.tmp.$$" "$2"
}
