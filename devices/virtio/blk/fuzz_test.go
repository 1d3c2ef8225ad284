package blk

import (
	"encoding/binary"
	"os"
	"testing"
	"time"

	"gvmm/devices/virtio"
	"gvmm/devices/virtio/virtiotest"
)

// FuzzBlockRequest sends one request whose header, layout and data the
// fuzzer chooses: the header bytes, how the readable and writable parts
// are cut into buffers, and their sizes. Whatever it is, the request must
// complete with a status the spec allows, the image keep its size, and
// the device serve a good request afterwards. The seeds are the f.Add
// calls; a crash the fuzzer finds is saved under
// testdata/fuzz/FuzzBlockRequest and stays a regression test.
func FuzzBlockRequest(f *testing.F) {
	le := binary.LittleEndian
	hdr := func(typ uint32, sector uint64) []byte {
		return le.AppendUint64(le.AppendUint32(le.AppendUint32(nil, typ), 0), sector)
	}
	f.Add(hdr(TypeIn, 0), uint16(512), uint16(1), uint16(0), uint8(1))
	f.Add(hdr(TypeOut, 3), uint16(1), uint16(1024), uint16(0), uint8(2))
	f.Add(hdr(TypeOut, testSectors-1), uint16(1), uint16(1024), uint16(1), uint8(3))
	f.Add(hdr(TypeGetID, 0), uint16(21), uint16(0), uint16(0), uint8(1))
	f.Add(hdr(TypeDiscard, 0), uint16(1), uint16(16), uint16(0), uint8(1))
	f.Add(hdr(TypeWriteZeroes, 0), uint16(1), uint16(32), uint16(7), uint8(4))
	f.Add(hdr(TypeFlush, 0), uint16(0), uint16(0), uint16(0), uint8(0))
	f.Add([]byte{1, 2, 3}, uint16(1), uint16(0), uint16(0), uint8(9))
	f.Fuzz(func(t *testing.T, header []byte, writeLen, dataLen, fill uint16, cuts uint8) {
		if len(header) > 64 {
			header = header[:64]
		}
		path, tr, d := fuzzDevice(t, nil, testSectors*SectorSize, cuts&0x80 != 0)
		_, qs, err := d.Start(^uint64(0), 64)
		if err != nil {
			t.Fatal(err)
		}
		q := qs[0]

		// The readable part: header then dataLen bytes of a pattern (for a
		// DISCARD, the segments); cut into up to 4 buffers; the writable
		// part: writeLen bytes, cut likewise.
		readable := append(append([]byte(nil), header...), make([]byte, dataLen%8192)...)
		for i := len(header); i < len(readable); i++ {
			readable[i] = byte(fill >> (8 * (i & 1)))
		}
		var bufs []virtiotest.Buffer
		for _, part := range split(readable, int(cuts&3)) {
			bufs = append(bufs, virtiotest.Readable(part))
		}
		w := int(writeLen % 8192)
		for _, n := range splitLen(w, int(cuts>>2&3)) {
			bufs = append(bufs, virtiotest.Writable(uint32(n)))
		}
		if len(bufs) == 0 {
			return
		}
		if _, err := q.Add(bufs...); err != nil {
			t.Skip("test memory used up")
		}
		q.Kick()
		used := q.WaitUsed(1, 10*time.Second)
		if len(used) != 1 {
			if tr.NeedsReset() {
				return // a zero-length buffer the transport refused: a broken ring
			}
			t.Fatalf("request did not complete")
		}
		u := used[0]
		if w > 0 && u.Len > 0 {
			last := u.Writable[len(u.Writable)-1]
			if len(last) > 0 {
				if s := last[len(last)-1]; s > StatusUnsupp {
					t.Fatalf("status %d is not OK, IOERR or UNSUPP", s)
				}
			}
		}
		if u.Len > uint32(w) {
			t.Fatalf("used length %d exceeds the %d writable bytes", u.Len, w)
		}
		if st, err := os.Stat(path); err != nil || st.Size() != testSectors*SectorSize {
			t.Fatalf("image size changed: %v %v", st, err)
		}
		if tr.NeedsReset() {
			return
		}
		// The device goes on: a good read completes.
		if _, err := q.Add(virtiotest.Readable(le.AppendUint64(make([]byte, 8), 0)), virtiotest.Writable(SectorSize), virtiotest.Writable(1)); err != nil {
			t.Skip("test memory used up")
		}
		q.Kick()
		if got := q.WaitUsed(1, 10*time.Second); len(got) != 1 || got[0].Writable[1][0] != StatusOK {
			t.Fatalf("a good read after the fuzzed request: %+v", got)
		}
	})
}

// split cuts b into n+1 pieces (fewer if b is short).
func split(b []byte, n int) [][]byte {
	var out [][]byte
	for _, k := range splitLen(len(b), n) {
		out = append(out, b[:k])
		b = b[k:]
	}
	return out
}

// splitLen cuts a length into n+1 non-empty parts where it can.
func splitLen(total, n int) []int {
	if total == 0 {
		return nil
	}
	var out []int
	for i := n; i > 0 && total > 1; i-- {
		k := max(1, total/(i+1))
		out = append(out, k)
		total -= k
	}
	return append(out, total)
}

// FuzzBlockQueue runs a hostile driver program (virtiotest.RunOps)
// against the device, then resets it and checks a good write and read.
func FuzzBlockQueue(f *testing.F) {
	f.Add([]byte{virtiotest.OpStart, virtiotest.OpAdd, 0, 16, 0, 1, 2, virtiotest.OpKick, 0})
	f.Add([]byte{virtiotest.OpStart, virtiotest.OpAvailIdx, 0, 0x20, 0, virtiotest.OpKick, 0})
	f.Add([]byte{virtiotest.OpStart, virtiotest.OpDesc, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 16, 0, 0, 0, 1, 0, 0, 0, virtiotest.OpKick, 0})
	f.Fuzz(func(t *testing.T, ops []byte) {
		path, tr, d := fuzzDevice(t, make([]byte, 64*SectorSize), 0, false)
		d.RunOps(1, ops)

		_, qs, err := d.Start(^uint64(0), 16)
		if err != nil {
			t.Fatalf("after reset: %v", err)
		}
		q := qs[0]
		sector := make([]byte, SectorSize)
		copy(sector, "after reset")
		h := binary.LittleEndian.AppendUint64(binary.LittleEndian.AppendUint32(binary.LittleEndian.AppendUint32(nil, TypeOut), 0), 63)
		if _, err := q.Add(virtiotest.Readable(h), virtiotest.Readable(sector), virtiotest.Writable(1)); err != nil {
			t.Skip("test memory used up by the program")
		}
		q.Kick()
		if got := q.WaitUsed(1, 10*time.Second); len(got) != 1 || got[0].Writable[0][0] != StatusOK {
			t.Fatalf("write after reset: %+v (needs reset: %v)", got, tr.NeedsReset())
		}
		img, err := os.ReadFile(path)
		if err != nil || len(img) != 64*SectorSize || string(img[63*SectorSize:63*SectorSize+11]) != "after reset" {
			t.Fatalf("the write after reset did not reach the image")
		}
	})
}

// fuzzDevice makes an image (content, then truncated to size if size is
// not 0), and a virtio-blk on it attached to a test machine; everything
// is released when the test ends.
func fuzzDevice(t *testing.T, content []byte, size int64, readOnly bool) (string, *virtio.Transport, *virtiotest.Driver) {
	path := t.TempDir() + "/disk.img"
	if err := os.WriteFile(path, content, 0o644); err != nil {
		t.Fatal(err)
	}
	if size != 0 {
		if err := os.Truncate(path, size); err != nil {
			t.Fatal(err)
		}
	}
	m, err := virtiotest.NewMachine()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	be, err := Open(path, readOnly)
	if err != nil {
		t.Fatal(err)
	}
	b, err := New(be, "fuzz")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	tr, d, err := m.Attach("virtio-blk", b)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tr.Close)
	return path, tr, d
}
