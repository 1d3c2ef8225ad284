package virtio_test

import (
	"bytes"
	"encoding/binary"
	"testing"

	"gvmm/devices/virtio"
	"gvmm/vmm"
)

// FuzzQueue feeds a queue arbitrary descriptor tables and avail rings.
// data is: size selector, avail idx (le16), then avail ring entries and
// descriptor table bytes. The device pops until the ring is empty or
// broken, writes a pattern into every writable buffer it got and pushes.
// Invariants: no panic, no hang (Pop is bounded), the descriptor table
// and avail ring are never written, and every used length is what the
// device wrote. Seeds are in testdata/fuzz/FuzzQueue.
func FuzzQueue(f *testing.F) {
	f.Add(seedQueue(3, 1, []uint16{0}, []virtio.Desc{{Addr: bufBase, Len: 8, Flags: virtio.DescFlagNext, Next: 1}, {Addr: bufBase + 64, Len: 8, Flags: virtio.DescFlagWrite}}))
	f.Add(seedQueue(3, 1, []uint16{0}, []virtio.Desc{{Addr: bufBase, Len: 8, Flags: virtio.DescFlagNext, Next: 0}}))
	f.Add(seedQueue(3, 2, []uint16{1, 0}, []virtio.Desc{{Addr: 0x4000, Len: 32, Flags: virtio.DescFlagIndirect}, {Addr: vmm.MinMemorySize - 4, Len: 8}}))
	f.Add(seedQueue(3, 40, []uint16{0}, nil))
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) < 3 {
			return
		}
		mem, err := vmm.NewGuestMemory(vmm.MinMemorySize)
		if err != nil {
			t.Fatal(err)
		}
		defer mem.Close()
		size := uint16(1) << (data[0] % 9) // 1..256
		rest := data[3:]
		// Driver side: avail ring entries, then the descriptor table, and
		// the same bytes as a would-be indirect table at 0x4000.
		ring := rest[:min(len(rest), 2*int(size))]
		table := rest[len(ring):]
		mem.WriteAt(ring, availBase+4)
		mem.WriteAt(table[:min(len(table), 16*int(size))], descBase)
		mem.WriteAt(table[:min(len(table), 0x1000)], 0x4000)
		mem.WriteAt(data[1:3], availBase+2)
		before := snapshot(mem, size)

		q, err := virtio.NewQueue(mem, virtio.QueueConfig{Size: size, DescAddr: descBase, DriverAddr: availBase, DeviceAddr: usedBase}, 256, data[0]&0x80 != 0)
		if err != nil {
			t.Fatal(err)
		}
		driverOwned := []struct{ start, end uint64 }{
			{descBase, descBase + 16*uint64(size)},
			{availBase, availBase + 4 + 2*uint64(size)},
		}
		overlaps := false
		for range 2 * int(size) {
			c, err := q.Pop()
			if err != nil || c == nil {
				break
			}
			var w uint64
			for _, d := range c.Writable {
				w += uint64(d.Len)
				for _, r := range driverOwned {
					if d.Len > 0 && d.Addr < r.end && r.start < d.Addr+uint64(d.Len) {
						overlaps = true // the driver aimed a buffer at its own rings
					}
				}
			}
			if w != c.WritableLen() {
				t.Fatalf("writable length %d, sum %d", c.WritableLen(), w)
			}
			n, _ := c.Write(bytes.Repeat([]byte{0x5a}, int(min(w, 4096))))
			if uint64(n) != min(w, 4096) || c.Written() != uint32(n) {
				t.Fatalf("wrote %d of %d, Written %d", n, min(w, 4096), c.Written())
			}
			if err := q.Push(c.Head, c.Written()); err != nil {
				t.Fatal(err)
			}
		}
		if !overlaps && !bytes.Equal(before, snapshot(mem, size)) {
			t.Fatal("device wrote the descriptor table or the avail ring")
		}
	})
}

// snapshot copies the driver-owned ring parts (unless the driver placed
// device-writable buffers over them, which is its own business).
func snapshot(mem *vmm.GuestMemory, size uint16) []byte {
	b := make([]byte, 16*int(size)+2*int(size)+4)
	mem.ReadAt(b[:16*int(size)], descBase)
	mem.ReadAt(b[16*int(size):], availBase)
	return b
}

func seedQueue(sizeSel uint8, availIdx uint16, ring []uint16, descs []virtio.Desc) []byte {
	b := []byte{sizeSel}
	b = binary.LittleEndian.AppendUint16(b, availIdx)
	for i := range 1 << sizeSel {
		v := uint16(0)
		if i < len(ring) {
			v = ring[i]
		}
		b = binary.LittleEndian.AppendUint16(b, v)
	}
	for _, d := range descs {
		b = binary.LittleEndian.AppendUint64(b, d.Addr)
		b = binary.LittleEndian.AppendUint32(b, d.Len)
		b = binary.LittleEndian.AppendUint16(b, d.Flags)
		b = binary.LittleEndian.AppendUint16(b, d.Next)
	}
	return b
}
