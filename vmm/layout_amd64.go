package vmm

// This file is the single map of the guest-physical address space and of
// the I/O ports gvmm uses. Every fixed guest address in the project is named
// here, so a student can see the whole machine on one page:
//
//	0x0000_0000 ┌──────────────────────────┐
//	            │ real-mode IVT, BDA       │ (unused, left zero)
//	0x0000_0500 │ boot GDT                 │ BootGDTAddr
//	0x0000_6000 │ PVH hvm_start_info       │ PVHStartInfoAddr
//	0x0000_6040 │ PVH module list          │ PVHModlistAddr
//	0x0000_7000 │ zero page / PVH e820     │ ZeroPageAddr, PVHMemmapAddr
//	0x0000_8ff0 │ boot stack top           │ BootStackAddr
//	0x0000_9000 │ PML4, PDPT, PD           │ PML4Addr, PDPTAddr, PDAddr
//	0x0002_0000 │ kernel command line      │ CmdlineAddr (CmdlineMaxSize)
//	0x0009_fc00 │ EBDA: MP table           │ EBDAStart
//	0x000a_0000 │ VGA hole / ROM area      │ (not RAM in the e820 map)
//	0x000e_0000 │ ACPI tables (RSDP first) │ ACPITablesStart (reserved)
//	0x0010_0000 │ kernel (1 MiB)           │ HighMemoryStart
//	            │ ... RAM ...              │
//	0xd000_0000 │ 32-bit MMIO hole         │ MMIOGapStart .. MMIOGapEnd
//	0xfffb_c000 │ EPT identity map page    │ IdentityMapAddr (Intel only)
//	0xfffb_d000 │ TSS (3 pages)            │ TSSAddr (Intel only)
//	0x1_0000_0000 ├──────────────────────────┤
//	            │ RAM above 4 GiB          │ HighRAMStart
//	            └──────────────────────────┘
//
// The numbers follow the conventions that Firecracker and QEMU's microvm use
// (low pages for boot structures, kernel at 1 MiB, a 768 MiB hole below 4 GiB
// for device MMIO), which are also what a Linux guest expects to find.

const (
	// BootGDTAddr is where the VMM writes the flat boot GDT
	// (boot.WriteBootGDT). Documentation/arch/x86/boot.rst wants
	// __BOOT_CS = 0x10 and __BOOT_DS = 0x18 at the 32- and 64-bit entries.
	BootGDTAddr = 0x500

	// PVHStartInfoAddr is where struct hvm_start_info goes (PVH boot,
	// xen/include/public/arch-x86/hvm/start_info.h); EBX points here.
	PVHStartInfoAddr = 0x6000
	// PVHModlistAddr holds the hvm_modlist_entry array (the initrd).
	PVHModlistAddr = 0x6040
	// PVHMemmapAddr holds the hvm_memmap_table_entry array (the e820 map).
	PVHMemmapAddr = 0x7000

	// ZeroPageAddr is struct boot_params, "the zero page" of the Linux
	// boot protocol; RSI points here at the 64-bit entry.
	ZeroPageAddr = 0x7000

	// BootStackAddr is the initial stack pointer given to the boot vCPU.
	BootStackAddr = 0x8ff0

	// PML4Addr, PDPTAddr and PDAddr are the three pages of the identity
	// page tables the VMM builds for the 64-bit Linux entry (1 GiB mapped
	// with 2 MiB pages).
	PML4Addr = 0x9000
	PDPTAddr = 0xa000
	PDAddr   = 0xb000

	// CmdlineAddr is where the kernel command line is copied, and
	// CmdlineMaxSize bounds it (NUL included).
	CmdlineAddr    = 0x20000
	CmdlineMaxSize = 0x10000

	// EBDAStart is the Extended BIOS Data Area; the MP floating pointer and
	// table live here, where the kernel's MP scan looks for them.
	EBDAStart = 0x9fc00

	// LowRAMEnd is the end of conventional memory (640 KiB); the range up
	// to HighMemoryStart is the legacy VGA/ROM hole and is not reported
	// as RAM.
	LowRAMEnd = 0xa0000

	// ACPITablesStart and ACPITablesEnd bound the ACPI tables
	// (boot/acpi), RSDP first: [0xe0000, 1 MiB) is the BIOS read-only
	// memory space, one of the two places ACPI 6.5 §5.2.5.1 lets an OS
	// search for the RSDP on 16-byte boundaries. Guest RAM backs it; the
	// e820 map reports it reserved.
	ACPITablesStart = 0xe0000
	ACPITablesEnd   = 0x100000

	// HighMemoryStart is 1 MiB, where protected-mode kernels are loaded.
	HighMemoryStart = 0x100000

	// MMIOGapStart and MMIOGapEnd bound the 32-bit hole for device MMIO
	// (PCI BARs, the IO-APIC at 0xfec00000, the local APIC at 0xfee00000).
	// Guest RAM that does not fit below the hole continues at HighRAMStart.
	MMIOGapStart = 0xd000_0000
	MMIOGapEnd   = 0x1_0000_0000
	HighRAMStart = 0x1_0000_0000

	// PCIMMIOStart and PCIMMIOSize are the window PCI memory BARs are
	// assigned from: the first 256 MiB of the hole, far below the IO-APIC.
	PCIMMIOStart = MMIOGapStart
	PCIMMIOSize  = 0x1000_0000

	// IdentityMapAddr and TSSAddr are the addresses KVM on Intel VMX uses
	// for the real-mode EPT identity page table (KVM_SET_IDENTITY_MAP_ADDR,
	// one page) and the real-mode TSS (KVM_SET_TSS_ADDR, three pages). They
	// must be inside the MMIO hole, not RAM; AMD ignores them.
	IdentityMapAddr = 0xfffb_c000
	TSSAddr         = 0xfffb_d000

	// IOAPICAddr and LAPICAddr are the architectural default addresses of
	// the I/O APIC and the local APIC, emulated in the kernel by KVM.
	IOAPICAddr = 0xfec0_0000
	LAPICAddr  = 0xfee0_0000
)

// I/O ports.
const (
	// COM1Port is the first 16550A UART; COM1IRQ its ISA interrupt line.
	COM1Port = 0x3f8
	COM1IRQ  = 4

	// I8042DataPort and I8042CommandPort are the i8042 keyboard
	// controller's ports; the guest writes 0xfe to the command port to
	// pulse the CPU reset line (Linux's reboot=k).
	I8042DataPort    = 0x60
	I8042CommandPort = 0x64

	// CMOSPort is the CMOS real-time clock's index port; the data port
	// follows it (devices/rtc). IBM PC/AT assignment, 0x70-0x71.
	CMOSPort     = 0x70
	CMOSPortSize = 2

	// DebugPort is gvmm's own guest-to-VMM signalling device (see
	// devices.DebugDevice): register 0 is the boot timer (write the READY
	// byte, ready.Magic, when the workload is ready), register 1 is the exit
	// register (write a status byte to stop the VM with that exit code).
	// 0x0440 is unused by any PC legacy device.
	DebugPort     = 0x0440
	DebugPortSize = 2

	// ACPIPMPort is gvmm's block of ACPI hardware-reduced power
	// registers (devices/power), one byte each: sleep control at
	// ACPIPMPort, sleep status at +1, reset at +2. The FADT points at them
	// (ACPI 6.5 §4.8.3.6 and §4.8.3.7). 0x600 is where QEMU's PC machines
	// put their PM block; no legacy device uses it.
	ACPIPMPort     = 0x0600
	ACPIPMPortSize = 3

	// ACPISCIIRQ is the interrupt the FADT names as the SCI. A
	// hardware-reduced platform raises none, but Linux still programs the
	// line it is told; 9 is the PC's (and QEMU's) and no gvmm device
	// uses it.
	ACPISCIIRQ = 9
)

// Interrupt lines of the PCI devices. Each gets its own line below 16 so
// that kernels without an MP table or ACPI (which fall back to the 8259
// PIC and take the line from the Interrupt Line register) reach them too.
const (
	VirtioConsoleIRQ = 10
	VirtioNetIRQ     = 11
)

// VirtioBlkIRQs are the lines of the virtio-blk disks, in --disk order:
// the ISA lines no PC device of gvmm's uses (5 and 7 were the second
// parallel port and LPT1, 14 and 15 the IDE channels, absent here). Four
// lines, four disks: a PCI line may be shared, but each disk on its own
// line keeps the interrupt path simple to follow.
var VirtioBlkIRQs = [...]uint8{5, 7, 14, 15}
