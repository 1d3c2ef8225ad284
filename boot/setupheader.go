package boot

import (
	"encoding/binary"
	"fmt"
	"io"
)

// Offsets of the setup header fields in the bzImage file, from the table in
// Documentation/arch/x86/boot.rst, "The Real-Mode Kernel Header". The zero
// page (struct boot_params) holds a copy of the header at the same offsets,
// so these double as zero-page offsets.
const (
	hdrStartOff           = 0x1f1 // first byte of struct setup_header
	hdrSetupSectsOff      = 0x1f1 // setup_sects, 1 byte
	hdrSyssizeOff         = 0x1f4 // syssize, 4 bytes (2.04+)
	hdrJumpOff            = 0x200 // jump, 2 bytes: EB xx
	hdrMagicOff           = 0x202 // header, "HdrS"
	hdrVersionOff         = 0x206 // version, 2 bytes
	hdrTypeOfLoaderOff    = 0x210 // type_of_loader, 1 byte
	hdrLoadflagsOff       = 0x211 // loadflags, 1 byte
	hdrRamdiskImageOff    = 0x218 // ramdisk_image, 4 bytes
	hdrRamdiskSizeOff     = 0x21c // ramdisk_size, 4 bytes
	hdrHeapEndPtrOff      = 0x224 // heap_end_ptr, 2 bytes
	hdrCmdLinePtrOff      = 0x228 // cmd_line_ptr, 4 bytes
	hdrInitrdAddrMaxOff   = 0x22c // initrd_addr_max, 4 bytes (2.03+)
	hdrKernelAlignmentOff = 0x230 // kernel_alignment, 4 bytes (2.05+)
	hdrRelocatableOff     = 0x234 // relocatable_kernel, 1 byte (2.05+)
	hdrXLoadflagsOff      = 0x236 // xloadflags, 2 bytes (2.12+)
	hdrCmdlineSizeOff     = 0x238 // cmdline_size, 4 bytes (2.06+)
	hdrPrefAddressOff     = 0x258 // pref_address, 8 bytes (2.10+)
	hdrInitSizeOff        = 0x260 // init_size, 4 bytes (2.10+)

	// hdrMinEnd is where a 2.12 header must at least reach: the end of
	// init_size, the last field this loader reads.
	hdrMinEnd = hdrInitSizeOff + 4
	// hdrMaxEnd is where struct setup_header ends at the latest inside
	// struct boot_params (arch/x86/include/uapi/asm/bootparam.h: the
	// padding _pad7 runs up to edd_mbr_sig_buffer at 0x290).
	hdrMaxEnd = 0x290
)

// hdrMagic is the setup header signature: "Contains the magic number
// "HdrS" (0x53726448)" (boot.rst, field "header").
const hdrMagic = "HdrS"

// Protocol versions, (major << 8) + minor.
const (
	// minProtocol is 2.12, the version that added xloadflags and with it
	// XLF_KERNEL_64, the declaration that the 64-bit entry exists
	// (Linux 3.8).
	minProtocol = 0x020c
)

// loadflags and xloadflags bits (boot.rst, fields "loadflags" and
// "xloadflags").
const (
	// LOADED_HIGH: "If 1, the protected-mode code is loaded at 0x100000".
	loadflagLoadedHigh = 1 << 0
	// XLF_KERNEL_64: "If 1, this kernel has the legacy 64-bit entry point
	// at 0x200."
	xlfKernel64 = 1 << 0
)

// SetupHeader is the validated part of a bzImage's setup header that the
// loader uses. Raw keeps the header bytes as found in the file, because
// the 64-bit boot protocol wants them copied into the zero page.
type SetupHeader struct {
	// Version is the boot protocol version, (major << 8) + minor.
	Version uint16
	// SetupSects is the number of 512-byte setup sectors after the boot
	// sector, with the "0 means 4" rule already applied.
	SetupSects uint32
	// SysSize is the protected-mode code size in 16-byte paragraphs.
	SysSize uint32
	// LoadFlags and XLoadFlags are the two flag fields.
	LoadFlags  uint8
	XLoadFlags uint16
	// InitrdAddrMax is the highest address the initrd may occupy
	// (inclusive).
	InitrdAddrMax uint32
	// KernelAlignment is the alignment a relocatable kernel needs.
	KernelAlignment uint32
	// Relocatable reports relocatable_kernel != 0.
	Relocatable bool
	// CmdlineSize is the longest command line the kernel takes, NUL
	// excluded.
	CmdlineSize uint32
	// PrefAddress is the preferred (for non-relocatable kernels: the
	// only) runtime address.
	PrefAddress uint64
	// InitSize is the memory the kernel needs from its runtime start
	// before it can read the memory map.
	InitSize uint32
	// PayloadOffset and PayloadSize locate the protected-mode kernel in
	// the file: everything after the setup sectors.
	PayloadOffset int64
	PayloadSize   int64
	// Raw is the setup header as found in the file, from 0x1f1 to its
	// end (0x202 + the byte at 0x201, capped at 0x290).
	Raw []byte
}

// ParseSetupHeader reads and validates the setup header of a bzImage of
// the given size. It checks everything the 64-bit boot protocol relies
// on, so that LoadBzImage can trust the result.
func ParseSetupHeader(r io.ReaderAt, size int64) (*SetupHeader, error) {
	if size < hdrVersionOff+2 {
		return nil, fmt.Errorf("%w: %d bytes is too short to hold a setup header", ErrNotBzImage, size)
	}
	var fixed [hdrVersionOff + 2]byte
	if _, err := r.ReadAt(fixed[:], 0); err != nil {
		return nil, fmt.Errorf("read setup header: %w", err)
	}
	if string(fixed[hdrMagicOff:hdrMagicOff+4]) != hdrMagic {
		return nil, fmt.Errorf("%w: no \"HdrS\" magic at %#x; pass a bzImage (arch/x86/boot/bzImage)", ErrNotBzImage, hdrMagicOff)
	}
	version := binary.LittleEndian.Uint16(fixed[hdrVersionOff:])
	if version < minProtocol {
		return nil, fmt.Errorf("%w: version %d.%02d, the 64-bit entry needs 2.12 or later (Linux 3.8+); use a newer kernel",
			ErrProtocolTooOld, version>>8, version&0xff)
	}
	// boot.rst, 64-bit boot protocol: "The end of setup header can be
	// calculated as follows: 0x0202 + byte value at offset 0x0201".
	end := int64(hdrMagicOff) + int64(fixed[hdrJumpOff+1])
	if end < hdrMinEnd {
		return nil, fmt.Errorf("%w: header ends at %#x, before init_size at %#x", ErrBadHeader, end, hdrInitSizeOff)
	}
	end = min(end, hdrMaxEnd)
	if size < end {
		return nil, fmt.Errorf("%w: setup header runs to %#x but the file has %d bytes", ErrTruncated, end, size)
	}
	raw := make([]byte, end-hdrStartOff)
	if _, err := r.ReadAt(raw, hdrStartOff); err != nil {
		return nil, fmt.Errorf("read setup header: %w", err)
	}
	h := decodeSetupHeader(raw, version)
	if err := h.validate(size); err != nil {
		return nil, err
	}
	return h, nil
}

// decodeSetupHeader pulls the fields out of raw, which starts at 0x1f1.
func decodeSetupHeader(raw []byte, version uint16) *SetupHeader {
	le := binary.LittleEndian
	at := func(off int) []byte { return raw[off-hdrStartOff:] }
	h := &SetupHeader{
		Version:         version,
		SetupSects:      uint32(at(hdrSetupSectsOff)[0]),
		SysSize:         le.Uint32(at(hdrSyssizeOff)),
		LoadFlags:       at(hdrLoadflagsOff)[0],
		XLoadFlags:      le.Uint16(at(hdrXLoadflagsOff)),
		InitrdAddrMax:   le.Uint32(at(hdrInitrdAddrMaxOff)),
		KernelAlignment: le.Uint32(at(hdrKernelAlignmentOff)),
		Relocatable:     at(hdrRelocatableOff)[0] != 0,
		CmdlineSize:     le.Uint32(at(hdrCmdlineSizeOff)),
		PrefAddress:     le.Uint64(at(hdrPrefAddressOff)),
		InitSize:        le.Uint32(at(hdrInitSizeOff)),
		Raw:             raw,
	}
	// boot.rst, setup_sects: "If this field is 0, the real value is 4."
	if h.SetupSects == 0 {
		h.SetupSects = 4
	}
	return h
}

// validate checks the decoded fields against each other and the file size.
func (h *SetupHeader) validate(size int64) error {
	if h.XLoadFlags&xlfKernel64 == 0 {
		return fmt.Errorf("%w: xloadflags %#x lacks XLF_KERNEL_64; build the kernel with CONFIG_X86_64=y", ErrNot64Bit, h.XLoadFlags)
	}
	if h.LoadFlags&loadflagLoadedHigh == 0 {
		return fmt.Errorf("%w: loadflags %#x lacks LOADED_HIGH, this is a zImage; build a bzImage", ErrNotBzImage, h.LoadFlags)
	}
	// "The real-mode code consists of the boot sector (always one
	// 512-byte sector) plus the setup code."
	h.PayloadOffset = int64(h.SetupSects+1) * sectorSize
	if size <= h.PayloadOffset {
		return fmt.Errorf("%w: %d setup sectors need %d bytes before the kernel, the file has %d",
			ErrTruncated, h.SetupSects, h.PayloadOffset, size)
	}
	h.PayloadSize = size - h.PayloadOffset
	// syssize: "The size of the protected-mode code in units of 16-byte
	// paragraphs."
	if need := int64(h.SysSize) * 16; need > h.PayloadSize {
		return fmt.Errorf("%w: syssize says the kernel is %d bytes, the file holds %d; the file is cut short",
			ErrTruncated, need, h.PayloadSize)
	}
	if h.InitSize == 0 {
		return fmt.Errorf("%w: init_size is 0", ErrBadHeader)
	}
	if h.Relocatable && (h.KernelAlignment == 0 || h.KernelAlignment&(h.KernelAlignment-1) != 0) {
		return fmt.Errorf("%w: kernel_alignment %#x is not a power of two", ErrBadHeader, h.KernelAlignment)
	}
	if !h.Relocatable && h.PrefAddress < loadAddr {
		return fmt.Errorf("%w: non-relocatable kernel with pref_address %#x below 1 MiB", ErrBadHeader, h.PrefAddress)
	}
	return nil
}

// runtimeEnd returns the first byte past the memory the kernel needs
// before it reads the memory map, when it is loaded at loadAddr.
//
// boot.rst, init_size: "the amount of linear contiguous memory starting
// at the kernel runtime start address that the kernel needs before it is
// capable of examining its memory map", where
//
//	if (relocatable_kernel)
//		runtime_start = align_up(load_address, kernel_alignment)
//	else
//		runtime_start = pref_address
//
// The decompressor (arch/x86/boot/compressed/head_64.S) also never runs
// below LOAD_PHYSICAL_ADDR, which is pref_address, so a relocatable kernel
// loaded at 1 MiB really runs from max(align_up(1 MiB), pref_address). The
// compressed payload stays where it was loaded until it is copied away,
// so the area also covers [loadAddr, loadAddr+PayloadSize).
//
// ok is false if the arithmetic overflows (a hostile header).
func (h *SetupHeader) runtimeEnd() (end uint64, ok bool) {
	start := h.PrefAddress
	if h.Relocatable {
		a := uint64(h.KernelAlignment)
		start = max((loadAddr+a-1)&^(a-1), h.PrefAddress)
	}
	end = start + uint64(h.InitSize)
	if end < start {
		return 0, false
	}
	return max(end, loadAddr+uint64(h.PayloadSize)), true
}
