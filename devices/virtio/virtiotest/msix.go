package virtiotest

import (
	"encoding/binary"
	"fmt"

	"gvmm/devices/pci"
)

// Offsets the driver programs for MSI-X.
const (
	ConfigMSIXVector = 0x10
	QueueMSIXVector  = 0x1a
	// MSIAddress is the local APIC's MSI window (destination APIC 0).
	MSIAddress = 0xfee0_0000
	// MSIDataBase + vector is the data each table entry gets, so tests
	// can tell the vectors apart.
	MSIDataBase = 0x40
)

// EnableMSIX programs every table entry (address MSIAddress, data
// MSIDataBase + i, unmasked), sets MSI-X Enable, and maps the
// configuration interrupt to vector 0 and queue i to vector i+1, as
// Linux's vp_find_vqs_msix does with one vector per queue.
func (d *Driver) EnableMSIX(queues int) error {
	capOff := 0
	for p := int(d.cfg8(pci.CapabilitiesOffset)); p != 0; p = int(d.cfg8(p + 1)) {
		if d.cfg8(p) == pci.CapabilityMSIX {
			capOff = p
		}
	}
	if capOff == 0 {
		return fmt.Errorf("no MSI-X capability")
	}
	ctl := uint16(d.cfg32(capOff) >> 16)
	n := int(ctl&0x7ff) + 1
	tableBIR := d.cfg32(capOff + 4)
	table := d.barAddr(int(tableBIR&7)) + uint64(tableBIR&^7)
	for i := range n {
		e := table + uint64(i)*pci.MSIXEntrySize
		d.Write(e, 4, MSIAddress)
		d.Write(e+4, 4, 0)
		d.Write(e+8, 4, uint64(MSIDataBase+i))
		d.Write(e+12, 4, 0) // unmask
	}
	d.fn.WriteConfig(capOff+2, binary.LittleEndian.AppendUint16(nil, ctl|1<<15))
	d.Write(d.Common+ConfigMSIXVector, 2, 0)
	for q := range queues {
		d.Write(d.Common+QueueSelect, 2, uint64(q))
		d.Write(d.Common+QueueMSIXVector, 2, uint64(q+1))
	}
	return nil
}

// MSIXTable returns the guest address of the MSI-X table.
func (d *Driver) MSIXTable() uint64 {
	for p := int(d.cfg8(pci.CapabilitiesOffset)); p != 0; p = int(d.cfg8(p + 1)) {
		if d.cfg8(p) == pci.CapabilityMSIX {
			bir := d.cfg32(p + 4)
			return d.barAddr(int(bir&7)) + uint64(bir&^7)
		}
	}
	return 0
}

func (d *Driver) barAddr(i int) uint64 {
	return uint64(d.cfg32(pci.BAR0Offset+4*i) &^ 0xf)
}
