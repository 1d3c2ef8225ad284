package pci

import (
	"encoding/binary"
	"testing"
)

// FuzzConfigWrites drives mechanism #1 with arbitrary port accesses:
// each op is port offset (0-7), width (1, 2, 4), and a 32-bit value; bit
// 7 of the first byte makes it a read. The function behind device 1 has a
// 32-bit and a 64-bit BAR and a capability. Invariants: no panic;
// read-only identity stays; BARs keep their flag bits and stay aligned to
// their size; the MMIO bus maps a BAR exactly when decoding is on and its
// address is non-zero. Seeds are in testdata/fuzz/FuzzConfigWrites.
func FuzzConfigWrites(f *testing.F) {
	addr := func(reg uint32) []byte {
		return append([]byte{0, 4}, binary.LittleEndian.AppendUint32(nil, 0x8000_0800|reg)...)
	}
	f.Add(append(addr(0x10), 4, 4, 0xff, 0xff, 0xff, 0xff))
	f.Add(append(append(addr(0x04), 4, 2, 2, 0, 0, 0), append(addr(0x10), 4, 4, 0, 0, 0x10, 0xd0)...))
	f.Add(append(addr(0x14), 4, 4, 0x00, 0x10, 0x20, 0xd0))
	f.Fuzz(func(t *testing.T, ops []byte) {
		b := newBusT(t)
		r32, r64 := &regs{}, &regs{}
		msix, err := NewMSIX(3, 1, 0x1000, 0x2000, nopMSI{})
		if err != nil {
			t.Fatal(err)
		}
		fn, err := NewFunction("fuzz", Header{VendorID: 0x1af4, DeviceID: 0x1043, InterruptPin: 1},
			[]BAR{{Size: 0x4000, Device: r32}, {Size: 0x10000, Is64: true, Device: r64}},
			[]Capability{{ID: CapabilityVendor, Body: []byte{16, 1, 0, 0}}, msix.Capability()})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := b.root.Add(fn, &line{}, 5); err != nil {
			t.Fatal(err)
		}
		for len(ops) >= 6 {
			off, width := uint64(ops[0]&7), []int{1, 2, 4, 4}[ops[1]&3]
			data := append([]byte(nil), ops[2:2+width]...)
			if ops[0]&0x80 != 0 {
				b.pio.Read(ConfigAddressPort+off, data)
			} else {
				b.pio.Write(ConfigAddressPort+off, data)
			}
			ops = ops[2+width:]
		}
		checkInvariants(t, b, fn)
		msix.Signal(1) // delivers or pends, whatever the guest wrote
	})
}

type nopMSI struct{}

func (nopMSI) SignalMSI(uint64, uint32) error { return nil }

func checkInvariants(t *testing.T, b *bus, fn *Function) {
	if got := b.cfgRead(1, VendorIDOffset, 4); got != 0x1043_1af4 {
		t.Fatalf("identity changed: %#x", got)
	}
	bar0, bar1 := b.cfgRead(1, BAR0Offset, 4), b.cfgRead(1, BAR0Offset+4, 4)
	if bar0&0xf != 0 || bar0&0x3ff0 != 0 || bar1&0xf != BARMemory64 || bar1&0xfff0 != 0 {
		t.Fatalf("BAR flags or alignment broken: %#x %#x", bar0, bar1)
	}
	decode := b.cfgRead(1, CommandOffset, 2)&CommandMemorySpace != 0
	sizes := []uint64{0x4000, 0x10000}
	addrs := []uint64{fn.BARAddress(0), fn.BARAddress(1)}
	overlap := addrs[0] < addrs[1]+sizes[1] && addrs[1] < addrs[0]+sizes[0]
	for i, a := range addrs {
		if a == 0 || a+sizes[i] < a {
			continue
		}
		mapped := b.mmio.Read(a, make([]byte, 1)) && b.mmio.Read(a+sizes[i]-1, make([]byte, 1))
		if !decode && mapped {
			t.Fatalf("BAR%d at %#x answers with decoding off", i, a)
		}
		if decode && !overlap && !mapped {
			t.Fatalf("BAR%d at %#x does not answer with decoding on", i, a)
		}
	}
}

// newBusT is newBus for fuzz iterations.
func newBusT(t *testing.T) *bus { return newBus(t) }
