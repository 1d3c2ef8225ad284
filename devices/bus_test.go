package devices

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"gvmm/guest/ready"
)

// regs is a tiny device with 8 byte registers, recording offsets.
type regs struct {
	mem     [8]byte
	offsets []uint64
}

func (r *regs) Read(off uint64, data []byte) {
	r.offsets = append(r.offsets, off)
	copy(data, r.mem[off:])
}

func (r *regs) Write(off uint64, data []byte) {
	r.offsets = append(r.offsets, off)
	copy(r.mem[off:], data)
}

func TestBusRegisterRejects(t *testing.T) {
	b := NewBus("test")
	require.NoError(t, b.Register("a", 0x100, 8, &regs{}))
	cases := []struct {
		name       string
		base, size uint64
		want       error
	}{
		{"zero size", 0x200, 0, ErrZeroSize},
		{"same range", 0x100, 8, ErrOverlap},
		{"overlaps start", 0xfc, 8, ErrOverlap},
		{"overlaps end", 0x107, 1, ErrOverlap},
		{"contains", 0x0, 0x1000, ErrOverlap},
		{"wraps", 1<<64 - 4, 8, ErrWrap},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			assert.ErrorIs(t, b.Register(c.name, c.base, c.size, &regs{}), c.want)
		})
	}
	assert.NoError(t, b.Register("adjacent", 0x108, 8, &regs{}))
	assert.NoError(t, b.Register("top", 1<<64-8, 8, &regs{}), "a range ending at 2^64 is fine")
}

func TestBusDispatchIsOffsetRelative(t *testing.T) {
	b := NewBus("test")
	d := &regs{}
	require.NoError(t, b.Register("d", 0x3f8, 8, d))
	assert.True(t, b.Write(0x3fb, []byte{0xaa}))
	buf := []byte{0x11, 0x22}
	assert.True(t, b.Read(0x3fa, buf))
	assert.Equal(t, []byte{0x00, 0xaa}, buf)
	assert.Equal(t, []uint64{3, 2}, d.offsets, "devices see offsets, not addresses")
}

func TestBusUnclaimed(t *testing.T) {
	b := NewBus("test")
	require.NoError(t, b.Register("d", 0x100, 4, &regs{}))
	buf := []byte{0, 0, 0, 0}
	assert.False(t, b.Read(0x80, buf))
	assert.Equal(t, []byte{0xff, 0xff, 0xff, 0xff}, buf, "nobody drives the bus: all ones")
	assert.False(t, b.Write(0x80, []byte{1}))
	assert.False(t, b.Read(0x102, buf), "an access straddling the device end is unclaimed")
}

// fill sets every byte it is given, to check the bus zero-fills first.
type partial struct{}

func (partial) Read(_ uint64, data []byte) { data[0] = 7 }
func (partial) Write(uint64, []byte)       {}

func TestBusZeroFillsReads(t *testing.T) {
	b := NewBus("test")
	require.NoError(t, b.Register("p", 0, 4, partial{}))
	buf := []byte{0xde, 0xad, 0xbe, 0xef}
	b.Read(0, buf)
	assert.Equal(t, []byte{7, 0, 0, 0}, buf)
}

func TestBusUnregister(t *testing.T) {
	b := NewBus("test")
	require.NoError(t, b.Register("d", 0x1000, 16, &regs{}))
	b.Unregister(0x1000)
	assert.False(t, b.Write(0x1000, []byte{1}))
	assert.NoError(t, b.Register("d2", 0x1000, 16, &regs{}))
}

func TestI8042Reset(t *testing.T) {
	resets := 0
	k := NewI8042(func() { resets++ })
	status := []byte{0}
	k.CommandPort().Read(0, status)
	assert.Zero(t, status[0]&i8042StatusOutputFull)
	k.CommandPort().Write(0, []byte{i8042CmdReadCTR})
	k.CommandPort().Read(0, status)
	assert.NotZero(t, status[0]&i8042StatusOutputFull, "CTR is waiting")
	k.DataPort().Read(0, []byte{0})
	k.CommandPort().Write(0, []byte{I8042CmdResetCPU})
	assert.Equal(t, 1, resets)
}

func TestDebugDevice(t *testing.T) {
	var got []int64
	var exits []uint8
	// A start 5 s ago: the timestamp must be taken against Start, not
	// against some clock of the device's own.
	d := &DebugDevice{
		Start: time.Now().Add(-5 * time.Second),
		Ready: func(us int64) { got = append(got, us) },
		Exit:  func(s uint8) { exits = append(exits, s) },
	}
	d.Write(DebugRegReady, []byte{1})
	assert.Empty(t, got, "only the magic value counts")
	d.Write(DebugRegReady, []byte{ready.Magic})
	require.Len(t, got, 1)
	assert.GreaterOrEqual(t, got[0], int64(5_000_000))
	assert.Less(t, got[0], int64(60_000_000))
	d.Write(DebugRegExit, []byte{42})
	assert.Equal(t, []uint8{42}, exits)
}

func TestBusUnknownLogIsBounded(t *testing.T) {
	b := NewBus("test")
	for a := uint64(0); a < 10*maxLoggedUnknown; a++ {
		b.Read(a<<12, []byte{0})
	}
	assert.LessOrEqual(t, len(b.unknown), maxLoggedUnknown, "a guest cannot grow the log set without bound")
}
