#!/bin/sh
# gen-syscalls.sh regenerates container/seccomp_syscalls.go from the UAPI
# headers of the newest kernel Debian packages: linux-libc-dev of suite
# ${SUITE:-sid}, downloaded (not installed) through a private apt list, so
# that a system call added after the host's own headers can still be
# named, and denied, in a seccomp profile. Run by `make seccomp-table`.
set -eu
suite=${SUITE:-sid}
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM
mkdir -p "$tmp/lists/partial" "$tmp/cache/archives/partial"
echo "deb http://deb.debian.org/debian $suite main" >"$tmp/sources.list"
apt_opts="-o Dir::Etc::sourcelist=$tmp/sources.list -o Dir::Etc::sourceparts=- \
  -o Dir::State::Lists=$tmp/lists -o Dir::Cache=$tmp/cache -o APT::Sandbox::User=root"
# shellcheck disable=SC2086 # apt_opts is a list of options
apt-get $apt_opts -qq update
# shellcheck disable=SC2086
version=$(apt-cache $apt_opts show linux-libc-dev | sed -n 's/^Version: //p' | head -n 1)
# shellcheck disable=SC2086
(cd "$tmp" && apt-get $apt_opts -qq download "linux-libc-dev=$version")
dpkg-deb -x "$tmp"/linux-libc-dev_*.deb "$tmp/root"
cd "$here"
go run gen_syscalls.go "$tmp/root" "Debian $suite linux-libc-dev $version"
gofmt -l seccomp_syscalls.go
echo "gen-syscalls.sh: seccomp_syscalls.go from linux-libc-dev $version ($suite)"
