package vmm

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// VM is one virtual machine: a KVM VM fd plus its guest memory.
type VM struct {
	sys *System
	fd  int
	mem *GuestMemory
}

// CreateVM creates an empty VM (KVM_CREATE_VM with machine type 0, the
// default x86 VM).
func (s *System) CreateVM() (*VM, error) {
	fd, err := ioctl(s.fd, KVM_CREATE_VM, 0)
	if err != nil {
		return nil, ioctlError("KVM_CREATE_VM", err)
	}
	unix.CloseOnExec(int(fd))
	return &VM{sys: s, fd: int(fd)}, nil
}

// SetMemory registers guest memory with the VM, one KVM memory slot per RAM
// region (KVM_SET_USER_MEMORY_REGION). KVM maps the host pages into the
// guest lazily, so registration costs nothing per page.
func (vm *VM) SetMemory(mem *GuestMemory) error {
	if n, _ := vm.sys.CheckExtension(KVM_CAP_NR_MEMSLOTS); n > 0 && len(mem.regions) > n {
		return fmt.Errorf("%w: need %d, have %d", ErrBadMemorySlots, len(mem.regions), n)
	}
	for i, r := range mem.regions {
		region := kvmUserspaceMemoryRegion{
			Slot:          uint32(i),
			GuestPhysAddr: r.Start,
			MemorySize:    r.Size,
			UserspaceAddr: hostAddress(mem.host[r.hostOffset:]),
		}
		if err := ioctlPtr(vm.fd, KVM_SET_USER_MEMORY_REGION, &region); err != nil {
			return ioctlError(fmt.Sprintf("KVM_SET_USER_MEMORY_REGION slot %d [%#x, +%#x)", i, r.Start, r.Size), err)
		}
	}
	vm.mem = mem
	return nil
}

// Memory returns the guest memory registered with SetMemory.
func (vm *VM) Memory() *GuestMemory { return vm.mem }

// SetTSSAddr places the three-page TSS that Intel VMX needs to emulate
// real mode (KVM_SET_TSS_ADDR). It must not overlap RAM or MMIO in use;
// api.rst: "This ioctl is required on Intel-based hosts."
func (vm *VM) SetTSSAddr(addr uint64) error {
	if _, err := ioctl(vm.fd, KVM_SET_TSS_ADDR, uintptr(addr)); err != nil {
		return ioctlError("KVM_SET_TSS_ADDR", err)
	}
	return nil
}

// SetIdentityMapAddr places the one-page EPT identity map Intel VMX uses
// for unpaged guest modes (KVM_SET_IDENTITY_MAP_ADDR). It must be called
// before any vCPU is created.
func (vm *VM) SetIdentityMapAddr(addr uint64) error {
	if err := ioctlPtr(vm.fd, KVM_SET_IDENTITY_MAP_ADDR, &addr); err != nil {
		return ioctlError("KVM_SET_IDENTITY_MAP_ADDR", err)
	}
	return nil
}

// CreateIRQChip creates the in-kernel PIC pair, IO-APIC and a local APIC
// per vCPU (KVM_CREATE_IRQCHIP). Interrupts then never leave the kernel:
// the VMM only raises lines with SetIRQLine.
func (vm *VM) CreateIRQChip() error {
	if _, err := ioctl(vm.fd, KVM_CREATE_IRQCHIP, 0); err != nil {
		return ioctlError("KVM_CREATE_IRQCHIP", err)
	}
	return nil
}

// CreatePIT2 creates the in-kernel i8254 timer (KVM_CREATE_PIT2), after
// CreateIRQChip. Linux calibrates its TSC against it.
func (vm *VM) CreatePIT2() error {
	cfg := kvmPITConfig{Flags: KVM_PIT_SPEAKER_DUMMY}
	if err := ioctlPtr(vm.fd, KVM_CREATE_PIT2, &cfg); err != nil {
		return ioctlError("KVM_CREATE_PIT2", err)
	}
	return nil
}

// SetIRQLine drives interrupt line irq (a GSI: ISA IRQs 0-15 reach both the
// PIC and the IO-APIC; 16-23 only the IO-APIC) to level (KVM_IRQ_LINE).
func (vm *VM) SetIRQLine(irq uint32, high bool) error {
	lvl := kvmIRQLevel{IRQ: irq}
	if high {
		lvl.Level = 1
	}
	if err := ioctlPtr(vm.fd, KVM_IRQ_LINE, &lvl); err != nil {
		return ioctlError(fmt.Sprintf("KVM_IRQ_LINE %d", irq), err)
	}
	return nil
}

// IRQLine is one interrupt line of the VM. It implements
// devices.Interrupt without vmm importing devices.
type IRQLine struct {
	vm  *VM
	gsi uint32
}

// IRQLine returns the interrupt line for gsi.
func (vm *VM) IRQLine(gsi uint32) *IRQLine { return &IRQLine{vm: vm, gsi: gsi} }

// SetLevel raises or lowers the line.
func (l *IRQLine) SetLevel(high bool) error { return l.vm.SetIRQLine(l.gsi, high) }

// SignalMSI injects a message-signalled interrupt: the write of data to
// address that a PCI device's MSI-X table entry describes (KVM_SIGNAL_MSI).
// api.rst: a return of 0 means the guest blocked the message (masked or
// not routed), which is the guest's business, not an error.
func (vm *VM) SignalMSI(address uint64, data uint32) error {
	msi := kvmMSI{AddressLo: uint32(address), AddressHi: uint32(address >> 32), Data: data}
	if err := ioctlPtr(vm.fd, KVM_SIGNAL_MSI, &msi); err != nil {
		return ioctlError("KVM_SIGNAL_MSI", err)
	}
	return nil
}

// RegisterIRQFD makes writes to the eventfd efd raise interrupt gsi
// without a trip through the VMM (KVM_IRQFD).
func (vm *VM) RegisterIRQFD(efd int, gsi uint32) error {
	arg := kvmIRQFD{FD: uint32(efd), GSI: gsi}
	if err := ioctlPtr(vm.fd, KVM_IRQFD, &arg); err != nil {
		return ioctlError("KVM_IRQFD", err)
	}
	return nil
}

// RegisterIOEventFD makes guest writes of size length to addr signal the
// eventfd efd instead of exiting to userspace (KVM_IOEVENTFD). pio selects
// the port I/O space instead of MMIO.
func (vm *VM) RegisterIOEventFD(efd int, addr uint64, length uint32, pio bool) error {
	arg := kvmIOEventFD{Addr: addr, Len: length, FD: int32(efd)}
	if pio {
		arg.Flags |= KVM_IOEVENTFD_FLAG_PIO
	}
	if err := ioctlPtr(vm.fd, KVM_IOEVENTFD, &arg); err != nil {
		return ioctlError("KVM_IOEVENTFD", err)
	}
	return nil
}

// Close closes the VM fd. vCPUs must be closed first.
func (vm *VM) Close() error { return unix.Close(vm.fd) }
