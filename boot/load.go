package boot

import (
	"bytes"
	"errors"
	"fmt"
	"io"

	"gvmm/vmm"
)

// Config says what to load: the kernel, an optional initrd and the command
// line. The files are read through io.ReaderAt with their sizes given
// explicitly, so a loader can check every header offset against the real
// end of the file before it trusts it (an *os.File and its Stat size, or a
// bytes.Reader in tests).
type Config struct {
	// Kernel is the kernel image (bzImage or ELF); KernelSize is its
	// length in bytes.
	Kernel     io.ReaderAt
	KernelSize int64
	// Initrd is the initial ramdisk, or nil for none; InitrdSize is its
	// length in bytes.
	Initrd     io.ReaderAt
	InitrdSize int64
	// Cmdline is the kernel command line, without a terminating NUL.
	Cmdline string
	// RSDP is the guest-physical address of the ACPI root pointer
	// (boot/acpi), given to the kernel through the boot protocol, or 0
	// for none (the kernel may still find one by scanning).
	RSDP uint64
}

// elfMagic opens every ELF file (ELF gABI, "ELF Identification").
var elfMagic = []byte{0x7f, 'E', 'L', 'F'}

// Load sniffs the kernel format and calls the matching loader: an ELF goes
// through PVH (LoadPVH), a file with the "HdrS" setup header through the
// Linux 64-bit boot protocol (LoadBzImage). Anything else is ErrNotKernel.
// Guest memory is written only once the whole boot has been validated.
func Load(mem Memory, cfg Config) (*Entry, error) {
	p, err := plan(mem.RAMRanges(), cfg)
	if err != nil {
		return nil, err
	}
	return p.write(mem, cfg)
}

// Check validates a boot of cfg into guest RAM laid out as ram (see
// vmm.RAMLayout) exactly as Load would, reading only the files' headers
// and writing nothing: a VMM calls it before it opens /dev/kvm or maps
// guest memory, so that a wrong kernel, an initrd too large for the
// memory or an overlong command line is reported first, on any host.
func Check(ram []Range, cfg Config) error {
	_, err := plan(ram, cfg)
	return err
}

// bootPlan is a validated boot, ready to be written into guest memory.
type bootPlan interface {
	write(mem Memory, cfg Config) (*Entry, error)
}

// plan sniffs the format and validates the whole boot against ram.
func plan(ram []Range, cfg Config) (bootPlan, error) {
	if cfg.Kernel == nil {
		return nil, fmt.Errorf("%w: no kernel given", ErrNotKernel)
	}
	var magic [4]byte
	if cfg.KernelSize >= int64(len(magic)) {
		if _, err := cfg.Kernel.ReadAt(magic[:], 0); err != nil {
			return nil, fmt.Errorf("read kernel: %w", err)
		}
		if bytes.Equal(magic[:], elfMagic) {
			return planPVH(ram, cfg)
		}
	}
	if IsBzImage(cfg.Kernel) {
		return planBzImage(ram, cfg)
	}
	return nil, fmt.Errorf("%w (%d bytes, no ELF magic and no \"HdrS\" at %#x): "+
		"pass a vmlinux or a bzImage such as arch/x86/boot/bzImage", ErrNotKernel, cfg.KernelSize, hdrMagicOff)
}

// IsBzImage reports whether r starts like a Linux bzImage: the setup
// header's "HdrS" magic at 0x202. It is a sniff, not a validation:
// LoadBzImage checks the header properly.
func IsBzImage(r io.ReaderAt) bool {
	var magic [len(hdrMagic)]byte
	_, err := r.ReadAt(magic[:], hdrMagicOff)
	return err == nil && string(magic[:]) == hdrMagic
}

// lowRAMEnd returns the end of the RAM range that starts at address 0,
// the only range the 32-bit PVH entry and the boot structures can use
// (below the MMIO hole, so below 4 GiB).
func lowRAMEnd(ram []Range) (uint64, error) {
	for _, r := range ram {
		if r.Start == 0 && r.Size > vmm.HighMemoryStart {
			return r.End(), nil
		}
	}
	return 0, fmt.Errorf("%w: no RAM above 1 MiB below the MMIO hole; raise --mem", ErrMemoryTooSmall)
}

// copyChunk is the buffer size used to stream file data into guest memory.
const copyChunk = 256 << 10

// copyToGuest copies n bytes at offset off of src to guest-physical dst.
// A source shorter than n is ErrTruncated (what names the data for the
// message). The caller has already checked [dst, dst+n) against RAM; the
// checked WriteAt is the second line of defence.
func copyToGuest(mem Memory, dst uint64, src io.ReaderAt, off, n int64, what string) error {
	if n <= 0 {
		return nil // io.CopyBuffer panics on an empty buffer
	}
	w := io.NewOffsetWriter(mem, int64(dst))
	r := io.NewSectionReader(src, off, n)
	written, err := io.CopyBuffer(w, r, make([]byte, min(n, copyChunk)))
	if err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return fmt.Errorf("%w: %s ends after %d of %d bytes", ErrTruncated, what, written, n)
		}
		return fmt.Errorf("copy %s to guest address %#x: %w", what, dst, err)
	}
	if written < n {
		return fmt.Errorf("%w: %s ends after %d of %d bytes; the file is cut short, rebuild or re-download it",
			ErrTruncated, what, written, n)
	}
	return nil
}

// zeroGuest writes n zero bytes at guest-physical dst (an ELF segment's
// bss tail). Guest RAM starts out zero, but a loader must not rely on that:
// a reset reloads into used memory.
func zeroGuest(mem Memory, dst, n uint64) error {
	zeros := make([]byte, min(n, copyChunk))
	for n > 0 {
		k := min(n, uint64(len(zeros)))
		if _, err := mem.WriteAt(zeros[:k], int64(dst)); err != nil {
			return fmt.Errorf("zero guest memory at %#x: %w", dst, err)
		}
		dst += k
		n -= k
	}
	return nil
}

// fitsIn reports whether [addr, addr+size) lies inside [lo, hi), without
// ever computing an addition that could overflow.
func fitsIn(addr, size, lo, hi uint64) bool {
	return addr >= lo && addr <= hi && size <= hi-addr
}

// Page sizes used for alignment.
const (
	pageSize   = 4096
	pageMask   = pageSize - 1
	sectorSize = 512
)
