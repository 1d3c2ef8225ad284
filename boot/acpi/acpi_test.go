package acpi

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"gvmm/vmm"
)

var le = binary.LittleEndian

// guestView reads the tables the way an OS does: it scans for the RSDP on
// 16-byte boundaries (ACPI 6.5 §5.2.5.1), checks every checksum and
// follows the pointers. It returns the tables by signature.
func guestView(t *testing.T, tb *Tables) map[string][]byte {
	t.Helper()
	at := func(addr uint64) []byte {
		require.GreaterOrEqual(t, addr, tb.Base)
		require.Less(t, addr-tb.Base, uint64(len(tb.Image)), "address %#x outside the tables", addr)
		return tb.Image[addr-tb.Base:]
	}
	rsdpOff := -1
	for off := 0; off+rsdpSize <= len(tb.Image); off += 16 {
		if bytes.HasPrefix(tb.Image[off:], []byte(rsdpSignature)) {
			rsdpOff = off
			break
		}
	}
	require.Equal(t, 0, rsdpOff, "the RSDP opens the area")
	r := tb.Image[:rsdpSize]
	assert.Zero(t, sum(r[:rsdpV1Size]), "RSDP checksum (first 20 bytes)")
	assert.Zero(t, sum(r), "RSDP extended checksum")
	assert.Equal(t, uint8(2), r[rsdpRevisionOff])
	assert.Equal(t, uint32(rsdpSize), le.Uint32(r[rsdpLengthOff:]))
	assert.Zero(t, le.Uint32(r[rsdpRSDTAddrOff:]), "no RSDT")
	assert.Equal(t, tb.Base, tb.RSDP())

	sdt := func(addr uint64) []byte {
		h := at(addr)
		require.GreaterOrEqual(t, len(h), sdtHeaderSize)
		n := le.Uint32(h[sdtLengthOff:])
		require.LessOrEqual(t, int(n), len(h), "table at %#x runs past the area", addr)
		tbl := h[:n]
		assert.Zero(t, sum(tbl), "%s checksum", tbl[:4])
		assert.Equal(t, oemID, string(tbl[sdtOEMIDOff:sdtOEMIDOff+6]))
		return tbl
	}
	out := map[string][]byte{}
	x := sdt(le.Uint64(r[rsdpXSDTAddrOff:]))
	require.Equal(t, "XSDT", string(x[:4]))
	out["XSDT"] = x
	for off := sdtHeaderSize; off < len(x); off += xsdtEntrySize {
		tbl := sdt(le.Uint64(x[off:]))
		out[string(tbl[:4])] = tbl
	}
	require.Contains(t, out, "FACP")
	out["DSDT"] = sdt(le.Uint64(out["FACP"][fadtXDSDTOff:]))
	return out
}

func sum(b []byte) (s uint8) {
	for _, c := range b {
		s += c
	}
	return s
}

func TestBuildTwoCPUs(t *testing.T) {
	tb, err := Build(Platform{CPUs: 2, PCI: []PCIRoute{{Device: 2, Pin: 1, GSI: 10}, {Device: 3, Pin: 1, GSI: 11}}})
	require.NoError(t, err)
	assert.Equal(t, uint64(vmm.ACPITablesStart), tb.Base)
	tables := guestView(t, tb)
	assert.Len(t, tables, 4, "XSDT, FACP, APIC, DSDT")

	f := tables["FACP"]
	require.Len(t, f, fadtSize, "FADT 6.5 is 276 bytes")
	assert.Equal(t, uint8(6), f[sdtRevisionOff])
	assert.Equal(t, uint8(5), f[fadtMinorVersionOff])
	assert.Equal(t, uint16(vmm.ACPISCIIRQ), le.Uint16(f[fadtSCIIntOff:]))
	flags := le.Uint32(f[fadtFlagsOff:])
	assert.NotZero(t, flags&(1<<20), "HW_REDUCED_ACPI")
	assert.NotZero(t, flags&(1<<10), "RESET_REG_SUP")
	boot := le.Uint16(f[fadtIAPCBootArchOff:])
	assert.Zero(t, boot&(1<<1), "no 8042")
	assert.Equal(t, uint16(1<<1), uint16(iapc8042), "Table 5.11 bit 1")
	assert.NotZero(t, boot&(1<<2), "VGA not present")
	assert.Zero(t, boot&(1<<5), "the CMOS RTC is present")
	assert.Equal(t, uint16(1<<5), uint16(iapcNoCMOSRTC), "Table 5.11 bit 5")
	gas := func(off int, port uint16) {
		assert.Equal(t, []byte{1, 8, 0, 1}, f[off:off+4], "GAS at %d: system I/O, 8 bits, offset 0, byte access", off)
		assert.Equal(t, uint64(port), le.Uint64(f[off+4:]))
	}
	gas(fadtSleepControlOff, vmm.ACPIPMPort+SleepControlOffset)
	gas(fadtSleepStatusOff, vmm.ACPIPMPort+SleepStatusOffset)
	gas(fadtResetRegOff, vmm.ACPIPMPort+ResetOffset)
	assert.Equal(t, uint8(ResetValue), f[fadtResetValueOff])
	assert.Zero(t, le.Uint32(f[36:]), "FIRMWARE_CTRL: no FACS")
	assert.Zero(t, le.Uint32(f[40:]), "32-bit DSDT left zero, X_DSDT used")
	assert.Equal(t, make([]byte, 84-56+4), f[56:88], "no PM1/PM2/PM timer/GPE blocks")

	m := tables["APIC"]
	assert.Equal(t, uint32(vmm.LAPICAddr), le.Uint32(m[36:]))
	want := []byte{
		0, 8, 0, 0, 1, 0, 0, 0, // local APIC: UID 0, APIC ID 0, enabled
		0, 8, 1, 1, 1, 0, 0, 0, // local APIC: UID 1, APIC ID 1, enabled
		1, 12, 2, 0, 0, 0, 0xc0, 0xfe, 0, 0, 0, 0, // I/O APIC id 2 at 0xfec00000, GSI base 0
		2, 10, 0, 9, 9, 0, 0, 0, 0x0d, 0, // ISA IRQ 9 → GSI 9, level, active high
		4, 6, 0xff, 0, 0, 1, // NMI on LINT1 of every processor
	}
	assert.Equal(t, want, m[44:])

	d := tables["DSDT"]
	assert.Equal(t, uint8(2), d[sdtRevisionOff])
	body := d[sdtHeaderSize:]
	for what, b := range map[string][]byte{
		`\_S5 = {5, 5}`:    {0x08, '\\', '_', 'S', '5', '_', 0x12, 0x06, 0x02, 0x0a, 0x05, 0x0a, 0x05},
		"PNP0A03 _HID":     append([]byte{0x08, '_', 'H', 'I', 'D', 0x0c}, 0x41, 0xd0, 0x0a, 0x03),
		"PNP0501 _HID":     append([]byte{0x08, '_', 'H', 'I', 'D', 0x0c}, 0x41, 0xd0, 0x05, 0x01),
		"COM1 IO":          ioPort(vmm.COM1Port, 8),
		"COM1 IRQ 4":       irq(vmm.COM1IRQ),
		"RTC IO":           ioPort(vmm.CMOSPort, vmm.CMOSPortSize),
		"PM registers":     ioPort(vmm.ACPIPMPort, vmm.ACPIPMPortSize),
		"BAR window":       dwordMemWindow(vmm.PCIMMIOStart, vmm.PCIMMIOStart+vmm.PCIMMIOSize-1),
		"_PRT slot 2 → 10": {0x12, 0x0b, 0x04, 0x0c, 0xff, 0xff, 0x02, 0x00, 0x00, 0x00, 0x0a, 0x0a},
		"_PRT slot 3 → 11": {0x12, 0x0b, 0x04, 0x0c, 0xff, 0xff, 0x03, 0x00, 0x00, 0x00, 0x0a, 0x0b},
	} {
		assert.True(t, bytes.Contains(body, b), "DSDT holds %s (% x)", what, b)
	}
	assert.False(t, bytes.Contains(body, []byte{0x41, 0xd0, 0x03, 0x03}), "no PNP0303 keyboard controller")
}

func TestBuildScalesWithCPUs(t *testing.T) {
	for _, n := range []int{1, 8, maxAPICID} {
		tb, err := Build(Platform{CPUs: n})
		require.NoError(t, err, "%d CPUs", n)
		m := guestView(t, tb)["APIC"]
		assert.Len(t, m, sdtHeaderSize+madtFixedSize+n*madtLocalAPICLen+madtIOAPICLen+madtIntSrcOverLen+madtLocalAPICNMILen)
		assert.Equal(t, uint8(n), m[sdtHeaderSize+madtFixedSize+n*madtLocalAPICLen+2], "the I/O APIC takes id %d", n)
		assert.NotContains(t, string(guestView(t, tb)["DSDT"]), "_PRT", "no PCI routes, no _PRT")
	}
}

func TestBuildRejects(t *testing.T) {
	for name, p := range map[string]Platform{
		"no CPUs":       {CPUs: 0},
		"too many CPUs": {CPUs: maxAPICID + 1},
		"bad slot":      {CPUs: 1, PCI: []PCIRoute{{Device: 32, Pin: 1, GSI: 10}}},
		"pin 0":         {CPUs: 1, PCI: []PCIRoute{{Device: 1, Pin: 0, GSI: 10}}},
		"pin 5":         {CPUs: 1, PCI: []PCIRoute{{Device: 1, Pin: 5, GSI: 10}}},
		"GSI 24":        {CPUs: 1, PCI: []PCIRoute{{Device: 1, Pin: 1, GSI: 24}}},
	} {
		_, err := Build(p)
		assert.ErrorIs(t, err, ErrBadPlatform, name)
	}
}

// memory is a guest memory stand-in for Write: a byte slice from 0.
type memory []byte

func (m memory) WriteAt(p []byte, off int64) (int, error) { return copy(m[off:], p), nil }

func TestWrite(t *testing.T) {
	tb, err := Build(Platform{CPUs: 1})
	require.NoError(t, err)
	mem := make(memory, vmm.ACPITablesEnd)
	require.NoError(t, tb.Write(mem))
	assert.Equal(t, rsdpSignature, string(mem[vmm.ACPITablesStart:vmm.ACPITablesStart+8]))
	assert.Equal(t, tb.Image, []byte(mem[vmm.ACPITablesStart:vmm.ACPITablesStart+len(tb.Image)]))
}
