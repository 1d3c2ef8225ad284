package machine

import (
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"gvmm/boot"
	"gvmm/devices/virtio/blk"
	"gvmm/vmm"
)

// Config is everything needed to build and run one VM.
type Config struct {
	// KVMPath is the KVM device, normally vmm.DevKVM.
	KVMPath string
	// Kernel is the path of an ELF (PVH) or bzImage kernel.
	Kernel string
	// Initrd is the path of an initial ramdisk, or "".
	Initrd string
	// Cmdline is the kernel command line.
	Cmdline string
	// MemSize is the guest RAM in bytes.
	MemSize uint64
	// CPUs is the number of vCPUs.
	CPUs int
	// ConsoleOut receives the guest's console output: the serial port's,
	// and the virtio console's when Console is ConsoleVirtio.
	ConsoleOut io.Writer
	// Input, if not nil, is the console input: it goes to the virtio
	// console when Console is ConsoleVirtio, else to the serial port.
	Input io.Reader
	// Console selects the guest's interactive console.
	Console ConsoleKind
	// Net, if not nil, adds a virtio-net device on a TAP.
	Net *NetConfig
	// Disks are virtio-blk disks, in order: /dev/vda, /dev/vdb, ... in
	// Linux. At most MaxDisks.
	Disks []DiskConfig
	// ACPI adds the ACPI tables (boot/acpi) beside the MP table. A kernel
	// without CONFIG_X86_MPPARSE (Debian's) needs them to see more than
	// one CPU, to leave the 8259 PIC and the PIT, and to power off.
	// `gvmm boot` sets it unless --acpi=false (docs/03a-acpi.md, "Open",
	// has the console loss once suspected of coming with the tables).
	ACPI bool
	// HugeTLB backs guest RAM with the host's reserved 2 MiB pages
	// (vm.nr_hugepages; vmm.NewHugeTLBGuestMemory) instead of transparent
	// huge pages. MemSize must then be a multiple of 2 MiB.
	HugeTLB bool
	// OnReady, if not nil, is called when the guest signals READY, with
	// microseconds since process start.
	OnReady func(us int64)
	// Sandbox confines the whole process (internal/sandbox) once the VM
	// is set up, before the first KVM_RUN: no_new_privs, capabilities
	// dropped, a seccomp allowlist. It cannot be undone, so only a
	// process that runs one VM and exits sets it (gvmm boot does, unless
	// --no-seccomp).
	Sandbox bool
	// SandboxLog logs calls outside the allowlist instead of killing
	// the process (GVMM_SECCOMP_LOG=1), to find what a new path needs.
	SandboxLog bool
}

// ConsoleKind selects where console input goes.
type ConsoleKind string

// The consoles. The serial UART is always there, for early boot messages.
const (
	ConsoleSerial ConsoleKind = "serial"
	ConsoleVirtio ConsoleKind = "virtio"
)

// Limits on the configuration.
const (
	// DefaultMemSize is what `gvmm boot` gives a guest without --mem.
	DefaultMemSize = 256 << 20
)

// MaxDisks bounds --disk: one interrupt line each (vmm.VirtioBlkIRQs).
const MaxDisks = len(vmm.VirtioBlkIRQs)

// maxPCIInterrupts is how many PCI interrupt routes the MP table may
// carry: one per virtio device gvmm can add (console, net, the disks).
const maxPCIInterrupts = 2 + MaxDisks

// MaxCPUs bounds --cpus: the MP table that tells the guest about its CPUs
// must fit in the EBDA (boot.MPTableMaxCPUs).
var MaxCPUs = boot.MPTableMaxCPUs(maxPCIInterrupts)

// Sentinel errors for a bad configuration.
var (
	ErrBadMemSize  = errors.New("bad memory size")
	ErrMemTooSmall = errors.New("memory size too small")
	ErrMemTooLarge = errors.New("memory size too large for this host")
	ErrBadCPUs     = errors.New("bad vCPU count")
	ErrBadDisks    = errors.New("bad disk list")
)

// ParseMemSize parses a size such as "256M", "1G", "512MiB" or a plain
// byte count, as QEMU's -m does (a bare number there means MiB; here it
// must carry a suffix unless it is in bytes and page aligned).
func ParseMemSize(s string) (uint64, error) {
	t := strings.TrimSpace(strings.ToUpper(s))
	t = strings.TrimSuffix(strings.TrimSuffix(t, "IB"), "B")
	shift := 0
	switch {
	case strings.HasSuffix(t, "K"):
		shift = 10
	case strings.HasSuffix(t, "M"):
		shift = 20
	case strings.HasSuffix(t, "G"):
		shift = 30
	case strings.HasSuffix(t, "T"):
		shift = 40
	}
	if shift != 0 {
		t = t[:len(t)-1]
	}
	n, err := strconv.ParseUint(t, 10, 64)
	if err != nil || t == "" {
		return 0, fmt.Errorf("%w %q: use a number with a unit, such as 256M or 1G", ErrBadMemSize, s)
	}
	if n == 0 {
		return 0, fmt.Errorf("%w %q: must be more than zero", ErrBadMemSize, s)
	}
	if shift > 0 && n > (1<<64-1)>>shift {
		return 0, fmt.Errorf("%w %q: too large", ErrMemTooLarge, s)
	}
	return n << shift, nil
}

// hostMemory returns the host's physical RAM in bytes.
func hostMemory() (uint64, error) {
	var si unix.Sysinfo_t
	if err := unix.Sysinfo(&si); err != nil {
		return 0, err
	}
	return uint64(si.Totalram) * uint64(si.Unit), nil
}

// Validate checks the configuration before anything is created: sizes and
// counts, then the kernel and initrd files against the memory size, as the
// loader will see them. It opens no KVM device.
func (c *Config) Validate() error {
	if c.MemSize < vmm.MinMemorySize {
		return fmt.Errorf("%w: %d MiB, need at least %d MiB", ErrMemTooSmall, c.MemSize>>20, vmm.MinMemorySize>>20)
	}
	if c.MemSize%4096 != 0 {
		return fmt.Errorf("%w: %d bytes is not a multiple of 4 KiB", ErrBadMemSize, c.MemSize)
	}
	if c.HugeTLB && c.MemSize%vmm.HugePageSize != 0 {
		return fmt.Errorf("%w: %d KiB with --hugepages: use a multiple of 2 MiB", ErrBadMemSize, c.MemSize>>10)
	}
	if host, err := hostMemory(); err == nil && c.MemSize > host {
		return fmt.Errorf("%w: %d MiB asked, the host has %d MiB", ErrMemTooLarge, c.MemSize>>20, host>>20)
	}
	switch c.Console {
	case "", ConsoleSerial, ConsoleVirtio:
	default:
		return fmt.Errorf("unknown console %q: use serial or virtio", c.Console)
	}
	if c.CPUs < 1 || c.CPUs > MaxCPUs {
		return fmt.Errorf("%w: %d, must be between 1 and %d", ErrBadCPUs, c.CPUs, MaxCPUs)
	}
	if err := c.checkDisks(); err != nil {
		return err
	}
	return c.checkBoot()
}

// DiskConfig is one virtio-blk disk (devices/virtio/blk).
type DiskConfig struct {
	// Path is a raw image file (or a host block device).
	Path string
	// ReadOnly opens it read-only and tells the guest so
	// (VIRTIO_BLK_F_RO); the file is never written.
	ReadOnly bool
	// Serial is what the guest reads as the disk's serial number
	// (/dev/disk/by-id/virtio-SERIAL); "" gives "gvmm-vdX".
	Serial string
}

// DiskName returns the name Linux gives the i-th disk: vda, vdb, ...
func DiskName(i int) string { return "vd" + string(rune('a'+i)) }

// checkDisks checks the disk list: not too many, no file twice (the lock
// would refuse the second, with a less helpful message), serials that
// fit, and each image can be opened and locked as asked.
func (c *Config) checkDisks() error {
	if len(c.Disks) > MaxDisks {
		return fmt.Errorf("%w: %d disks, at most %d", ErrBadDisks, len(c.Disks), MaxDisks)
	}
	seen := map[string]int{}
	for i, d := range c.Disks {
		if d.Path == "" {
			return fmt.Errorf("%w: disk %d has no path", ErrBadDisks, i+1)
		}
		if len(d.Serial) > 20 {
			return fmt.Errorf("%w: serial %q of %s is longer than 20 bytes", ErrBadDisks, d.Serial, d.Path)
		}
		abs, err := filepath.Abs(d.Path)
		if err != nil {
			return fmt.Errorf("%w: %s: %w", ErrBadDisks, d.Path, err)
		}
		if j, dup := seen[abs]; dup {
			return fmt.Errorf("%w: %s is given twice (as %s and %s)", ErrBadDisks, d.Path, DiskName(j), DiskName(i))
		}
		seen[abs] = i
		// Open it as the VM will, lock included, so that a missing,
		// empty or busy image is one clear line before /dev/kvm.
		be, err := blk.Open(d.Path, d.ReadOnly)
		if err != nil {
			return err
		}
		be.Close()
	}
	return nil
}
