package boot

import (
	"encoding/binary"
	"fmt"

	"gvmm/vmm"
)

// Offsets in struct boot_params, "the zero page", from
// Documentation/arch/x86/zero-page.rst (and
// arch/x86/include/uapi/asm/bootparam.h). The setup header sits inside it
// at 0x1f1, at the same offsets as in the bzImage file (the hdr* constants
// in setupheader.go).
const (
	zpACPIRSDPAddrOff    = 0x070 // acpi_rsdp_addr: the ACPI RSDP, 0 for "search for it"
	zpExtRamdiskImageOff = 0x0c0 // ext_ramdisk_image: high 32 bits of ramdisk_image
	zpExtRamdiskSizeOff  = 0x0c4 // ext_ramdisk_size: high 32 bits of ramdisk_size
	zpExtCmdLinePtrOff   = 0x0c8 // ext_cmd_line_ptr: high 32 bits of cmd_line_ptr
	zpE820EntriesOff     = 0x1e8 // e820_entries: number of entries in e820_table
	zpSentinelOff        = 0x1ef // sentinel: must stay 0, see below
	zpE820TableOff       = 0x2d0 // e820_table: struct boot_e820_entry[128]

	// zpSize is sizeof(struct boot_params): one page.
	zpSize = 4096
	// zpE820EntrySize is sizeof(struct boot_e820_entry): __u64 addr,
	// __u64 size, __u32 type, packed.
	zpE820EntrySize = 20
	// zpE820MaxEntries is E820_MAX_ENTRIES_ZEROPAGE: the table runs from
	// 0x2d0 to 0xd00.
	zpE820MaxEntries = 128
)

// typeOfLoaderUndefined is the type_of_loader for boot loaders without an
// assigned id. boot.rst: "If your boot loader has an assigned id ... enter
// 0xTV here ... Otherwise, enter 0xFF here."
const typeOfLoaderUndefined = 0xff

// zeroPage describes what goes into the zero page besides the copied
// setup header.
type zeroPage struct {
	hdr         *SetupHeader
	cmdlineAddr uint64
	initrdAddr  uint64
	initrdSize  uint64
	rsdpAddr    uint64
	e820        []E820Entry
}

// encode builds the 4096-byte zero page.
//
// boot.rst, 64-bit boot protocol: "The memory for struct boot_params
// could be allocated anywhere (even above 4G) and initialized to all zero.
// Then, the setup header at offset 0x01f1 of kernel image on should be
// loaded into struct boot_params and examined."
//
// Everything else stays zero. In particular the sentinel at 0x1ef:
// the kernel uses a non-zero sentinel to detect loaders that copied more
// than the setup header into boot_params, and then clears those fields.
//
// loadflags keeps the kernel's own bits. CAN_USE_HEAP and heap_end_ptr
// describe the heap of the real-mode setup code, and KEEP_SEGMENTS the
// 32-bit entry (and is obsolete); the 64-bit entry runs neither, so this
// loader sets neither.
func (z *zeroPage) encode() ([]byte, error) {
	if len(z.e820) > zpE820MaxEntries {
		return nil, fmt.Errorf("%d e820 entries, the zero page holds %d", len(z.e820), zpE820MaxEntries)
	}
	le := binary.LittleEndian
	zp := make([]byte, zpSize)
	copy(zp[hdrStartOff:], z.hdr.Raw)
	zp[hdrTypeOfLoaderOff] = typeOfLoaderUndefined
	// cmd_line_ptr: "Set this field to the linear address of the kernel
	// command line." ext_cmd_line_ptr carries bits 32-63.
	le.PutUint32(zp[hdrCmdLinePtrOff:], uint32(z.cmdlineAddr))
	le.PutUint32(zp[zpExtCmdLinePtrOff:], uint32(z.cmdlineAddr>>32))
	// ramdisk_image: "The 32-bit linear address of the initial ramdisk
	// or ramfs. Leave at zero if there is no initial ramdisk/ramfs."
	le.PutUint32(zp[hdrRamdiskImageOff:], uint32(z.initrdAddr))
	le.PutUint32(zp[zpExtRamdiskImageOff:], uint32(z.initrdAddr>>32))
	le.PutUint32(zp[hdrRamdiskSizeOff:], uint32(z.initrdSize))
	le.PutUint32(zp[zpExtRamdiskSizeOff:], uint32(z.initrdSize>>32))
	// acpi_rsdp_addr (boot protocol 2.14, Linux 5.0): the kernel takes
	// the RSDP from here before it would scan the BIOS area for one.
	le.PutUint64(zp[zpACPIRSDPAddrOff:], z.rsdpAddr)
	zp[zpE820EntriesOff] = uint8(len(z.e820))
	for i, e := range z.e820 {
		b := zp[zpE820TableOff+i*zpE820EntrySize:]
		le.PutUint64(b[0:], e.Addr)
		le.PutUint64(b[8:], e.Size)
		le.PutUint32(b[16:], e.Type)
	}
	return zp, nil
}

// writeZeroPage encodes the zero page and writes it at vmm.ZeroPageAddr.
func writeZeroPage(mem Memory, z *zeroPage) error {
	zp, err := z.encode()
	if err != nil {
		return fmt.Errorf("build zero page: %w", err)
	}
	if _, err := mem.WriteAt(zp, vmm.ZeroPageAddr); err != nil {
		return fmt.Errorf("write zero page: %w", err)
	}
	return nil
}
