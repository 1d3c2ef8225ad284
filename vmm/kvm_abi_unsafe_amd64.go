package vmm

import "unsafe"

// This file mirrors the parts of include/uapi/linux/kvm.h and
// arch/x86/include/uapi/asm/kvm.h that gvmm uses. Names follow the kernel's
// so a reader can grep both. abi_test.go checks every number against the
// kernel headers.

// KVM_API_VERSION is the only API version the kernel has ever reported
// since Linux 2.6.22; anything else means an incompatible /dev/kvm.
const KVM_API_VERSION = 12

// ioctl request encoding (include/uapi/asm-generic/ioctl.h):
// dir<<30 | size<<16 | type<<8 | nr.
const (
	iocNone  = 0
	iocWrite = 1
	iocRead  = 2

	kvmio = 0xAE
)

// ioctls on the system fd.
const (
	KVM_GET_API_VERSION     = iocNone<<30 | kvmio<<8 // nr 0x00
	KVM_CREATE_VM           = iocNone<<30 | kvmio<<8 | 0x01
	KVM_CHECK_EXTENSION     = iocNone<<30 | kvmio<<8 | 0x03
	KVM_GET_VCPU_MMAP_SIZE  = iocNone<<30 | kvmio<<8 | 0x04
	KVM_GET_SUPPORTED_CPUID = (iocRead|iocWrite)<<30 | unsafe.Sizeof(kvmCPUID2{})<<16 | kvmio<<8 | 0x05
)

// ioctls on a VM fd.
const (
	KVM_CREATE_VCPU            = iocNone<<30 | kvmio<<8 | 0x41
	KVM_SET_USER_MEMORY_REGION = iocWrite<<30 | unsafe.Sizeof(kvmUserspaceMemoryRegion{})<<16 | kvmio<<8 | 0x46
	KVM_SET_TSS_ADDR           = iocNone<<30 | kvmio<<8 | 0x47
	KVM_SET_IDENTITY_MAP_ADDR  = iocWrite<<30 | 8<<16 | kvmio<<8 | 0x48
	KVM_CREATE_IRQCHIP         = iocNone<<30 | kvmio<<8 | 0x60
	KVM_IRQ_LINE               = iocWrite<<30 | unsafe.Sizeof(kvmIRQLevel{})<<16 | kvmio<<8 | 0x61
	KVM_IRQFD                  = iocWrite<<30 | unsafe.Sizeof(kvmIRQFD{})<<16 | kvmio<<8 | 0x76
	KVM_CREATE_PIT2            = iocWrite<<30 | unsafe.Sizeof(kvmPITConfig{})<<16 | kvmio<<8 | 0x77
	KVM_IOEVENTFD              = iocWrite<<30 | unsafe.Sizeof(kvmIOEventFD{})<<16 | kvmio<<8 | 0x79
	KVM_SIGNAL_MSI             = iocWrite<<30 | unsafe.Sizeof(kvmMSI{})<<16 | kvmio<<8 | 0xa5
	// KVM_GET_STATS_FD is a VM and a vCPU ioctl (stats.go).
	KVM_GET_STATS_FD = iocNone<<30 | kvmio<<8 | 0xce
)

// ioctls on a vCPU fd.
const (
	KVM_RUN        = iocNone<<30 | kvmio<<8 | 0x80
	KVM_GET_REGS   = iocRead<<30 | unsafe.Sizeof(Regs{})<<16 | kvmio<<8 | 0x81
	KVM_SET_REGS   = iocWrite<<30 | unsafe.Sizeof(Regs{})<<16 | kvmio<<8 | 0x82
	KVM_GET_SREGS  = iocRead<<30 | unsafe.Sizeof(Sregs{})<<16 | kvmio<<8 | 0x83
	KVM_SET_SREGS  = iocWrite<<30 | unsafe.Sizeof(Sregs{})<<16 | kvmio<<8 | 0x84
	KVM_GET_MSRS   = (iocRead|iocWrite)<<30 | unsafe.Sizeof(kvmMSRs{})<<16 | kvmio<<8 | 0x88
	KVM_SET_MSRS   = iocWrite<<30 | unsafe.Sizeof(kvmMSRs{})<<16 | kvmio<<8 | 0x89
	KVM_GET_FPU    = iocRead<<30 | unsafe.Sizeof(FPU{})<<16 | kvmio<<8 | 0x8c
	KVM_SET_FPU    = iocWrite<<30 | unsafe.Sizeof(FPU{})<<16 | kvmio<<8 | 0x8d
	KVM_GET_LAPIC  = iocRead<<30 | unsafe.Sizeof(kvmLAPICState{})<<16 | kvmio<<8 | 0x8e
	KVM_SET_LAPIC  = iocWrite<<30 | unsafe.Sizeof(kvmLAPICState{})<<16 | kvmio<<8 | 0x8f
	KVM_SET_CPUID2 = iocWrite<<30 | unsafe.Sizeof(kvmCPUID2{})<<16 | kvmio<<8 | 0x90
)

// Capabilities for KVM_CHECK_EXTENSION.
const (
	KVM_CAP_IRQCHIP               = 0
	KVM_CAP_HLT                   = 1
	KVM_CAP_USER_MEMORY           = 3
	KVM_CAP_SET_TSS_ADDR          = 4
	KVM_CAP_EXT_CPUID             = 7
	KVM_CAP_NR_VCPUS              = 9
	KVM_CAP_NR_MEMSLOTS           = 10
	KVM_CAP_PIT                   = 11
	KVM_CAP_SYNC_MMU              = 16
	KVM_CAP_IRQ_ROUTING           = 25
	KVM_CAP_IRQFD                 = 32
	KVM_CAP_PIT2                  = 33
	KVM_CAP_IOEVENTFD             = 36
	KVM_CAP_SET_IDENTITY_MAP_ADDR = 37
	KVM_CAP_ADJUST_CLOCK          = 39
	KVM_CAP_MAX_VCPUS             = 66
	KVM_CAP_TSC_DEADLINE_TIMER    = 72
	KVM_CAP_SIGNAL_MSI            = 77
	KVM_CAP_IMMEDIATE_EXIT        = 136
	KVM_CAP_BINARY_STATS_FD       = 203
)

// Exit reasons in kvm_run.exit_reason.
const (
	KVM_EXIT_UNKNOWN         = 0
	KVM_EXIT_EXCEPTION       = 1
	KVM_EXIT_IO              = 2
	KVM_EXIT_HYPERCALL       = 3
	KVM_EXIT_DEBUG           = 4
	KVM_EXIT_HLT             = 5
	KVM_EXIT_MMIO            = 6
	KVM_EXIT_IRQ_WINDOW_OPEN = 7
	KVM_EXIT_SHUTDOWN        = 8
	KVM_EXIT_FAIL_ENTRY      = 9
	KVM_EXIT_INTR            = 10
	KVM_EXIT_NMI             = 16
	KVM_EXIT_INTERNAL_ERROR  = 17
	KVM_EXIT_SYSTEM_EVENT    = 24
)

// kvm_run.io.direction.
const (
	KVM_EXIT_IO_IN  = 0
	KVM_EXIT_IO_OUT = 1
)

// kvm_run.system_event.type.
const (
	KVM_SYSTEM_EVENT_SHUTDOWN = 1
	KVM_SYSTEM_EVENT_RESET    = 2
	KVM_SYSTEM_EVENT_CRASH    = 3
)

// Internal error suberrors (kvm_run.internal.suberror).
const (
	KVM_INTERNAL_ERROR_EMULATION              = 1
	KVM_INTERNAL_ERROR_SIMUL_EX               = 2
	KVM_INTERNAL_ERROR_DELIVERY_EV            = 3
	KVM_INTERNAL_ERROR_UNEXPECTED_EXIT_REASON = 4
)

// KVM_PIT_SPEAKER_DUMMY makes the PIT's speaker port (0x61) a dummy in the
// kernel, so Linux's PIT calibration through port 0x61 never exits to us.
const KVM_PIT_SPEAKER_DUMMY = 1

// Regs is struct kvm_regs: the general-purpose registers.
type Regs struct {
	RAX, RBX, RCX, RDX uint64
	RSI, RDI, RSP, RBP uint64
	R8, R9, R10, R11   uint64
	R12, R13, R14, R15 uint64
	RIP, RFLAGS        uint64
}

// Segment is struct kvm_segment: a segment register with its hidden part.
type Segment struct {
	Base                           uint64
	Limit                          uint32
	Selector                       uint16
	Type                           uint8
	Present, DPL, DB, S, L, G, AVL uint8
	Unusable                       uint8
	_                              uint8
}

// DTable is struct kvm_dtable: GDTR or IDTR.
type DTable struct {
	Base  uint64
	Limit uint16
	_     [3]uint16
}

// Sregs is struct kvm_sregs: segment, control and descriptor-table
// registers.
type Sregs struct {
	CS, DS, ES, FS, GS, SS  Segment
	TR, LDT                 Segment
	GDT, IDT                DTable
	CR0, CR2, CR3, CR4, CR8 uint64
	EFER                    uint64
	APICBase                uint64
	InterruptBitmap         [4]uint64
}

// FPU is struct kvm_fpu: the x87/SSE state.
type FPU struct {
	FPR        [8][16]uint8
	FCW        uint16
	FSW        uint16
	FTWX       uint8
	_          uint8
	LastOpcode uint16
	LastIP     uint64
	LastDP     uint64
	XMM        [16][16]uint8
	MXCSR      uint32
	_          uint32
}

// kvmMSREntry is struct kvm_msr_entry.
type kvmMSREntry struct {
	Index    uint32
	Reserved uint32
	Data     uint64
}

// kvmMSRs is the header of struct kvm_msrs; entries follow it in memory.
type kvmMSRs struct {
	NMSRs uint32
	_     uint32
}

// CPUIDEntry is struct kvm_cpuid_entry2: one CPUID leaf/subleaf.
type CPUIDEntry struct {
	Function uint32
	Index    uint32
	Flags    uint32
	EAX      uint32
	EBX      uint32
	ECX      uint32
	EDX      uint32
	_        [3]uint32
}

// KVM_CPUID_FLAG_SIGNIFCANT_INDEX marks a leaf whose subleaf (ECX input)
// matters. (The kernel header spells it this way.)
const KVM_CPUID_FLAG_SIGNIFCANT_INDEX = 1

// kvmCPUID2 is the header of struct kvm_cpuid2; entries follow it.
type kvmCPUID2 struct {
	Nent uint32
	_    uint32
}

// kvmUserspaceMemoryRegion is struct kvm_userspace_memory_region.
type kvmUserspaceMemoryRegion struct {
	Slot          uint32
	Flags         uint32
	GuestPhysAddr uint64
	MemorySize    uint64
	UserspaceAddr uint64
}

// kvmIRQLevel is struct kvm_irq_level.
type kvmIRQLevel struct {
	IRQ   uint32
	Level uint32
}

// kvmPITConfig is struct kvm_pit_config.
type kvmPITConfig struct {
	Flags uint32
	_     [15]uint32
}

// kvmIRQFD is struct kvm_irqfd.
type kvmIRQFD struct {
	FD         uint32
	GSI        uint32
	Flags      uint32
	ResampleFD uint32
	_          [16]uint8
}

// kvmIOEventFD is struct kvm_ioeventfd.
type kvmIOEventFD struct {
	Datamatch uint64
	Addr      uint64
	Len       uint32
	FD        int32
	Flags     uint32
	_         [36]uint8
}

// kvmMSI is struct kvm_msi: one message-signalled interrupt.
type kvmMSI struct {
	AddressLo uint32
	AddressHi uint32
	Data      uint32
	Flags     uint32
	DevID     uint32
	_         [12]uint8
}

// KVM_IOEVENTFD flags.
const (
	KVM_IOEVENTFD_FLAG_DATAMATCH = 1 << 0
	KVM_IOEVENTFD_FLAG_PIO       = 1 << 1
	KVM_IOEVENTFD_FLAG_DEASSIGN  = 1 << 2
)

// kvmLAPICState is struct kvm_lapic_state: the local APIC register page.
type kvmLAPICState struct {
	Regs [1024]byte
}

// Offsets into struct kvm_run (include/uapi/linux/kvm.h). The first 32
// bytes are a fixed header; the exit-specific union starts at 32.
const (
	runImmediateExit = 1
	runExitReason    = 8
	runUnion         = 32
	// runUnionSize is the exit union's size: its "char padding[256]"
	// member fixes it, so every exit's fields lie in [32, 288).
	runUnionSize = 256
)
