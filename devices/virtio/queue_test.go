package virtio_test

import (
	"encoding/binary"
	"io"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"gvmm/devices/virtio"
	"gvmm/vmm"
)

// Raw ring layout for queue-level tests: a queue of qSize at fixed
// addresses in a 4 MiB guest.
const (
	qSize     = 8
	descBase  = 0x1000
	availBase = 0x2000
	usedBase  = 0x3000
	bufBase   = 0x10000
)

type rawRing struct {
	t   *testing.T
	mem *vmm.GuestMemory
	q   *virtio.Queue
	idx uint16
}

func newRawRing(t *testing.T, indirect bool) *rawRing {
	t.Helper()
	mem, err := vmm.NewGuestMemory(vmm.MinMemorySize)
	require.NoError(t, err)
	t.Cleanup(func() { mem.Close() })
	q, err := virtio.NewQueue(mem, virtio.QueueConfig{Size: qSize, DescAddr: descBase, DriverAddr: availBase, DeviceAddr: usedBase}, 256, indirect)
	require.NoError(t, err)
	return &rawRing{t: t, mem: mem, q: q}
}

func (r *rawRing) desc(table uint64, i uint16, d virtio.Desc) {
	var b [16]byte
	binary.LittleEndian.PutUint64(b[0:], d.Addr)
	binary.LittleEndian.PutUint32(b[8:], d.Len)
	binary.LittleEndian.PutUint16(b[12:], d.Flags)
	binary.LittleEndian.PutUint16(b[14:], d.Next)
	_, err := r.mem.WriteAt(b[:], int64(table+16*uint64(i)))
	require.NoError(r.t, err)
}

func (r *rawRing) avail(head uint16) {
	var b [2]byte
	binary.LittleEndian.PutUint16(b[:], head)
	r.mem.WriteAt(b[:], int64(availBase+4+2*uint64(r.idx%qSize)))
	r.idx++
	binary.LittleEndian.PutUint16(b[:], r.idx)
	r.mem.WriteAt(b[:], availBase+2)
}

func (r *rawRing) u16(addr uint64) uint16 {
	var b [2]byte
	r.mem.ReadAt(b[:], int64(addr))
	return binary.LittleEndian.Uint16(b[:])
}

func TestQueuePopPush(t *testing.T) {
	r := newRawRing(t, false)
	c, err := r.q.Pop()
	require.NoError(t, err)
	assert.Nil(t, c, "empty ring")

	r.mem.WriteAt([]byte("request"), bufBase)
	r.desc(descBase, 3, virtio.Desc{Addr: bufBase, Len: 7, Flags: virtio.DescFlagNext, Next: 5})
	r.desc(descBase, 5, virtio.Desc{Addr: bufBase + 0x100, Len: 4, Flags: virtio.DescFlagWrite | virtio.DescFlagNext, Next: 6})
	r.desc(descBase, 6, virtio.Desc{Addr: bufBase + 0x200, Len: 4, Flags: virtio.DescFlagWrite})
	r.avail(3)

	c, err = r.q.Pop()
	require.NoError(t, err)
	require.NotNil(t, c)
	assert.Equal(t, uint16(3), c.Head)
	assert.Equal(t, uint64(7), c.ReadableLen())
	assert.Equal(t, uint64(8), c.WritableLen())
	in, err := io.ReadAll(c)
	require.NoError(t, err)
	assert.Equal(t, "request", string(in))
	n, err := c.Write([]byte("answer!"))
	require.NoError(t, err)
	assert.Equal(t, 7, n)
	_, err = c.Write([]byte("overflow"))
	assert.ErrorIs(t, err, io.ErrShortWrite)
	require.NoError(t, r.q.Push(c.Head, c.Written()))

	got := make([]byte, 4)
	r.mem.ReadAt(got, bufBase+0x100)
	assert.Equal(t, "answ", string(got))
	r.mem.ReadAt(got, bufBase+0x200)
	assert.Equal(t, "er!", string(got[:3]))
	assert.Equal(t, uint16(1), r.u16(usedBase+2), "used idx published")
	assert.Equal(t, uint16(3), r.u16(usedBase+4), "used elem id")
	assert.Equal(t, uint16(8), r.u16(usedBase+8), "used elem len")

	c, err = r.q.Pop()
	require.NoError(t, err)
	assert.Nil(t, c, "consumed")
}

func TestQueueIndirect(t *testing.T) {
	const table = 0x4000
	r := newRawRing(t, true)
	r.mem.WriteAt([]byte("abc"), bufBase)
	r.desc(table, 0, virtio.Desc{Addr: bufBase, Len: 3, Flags: virtio.DescFlagNext, Next: 2})
	r.desc(table, 2, virtio.Desc{Addr: bufBase + 0x100, Len: 16, Flags: virtio.DescFlagWrite})
	r.desc(descBase, 0, virtio.Desc{Addr: table, Len: 3 * 16, Flags: virtio.DescFlagIndirect})
	r.avail(0)
	c, err := r.q.Pop()
	require.NoError(t, err)
	require.Len(t, c.Readable, 1)
	require.Len(t, c.Writable, 1)
	assert.Equal(t, uint64(bufBase+0x100), c.Writable[0].Addr)
}

// TestQueueRejects is the queue half of the hostile-guest list: each
// chain or ring state must give an error, never a panic or a hang.
func TestQueueRejects(t *testing.T) {
	const end = vmm.MinMemorySize
	for _, tc := range []struct {
		name     string
		indirect bool
		setup    func(r *rawRing)
		err      error
	}{
		{"buffer outside RAM", false, func(r *rawRing) {
			r.desc(descBase, 0, virtio.Desc{Addr: end + 0x1000, Len: 16})
			r.avail(0)
		}, virtio.ErrDescriptor},
		{"buffer straddles the end of RAM", false, func(r *rawRing) {
			r.desc(descBase, 0, virtio.Desc{Addr: end - 8, Len: 16})
			r.avail(0)
		}, virtio.ErrDescriptor},
		{"address+length overflows", false, func(r *rawRing) {
			r.desc(descBase, 0, virtio.Desc{Addr: ^uint64(0) - 0xf, Len: 0xffff_ffff})
			r.avail(0)
		}, virtio.ErrDescriptor},
		{"cyclic chain", false, func(r *rawRing) {
			r.desc(descBase, 0, virtio.Desc{Addr: bufBase, Len: 1, Flags: virtio.DescFlagNext, Next: 1})
			r.desc(descBase, 1, virtio.Desc{Addr: bufBase, Len: 1, Flags: virtio.DescFlagNext, Next: 0})
			r.avail(0)
		}, virtio.ErrDescriptor},
		{"self loop", false, func(r *rawRing) {
			r.desc(descBase, 2, virtio.Desc{Addr: bufBase, Len: 1, Flags: virtio.DescFlagNext, Next: 2})
			r.avail(2)
		}, virtio.ErrDescriptor},
		{"next out of range", false, func(r *rawRing) {
			r.desc(descBase, 0, virtio.Desc{Addr: bufBase, Len: 1, Flags: virtio.DescFlagNext, Next: qSize})
			r.avail(0)
		}, virtio.ErrDescriptor},
		{"head out of range", false, func(r *rawRing) { r.avail(qSize + 3) }, virtio.ErrDescriptor},
		{"writable before readable", false, func(r *rawRing) {
			r.desc(descBase, 0, virtio.Desc{Addr: bufBase, Len: 1, Flags: virtio.DescFlagWrite | virtio.DescFlagNext, Next: 1})
			r.desc(descBase, 1, virtio.Desc{Addr: bufBase, Len: 1})
			r.avail(0)
		}, virtio.ErrDescriptor},
		{"avail idx jumps ahead", false, func(r *rawRing) {
			var b [2]byte
			binary.LittleEndian.PutUint16(b[:], qSize+1)
			r.mem.WriteAt(b[:], availBase+2)
		}, virtio.ErrAvailOverrun},
		{"indirect not negotiated", false, func(r *rawRing) {
			r.desc(descBase, 0, virtio.Desc{Addr: 0x4000, Len: 16, Flags: virtio.DescFlagIndirect})
			r.avail(0)
		}, virtio.ErrDescriptor},
		{"indirect with next", true, func(r *rawRing) {
			r.desc(descBase, 0, virtio.Desc{Addr: 0x4000, Len: 16, Flags: virtio.DescFlagIndirect | virtio.DescFlagNext, Next: 1})
			r.avail(0)
		}, virtio.ErrDescriptor},
		{"nested indirect", true, func(r *rawRing) {
			r.desc(0x4000, 0, virtio.Desc{Addr: 0x4000, Len: 16, Flags: virtio.DescFlagIndirect})
			r.desc(descBase, 0, virtio.Desc{Addr: 0x4000, Len: 16, Flags: virtio.DescFlagIndirect})
			r.avail(0)
		}, virtio.ErrDescriptor},
		{"indirect table of odd length", true, func(r *rawRing) {
			r.desc(descBase, 0, virtio.Desc{Addr: 0x4000, Len: 17, Flags: virtio.DescFlagIndirect})
			r.avail(0)
		}, virtio.ErrDescriptor},
		{"indirect loop", true, func(r *rawRing) {
			r.desc(0x4000, 0, virtio.Desc{Addr: bufBase, Len: 1, Flags: virtio.DescFlagNext, Next: 1})
			r.desc(0x4000, 1, virtio.Desc{Addr: bufBase, Len: 1, Flags: virtio.DescFlagNext, Next: 0})
			r.desc(descBase, 0, virtio.Desc{Addr: 0x4000, Len: 32, Flags: virtio.DescFlagIndirect})
			r.avail(0)
		}, virtio.ErrDescriptor},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRawRing(t, tc.indirect)
			tc.setup(r)
			before := make([]byte, 16*qSize)
			r.mem.ReadAt(before, descBase)
			c, err := r.q.Pop()
			assert.Nil(t, c)
			assert.ErrorIs(t, err, tc.err)
			after := make([]byte, 16*qSize)
			r.mem.ReadAt(after, descBase)
			assert.Equal(t, before, after, "the device never writes the descriptor table")
		})
	}
}

func TestNewQueueRejects(t *testing.T) {
	mem, err := vmm.NewGuestMemory(vmm.MinMemorySize)
	require.NoError(t, err)
	defer mem.Close()
	ok := virtio.QueueConfig{Size: 16, DescAddr: 0x1000, DriverAddr: 0x2000, DeviceAddr: 0x3000}
	for _, tc := range []struct {
		name string
		mod  func(c *virtio.QueueConfig)
	}{
		{"zero size", func(c *virtio.QueueConfig) { c.Size = 0 }},
		{"not a power of two", func(c *virtio.QueueConfig) { c.Size = 12 }},
		{"above the maximum", func(c *virtio.QueueConfig) { c.Size = 512 }},
		{"misaligned descriptor table", func(c *virtio.QueueConfig) { c.DescAddr = 0x1008 }},
		{"misaligned avail ring", func(c *virtio.QueueConfig) { c.DriverAddr = 0x2001 }},
		{"misaligned used ring", func(c *virtio.QueueConfig) { c.DeviceAddr = 0x3002 }},
		{"descriptor table outside RAM", func(c *virtio.QueueConfig) { c.DescAddr = vmm.MinMemorySize - 0x80 }},
		{"used ring in the MMIO hole", func(c *virtio.QueueConfig) { c.DeviceAddr = vmm.MMIOGapStart }},
		{"avail ring wraps the address space", func(c *virtio.QueueConfig) { c.DriverAddr = ^uint64(1) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := ok
			tc.mod(&c)
			_, err := virtio.NewQueue(mem, c, 256, false)
			assert.ErrorIs(t, err, virtio.ErrQueueConfig)
		})
	}
	_, err = virtio.NewQueue(mem, ok, 256, false)
	assert.NoError(t, err)
}
