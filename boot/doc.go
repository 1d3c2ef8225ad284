// Package boot loads guest kernels into guest memory and describes the CPU
// state the boot vCPU must start in.
//
// Load (load.go) looks at the kernel file and picks one of two protocols:
//
//   - PVH (pvh.go, pvhnote.go, pvhstartinfo.go): an ELF kernel with a
//     XEN_ELFNOTE_PHYS32_ENTRY note is entered in 32-bit protected mode
//     with paging off and EBX pointing at a struct hvm_start_info. This
//     boots the tiny test guests and an uncompressed Linux vmlinux.
//   - The Linux x86 64-bit boot protocol (Documentation/arch/x86/boot.rst;
//     setupheader.go, bzimage.go, zeropage.go): a bzImage is entered at
//     its 64-bit entry point with the zero page in RSI, on identity page
//     tables and a flat GDT (cpu.go).
//
// Both share the e820 memory map (e820.go), the command line (cmdline.go)
// and initrd placement (initrd.go). WriteMPTable (mptable.go) describes the
// CPUs and interrupt wiring to a kernel without ACPI; the ACPI tables are
// boot/acpi's, and Config.RSDP passes their address to either protocol.
//
// Every header field is checked before it is used and before the first
// byte is written; each kind of bad input has a sentinel error (errors.go).
// The package writes only through the Memory interface (checked ReadAt and
// WriteAt), never into raw slices, so a loader bug cannot scribble outside
// guest RAM. It knows nothing about KVM: the result of a load is an Entry,
// which internal/machine turns into vCPU registers.
package boot
