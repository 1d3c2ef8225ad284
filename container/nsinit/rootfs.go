package nsinit

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// resolveFlags keep every lookup under the root: ".." and absolute symlinks
// stop at the root (openat2(2) RESOLVE_IN_ROOT) and /proc magic links are
// refused, so a hostile image cannot point a mount at a host path.
const resolveFlags = unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS

// setupRootfs performs the plan's mounts under the root file system and
// pivots into it.
func setupRootfs(p *Plan) error {
	// Nothing mounted below may leak back to the host.
	if err := unix.Mount("", "/", "", uintptr(p.RootPropagation), ""); err != nil {
		return wrap("set propagation of /", err)
	}
	// pivot_root(2) needs the new root to be a mount point.
	if err := unix.Mount(p.Rootfs, p.Rootfs, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return wrap("bind root file system "+p.Rootfs, err)
	}
	rootfd, err := unix.Open(p.Rootfs, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return wrap("open root file system", err)
	}
	defer unix.Close(rootfd)
	for _, m := range p.Mounts {
		if err := mountStep(rootfd, m); err != nil {
			return err
		}
	}
	if p.SetupDev {
		if err := setupDev(rootfd); err != nil {
			return err
		}
	}
	if err := pivotRoot(rootfd); err != nil {
		return err
	}
	// /proc/sys is still writable here; the read-only paths close it next.
	for _, kv := range p.Sysctl {
		path := "/proc/sys/" + strings.ReplaceAll(kv[0], ".", "/")
		if err := os.WriteFile(path, []byte(kv[1]), 0); err != nil {
			return wrap("sysctl "+kv[0]+"="+kv[1], err)
		}
	}
	if err := maskPaths(p.MaskedPaths); err != nil {
		return err
	}
	if err := readonlyPaths(p.ReadonlyPaths); err != nil {
		return err
	}
	if p.ReadonlyRoot {
		return wrap("remount / read-only", remount("/", unix.MS_BIND|unix.MS_RDONLY))
	}
	return nil
}

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
				return -1, wrap("create "+path, err)
			}
			next, err = unix.Openat2(dir, part, how)
		}
		unix.Close(dir)
		if err != nil {
			return -1, wrap("open "+path, err)
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
func fdPath(fd int) string { return "/proc/self/fd/" + strconv.Itoa(fd) }

// mountStep performs one plan step under the root.
func mountStep(rootfd int, m Mount) error {
	fd, err := openInRoot(rootfd, m.Destination, m.File)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	target := fdPath(fd)
	if m.Kind == KindRemount {
		return wrap("remount "+m.Destination, remount(target, uintptr(m.Flags)))
	}
	if err := unix.Mount(m.Source, target, m.Type, uintptr(m.Flags), m.Data); err != nil {
		return wrap("mount "+m.Type+" "+m.Source+" on "+m.Destination, err)
	}
	if m.Remount == 0 && m.Propagation == 0 {
		return nil
	}
	// fd still names the directory under the new mount; changing the
	// mount's flags needs a handle on the mount itself (mount(2): a
	// remount or propagation change must name the mount's root).
	top, err := openInRoot(rootfd, m.Destination, m.File)
	if err != nil {
		return err
	}
	defer unix.Close(top)
	target = fdPath(top)
	if m.Remount != 0 {
		if err := remount(target, uintptr(m.Remount)); err != nil {
			return wrap("remount "+m.Destination, err)
		}
	}
	if m.Propagation != 0 {
		if err := unix.Mount("", target, "", uintptr(m.Propagation), ""); err != nil {
			return wrap("set propagation of "+m.Destination, err)
		}
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

// pivotRoot makes the root file system (rootfd) the root of the mount
// namespace and detaches the old root (pivot_root(2) "pivot_root(".",
// ".")": the old root ends up stacked on the new one and is unmounted
// lazily). Unlike chroot, no path to the host's tree remains, not even for
// a process with CAP_SYS_CHROOT.
func pivotRoot(rootfd int) error {
	oldroot, err := unix.Open("/", unix.O_DIRECTORY|unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(oldroot)
	if err := unix.Fchdir(rootfd); err != nil {
		return wrap("enter root file system", err)
	}
	if err := unix.PivotRoot(".", "."); err != nil {
		return wrap("pivot_root", err)
	}
	if err := unix.Fchdir(oldroot); err != nil {
		return err
	}
	// Make the old root a slave first so the detach below cannot
	// propagate an unmount to the host.
	if err := unix.Mount("", ".", "", unix.MS_SLAVE|unix.MS_REC, ""); err != nil {
		return wrap("make old root rslave", err)
	}
	if err := unix.Unmount(".", unix.MNT_DETACH); err != nil {
		return wrap("detach old root", err)
	}
	return unix.Chdir("/")
}

// maskPaths hides each existing path: a file under /dev/null, a directory
// under an empty read-only tmpfs (config-linux.md "Masked Paths").
func maskPaths(paths []string) error {
	for _, p := range paths {
		var st unix.Stat_t
		if unix.Stat(p, &st) != nil {
			continue
		}
		var err error
		if st.Mode&unix.S_IFMT == unix.S_IFDIR {
			err = unix.Mount("tmpfs", p, "tmpfs", unix.MS_RDONLY, "size=0")
		} else {
			err = unix.Mount("/dev/null", p, "", unix.MS_BIND, "")
		}
		if err != nil {
			return wrap("mask "+p, err)
		}
	}
	return nil
}

// readonlyPaths bind-mounts each existing path over itself read-only
// (config-linux.md "Readonly Paths").
func readonlyPaths(paths []string) error {
	for _, p := range paths {
		var st unix.Stat_t
		if unix.Stat(p, &st) != nil {
			continue
		}
		if err := unix.Mount(p, p, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
			return wrap("bind "+p+" read-only", err)
		}
		if err := remount(p, unix.MS_BIND|unix.MS_RDONLY); err != nil {
			return wrap("remount "+p+" read-only", err)
		}
	}
	return nil
}

// defaultDevices are the device nodes every container gets in its /dev
// (config-linux.md "Default Devices"). They are bind mounts of the host's
// nodes rather than mknod(2), so the same code works in a user namespace,
// where mknod is refused.
var defaultDevices = []string{"null", "zero", "full", "random", "urandom", "tty"}

// devSymlinks are the links the OCI spec and every libc expect in /dev.
var devSymlinks = [][2]string{
	{"/proc/self/fd", "fd"}, {"/proc/self/fd/0", "stdin"}, {"/proc/self/fd/1", "stdout"},
	{"/proc/self/fd/2", "stderr"}, {"pts/ptmx", "ptmx"}, {"/proc/kcore", "core"},
}

// setupDev fills the container's fresh /dev tmpfs (rootfd names the root
// file system) with the default devices and links.
func setupDev(rootfd int) error {
	for _, name := range defaultDevices {
		m := Mount{Source: "/dev/" + name, Destination: "/dev/" + name, Flags: unix.MS_BIND, File: true}
		if err := mountStep(rootfd, m); err != nil {
			return wrap("device /dev/"+name, err)
		}
	}
	devfd, err := openInRoot(rootfd, "/dev", false)
	if err != nil {
		return err
	}
	defer unix.Close(devfd)
	dir, err := unix.Openat(devfd, ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return wrap("open /dev", err)
	}
	defer unix.Close(dir)
	for _, l := range devSymlinks {
		if err := unix.Symlinkat(l[0], dir, l[1]); err != nil && err != unix.EEXIST {
			return wrap("link /dev/"+l[1], err)
		}
	}
	return nil
}
