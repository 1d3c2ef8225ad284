package pci

import (
	"encoding/binary"
	"testing"
)

// recordingMSI remembers the last message sent.
type recordingMSI struct {
	addr uint64
	data uint32
	n    int
}

func (r *recordingMSI) SignalMSI(addr uint64, data uint32) error {
	r.addr, r.data, r.n = addr, data, r.n+1
	return nil
}

// FuzzMSIX drives an MSI-X capability of 3 vectors the way a guest can:
// each op is a kind byte, an offset byte, a width byte and 8 value bytes.
// Kinds: table read/write, PBA read/write, Message Control write, Signal.
// Offsets run past the table and the PBA on purpose. Invariants: no
// panic; a message is only sent for a vector that is in range, unmasked,
// with MSI-X enabled and the function unmasked.
func FuzzMSIX(f *testing.F) {
	op := func(kind, off, width byte, v uint64) []byte {
		return binary.LittleEndian.AppendUint64([]byte{kind, off, width}, v)
	}
	var enableAll []byte
	enableAll = append(enableAll, op(1, 0, 8, 0xfee0_0000)...) // vector 0 address
	enableAll = append(enableAll, op(1, 8, 4, 0x41)...)        // data
	enableAll = append(enableAll, op(1, 12, 4, 0)...)          // unmask
	enableAll = append(enableAll, op(4, 0, 2, 0x8000)...)      // MSI-X Enable
	enableAll = append(enableAll, op(5, 0, 0, 0)...)           // Signal(0)
	f.Add(enableAll)
	f.Add(append(op(1, 0x2f, 4, ^uint64(0)), op(3, 0xff, 8, ^uint64(0))...))
	f.Add(append(op(0, 0x30, 8, 0), op(2, 0x7, 1, 0)...))
	f.Fuzz(func(t *testing.T, ops []byte) {
		sig := &recordingMSI{}
		m, err := NewMSIX(3, 0, 0, 0x800, sig)
		if err != nil {
			t.Fatal(err)
		}
		body := m.Capability().Body
		access := msixCapAccess{m}
		for len(ops) >= 11 {
			kind, off, width := ops[0]%6, uint64(ops[1]), int(ops[2]%9)
			data := append([]byte(nil), ops[3:3+width]...)
			before := sig.n
			switch kind {
			case 0:
				m.Table().Read(off, data)
			case 1:
				m.Table().Write(off, data)
			case 2:
				m.PBA().Read(off, data)
			case 3:
				m.PBA().Write(off, data)
			case 4:
				access.WriteCapability(body, int(off%4), data)
			case 5:
				m.Signal(uint16(off % 5))
			}
			if sig.n > before && (!m.enabled || m.funcMasked) {
				t.Fatalf("message sent with MSI-X disabled or the function masked (op %d)", kind)
			}
			ops = ops[11:]
		}
	})
}
