package pci

import (
	"encoding/binary"
	"fmt"
	"sync"

	"gvmm/devices"
)

// MSISignaler delivers one MSI message to the guest's interrupt
// controller: a write of data to address (PCI 3.0 §6.8.1). The VMM
// implements it with KVM_SIGNAL_MSI.
type MSISignaler interface {
	SignalMSI(address uint64, data uint32) error
}

// MSI-X, PCI Local Bus 3.0 §6.8.2.
const (
	// CapabilityMSIX is the MSI-X capability ID.
	CapabilityMSIX = 0x11

	// Message Control (the first body word): table size - 1 in bits
	// 10:0 (read-only), Function Mask (bit 14), MSI-X Enable (bit 15).
	msixControlFunctionMask = 1 << 14
	msixControlEnable       = 1 << 15
	msixCapBodySize         = 10 // control, table offset/BIR, PBA offset/BIR

	// MSIXEntrySize is one table entry: le32 message address, le32 upper
	// address, le32 data, le32 vector control (bit 0 = masked).
	MSIXEntrySize    = 16
	msixEntryAddrLo  = 0
	msixEntryAddrHi  = 4
	msixEntryData    = 8
	msixEntryControl = 12
	msixVectorMasked = 1
	maxMSIXVectors   = 2048
)

// msixVector is one table entry and its pending bit.
type msixVector struct {
	addr    uint64
	data    uint32
	masked  bool
	pending bool
}

// MSIX is an MSI-X capability with its vector table and Pending Bit Array
// (PBA), both of which live in a memory BAR of the function. Its Table and
// PBA devices answer accesses at offsets relative to their start; the
// owner of the BAR dispatches to them.
type MSIX struct {
	sig MSISignaler

	mu          sync.Mutex
	vectors     []msixVector
	enabled     bool
	funcMasked  bool
	bar         uint8
	tableOffset uint32
	pbaOffset   uint32

	log devices.GuestLog // delivery failures, which the guest can repeat
}

// NewMSIX returns an MSI-X capability of n vectors whose table is at
// tableOffset and PBA at pbaOffset in BAR bar (offsets 8-byte aligned).
// All vectors start masked, as after reset.
func NewMSIX(n int, bar uint8, tableOffset, pbaOffset uint32, sig MSISignaler) (*MSIX, error) {
	if n < 1 || n > maxMSIXVectors || bar >= NumBARs || tableOffset%8 != 0 || pbaOffset%8 != 0 || sig == nil {
		return nil, fmt.Errorf("pci: MSI-X with %d vectors in BAR%d at %#x/%#x: invalid", n, bar, tableOffset, pbaOffset)
	}
	m := &MSIX{sig: sig, vectors: make([]msixVector, n), bar: bar, tableOffset: tableOffset, pbaOffset: pbaOffset}
	for i := range m.vectors {
		m.vectors[i].masked = true
	}
	return m, nil
}

// TableSize returns the table's size in bytes; PBASize the PBA's.
func (m *MSIX) TableSize() uint64 { return uint64(len(m.vectors)) * MSIXEntrySize }

// PBASize returns the size of the Pending Bit Array: one bit per vector
// in whole qwords.
func (m *MSIX) PBASize() uint64 { return uint64((len(m.vectors)+63)/64) * 8 }

// Vectors returns the number of vectors.
func (m *MSIX) Vectors() int { return len(m.vectors) }

// Capability returns the capability to pass to NewFunction.
func (m *MSIX) Capability() Capability {
	body := make([]byte, msixCapBodySize)
	binary.LittleEndian.PutUint16(body[0:], uint16(len(m.vectors)-1))
	binary.LittleEndian.PutUint32(body[2:], m.tableOffset|uint32(m.bar))
	binary.LittleEndian.PutUint32(body[6:], m.pbaOffset|uint32(m.bar))
	return Capability{ID: CapabilityMSIX, Body: body, Access: msixCapAccess{m}}
}

// Enabled reports whether the guest enabled MSI-X. While it is, the
// function uses MSI-X instead of INTx (§6.8.2.3).
func (m *MSIX) Enabled() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.enabled
}

// Signal raises vector: sends its message, or sets its pending bit while
// it or the function is masked (§6.8.2.9). A vector out of range is
// ignored.
func (m *MSIX) Signal(vector uint16) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if int(vector) >= len(m.vectors) || !m.enabled {
		return
	}
	v := &m.vectors[vector]
	if v.masked || m.funcMasked {
		v.pending = true
		return
	}
	m.send(v)
}

// send delivers v's message.
//
// Precondition: m.mu held.
func (m *MSIX) send(v *msixVector) {
	v.pending = false
	if err := m.sig.SignalMSI(v.addr, v.data); err != nil {
		m.log.Error("pci: MSI-X delivery failed", "addr", fmt.Sprintf("%#x", v.addr), "data", v.data, "err", err)
	}
}

// flushPending delivers pending messages of vectors no longer masked.
//
// Precondition: m.mu held.
func (m *MSIX) flushPending() {
	if !m.enabled || m.funcMasked {
		return
	}
	for i := range m.vectors {
		if v := &m.vectors[i]; v.pending && !v.masked {
			m.send(v)
		}
	}
}

// msixCapAccess lets the guest write Function Mask and MSI-X Enable.
type msixCapAccess struct{ m *MSIX }

// ReadCapability implements CapabilityAccess.
func (a msixCapAccess) ReadCapability(body []byte, off int, data []byte) { copy(data, body[off:]) }

// WriteCapability implements CapabilityAccess: only bits 15:14 of
// Message Control are writable.
func (a msixCapAccess) WriteCapability(body []byte, off int, data []byte) {
	if off > 1 || off+len(data) <= 1 {
		return
	}
	b := data[1-off]
	body[1] = body[1]&0x3f | b&0xc0
	ctl := binary.LittleEndian.Uint16(body)
	m := a.m
	m.mu.Lock()
	defer m.mu.Unlock()
	m.enabled = ctl&msixControlEnable != 0
	m.funcMasked = ctl&msixControlFunctionMask != 0
	m.flushPending()
}

// Table returns the device for the vector table region of the BAR.
func (m *MSIX) Table() devices.Device { return msixTable{m} }

// PBA returns the device for the Pending Bit Array region of the BAR.
func (m *MSIX) PBA() devices.Device { return msixPBA{m} }

type msixTable struct{ m *MSIX }

// Read implements devices.Device: dword (or qword) reads of entries.
func (t msixTable) Read(off uint64, data []byte) {
	m := t.m
	if (len(data) != 4 && len(data) != 8) || off%uint64(len(data)) != 0 || off >= m.TableSize() {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	v := m.vectors[off/MSIXEntrySize]
	var e [MSIXEntrySize]byte
	binary.LittleEndian.PutUint64(e[msixEntryAddrLo:], v.addr)
	binary.LittleEndian.PutUint32(e[msixEntryData:], v.data)
	if v.masked {
		e[msixEntryControl] = msixVectorMasked
	}
	copy(data, e[off%MSIXEntrySize:])
}

// Write implements devices.Device: software writes entries with dword or
// qword accesses (§6.8.2); unmasking delivers a pending message.
func (t msixTable) Write(off uint64, data []byte) {
	m := t.m
	if (len(data) != 4 && len(data) != 8) || off%uint64(len(data)) != 0 || off >= m.TableSize() {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	v := &m.vectors[off/MSIXEntrySize]
	for i := 0; i < len(data); i += 4 {
		val := binary.LittleEndian.Uint32(data[i:])
		switch (off + uint64(i)) % MSIXEntrySize {
		case msixEntryAddrLo:
			v.addr = v.addr&^0xffff_ffff | uint64(val&^3) // dword aligned
		case msixEntryAddrHi:
			v.addr = v.addr&0xffff_ffff | uint64(val)<<32
		case msixEntryData:
			v.data = val
		case msixEntryControl:
			v.masked = val&msixVectorMasked != 0
		}
	}
	m.flushPending()
}

type msixPBA struct{ m *MSIX }

// Read implements devices.Device: the pending bits, read-only.
func (p msixPBA) Read(off uint64, data []byte) {
	m := p.m
	if off >= m.PBASize() {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for i := range data {
		for bit := 0; bit < 8; bit++ {
			if n := (off+uint64(i))*8 + uint64(bit); n < uint64(len(m.vectors)) && m.vectors[n].pending {
				data[i] |= 1 << bit
			}
		}
	}
}

// Write implements devices.Device; the PBA is read-only.
func (p msixPBA) Write(uint64, []byte) {}
