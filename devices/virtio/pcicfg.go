package virtio

import "encoding/binary"

// The PCI configuration access capability (VIRTIO_PCI_CAP_PCI_CFG,
// §4.1.4.9) is a window into the BAR through configuration space, for
// drivers that cannot map BARs. Offsets inside its body (after cap_vndr
// and cap_next):
const (
	pciCfgBar    = 2  // u8 bar
	pciCfgOffset = 6  // le32 offset
	pciCfgLength = 10 // le32 length
	pciCfgData   = 14 // u8 pci_cfg_data[4]
	pciCfgEnd    = 18
)

// pciCfgAccess implements pci.CapabilityAccess for that capability.
type pciCfgAccess struct{ t *Transport }

// writable reports whether body byte i is driver-writable: bar, offset,
// length and the data window (§4.1.4.9).
func pciCfgWritable(i int) bool {
	return i == pciCfgBar || i >= pciCfgOffset && i < pciCfgEnd
}

// window returns the BAR offset and access length the driver selected, if
// valid (§4.1.4.9.1: BAR 0, length 1, 2 or 4, offset aligned to length,
// inside the BAR); an invalid selection does nothing.
func pciCfgWindow(body []byte) (uint64, int, bool) {
	off := uint64(binary.LittleEndian.Uint32(body[pciCfgOffset:]))
	n := binary.LittleEndian.Uint32(body[pciCfgLength:])
	if body[pciCfgBar] != BARIndex || (n != 1 && n != 2 && n != 4) || off%uint64(n) != 0 || off+uint64(n) > BARSize {
		return 0, 0, false
	}
	return off, int(n), true
}

// ReadCapability implements pci.CapabilityAccess: reading pci_cfg_data
// performs the BAR read.
func (a pciCfgAccess) ReadCapability(body []byte, off int, data []byte) {
	if off < pciCfgEnd && off+len(data) > pciCfgData {
		if barOff, n, ok := pciCfgWindow(body); ok {
			clear(body[pciCfgData:pciCfgEnd])
			barDevice(a).Read(barOff, body[pciCfgData:pciCfgData+n])
		}
	}
	copy(data, body[off:])
}

// WriteCapability implements pci.CapabilityAccess: writing pci_cfg_data
// performs the BAR write with the first length bytes.
func (a pciCfgAccess) WriteCapability(body []byte, off int, data []byte) {
	for i, b := range data {
		if pciCfgWritable(off + i) {
			body[off+i] = b
		}
	}
	if off < pciCfgEnd && off+len(data) > pciCfgData {
		if barOff, n, ok := pciCfgWindow(body); ok {
			barDevice(a).Write(barOff, append([]byte(nil), body[pciCfgData:pciCfgData+n]...))
		}
	}
}
