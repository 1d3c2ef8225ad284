package boot

import "errors"

// Sentinel errors. Every loader error wraps exactly one of these, so callers
// (and tests) can tell the cases apart with errors.Is, while the wrapped
// message says what was wrong with which value and how to fix it.
var (
	// ErrNotKernel: the file is neither an ELF nor a bzImage.
	ErrNotKernel = errors.New("not an ELF or bzImage kernel")
	// ErrNotBzImage: no "HdrS" setup header, or an old zImage.
	ErrNotBzImage = errors.New("not a bzImage")
	// ErrProtocolTooOld: the boot protocol predates 2.12, the first
	// version with xloadflags and so with a declared 64-bit entry.
	ErrProtocolTooOld = errors.New("boot protocol too old")
	// ErrNot64Bit: the kernel does not have the 64-bit entry point.
	ErrNot64Bit = errors.New("kernel has no 64-bit entry point")
	// ErrBadHeader: a setup header field has an impossible value.
	ErrBadHeader = errors.New("invalid setup header")
	// ErrTruncated: the file ends before the data its headers describe.
	ErrTruncated = errors.New("truncated image")
	// ErrBadELF: the ELF headers are malformed or unsuitable for PVH.
	ErrBadELF = errors.New("invalid ELF kernel")
	// ErrNoPVHNote: the ELF has no XEN_ELFNOTE_PHYS32_ENTRY note.
	ErrNoPVHNote = errors.New("ELF kernel has no PVH entry note")
	// ErrSegmentOutsideRAM: an ELF segment does not fit in loadable RAM.
	ErrSegmentOutsideRAM = errors.New("ELF segment outside loadable RAM")
	// ErrMemoryTooSmall: guest RAM is smaller than the kernel needs.
	ErrMemoryTooSmall = errors.New("guest memory too small for the kernel")
	// ErrInitrdTooLarge: the initrd does not fit in RAM below its limit.
	ErrInitrdTooLarge = errors.New("initrd too large")
	// ErrInitrdEmpty: an initrd was given but has no bytes.
	ErrInitrdEmpty = errors.New("initrd is empty")
	// ErrOverlap: the kernel and the initrd would overlap.
	ErrOverlap = errors.New("kernel and initrd overlap")
	// ErrCmdlineTooLong: the command line exceeds the kernel's
	// cmdline_size or gvmm's buffer (vmm.CmdlineMaxSize).
	ErrCmdlineTooLong = errors.New("kernel command line too long")
	// ErrBadCmdline: the command line contains a NUL byte, which would
	// silently cut it short.
	ErrBadCmdline = errors.New("invalid kernel command line")
	// ErrTooManyCPUs: the MP table cannot describe that many CPUs.
	ErrTooManyCPUs = errors.New("too many CPUs for the MP table")
	// ErrBadPCIInterrupt: a PCI interrupt routing entry is out of range.
	ErrBadPCIInterrupt = errors.New("invalid PCI interrupt routing")
)
