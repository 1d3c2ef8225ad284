package pci

// Offsets in the type 0 configuration header, PCI Local Bus 3.0 §6.1,
// figure 6-1.
const (
	VendorIDOffset       = 0x00 // 16 bits, read-only
	DeviceIDOffset       = 0x02 // 16 bits, read-only
	CommandOffset        = 0x04 // 16 bits
	StatusOffset         = 0x06 // 16 bits
	RevisionIDOffset     = 0x08 // 8 bits
	ProgIFOffset         = 0x09 // 8 bits, class code: programming interface
	SubclassOffset       = 0x0a // 8 bits, class code: sub-class
	ClassOffset          = 0x0b // 8 bits, class code: base class
	CacheLineSizeOffset  = 0x0c // 8 bits, read/write scratch for us
	LatencyTimerOffset   = 0x0d // 8 bits
	HeaderTypeOffset     = 0x0e // 8 bits; bit 7 = multi-function
	BISTOffset           = 0x0f // 8 bits
	BAR0Offset           = 0x10 // six 32-bit BARs, 0x10..0x27
	CardbusCISOffset     = 0x28
	SubsystemVendorIDOff = 0x2c // 16 bits
	SubsystemIDOffset    = 0x2e // 16 bits
	ExpansionROMOffset   = 0x30 // 32 bits; we have no ROM, reads 0
	CapabilitiesOffset   = 0x34 // 8 bits, first capability pointer
	InterruptLineOffset  = 0x3c // 8 bits, scratch for the OS (the IRQ it uses)
	InterruptPinOffset   = 0x3d // 8 bits, 1 = INTA# ... 4 = INTD#, 0 = none
	MinGntOffset         = 0x3e
	MaxLatOffset         = 0x3f

	// ConfigSpaceSize is the size of conventional configuration space;
	// mechanism #1 cannot address more (its register field is 6 bits of
	// dwords).
	ConfigSpaceSize = 256
	// HeaderSize is the end of the predefined header; capabilities go
	// after it (§6.7: capability pointers are >= 0x40).
	HeaderSize = 0x40
	// NumBARs is the number of BAR registers in a type 0 header.
	NumBARs = 6
)

// Command register bits, §6.2.2.
const (
	CommandIOSpace      = 1 << 0
	CommandMemorySpace  = 1 << 1
	CommandBusMaster    = 1 << 2
	CommandParityErr    = 1 << 6
	CommandSERR         = 1 << 8
	CommandINTxDisable  = 1 << 10
	commandWritableBits = CommandIOSpace | CommandMemorySpace | CommandBusMaster |
		CommandParityErr | CommandSERR | CommandINTxDisable
)

// Status register bits, §6.2.3.
const (
	// StatusInterrupt reflects the function's INTx# request, regardless
	// of CommandINTxDisable.
	StatusInterrupt = 1 << 3
	// StatusCapabilities says CapabilitiesOffset points to a list.
	StatusCapabilities = 1 << 4
)

// Memory BAR encoding, §6.2.5.1: bit 0 is 0 for memory, bits 2:1 the type,
// bit 3 prefetchable; the address bits above the size are writable.
const (
	BARMemory32       = 0 << 1
	BARMemory64       = 2 << 1
	BARPrefetchable   = 1 << 3
	barFlagBits       = 0xf
	minBARSize        = 4096 // one page, so KVM exits stay per device
	headerTypeNormal  = 0x00
	classBridge       = 0x06
	subclassHostBrdg  = 0x00
	noDeviceVendorID  = 0xffff
	interruptPinINTA  = 1
	capabilityNextOff = 1 // offset of the next pointer inside a capability
)

// Capability IDs, PCI Code and ID Assignment Specification §2.
const (
	// CapabilityVendor is a vendor-specific capability (virtio uses it).
	CapabilityVendor = 0x09
)

// config is a configuration space image and the mask of bits software may
// write. Accessors take little-endian values of 1, 2 or 4 bytes.
type config struct {
	data  [ConfigSpaceSize]byte
	wmask [ConfigSpaceSize]byte
}

func (c *config) set8(off int, v uint8)   { c.data[off] = v }
func (c *config) set16(off int, v uint16) { c.data[off], c.data[off+1] = byte(v), byte(v>>8) }
func (c *config) set32(off int, v uint32) {
	c.set16(off, uint16(v))
	c.set16(off+2, uint16(v>>16))
}
func (c *config) get16(off int) uint16 { return uint16(c.data[off]) | uint16(c.data[off+1])<<8 }
func (c *config) get32(off int) uint32 {
	return uint32(c.get16(off)) | uint32(c.get16(off+2))<<16
}

// setMask16 and setMask32 mark bits software may write.
func (c *config) setMask16(off int, m uint16) { c.wmask[off], c.wmask[off+1] = byte(m), byte(m>>8) }
func (c *config) setMask32(off int, m uint32) {
	c.setMask16(off, uint16(m))
	c.setMask16(off+2, uint16(m>>16))
}

// write merges data into [off, off+len(data)) under the write mask:
// read-only bits keep their value whatever software writes.
func (c *config) write(off int, data []byte) {
	for i, b := range data {
		m := c.wmask[off+i]
		c.data[off+i] = c.data[off+i]&^m | b&m
	}
}
