#!/usr/bin/env bash
# Build the NGINX workload's image (bench issue 6): the u-root initramfs of
# guest/build-initramfs.sh plus Debian's nginx, the shared libraries it
# needs, the dynamic loader and our own configuration (guest/nginx/). The
# same cpio boots the VM (the agent execs nginx: gvmm.exec=/usr/sbin/nginx)
# and, unpacked, is the container's root file system.
#
#   guest/build-nginx-initramfs.sh OUT
#
# The packages are the candidates of the local apt lists (run apt-get update
# once), fetched with apt-get download and unpacked with dpkg-deb -x; no
# package is installed on the host. The nginx tree is cached under
# ${GVMM_CACHE_DIR:-~/.cache/gvmm} by the hash of this script, guest/nginx/
# and the package versions; the cpio is then cached by build-initramfs.sh,
# whose key includes that tree's path.
set -euo pipefail
out=$1
cache=${GVMM_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/gvmm}
conf=guest/nginx
multiarch=x86_64-linux-gnu
# nginx and the packages that ship the libraries its binary needs
# (Depends: of Debian 12's nginx, less the ones that ship no library).
packages=(nginx libc6 libcrypt1 libpcre2-8-0 libssl3 zlib1g)

die() {
	echo "build-nginx-initramfs: $*" >&2
	exit 1
}

for tool in apt-cache apt-get dpkg-deb readelf sha256sum; do
	command -v "$tool" >/dev/null || die "$tool not found: this needs Debian's apt, dpkg and binutils (apt-get install binutils)"
done

# pins prints PKG=VERSION for the candidate of every package.
pins() {
	local p v
	for p in "${packages[@]}"; do
		v=$(apt-cache show --no-all-versions "$p" 2>/dev/null | sed -n 's/^Version: //p' | head -n1)
		[ -n "$v" ] || die "package $p is not in the apt lists: run apt-get update"
		echo "$p=$v"
	done
}
pinned=$(pins)
mapfile -t pinned_list <<<"$pinned"

key=$({
	sha256sum guest/build-nginx-initramfs.sh
	find "$conf" -type f | LC_ALL=C sort | xargs sha256sum
	echo "$pinned"
} | sha256sum | cut -c1-16)
root="$cache/nginx-root-$key"

# resolve prints the file a path in the unpacked packages stands for,
# following symlinks inside the tree (an absolute target is taken relative
# to the tree, never the host).
resolve() {
	local tree=$1 p=$2 t n=0
	while [ -L "$tree/$p" ]; do
		t=$(readlink "$tree/$p")
		case $t in
		/*) p=$t ;;
		*) p=$(dirname "$p")/$t ;;
		esac
		n=$((n + 1))
		[ "$n" -lt 16 ] || die "symlink loop at $p"
	done
	[ -f "$tree/$p" ] || return 1
	echo "$tree/$p"
}

# findlib prints the unpacked file of a library's soname.
findlib() {
	local tree=$1 name=$2 d
	for d in "lib/$multiarch" "usr/lib/$multiarch"; do
		if resolve "$tree" "$d/$name"; then
			return 0
		fi
	done
	die "no $name in the unpacked packages (${packages[*]}): add the package that ships it"
}

needed() {
	readelf -d "$1" | sed -n 's/.*(NEEDED).*\[\(.*\)\]$/\1/p'
}

# stage unpacks the packages in $1 and lays out the nginx tree in $2.
stage() {
	local tmp=$1 st=$2 x=$1/x deb p lib f interp
	mkdir -p "$tmp/debs" "$x"
	(cd "$tmp/debs" && apt-get download -q -o APT::Sandbox::User=root "${pinned_list[@]}" >&2)
	for deb in "$tmp"/debs/*.deb; do
		dpkg-deb -x "$deb" "$x"
	done
	install -D -m 0755 "$x/usr/sbin/nginx" "$st/usr/sbin/nginx"

	# The libraries: NEEDED entries, transitively, each copied under its
	# soname (the loader looks for the soname, not the real file name).
	local -a queue
	local -A seen
	mapfile -t queue < <(needed "$x/usr/sbin/nginx")
	while [ "${#queue[@]}" -gt 0 ]; do
		lib=${queue[0]}
		queue=("${queue[@]:1}")
		[ -z "${seen[$lib]:-}" ] || continue
		seen[$lib]=1
		f=$(findlib "$x" "$lib")
		install -D -m 0755 "$f" "$st/lib/$multiarch/$lib"
		mapfile -t -O "${#queue[@]}" queue < <(needed "$f")
	done

	# The dynamic loader, at the path the binary names (PT_INTERP).
	interp=$(readelf -l "$x/usr/sbin/nginx" | sed -n 's/.*interpreter: \(.*\)\]$/\1/p')
	[ -n "$interp" ] || die "nginx names no program interpreter"
	f=$(findlib "$x" "$(basename "$interp")")
	install -D -m 0755 "$f" "$st$interp"

	# Our configuration, the page, the users nginx looks up, and the
	# directories it writes to (temp paths compiled into Debian's build,
	# the pid file's).
	install -D -m 0644 "$conf/nginx.conf" "$st/etc/nginx/nginx.conf"
	install -D -m 0644 "$conf/index.html" "$st/var/www/html/index.html"
	install -m 0644 "$conf/passwd" "$conf/group" "$conf/nsswitch.conf" "$st/etc/"
	mkdir -p "$st/run" "$st/var/lib/nginx"/{body,fastcgi,proxy,scgi,uwsgi}

	# Debian's copyright notices travel with the binaries.
	for p in "${packages[@]}"; do
		install -D -m 0644 "$x/usr/share/doc/$p/copyright" "$st/usr/share/doc/$p/copyright"
	done
}

if [ ! -f "$root/.complete" ]; then
	echo "building the nginx tree (cache key $key: ${pinned//$'\n'/ })" >&2
	mkdir -p "$cache"
	tmp=$(mktemp -d "$cache/nginx-tmp-XXXXXX")
	trap 'rm -rf "$tmp"' EXIT
	stage "$tmp" "$tmp/root"
	touch "$tmp/root/.complete"
	rm -rf "$root"
	mv "$tmp/root" "$root"
fi

# Every top-level directory of the tree goes into the image (.complete
# stays out).
extras=()
for d in "$root"/*/; do
	d=${d%/}
	extras+=(--extra "$d:$(basename "$d")")
done
guest/build-initramfs.sh "$out" "${extras[@]}"
