package container

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// resolveFlags keep every lookup under the root: ".." and absolute symlinks
// stop at the root (openat2(2) RESOLVE_IN_ROOT) and /proc magic links are
// refused, so a hostile image cannot point a mount at a host path.
const resolveFlags = unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS

// openInRoot opens path under the directory rootfd as an O_PATH handle,
// creating missing directories and, when file is true, an empty last
// component to bind a file onto. The returned fd names the mount point
// through /proc/self/fd without any further path lookup.
func openInRoot(rootfd int, path string, file bool) (int, error) {
	parts := strings.Split(strings.Trim(filepath.Clean(path), "/"), "/")
	dir, err := unix.Openat2(rootfd, ".", &unix.OpenHow{Flags: unix.O_PATH | unix.O_CLOEXEC | unix.O_DIRECTORY})
	if err != nil {
		return -1, err
	}
	for i, part := range parts {
		if part == "" {
			continue
		}
		last := i == len(parts)-1
		how := &unix.OpenHow{Flags: unix.O_PATH | unix.O_CLOEXEC, Resolve: resolveFlags}
		next, err := unix.Openat2(dir, part, how)
		if errors.Is(err, unix.ENOENT) {
			if last && file {
				err = createEmpty(dir, part)
			} else {
				err = unix.Mkdirat(dir, part, 0o755)
			}
			if err != nil && !errors.Is(err, unix.EEXIST) {
				unix.Close(dir)
				return -1, fmt.Errorf("create %s: %w", path, err)
			}
			next, err = unix.Openat2(dir, part, how)
		}
		unix.Close(dir)
		if err != nil {
			return -1, fmt.Errorf("open %s: %w", path, err)
		}
		dir = next
	}
	return dir, nil
}

// createEmpty makes an empty regular file name in the directory dirfd.
func createEmpty(dirfd int, name string) error {
	// O_PATH handles cannot be used with openat; reopen the directory.
	real, err := unix.Openat(dirfd, ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(real)
	fd, err := unix.Openat(real, name, unix.O_CREAT|unix.O_EXCL|unix.O_WRONLY|unix.O_CLOEXEC|unix.O_NOFOLLOW, 0o644)
	if err != nil {
		return err
	}
	return unix.Close(fd)
}

// fdPath names an open fd for mount(2).
func fdPath(fd int) string { return fmt.Sprintf("/proc/self/fd/%d", fd) }

// mountAt mounts under the root, resolving dest safely first.
func mountAt(rootfd int, dest string, file bool, source, fstype string, flags uintptr, data string) error {
	fd, err := openInRoot(rootfd, dest, file)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	if err := unix.Mount(source, fdPath(fd), fstype, flags, data); err != nil {
		return fmt.Errorf("mount %s on %s: %w", fstype+source, dest, err)
	}
	return nil
}

// mountSpec performs one entry of config.json "mounts" under the root.
func mountSpec(rootfd int, m specs.Mount, cgroupDirs map[string]string) error {
	p := parseMountOptions(m.Options)
	if m.Type == "bind" {
		p.flags |= unix.MS_BIND
	}
	if m.Type == "cgroup" || m.Type == "cgroup2" {
		return mountCgroup(rootfd, m, p, cgroupDirs)
	}
	if p.flags&unix.MS_BIND == 0 {
		return mountFS(rootfd, m.Destination, m.Source, m.Type, p)
	}
	st, err := os.Stat(m.Source)
	if err != nil {
		return fmt.Errorf("bind mount source %s: %w", m.Source, err)
	}
	fd, err := openInRoot(rootfd, m.Destination, !st.IsDir())
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	target := fdPath(fd)
	if err := unix.Mount(m.Source, target, "", p.flags&(unix.MS_BIND|unix.MS_REC), ""); err != nil {
		return fmt.Errorf("bind %s on %s: %w", m.Source, m.Destination, err)
	}
	// mount(2): flags other than MS_REC are ignored on a bind; they take
	// effect through a remount of the new mount.
	if rest := p.flags &^ (unix.MS_BIND | unix.MS_REC); rest != 0 {
		if err := remount(target, rest|unix.MS_BIND); err != nil {
			return fmt.Errorf("remount %s: %w", m.Destination, err)
		}
	}
	return setPropagation(target, p.propagation)
}

func mountFS(rootfd int, dest, source, fstype string, p parsedMount) error {
	fd, err := openInRoot(rootfd, dest, false)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	target := fdPath(fd)
	if err := unix.Mount(source, target, fstype, p.flags, p.data); err != nil {
		return fmt.Errorf("mount %s on %s: %w", fstype, dest, err)
	}
	return setPropagation(target, p.propagation)
}

func setPropagation(target string, prop uintptr) error {
	if prop == 0 {
		return nil
	}
	if err := unix.Mount("", target, "", prop, ""); err != nil {
		return fmt.Errorf("set propagation of %s: %w", target, err)
	}
	return nil
}

// remount changes the flags of the mount at target, keeping the flags the
// kernel locks (mount_namespaces(7): nosuid, nodev, noexec, atime flags of
// a mount inherited from a more privileged namespace cannot be cleared).
func remount(target string, flags uintptr) error {
	var st unix.Statfs_t
	if err := unix.Statfs(target, &st); err != nil {
		return err
	}
	locked := uintptr(st.Flags) & (unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC |
		unix.MS_NOATIME | unix.MS_NODIRATIME | unix.MS_RELATIME)
	return unix.Mount("", target, "", flags|locked|unix.MS_REMOUNT, "")
}

// mountCgroup gives the container its cgroups at m.Destination. On a
// unified (v2) host that is a cgroup2 mount, which shows the container's
// own group when it has a cgroup namespace. On a v1 or hybrid host it is a
// tmpfs holding one bind mount per controller of the container's own
// directories (what runc does), so the container never sees its siblings.
func mountCgroup(rootfd int, m specs.Mount, p parsedMount, dirs map[string]string) error {
	ro := p.flags & unix.MS_RDONLY
	base := p.flags &^ (unix.MS_BIND | unix.MS_REC | unix.MS_RDONLY)
	if dirs == nil {
		return mountFS(rootfd, m.Destination, "cgroup2", "cgroup2", parsedMount{flags: base | ro})
	}
	if err := mountFS(rootfd, m.Destination, "tmpfs", "tmpfs", parsedMount{flags: base, data: "mode=755"}); err != nil {
		return err
	}
	for name, hostDir := range dirs {
		dest := filepath.Join(m.Destination, name)
		if err := mountAt(rootfd, dest, false, hostDir, "", unix.MS_BIND, ""); err != nil {
			return err
		}
		fd, err := openInRoot(rootfd, dest, false)
		if err != nil {
			return err
		}
		err = remount(fdPath(fd), base|ro|unix.MS_BIND)
		unix.Close(fd)
		if err != nil {
			return fmt.Errorf("remount %s: %w", dest, err)
		}
	}
	if ro != 0 {
		fd, err := openInRoot(rootfd, m.Destination, false)
		if err != nil {
			return err
		}
		defer unix.Close(fd)
		return remount(fdPath(fd), base|unix.MS_RDONLY)
	}
	return nil
}

// pivotRoot makes rootfs the root of the mount namespace and detaches the
// old root (pivot_root(2) "pivot_root(".", ".")": the old root ends up
// stacked on the new one and is unmounted lazily). Unlike chroot, no path
// to the host's tree remains, not even for a process with CAP_SYS_CHROOT.
func pivotRoot(rootfs string) error {
	oldroot, err := unix.Open("/", unix.O_DIRECTORY|unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(oldroot)
	newroot, err := unix.Open(rootfs, unix.O_DIRECTORY|unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(newroot)
	if err := unix.Fchdir(newroot); err != nil {
		return err
	}
	if err := unix.PivotRoot(".", "."); err != nil {
		return fmt.Errorf("pivot_root %s: %w", rootfs, err)
	}
	if err := unix.Fchdir(oldroot); err != nil {
		return err
	}
	// Make the old root a slave first so the detach below cannot
	// propagate an unmount to the host.
	if err := unix.Mount("", ".", "", unix.MS_SLAVE|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("make old root rslave: %w", err)
	}
	if err := unix.Unmount(".", unix.MNT_DETACH); err != nil {
		return fmt.Errorf("detach old root: %w", err)
	}
	return unix.Chdir("/")
}

// maskPaths hides each existing path: a file under /dev/null, a directory
// under an empty read-only tmpfs (config-linux.md "Masked Paths").
func maskPaths(paths []string) error {
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			continue
		}
		if st.IsDir() {
			err = unix.Mount("tmpfs", p, "tmpfs", unix.MS_RDONLY, "size=0")
		} else {
			err = unix.Mount("/dev/null", p, "", unix.MS_BIND, "")
		}
		if err != nil {
			return fmt.Errorf("mask %s: %w", p, err)
		}
	}
	return nil
}

// readonlyPaths bind-mounts each existing path over itself read-only
// (config-linux.md "Readonly Paths").
func readonlyPaths(paths []string) error {
	for _, p := range paths {
		if _, err := os.Stat(p); err != nil {
			continue
		}
		if err := unix.Mount(p, p, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
			return fmt.Errorf("bind %s read-only: %w", p, err)
		}
		if err := remount(p, unix.MS_BIND|unix.MS_RDONLY); err != nil {
			return fmt.Errorf("remount %s read-only: %w", p, err)
		}
	}
	return nil
}
