package pci

import (
	"encoding/binary"
	"fmt"
	"sync"

	"gvmm/devices"
)

// Configuration mechanism #1, PCI Local Bus 3.0 §3.2.2.3.2.
const (
	// ConfigAddressPort is CONFIG_ADDRESS, ConfigDataPort CONFIG_DATA; the
	// Device returned by Root.ConfigPorts covers ConfigPortsSize ports
	// from ConfigAddressPort.
	ConfigAddressPort = 0xcf8
	ConfigDataPort    = 0xcfc
	ConfigPortsSize   = 8

	configAddressEnable = 1 << 31
	// configAddressMask keeps the enable bit, bus, device, function and
	// register fields; reserved bits 30:24 and bits 1:0 read as zero.
	configAddressMask = 0x80ff_fffc
	dataPortOffset    = ConfigDataPort - ConfigAddressPort
	maxDevices        = 32
)

// Identity of gvmm's host bridge. Linux's conf1 sanity check
// (arch/x86/pci/direct.c, pci_sanity_check) accepts a bus on which it finds
// a function of class "host bridge" (0x0600). The IDs are Red Hat's generic
// "QEMU PCIe host bridge" (docs/specs/pci-ids.rst in QEMU), which no Linux
// quirk matches.
const (
	HostBridgeVendorID = 0x1b36
	HostBridgeDeviceID = 0x0008
)

// Root is PCI bus 0 with its host bridge at device 0. It owns the
// CONFIG_ADDRESS register and places BARs in an MMIO window.
type Root struct {
	mmio *devices.Bus

	mu      sync.Mutex
	address uint32 // CONFIG_ADDRESS
	devs    [maxDevices]*Function

	window    uint64 // next free address in the BAR window
	windowEnd uint64
}

// NewRoot returns a bus with a host bridge at 00:00.0. BARs of functions
// added later are pre-assigned, as firmware would, from the window
// [windowStart, windowStart+windowSize) and mapped on mmio when the guest
// enables memory decoding.
func NewRoot(mmio *devices.Bus, windowStart, windowSize uint64) (*Root, error) {
	r := &Root{mmio: mmio, window: windowStart, windowEnd: windowStart + windowSize}
	bridge, err := NewFunction("host-bridge", Header{
		VendorID: HostBridgeVendorID, DeviceID: HostBridgeDeviceID,
		Class: classBridge, Subclass: subclassHostBrdg,
	}, nil, nil)
	if err != nil {
		return nil, err
	}
	if _, err := r.Add(bridge, nil, 0); err != nil {
		return nil, err
	}
	return r, nil
}

// Add plugs f into the next free device number on bus 0 and returns that
// number. Its BARs get addresses from the window (naturally aligned, as
// §6.2.5.1 requires); irq is its INTx line and irqLine the number written
// to the Interrupt Line register for the guest (the GSI the line is wired
// to). irq may be nil for functions that never interrupt.
func (r *Root) Add(f *Function, irq devices.Interrupt, irqLine uint8) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	slot := -1
	for i, d := range r.devs {
		if d == nil {
			slot = i
			break
		}
	}
	if slot < 0 {
		return 0, fmt.Errorf("pci: add %s: %w", f.name, ErrBusFull)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	next := r.window
	addrs := [NumBARs]uint64{}
	for i, b := range f.bars {
		if b.Size == 0 {
			continue
		}
		a := (next + b.Size - 1) &^ (b.Size - 1)
		if a < next || a+b.Size < a || a+b.Size > r.windowEnd || (!b.Is64 && a+b.Size > 1<<32) {
			return 0, fmt.Errorf("pci: add %s: BAR%d of %#x bytes: %w", f.name, i, b.Size, ErrWindowTooSmall)
		}
		addrs[i] = a
		next = a + b.Size
	}
	r.window = next
	for i, a := range addrs {
		if f.bars[i].Size == 0 {
			continue
		}
		off := BAR0Offset + 4*i
		f.cfg.set32(off, f.cfg.get32(off)&barFlagBits|uint32(a))
		if f.bars[i].Is64 {
			f.cfg.set32(off+4, uint32(a>>32))
		}
	}
	f.mmio = r.mmio
	f.irq = irq
	f.cfg.set8(InterruptLineOffset, irqLine)
	r.devs[slot] = f
	return slot, nil
}

// ConfigPorts returns the device to register on the port bus at
// ConfigAddressPort for ConfigPortsSize ports.
func (r *Root) ConfigPorts() devices.Device { return configPorts{r} }

type configPorts struct{ r *Root }

// Read implements devices.Device for ports 0xCF8-0xCFF.
func (p configPorts) Read(off uint64, data []byte) { p.r.portRead(off, data) }

// Write implements devices.Device for ports 0xCF8-0xCFF.
func (p configPorts) Write(off uint64, data []byte) { p.r.portWrite(off, data) }

func (r *Root) portRead(off uint64, data []byte) {
	switch {
	case off == 0 && len(data) == 4:
		r.mu.Lock()
		binary.LittleEndian.PutUint32(data, r.address)
		r.mu.Unlock()
	case off >= dataPortOffset:
		f, reg, ok := r.selected(off)
		if !ok {
			// No function answers: the host bridge ends the cycle with
			// a master abort, which reads as all ones (§6.1).
			for i := range data {
				data[i] = 0xff
			}
			return
		}
		f.ReadConfig(reg, data)
	}
	// Byte and word accesses to 0xCF8-0xCFB are not CONFIG_ADDRESS
	// (§3.2.2.3.2: only dword accesses are); they read as zero.
}

func (r *Root) portWrite(off uint64, data []byte) {
	switch {
	case off == 0 && len(data) == 4:
		r.mu.Lock()
		r.address = binary.LittleEndian.Uint32(data) & configAddressMask
		r.mu.Unlock()
	case off >= dataPortOffset:
		if f, reg, ok := r.selected(off); ok {
			f.WriteConfig(reg, data)
		}
	}
}

// selected decodes CONFIG_ADDRESS for an access at port offset off and
// returns the function and register it selects. Only bus 0, function 0
// exist; with the enable bit clear no configuration cycle happens.
func (r *Root) selected(off uint64) (*Function, int, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	a := r.address
	bus, dev, fn := (a>>16)&0xff, (a>>11)&0x1f, (a>>8)&0x7
	if a&configAddressEnable == 0 || bus != 0 || fn != 0 || r.devs[dev] == nil {
		return nil, 0, false
	}
	return r.devs[dev], int(a&0xfc) + int(off-dataPortOffset), true
}
