package rig

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Environment variables that override the defaults (for CI and for users
// whose files live elsewhere).
const (
	// EnvKernel names the L1 kernel (a bzImage with KVM as modules). Its
	// directory must hold modules/kvm.order and the modules it lists, the
	// layout `make kernel-debian` produces in build/debian-kernel.
	EnvKernel = "GVMM_RIG_KERNEL"
	// EnvQEMU names the qemu-system-x86_64 binary. Without it the rig uses
	// the patched QEMU that `make rig-qemu` builds (build/rig-qemu), or
	// else the distribution's, which has NESTED.md's TCG SVM race.
	EnvQEMU = "GVMM_RIG_QEMU"
	// EnvBusybox names a statically linked busybox.
	EnvBusybox = "GVMM_RIG_BUSYBOX"
	// EnvCPU overrides the CPU model QEMU emulates for L1 (default
	// DefaultCPUModel), e.g. to try a feature on or off.
	EnvCPU = "GVMM_RIG_CPU"
	// EnvCPUs overrides the number of L1 CPUs (default DefaultCPUs).
	EnvCPUs = "GVMM_RIG_CPUS"
)

// Defaults, from the measurements in NESTED.md: a whole L1 run with one L2
// boot takes 8–20 s of wall time, so 60 s bounds an attempt with room for a
// loaded CI machine; a second attempt absorbs a frozen L1 (QEMU's TCG SVM
// race: ~2% of L2 boots with the distribution's QEMU and -smp 2; none
// measured with the patched build of internal/rig/qemu).
const (
	DefaultCPUModel       = "max,-vgif"
	DefaultMemoryMiB      = 2048
	DefaultCPUs           = 2
	DefaultAttemptTimeout = 60 * time.Second
	DefaultAttempts       = 2

	defaultQEMU          = "qemu-system-x86_64"
	patchedQEMU          = "build/rig-qemu/qemu-system-x86_64"
	defaultBusybox       = "/bin/busybox"
	defaultKernel        = "build/debian-kernel/vmlinuz"
	kvmModulesOrder      = "modules/kvm.order"
	virtioModulesOrder   = "modules/virtio.order"
	baseKernelParameters = "console=ttyS0 panic=-1 quiet"
)

// Sentinel errors callers can test with errors.Is.
var (
	// ErrMissing: QEMU, the L1 kernel, its modules or busybox is not installed
	// or not built. The message says which command fixes it.
	ErrMissing = errors.New("rig prerequisite missing")
	// ErrTimeout: every attempt hit Config.AttemptTimeout before the command ended.
	ErrTimeout = errors.New("rig: L1 did not finish in time")
	// ErrSetup: L1's /init could not prepare (a module failed to load, no /dev/kvm).
	ErrSetup = errors.New("rig: L1 setup failed")
	// ErrNoExit: QEMU ended without the command's exit marker (L1 panicked or
	// the command killed L1).
	ErrNoExit = errors.New("rig: L1 ended without reporting the command's exit status")
	// ErrNotSeen: an expected console line did not appear.
	ErrNotSeen = errors.New("console line not seen")
)

// Config describes one rig run: what goes into the L1 initramfs and what L1 runs.
type Config struct {
	// Command is a busybox sh script that L1 runs once /dev/kvm is there.
	// Its exit status becomes Result.ExitStatus. Required.
	Command string
	// GVMM is a statically linked gvmm binary to place at /bin/gvmm (see BuildGVMM).
	GVMM string
	// L2Kernel and L2Initrd are placed at L2KernelPath and L2InitrdPath.
	L2Kernel, L2Initrd string
	// Files are further files to place in L1.
	Files []File
	// Disks are host image files L1 sees as virtio-blk disks, /dev/vda,
	// /dev/vdb, ... in this order (QEMU -drive if=virtio, format raw):
	// a disk image for an L2 guest stays a file on the host instead of
	// a copy in L1's RAM, and what L2 writes to it lands in that file.
	// L1 then also loads the virtio modules (modules/virtio.order beside
	// Kernel).
	Disks []Disk

	// Kernel is the L1 kernel; default $GVMM_RIG_KERNEL or
	// <repo>/build/debian-kernel/vmlinuz.
	Kernel string
	// Modules are .ko files to insmod in this order; default the files listed
	// in modules/kvm.order beside Kernel (irqbypass, kvm, kvm_amd).
	Modules []string
	// WithoutKVM boots L1 without loading modules or requiring /dev/kvm, e.g.
	// to check that a non-modular kernel boots under TCG at all.
	WithoutKVM bool
	// Append is added to the L1 kernel command line.
	Append string
	// Busybox is a static busybox; default $GVMM_RIG_BUSYBOX or /bin/busybox.
	Busybox string
	// QEMU is the emulator binary; default $GVMM_RIG_QEMU, else
	// <repo>/build/rig-qemu/qemu-system-x86_64 if `make rig-qemu` built
	// it, else qemu-system-x86_64 from PATH (with a warning: it has the race).
	QEMU string
	// CPUModel is QEMU's -cpu for L1; default $GVMM_RIG_CPU or
	// DefaultCPUModel: "max" (AMD SVM with nested paging, so kvm-amd loads
	// in L1) without vGIF, which kvm-amd uses for every guest when offered:
	// with QEMU TCG's emulation of it, L2 guests moving 100 MiB over
	// virtio-net triple-faulted (0 of 3 virtio e2e runs passed with it,
	// 2 of 3 without: it helps, it is not the whole story). What gvmm
	// sees inside L1 does not change: kvm-amd with NPT. L1 itself still panics now and then while L2 guests move
	// data (an interrupt taken between VMRUN's return and the host state
	// reload, NESTED.md's class of TCG SVM races); Run retries that once.
	CPUModel string
	// MemoryMiB and CPUs size L1. Two CPUs (the default) are faster; one is
	// steadier for long L2 runs: the races left in TCG's SVM emulation need
	// a second CPU's IPIs (see TestVirtioConsoleAndNet). With the
	// distribution's QEMU, stay at two (NESTED.md: -smp 1 froze L1).
	MemoryMiB, CPUs int

	// AttemptTimeout bounds one boot of L1, from QEMU start to its exit.
	AttemptTimeout time.Duration
	// Attempts is how many times a timed-out run is tried (default 2). Only a
	// timeout is retried; a command that fails is reported at once.
	Attempts int

	// Interactive connects the terminal to L1's console and runs Command
	// with the console as its stdin (instead of /dev/null), so a person
	// can use an L2 shell through two levels of VMs. QEMU's own escape,
	// Ctrl-A x, ends everything.
	Interactive bool

	// Console, if set, receives a live copy of the serial console (L1's, with
	// L2's as gvmm forwards it) and a notice line before every retry.
	Console io.Writer
	// Logger receives the rig's own messages; default slog.Default().
	Logger *slog.Logger
	// TempDir holds the L1 initramfs while QEMU runs; default os.TempDir().
	TempDir string
}

// withDefaults fills in defaults and checks that every input exists, so a
// missing prerequisite is one clear error before QEMU starts.
func (c Config) withDefaults() (Config, error) {
	if strings.TrimSpace(c.Command) == "" {
		return c, errors.New("rig: Config.Command is empty")
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	c.QEMU = firstNonEmpty(c.QEMU, os.Getenv(EnvQEMU))
	if c.QEMU == "" {
		c.QEMU = defaultQEMU
		if root, err := RepoRoot(); err == nil && isExecutable(filepath.Join(root, patchedQEMU)) {
			c.QEMU = filepath.Join(root, patchedQEMU)
		} else {
			c.Logger.Warn("rig: using the distribution's QEMU, whose TCG SVM emulation can lose L1's timer interrupt; `make rig-qemu` builds the fixed one")
		}
	}
	q, err := exec.LookPath(c.QEMU)
	if err != nil {
		return c, fmt.Errorf("%w: %s not found (apt-get install qemu-system-x86): %w", ErrMissing, c.QEMU, err)
	}
	c.QEMU = q
	if c.Kernel == "" {
		c.Kernel = os.Getenv(EnvKernel)
	}
	if c.Kernel == "" {
		root, err := RepoRoot()
		if err != nil {
			return c, err
		}
		c.Kernel = filepath.Join(root, defaultKernel)
	}
	if err := needFile(c.Kernel, "run `make kernel-debian` or set "+EnvKernel); err != nil {
		return c, err
	}
	if c.Modules == nil && !c.WithoutKVM {
		if c.Modules, err = readModuleOrder(filepath.Join(filepath.Dir(c.Kernel), kvmModulesOrder)); err != nil {
			return c, err
		}
		if len(c.Disks) > 0 {
			virtio, err := readModuleOrder(filepath.Join(filepath.Dir(c.Kernel), virtioModulesOrder))
			if err != nil {
				return c, err
			}
			c.Modules = append(c.Modules, virtio...)
		}
	}
	for _, d := range c.Disks {
		if err := needFile(d.Path, "build it first"); err != nil {
			return c, err
		}
	}
	c.Busybox = firstNonEmpty(c.Busybox, os.Getenv(EnvBusybox), defaultBusybox)
	if err := needFile(c.Busybox, "apt-get install busybox-static"); err != nil {
		return c, err
	}
	if err := checkStatic(c.Busybox, "apt-get install busybox-static"); err != nil {
		return c, fmt.Errorf("%w: %w", ErrMissing, err)
	}
	for _, p := range []string{c.GVMM, c.L2Kernel, c.L2Initrd} {
		if p != "" {
			if err := needFile(p, "build it first"); err != nil {
				return c, err
			}
		}
	}
	c.CPUModel = firstNonEmpty(c.CPUModel, os.Getenv(EnvCPU), DefaultCPUModel)
	if c.MemoryMiB == 0 {
		c.MemoryMiB = DefaultMemoryMiB
	}
	if c.CPUs == 0 {
		c.CPUs = DefaultCPUs
		if n, err := strconv.Atoi(os.Getenv(EnvCPUs)); err == nil && n > 0 {
			c.CPUs = n
		}
	}
	if c.AttemptTimeout == 0 {
		c.AttemptTimeout = DefaultAttemptTimeout
	}
	if c.Attempts == 0 {
		c.Attempts = DefaultAttempts
	}
	return c, nil
}

func isExecutable(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

func needFile(p, fix string) error {
	st, err := os.Stat(p)
	if err != nil {
		return fmt.Errorf("%w: %s: %s", ErrMissing, p, fix)
	}
	if !st.Mode().IsRegular() {
		return fmt.Errorf("%w: %s is not a regular file: %s", ErrMissing, p, fix)
	}
	return nil
}

// readModuleOrder reads a list of module names, one a line, and returns the
// paths of NAME.ko beside the list.
func readModuleOrder(list string) ([]string, error) {
	f, err := os.Open(list)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: run `make kernel-debian`", ErrMissing, list)
	}
	defer f.Close()
	var mods []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		name := strings.TrimSpace(sc.Text())
		if name == "" {
			continue
		}
		ko := filepath.Join(filepath.Dir(list), name+".ko")
		if err := needFile(ko, "run `make kernel-debian`"); err != nil {
			return nil, err
		}
		mods = append(mods, ko)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", list, err)
	}
	if len(mods) == 0 {
		return nil, fmt.Errorf("%w: %s lists no modules: run `make kernel-debian`", ErrMissing, list)
	}
	return mods, nil
}

// RepoRoot returns the root of the gvmm module: the nearest directory at or
// above the working directory whose go.mod declares "module gvmm".
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("rig: %w", err)
	}
	for {
		data, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && firstLine(data) == "module gvmm" {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("rig: not inside the gvmm module (no go.mod with `module gvmm` above the working directory)")
		}
		dir = parent
	}
}

func firstLine(data []byte) string {
	line, _, _ := strings.Cut(string(data), "\n")
	return strings.TrimSpace(line)
}

// Resolve returns c with every default filled in and its inputs checked,
// as Run will use it: for callers that report how the rig ran (which
// QEMU, how many CPUs).
func (c Config) Resolve() (Config, error) { return c.withDefaults() }

// Disk is one virtio-blk disk of L1.
type Disk struct {
	// Path is the raw image on the host.
	Path string
	// ReadOnly gives L1 a read-only disk (QEMU readonly=on): L1 and L2
	// cannot change the file.
	ReadOnly bool
}
