package boot

import (
	"encoding/binary"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"gvmm/vmm"
)

// mpEntry is a decoded MP configuration table entry: its type and raw
// bytes.
type mpEntry struct {
	typ  byte
	data []byte
}

// readMPTable decodes the tables the way Linux's mpparse.c validates
// them: floating pointer signature, length, revision and checksum, then
// the configuration table's signature, checksum and entries.
func readMPTable(t *testing.T, mem Memory) (lapic uint32, entries []mpEntry) {
	t.Helper()
	le := binary.LittleEndian
	mpf := readGuest(t, mem, vmm.EBDAStart, mpfSize)
	require.Equal(t, "_MP_", string(mpf[:4]))
	require.Equal(t, byte(1), mpf[mpfLength])
	require.Equal(t, byte(4), mpf[mpfSpecRev])
	require.Zero(t, sum(mpf), "floating pointer checksum")
	require.Zero(t, mpf[11], "feature byte 1: configuration table present")
	ptr := uint64(le.Uint32(mpf[mpfPhysPtr:]))
	require.Equal(t, uint64(vmm.EBDAStart+16), ptr)

	hdr := readGuest(t, mem, ptr, mpcHeaderSize)
	require.Equal(t, "PCMP", string(hdr[:4]))
	length := int(le.Uint16(hdr[mpcLength:]))
	require.LessOrEqual(t, ptr+uint64(length), uint64(vmm.LowRAMEnd), "table stays in the EBDA")
	table := readGuest(t, mem, ptr, length)
	require.Zero(t, sum(table), "base table checksum")
	require.Equal(t, byte(4), table[mpcSpecRev])
	count := int(le.Uint16(table[mpcEntryCount:]))
	off := mpcHeaderSize
	for range count {
		size := mpSmallSize
		if table[off] == mpEntryProcessor {
			size = mpProcessorSize
		}
		require.LessOrEqual(t, off+size, length)
		entries = append(entries, mpEntry{table[off], table[off : off+size]})
		off += size
	}
	require.Equal(t, length, off, "entries fill the table exactly")
	return le.Uint32(table[mpcLAPICAddr:]), entries
}

func sum(b []byte) (s byte) {
	for _, c := range b {
		s += c
	}
	return s
}

func TestWriteMPTable(t *testing.T) {
	for _, cpus := range []int{1, 2, 4, MPTableMaxCPUs(1)} {
		mem := newMemory(t, 16<<20)
		pci := []PCIInterrupt{{Device: 3, Pin: 1, IRQ: 16}}
		require.NoError(t, WriteMPTable(mem, cpus, pci...))
		lapic, entries := readMPTable(t, mem)
		assert.Equal(t, uint32(vmm.LAPICAddr), lapic)

		var procs, buses, ioapics, ints, lints []mpEntry
		for i, e := range entries {
			if i > 0 {
				require.GreaterOrEqual(t, e.typ, entries[i-1].typ, "entries sorted by type")
			}
			switch e.typ {
			case mpEntryProcessor:
				procs = append(procs, e)
			case mpEntryBus:
				buses = append(buses, e)
			case mpEntryIOAPIC:
				ioapics = append(ioapics, e)
			case mpEntryIOIntr:
				ints = append(ints, e)
			case mpEntryLocalIntr:
				lints = append(lints, e)
			}
		}
		require.Len(t, procs, cpus)
		for id, p := range procs {
			assert.Equal(t, byte(id), p.data[1], "APIC id")
			assert.Equal(t, byte(0x14), p.data[2], "APIC version")
			wantFlags := byte(mpCPUEnabled)
			if id == 0 {
				wantFlags |= mpCPUBoot
			}
			assert.Equal(t, wantFlags, p.data[3], "CPU %d flags", id)
		}
		require.Len(t, buses, 2)
		assert.Equal(t, "\x00PCI   ", string(buses[0].data[1:]))
		assert.Equal(t, "\x01ISA   ", string(buses[1].data[1:]))
		require.Len(t, ioapics, 1)
		assert.Equal(t, byte(cpus), ioapics[0].data[1], "I/O APIC id follows the CPUs")
		assert.Equal(t, byte(1), ioapics[0].data[3], "enabled")
		assert.Equal(t, uint32(vmm.IOAPICAddr), binary.LittleEndian.Uint32(ioapics[0].data[4:]))

		// ISA IRQs 0-15 except the cascade, identity mapped; then PCI.
		require.Len(t, ints, 15+1)
		isa := map[byte]byte{}
		for _, e := range ints[:15] {
			assert.Equal(t, byte(mpBusISA), e.data[4])
			assert.Equal(t, byte(cpus), e.data[6])
			isa[e.data[5]] = e.data[7]
		}
		for irq := byte(0); irq < 16; irq++ {
			if irq == 2 {
				assert.NotContains(t, isa, irq)
				continue
			}
			assert.Equal(t, irq, isa[irq], "ISA IRQ %d -> pin", irq)
		}
		p := ints[15].data
		assert.Equal(t, []byte{mpEntryIOIntr, mpIntINT, 0x0d, 0, mpBusPCI, 3 << 2, byte(cpus), 16}, p,
			"PCI 00:03 INTA# -> pin 16, level, active high (KVM ignores polarity)")
		require.Len(t, lints, 2)
		assert.Equal(t, []byte{4, mpIntExtINT, 0, 0, mpBusISA, 0, 0, 0}, lints[0].data)
		assert.Equal(t, []byte{4, mpIntNMI, 0, 0, mpBusISA, 0, 0xff, 1}, lints[1].data)
	}
}

func TestWriteMPTableErrors(t *testing.T) {
	mem := newMemory(t, 16<<20)
	assert.Equal(t, 40, MPTableMaxCPUs(0), "1 KiB of EBDA holds 40 CPUs")
	for _, c := range []struct {
		name string
		cpus int
		pci  []PCIInterrupt
		want error
	}{
		{"zero CPUs", 0, nil, ErrTooManyCPUs},
		{"negative CPUs", -1, nil, ErrTooManyCPUs},
		{"one CPU too many", MPTableMaxCPUs(0) + 1, nil, ErrTooManyCPUs},
		{"255 CPUs", 255, nil, ErrTooManyCPUs},
		{"PCI entries eat CPU room", MPTableMaxCPUs(0), make([]PCIInterrupt, 3), ErrTooManyCPUs},
		{"PCI pin 0", 1, []PCIInterrupt{{Device: 1, Pin: 0, IRQ: 16}}, ErrBadPCIInterrupt},
		{"PCI pin 5", 1, []PCIInterrupt{{Device: 1, Pin: 5, IRQ: 16}}, ErrBadPCIInterrupt},
		{"PCI device 32", 1, []PCIInterrupt{{Device: 32, Pin: 1, IRQ: 16}}, ErrBadPCIInterrupt},
		{"PCI IRQ 24", 1, []PCIInterrupt{{Device: 1, Pin: 1, IRQ: 24}}, ErrBadPCIInterrupt},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := WriteMPTable(mem, c.cpus, c.pci...)
			require.ErrorIs(t, err, c.want)
			t.Log(err)
		})
	}
}
