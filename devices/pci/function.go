package pci

import (
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"gvmm/devices"
)

// Header holds the identity of a function: the read-only fields of its
// type 0 header (§6.2.1).
type Header struct {
	VendorID, DeviceID             uint16
	RevisionID                     uint8
	Class, Subclass, ProgIF        uint8
	SubsystemVendorID, SubsystemID uint16
	// InterruptPin is 1 (INTA#) for a function that raises INTx, 0 for
	// none (the host bridge).
	InterruptPin uint8
}

// BAR describes one memory BAR. Size must be a power of two of at least a
// page. Device answers accesses inside the BAR, at offsets relative to its
// start, once the guest has enabled memory decoding.
type BAR struct {
	Size         uint64
	Is64         bool
	Prefetchable bool
	Device       devices.Device
}

// CapabilityAccess intercepts guest accesses to a capability's body, for
// capabilities whose contents are live (virtio's PCI configuration access
// capability). body is the current body image, which the handler may
// update; off is relative to the body (the byte after the next pointer).
// It is called with the function's configuration lock held.
type CapabilityAccess interface {
	ReadCapability(body []byte, off int, data []byte)
	WriteCapability(body []byte, off int, data []byte)
}

// Capability is one entry of the capability list (§6.7). Body is
// everything after the ID and next-pointer bytes; the list links
// themselves are filled in by NewFunction.
type Capability struct {
	ID     uint8
	Body   []byte
	Access CapabilityAccess // nil: the body is read-only
}

// Sentinel errors of NewFunction and Root.Add.
var (
	ErrBadBAR         = errors.New("invalid BAR")
	ErrCapsTooLarge   = errors.New("capabilities do not fit in configuration space")
	ErrBusFull        = errors.New("no free device number on bus 0")
	ErrWindowTooSmall = errors.New("PCI MMIO window too small for the BARs")
)

// capRange records where a capability's body lives in config space.
type capRange struct {
	start, end int // body bytes [start, end)
	access     CapabilityAccess
}

// Function is one PCI function with a type 0 header. It implements the
// configuration space side; Root routes mechanism #1 accesses to it.
type Function struct {
	name string

	mu     sync.Mutex // guards cfg, mapped and the BAR registrations
	cfg    config
	bars   [NumBARs]BAR
	mapped [NumBARs]uint64 // guest address each BAR is registered at, 0 = not mapped
	caps   []capRange
	mmio   *devices.Bus // set by Root.Add

	intxMu     sync.Mutex // guards the INTx state; taken after mu, never before
	irq        devices.Interrupt
	intxWanted bool // the device asserts INTx (virtio: ISR != 0)
	intxMasked bool // CommandINTxDisable, mirrored from cfg
	intxLine   bool // what we last drove on irq

	log devices.GuestLog // for what the guest can repeat: BAR conflicts
}

// NewFunction builds a function from its header, up to six BARs (a 64-bit
// BAR takes two slots: leave the next entry zero) and its capabilities.
func NewFunction(name string, h Header, bars []BAR, caps []Capability) (*Function, error) {
	f := &Function{name: name}
	c := &f.cfg
	c.set16(VendorIDOffset, h.VendorID)
	c.set16(DeviceIDOffset, h.DeviceID)
	c.set8(RevisionIDOffset, h.RevisionID)
	c.set8(ProgIFOffset, h.ProgIF)
	c.set8(SubclassOffset, h.Subclass)
	c.set8(ClassOffset, h.Class)
	c.set8(HeaderTypeOffset, headerTypeNormal)
	c.set16(SubsystemVendorIDOff, h.SubsystemVendorID)
	c.set16(SubsystemIDOffset, h.SubsystemID)
	c.set8(InterruptPinOffset, h.InterruptPin)
	c.setMask16(CommandOffset, commandWritableBits)
	c.wmask[CacheLineSizeOffset] = 0xff
	c.wmask[LatencyTimerOffset] = 0xff
	c.wmask[InterruptLineOffset] = 0xff
	if err := f.setBARs(bars); err != nil {
		return nil, fmt.Errorf("pci %s: %w", name, err)
	}
	if err := f.setCapabilities(caps); err != nil {
		return nil, fmt.Errorf("pci %s: %w", name, err)
	}
	return f, nil
}

// setBARs encodes the BAR flags and the writable address bits.
func (f *Function) setBARs(bars []BAR) error {
	if len(bars) > NumBARs {
		return fmt.Errorf("%w: %d BARs, a type 0 header has %d", ErrBadBAR, len(bars), NumBARs)
	}
	for i, b := range bars {
		if b.Size == 0 {
			continue
		}
		if b.Size < minBARSize || b.Size&(b.Size-1) != 0 || b.Device == nil {
			return fmt.Errorf("%w: BAR%d size %#x must be a power of two >= %#x with a device", ErrBadBAR, i, b.Size, minBARSize)
		}
		if !b.Is64 && b.Size > 1<<31 {
			return fmt.Errorf("%w: BAR%d size %#x too large for a 32-bit BAR", ErrBadBAR, i, b.Size)
		}
		if b.Is64 && (i == NumBARs-1 || (i+1 < len(bars) && bars[i+1].Size != 0)) {
			return fmt.Errorf("%w: 64-bit BAR%d needs BAR%d free for its upper half", ErrBadBAR, i, i+1)
		}
		f.bars[i] = b
		flags := uint32(BARMemory32)
		if b.Is64 {
			flags = BARMemory64
		}
		if b.Prefetchable {
			flags |= BARPrefetchable
		}
		off := BAR0Offset + 4*i
		addrMask := ^(b.Size - 1) &^ barFlagBits
		f.cfg.set32(off, flags)
		f.cfg.setMask32(off, uint32(addrMask))
		if b.Is64 {
			f.cfg.setMask32(off+4, uint32(addrMask>>32))
		}
	}
	return nil
}

// setCapabilities lays the capability list out from HeaderSize up, each
// entry dword-aligned (§6.7).
func (f *Function) setCapabilities(caps []Capability) error {
	if len(caps) == 0 {
		return nil
	}
	off, prev := HeaderSize, CapabilitiesOffset
	for _, c := range caps {
		size := 2 + len(c.Body)
		if off+size > ConfigSpaceSize {
			return fmt.Errorf("%w: capability %#x at %#x needs %d bytes", ErrCapsTooLarge, c.ID, off, size)
		}
		f.cfg.data[prev] = byte(off)
		f.cfg.data[off] = c.ID
		copy(f.cfg.data[off+2:], c.Body)
		f.caps = append(f.caps, capRange{start: off + 2, end: off + size, access: c.Access})
		prev = off + capabilityNextOff
		off = (off + size + 3) &^ 3
	}
	f.cfg.set16(StatusOffset, f.cfg.get16(StatusOffset)|StatusCapabilities)
	return nil
}

// Name returns the name given to NewFunction.
func (f *Function) Name() string { return f.name }

// BARAddress returns the guest address currently programmed in BAR i
// (both halves for a 64-bit BAR), whether or not decoding is enabled.
func (f *Function) BARAddress(i int) uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.barAddress(i)
}

// Precondition: f.mu held.
func (f *Function) barAddress(i int) uint64 {
	off := BAR0Offset + 4*i
	addr := uint64(f.cfg.get32(off) &^ barFlagBits)
	if f.bars[i].Is64 {
		addr |= uint64(f.cfg.get32(off+4)) << 32
	}
	return addr
}

// ReadConfig reads len(data) (1, 2 or 4) bytes at configuration offset
// off. Accesses that do not fit in configuration space read as zero.
func (f *Function) ReadConfig(off int, data []byte) {
	clear(data)
	if off < 0 || off > ConfigSpaceSize || len(data) > ConfigSpaceSize-off {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if cr, ok := f.capAt(off, len(data)); ok && cr.access != nil {
		cr.access.ReadCapability(f.cfg.data[cr.start:cr.end], off-cr.start, data)
		return
	}
	f.cfg.set16(StatusOffset, f.statusValue())
	copy(data, f.cfg.data[off:])
}

// WriteConfig writes data at configuration offset off through the write
// mask, then applies the side effects: BAR (re)mapping and INTx masking.
func (f *Function) WriteConfig(off int, data []byte) {
	if off < 0 || off > ConfigSpaceSize || len(data) > ConfigSpaceSize-off {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if cr, ok := f.capAt(off, len(data)); ok && cr.access != nil {
		cr.access.WriteCapability(f.cfg.data[cr.start:cr.end], off-cr.start, data)
		return
	}
	f.cfg.write(off, data)
	end := off + len(data)
	if off < CommandOffset+2 && end > CommandOffset {
		f.updateINTxMask()
	}
	if off < CommandOffset+2 && end > CommandOffset || off < BAR0Offset+4*NumBARs && end > BAR0Offset {
		f.remapBARs()
	}
}

// capAt finds the capability body wholly containing [off, off+n).
func (f *Function) capAt(off, n int) (capRange, bool) {
	for _, c := range f.caps {
		if off >= c.start && off+n <= c.end {
			return c, true
		}
	}
	return capRange{}, false
}

// remapBARs makes the MMIO bus match the BARs: a BAR is registered at its
// programmed address while memory decoding is on and the address is
// non-zero (§6.2.2: with Memory Space off the function ignores memory
// accesses). Linux turns decoding off while it sizes BARs, so the all-ones
// sizing pattern is never mapped.
//
// Precondition: f.mu held.
func (f *Function) remapBARs() {
	if f.mmio == nil {
		return
	}
	decode := f.cfg.get16(CommandOffset)&CommandMemorySpace != 0
	for i, b := range f.bars {
		if b.Size == 0 {
			continue
		}
		want := uint64(0)
		if decode {
			want = f.barAddress(i)
		}
		if want == f.mapped[i] {
			continue
		}
		if f.mapped[i] != 0 {
			f.mmio.Unregister(f.mapped[i])
			f.mapped[i] = 0
		}
		if want == 0 {
			continue
		}
		name := fmt.Sprintf("%s BAR%d", f.name, i)
		if err := f.mmio.Register(name, want, b.Size, b.Device); err != nil {
			// The guest chose a bad address; the BAR stays unreachable
			// until it picks another, as on hardware with a conflict.
			f.log.Warn("pci: cannot map BAR", "device", f.name, "bar", i, "addr", fmt.Sprintf("%#x", want), "err", err)
			continue
		}
		f.mapped[i] = want
	}
}

// Precondition: f.mu held.
func (f *Function) updateINTxMask() {
	masked := f.cfg.get16(CommandOffset)&CommandINTxDisable != 0
	f.intxMu.Lock()
	defer f.intxMu.Unlock()
	f.intxMasked = masked
	f.driveINTx()
}

// SetINTx records whether the device requests an interrupt. INTx# is level
// triggered (§2.2.6): the line stays asserted while the request stands,
// and Status.Interrupt mirrors the request even when the line is masked.
// Safe to call from any goroutine, including from a BAR access.
func (f *Function) SetINTx(level bool) {
	f.intxMu.Lock()
	defer f.intxMu.Unlock()
	f.intxWanted = level
	f.driveINTx()
}

// driveINTx drives the line from the request and the mask.
//
// Precondition: f.intxMu held.
func (f *Function) driveINTx() {
	line := f.intxWanted && !f.intxMasked
	if line == f.intxLine || f.irq == nil {
		return
	}
	if err := f.irq.SetLevel(line); err != nil {
		slog.Error("pci: set INTx", "device", f.name, "level", line, "err", err)
		return
	}
	f.intxLine = line
}

// statusValue returns the status register with the live interrupt bit.
//
// Precondition: f.mu held.
func (f *Function) statusValue() uint16 {
	f.intxMu.Lock()
	defer f.intxMu.Unlock()
	s := f.cfg.get16(StatusOffset) &^ StatusInterrupt
	if f.intxWanted {
		s |= StatusInterrupt
	}
	return s
}
