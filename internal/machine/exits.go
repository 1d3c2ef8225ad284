package machine

import "gvmm/devices"

// exitHandler routes a vCPU's I/O exits to the buses. Unclaimed accesses
// are the bus's business (all-ones reads, dropped writes), never an error:
// real PCs have plenty of empty ports and Linux probes them.
type exitHandler struct {
	pio, mmio *devices.Bus
}

func (h exitHandler) PortIO(port uint16, data []byte, write bool) error {
	if write {
		h.pio.Write(uint64(port), data)
	} else {
		h.pio.Read(uint64(port), data)
	}
	return nil
}

func (h exitHandler) MMIO(addr uint64, data []byte, write bool) error {
	if write {
		h.mmio.Write(addr, data)
	} else {
		h.mmio.Read(addr, data)
	}
	return nil
}
