package agent

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// A file system the agent needs, and how to mount it when it is missing.
type mountPoint struct {
	target, fstype string
	// magic is the file system's statfs f_type (include/uapi/linux/magic.h).
	magic int64
}

// neededMounts are what the agent reads: /proc (cmdline), /sys (cpus online,
// network links) and /dev (/dev/port). u-root's init mounts all three
// (pkg/libinit: CreateRootfs); the agent checks, so it also works as /init.
var neededMounts = []mountPoint{
	{target: "/proc", fstype: "proc", magic: unix.PROC_SUPER_MAGIC},
	{target: "/sys", fstype: "sysfs", magic: unix.SYSFS_MAGIC},
	{target: "/dev", fstype: "devtmpfs", magic: unix.TMPFS_MAGIC},
}

// EnsureMounts mounts whichever of /proc, /sys and /dev is not mounted yet and
// returns the targets it mounted.
func EnsureMounts() ([]string, error) {
	var mounted []string
	for _, m := range neededMounts {
		var st unix.Statfs_t
		if err := unix.Statfs(m.target, &st); err == nil && st.Type == m.magic {
			continue
		}
		if err := os.MkdirAll(m.target, 0o755); err != nil {
			return mounted, fmt.Errorf("mkdir %s: %w", m.target, err)
		}
		if err := unix.Mount(m.fstype, m.target, m.fstype, 0, ""); err != nil {
			return mounted, fmt.Errorf("mount %s on %s: %w", m.fstype, m.target, err)
		}
		mounted = append(mounted, m.target)
	}
	return mounted, nil
}

// RootIsInitramfs reports whether / is the kernel's initramfs (ramfs or
// tmpfs). The agent powers off the machine only then: run by hand on a
// host, it must never reboot that host.
func RootIsInitramfs() bool {
	var st unix.Statfs_t
	if err := unix.Statfs("/", &st); err != nil {
		return false
	}
	return st.Type == unix.RAMFS_MAGIC || st.Type == unix.TMPFS_MAGIC
}

// cpuOnlineFile lists the online CPUs as ranges, e.g. "0-3,5"
// (Documentation/ABI/testing/sysfs-devices-system-cpu).
const cpuOnlineFile = "/sys/devices/system/cpu/online"

// OnlineCPUs returns the number of online CPUs and the kernel's list of them.
func OnlineCPUs() (int, string, error) {
	b, err := os.ReadFile(cpuOnlineFile)
	if err != nil {
		return 0, "", err
	}
	list := strings.TrimSpace(string(b))
	n, err := CountCPUList(list)
	return n, list, err
}

// ErrBadCPUList is returned for a malformed CPU list.
var ErrBadCPUList = errors.New("bad cpu list")

// CountCPUList counts the CPUs in a kernel CPU list such as "0-3,5".
func CountCPUList(list string) (int, error) {
	if list == "" {
		return 0, nil
	}
	n := 0
	for _, r := range strings.Split(list, ",") {
		lo, hi, isRange := strings.Cut(r, "-")
		first, err := strconv.Atoi(lo)
		if err != nil || first < 0 {
			return 0, fmt.Errorf("%w: %q", ErrBadCPUList, list)
		}
		last := first
		if isRange {
			if last, err = strconv.Atoi(hi); err != nil || last < first {
				return 0, fmt.Errorf("%w: %q", ErrBadCPUList, list)
			}
		}
		n += last - first + 1
	}
	return n, nil
}

// ErrNotGuest is returned by PowerOff outside a VM's initramfs.
var ErrNotGuest = errors.New("refusing to power off: not running as uinit in a VM's initramfs")

// startedByInit reports whether the agent is init or init's child, as uinit
// is. With RootIsInitramfs it keeps a hand-run agent from rebooting a host.
func startedByInit() bool {
	return os.Getpid() == 1 || os.Getppid() == 1
}

// inGuestInitramfs reports whether the agent runs as init or uinit from a VM's
// initramfs: only then may it take over the machine (power off, exec a
// shell in its place after an error).
func inGuestInitramfs() bool {
	return RootIsInitramfs() && startedByInit()
}

// PowerOff asks the VMM to stop with status 0 through the exit register and,
// for a VMM without one (QEMU), powers the machine off through the kernel.
// It returns only on failure.
func PowerOff(s Signaller) error {
	if !s.InVM() || !inGuestInitramfs() {
		return ErrNotGuest
	}
	unix.Sync()
	drainConsole()
	if err := s.Exit(0); err != nil {
		return err
	}
	// Without ACPI the kernel only halts here; the exit register above is
	// what ends a gvmm VM.
	return unix.Reboot(unix.LINUX_REBOOT_CMD_POWER_OFF)
}

// consoleTTYs are the terminals the agent's output can sit in: the console
// and the serial and virtio consoles behind it.
var consoleTTYs = []string{"/dev/console", "/dev/ttyS0", "/dev/hvc0"}

// drainTimeout bounds the wait for the console to empty. It is long
// because under nested emulation one byte through the serial port can
// take a millisecond; the wait ends as soon as everything is out.
const drainTimeout = 10 * time.Second

// relaySettle is how long the relay in u-root's init gets, after the pipe
// is empty, to write what it read last into the terminals.
const relaySettle = 100 * time.Millisecond

// drainConsole waits until the kernel has sent what the agent wrote to the
// console terminals, before the agent stops the VM.
//
// Two buffers stand between the agent's write(2) and gvmm's serial port.
// First a pipe: u-root's init runs the agent with its stdout and stderr on
// a pipe that an init goroutine copies to every console= terminal
// (libinit.WithMultiTTY), so the agent's lines reach a terminal only when
// init gets to run. Under load that came after the agent had stopped the
// VM, and the lines were lost: the console-loss defect of
// docs/03a-acpi.md. FIONREAD on our end of the pipe tells how much init
// has yet to read. Then the serial driver's buffer, sent interrupt by
// interrupt: TIOCOUTQ tells how many bytes wait, and tcdrain (TCSBRK with
// a non-zero argument) waits for the driver itself.
func drainConsole() {
	deadline := time.Now().Add(drainTimeout)
	if drainPipes(deadline, int(os.Stdout.Fd()), int(os.Stderr.Fd())) {
		time.Sleep(relaySettle)
	}
	for _, path := range consoleTTYs {
		fd, err := unix.Open(path, unix.O_WRONLY|unix.O_NOCTTY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
		if err != nil {
			continue
		}
		for time.Now().Before(deadline) {
			n, err := unix.IoctlGetInt(fd, unix.TIOCOUTQ)
			if err != nil || n == 0 {
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
		_ = unix.IoctlSetInt(fd, unix.TCSBRK, 1)
		unix.Close(fd)
	}
}

// drainPipes waits, until deadline, for each fd that is a pipe to be
// read empty. It reports whether any fd was a pipe.
func drainPipes(deadline time.Time, fds ...int) bool {
	pipes := false
	for _, fd := range fds {
		var st unix.Stat_t
		if err := unix.Fstat(fd, &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFIFO {
			continue
		}
		pipes = true
		for time.Now().Before(deadline) {
			n, err := unix.IoctlGetInt(fd, unix.TIOCINQ) // FIONREAD
			if err != nil || n == 0 {
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	return pipes
}

// Reboot restarts the machine the way the kernel is told to on its command
// line (reboot=k: the keyboard controller's reset line). Only in a guest.
func Reboot() error {
	if !inGuestInitramfs() {
		return ErrNotGuest
	}
	unix.Sync()
	drainConsole()
	return unix.Reboot(unix.LINUX_REBOOT_CMD_RESTART)
}
