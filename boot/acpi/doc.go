// Package acpi writes the ACPI tables that describe a gvmm VM to its
// kernel: how many CPUs it has, where their local APICs and the I/O APIC
// are, which devices sit on the (legacy) I/O ports, where the PCI host
// bridge decodes, and how the guest powers the machine off or resets it.
//
// The MP table (boot/mptable.go) says some of this too, but a kernel
// built without CONFIG_X86_MPPARSE, Debian's stock kernel among them,
// ignores it: without ACPI such a kernel sees one CPU, drives its
// interrupts through the 8259 PIC and its timer through the PIT (thousands
// of port exits per boot), and cannot power off. With these tables it
// runs on the I/O APIC and the local APIC's timer, starts every vCPU, and
// `poweroff` ends the VM.
//
// gvmm's platform is "hardware-reduced" ACPI (ACPI 6.5 §4.1): no PM1 event
// and control blocks, no GPEs, no PM timer, no SMI command port, no FACS.
// The FADT instead names three byte-wide registers on gvmm's own I/O
// ports (devices/power): sleep control, sleep status and reset. Linux sees
// the HW_REDUCED_ACPI flag and, on x86, also stops using the 8259 PIC and
// the PIT (acpi_generic_reduced_hw_init in arch/x86/kernel/acpi/boot.c).
// The IAPC_BOOT_ARCH flags say there is no VGA and no 8042, so the kernel
// does not probe the keyboard controller at all; its reset line still
// works for reboot=k.
//
// The tables, in the order the guest finds them (all in
// [vmm.ACPITablesStart, vmm.ACPITablesEnd), which the e820 map reports as
// reserved):
//
//	RSDP  rsdp.go  root pointer, found by scanning or by the boot protocol
//	XSDT  rsdp.go  the list of the other tables (64-bit pointers)
//	FADT  fadt.go  fixed description: flags, the power registers, the DSDT
//	MADT  madt.go  local APICs, the I/O APIC, interrupt overrides
//	DSDT  dsdt.go  AML: COM1, the RTC, the PCI host bridge, \_S5
//
// The DSDT is AML, ACPI's bytecode, built by the small encoder in aml.go
// (terms) and resource.go (resource descriptors for _CRS): only the
// handful of opcodes a static description needs, no methods.
//
// Every table is a byte slice built from named field offsets, with the
// checksum computed last (sdt.go); the tests check the bytes against the
// spec's tables. Reference: ACPI Specification 6.5 (UEFI Forum, 2022),
// cited by section. Linux reads the tables with ACPICA
// (drivers/acpi/acpica) and arch/x86/kernel/acpi/boot.c.
package acpi
