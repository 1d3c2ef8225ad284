package container

import (
	"fmt"

	"golang.org/x/sys/unix"
)

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
		if err := mountAt(rootfd, "/dev/"+name, true, "/dev/"+name, "", unix.MS_BIND, ""); err != nil {
			return fmt.Errorf("device /dev/%s: %w", name, err)
		}
	}
	devfd, err := openInRoot(rootfd, "/dev", false)
	if err != nil {
		return err
	}
	defer unix.Close(devfd)
	dir, err := unix.Openat(devfd, ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(dir)
	for _, l := range devSymlinks {
		if err := unix.Symlinkat(l[0], dir, l[1]); err != nil && err != unix.EEXIST {
			return fmt.Errorf("link /dev/%s: %w", l[1], err)
		}
	}
	return nil
}
