package pci

import (
	"bytes"
	"encoding/binary"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"gvmm/devices"
)

// regs is a trivial BAR device: 4 KiB of registers that remember writes.
type regs struct{ b [4096]byte }

func (r *regs) Read(off uint64, data []byte) {
	if off < uint64(len(r.b)) {
		copy(data, r.b[off:])
	}
}

func (r *regs) Write(off uint64, data []byte) {
	if off < uint64(len(r.b)) {
		copy(r.b[off:], data)
	}
}

type line struct{ level bool }

func (l *line) SetLevel(h bool) error { l.level = h; return nil }

const (
	window     = 0xd000_0000
	windowSize = 0x100_0000
)

type bus struct {
	pio, mmio *devices.Bus
	root      *Root
}

func newBus(t *testing.T) *bus {
	t.Helper()
	b := &bus{pio: devices.NewBus("pio"), mmio: devices.NewBus("mmio")}
	var err error
	b.root, err = NewRoot(b.mmio, window, windowSize)
	require.NoError(t, err)
	require.NoError(t, b.pio.Register("pci-conf1", ConfigAddressPort, ConfigPortsSize, b.root.ConfigPorts()))
	return b
}

// cfgRead and cfgWrite use mechanism #1 the way Linux's pci_conf1_read
// does: dword address to 0xCF8, then an access at 0xCFC + (reg & 3).
func (b *bus) cfgRead(dev, reg, n int) uint32 {
	b.pio.Write(ConfigAddressPort, le32(uint32(0x8000_0000|dev<<11|reg&0xfc)))
	d := make([]byte, n)
	b.pio.Read(uint64(ConfigDataPort+reg&3), d)
	var v uint32
	for i := n - 1; i >= 0; i-- {
		v = v<<8 | uint32(d[i])
	}
	return v
}

func (b *bus) cfgWrite(dev, reg, n int, v uint32) {
	b.pio.Write(ConfigAddressPort, le32(uint32(0x8000_0000|dev<<11|reg&0xfc)))
	b.pio.Write(uint64(ConfigDataPort+reg&3), le32(v)[:n])
}

func le32(v uint32) []byte { return binary.LittleEndian.AppendUint32(nil, v) }

func TestConf1ProbeAndHostBridge(t *testing.T) {
	b := newBus(t)
	// Linux's pci_check_type1: CONFIG_ADDRESS reads back what was written.
	b.pio.Write(ConfigAddressPort, le32(0x8000_0000))
	d := make([]byte, 4)
	b.pio.Read(ConfigAddressPort, d)
	assert.Equal(t, uint32(0x8000_0000), binary.LittleEndian.Uint32(d))
	// pci_sanity_check: a host bridge (class 0x0600) on bus 0.
	assert.Equal(t, uint32(0x0600), b.cfgRead(0, SubclassOffset, 2))
	assert.Equal(t, uint32(HostBridgeVendorID), b.cfgRead(0, VendorIDOffset, 2))
	// Empty slots, other buses, other functions: master abort, all ones.
	assert.Equal(t, uint32(0xffff_ffff), b.cfgRead(5, 0, 4))
	b.pio.Write(ConfigAddressPort, le32(0x8001_0000))
	b.pio.Read(ConfigDataPort, d)
	assert.Equal(t, []byte{0xff, 0xff, 0xff, 0xff}, d)
	// Enable bit clear: no configuration cycle.
	b.pio.Write(ConfigAddressPort, le32(0))
	b.pio.Read(ConfigDataPort, d)
	assert.Equal(t, []byte{0xff, 0xff, 0xff, 0xff}, d)
}

func TestBARSizingAndMapping(t *testing.T) {
	for _, tc := range []struct {
		name string
		bar  BAR
	}{
		{"32-bit", BAR{Size: 0x4000}},
		{"64-bit prefetchable", BAR{Size: 0x10000, Is64: true, Prefetchable: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := newBus(t)
			r := &regs{}
			tc.bar.Device = r
			fn, err := NewFunction("test", Header{VendorID: 0x1234, DeviceID: 0x5678, InterruptPin: 1}, []BAR{tc.bar}, nil)
			require.NoError(t, err)
			irq := &line{}
			dev, err := b.root.Add(fn, irq, 11)
			require.NoError(t, err)
			assert.Equal(t, 1, dev)
			flags := uint32(0)
			if tc.bar.Is64 {
				flags = BARMemory64 | BARPrefetchable
			}
			addr := b.cfgRead(dev, BAR0Offset, 4)
			assert.Equal(t, flags, addr&0xf)
			assert.Equal(t, uint32(window), addr&^0xf, "pre-assigned from the window")

			// Sizing (§6.2.5.1): decode off, write all ones, read the mask.
			b.cfgWrite(dev, BAR0Offset, 4, 0xffff_ffff)
			size := ^(b.cfgRead(dev, BAR0Offset, 4) &^ 0xf) + 1
			assert.Equal(t, uint32(tc.bar.Size), size)
			if tc.bar.Is64 {
				b.cfgWrite(dev, BAR0Offset+4, 4, 0xffff_ffff)
				assert.Equal(t, uint32(0xffff_ffff), b.cfgRead(dev, BAR0Offset+4, 4))
				b.cfgWrite(dev, BAR0Offset+4, 4, 0)
			}
			assert.False(t, b.mmio.Read(window, make([]byte, 4)), "decode is off")

			// Program an address, enable decode: the BAR answers there.
			const at = window + 0x20_0000
			b.cfgWrite(dev, BAR0Offset, 4, at)
			b.cfgWrite(dev, CommandOffset, 2, CommandMemorySpace)
			assert.True(t, b.mmio.Write(at+8, []byte{0xab}))
			assert.Equal(t, byte(0xab), r.b[8])

			// Move it while decoding: old address unclaimed, new one works.
			b.cfgWrite(dev, BAR0Offset, 4, at+0x10_0000)
			assert.False(t, b.mmio.Read(at, make([]byte, 1)))
			got := make([]byte, 1)
			assert.True(t, b.mmio.Read(at+0x10_0000+8, got))
			assert.Equal(t, byte(0xab), got[0])

			// Decode off unmaps.
			b.cfgWrite(dev, CommandOffset, 2, 0)
			assert.False(t, b.mmio.Read(at+0x10_0000, got))
		})
	}
}

func TestReadOnlyFieldsAndINTx(t *testing.T) {
	b := newBus(t)
	fn, err := NewFunction("test", Header{VendorID: 0x1234, DeviceID: 0x5678, InterruptPin: 1},
		[]BAR{{Size: 0x1000, Device: &regs{}}}, []Capability{{ID: CapabilityVendor, Body: []byte{4, 1, 2}}})
	require.NoError(t, err)
	irq := &line{}
	dev, err := b.root.Add(fn, irq, 10)
	require.NoError(t, err)
	b.cfgWrite(dev, VendorIDOffset, 4, 0)
	assert.Equal(t, uint32(0x5678_1234), b.cfgRead(dev, VendorIDOffset, 4))
	assert.Equal(t, uint32(10), b.cfgRead(dev, InterruptLineOffset, 1))
	assert.Equal(t, uint32(1), b.cfgRead(dev, InterruptPinOffset, 1))
	// Capability list: status bit, pointer at 0x34, vendor cap at 0x40.
	assert.NotZero(t, b.cfgRead(dev, StatusOffset, 2)&StatusCapabilities)
	assert.Equal(t, uint32(0x40), b.cfgRead(dev, CapabilitiesOffset, 1))
	assert.Equal(t, uint32(0x0104_0009), b.cfgRead(dev, 0x40, 4), "ID 0x09, next 0, body 4 1")
	b.cfgWrite(dev, 0x42, 1, 0x99)
	assert.Equal(t, uint32(4), b.cfgRead(dev, 0x42, 1), "static capability bodies are read-only")

	fn.SetINTx(true)
	assert.True(t, irq.level)
	assert.NotZero(t, b.cfgRead(dev, StatusOffset, 2)&StatusInterrupt)
	b.cfgWrite(dev, CommandOffset, 2, CommandINTxDisable)
	assert.False(t, irq.level, "Interrupt Disable masks the line")
	b.cfgWrite(dev, CommandOffset, 2, 0)
	assert.True(t, irq.level)
	fn.SetINTx(false)
	assert.False(t, irq.level)
}

func TestNewFunctionRejectsBadBARs(t *testing.T) {
	for _, bars := range [][]BAR{
		{{Size: 0x3000, Device: &regs{}}},
		{{Size: 0x800, Device: &regs{}}},
		{{Size: 0x1000}},
		{{Size: 0x1000, Is64: true, Device: &regs{}}, {Size: 0x1000, Device: &regs{}}},
		make([]BAR, 7),
	} {
		_, err := NewFunction("bad", Header{}, bars, nil)
		assert.ErrorIs(t, err, ErrBadBAR)
	}
}

func TestRootWindowAndBusFull(t *testing.T) {
	mmio := devices.NewBus("mmio")
	root, err := NewRoot(mmio, window, 0x2000)
	require.NoError(t, err)
	big, err := NewFunction("big", Header{}, []BAR{{Size: 0x4000, Device: &regs{}}}, nil)
	require.NoError(t, err)
	_, err = root.Add(big, nil, 0)
	assert.ErrorIs(t, err, ErrWindowTooSmall)
	root, err = NewRoot(mmio, window, windowSize)
	require.NoError(t, err)
	for i := 1; i < maxDevices; i++ {
		f, _ := NewFunction("f", Header{}, nil, nil)
		_, err = root.Add(f, nil, 0)
		require.NoError(t, err)
	}
	f, _ := NewFunction("f", Header{}, nil, nil)
	_, err = root.Add(f, nil, 0)
	assert.ErrorIs(t, err, ErrBusFull)
}

// captureLog sends slog's default logger to a buffer for the test.
func captureLog(t *testing.T) *bytes.Buffer {
	t.Helper()
	var buf bytes.Buffer
	old := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(&buf, nil)))
	t.Cleanup(func() { slog.SetDefault(old) })
	return &buf
}

// TestBARConflictLogIsRateLimited is the regression test for a guest that
// writes a conflicting BAR address in a loop: each write was a host log
// line.
func TestBARConflictLogIsRateLimited(t *testing.T) {
	buf := captureLog(t)

	b := newBus(t)
	fn, err := NewFunction("dup", Header{VendorID: 0x1af4, DeviceID: 0x1043},
		[]BAR{{Size: 0x4000, Device: &regs{}}, {Size: 0x4000, Device: &regs{}}}, nil)
	require.NoError(t, err)
	_, err = b.root.Add(fn, &line{}, 5)
	require.NoError(t, err)
	const at = window + 0x10000
	b.cfgWrite(1, BAR0Offset, 4, at)
	b.cfgWrite(1, CommandOffset, 2, CommandMemorySpace)
	for i := 0; i < 20000; i++ {
		b.cfgWrite(1, BAR0Offset+4, 4, at) // BAR1 onto BAR0: cannot be mapped
	}
	assert.Equal(t, at, int(fn.BARAddress(0)), "BAR0 still mapped")
	n := strings.Count(buf.String(), "cannot map BAR")
	assert.Positive(t, n, "the conflict is logged")
	assert.LessOrEqual(t, n, 10, "but not 20,000 times")
}

// failingMSI refuses every message, as KVM_SIGNAL_MSI does for an address
// outside the APIC's window.
type failingMSI struct{}

func (failingMSI) SignalMSI(uint64, uint32) error { return errors.New("invalid MSI address") }

// TestMSIXDeliveryFailureLogIsRateLimited is the regression test for a
// guest that programs a vector with a bad address: every interrupt was a
// host log line.
func TestMSIXDeliveryFailureLogIsRateLimited(t *testing.T) {
	buf := captureLog(t)

	m, err := NewMSIX(1, 0, 0, 0x800, failingMSI{})
	require.NoError(t, err)
	m.Table().Write(msixEntryControl, le32(0)) // unmask vector 0
	m.enabled = true                           // as the guest's Message Control write does
	for i := 0; i < 20000; i++ {
		m.Signal(0)
	}
	n := strings.Count(buf.String(), "MSI-X delivery failed")
	assert.Positive(t, n)
	assert.LessOrEqual(t, n, 10)
}
