package blk

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"gvmm/devices/virtio"
	"gvmm/devices/virtio/virtiotest"
)

// testSectors is the test disk's size: 1 MiB.
const testSectors = 2048

// blkRig is a virtio-blk on a temporary image, brought up like Linux's
// virtio_blk: every feature offered, one queue, DRIVER_OK.
type blkRig struct {
	path     string
	b        *Block
	t        *virtio.Transport
	d        *virtiotest.Driver
	q        *virtiotest.Queue
	features uint64
}

// newImage creates a sparse image of testSectors sectors.
func newImage(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "disk.img")
	require.NoError(t, os.WriteFile(p, nil, 0o644))
	require.NoError(t, os.Truncate(p, testSectors*SectorSize))
	return p
}

func newRig(t *testing.T, path string, readOnly bool) *blkRig {
	t.Helper()
	m, err := virtiotest.NewMachine()
	require.NoError(t, err)
	t.Cleanup(func() { m.Close() })
	be, err := Open(path, readOnly)
	require.NoError(t, err)
	b, err := New(be, "gvmm-test-serial")
	require.NoError(t, err)
	t.Cleanup(func() { b.Close() })
	tr, d, err := m.Attach("virtio-blk", b)
	require.NoError(t, err)
	t.Cleanup(tr.Close)
	f, qs, err := d.Start(^uint64(0), 128)
	require.NoError(t, err)
	require.False(t, tr.NeedsReset())
	return &blkRig{path: path, b: b, t: tr, d: d, q: qs[0], features: f}
}

// header is a struct virtio_blk_req header.
func header(typ uint32, sector uint64) []byte {
	h := make([]byte, headerSize)
	binary.LittleEndian.PutUint32(h[0:], typ)
	binary.LittleEndian.PutUint64(h[8:], sector)
	return h
}

// do submits one chain, waits for it and returns what came back.
func (r *blkRig) do(t *testing.T, bufs ...virtiotest.Buffer) virtiotest.Used {
	t.Helper()
	_, err := r.q.Add(bufs...)
	require.NoError(t, err)
	r.q.Kick()
	used := r.q.WaitUsed(1, 10*time.Second)
	require.Len(t, used, 1, "the request completes")
	return used[0]
}

// status returns the status byte of a used request: the last byte of its
// last writable buffer.
func status(t *testing.T, u virtiotest.Used) byte {
	t.Helper()
	require.NotEmpty(t, u.Writable, "the request had a writable part")
	last := u.Writable[len(u.Writable)-1]
	require.NotEmpty(t, last)
	return last[len(last)-1]
}

func (r *blkRig) write(t *testing.T, sector uint64, data []byte) byte {
	return status(t, r.do(t, virtiotest.Readable(header(TypeOut, sector)), virtiotest.Readable(data), virtiotest.Writable(1)))
}

func (r *blkRig) read(t *testing.T, sector uint64, n uint32) ([]byte, byte) {
	u := r.do(t, virtiotest.Readable(header(TypeIn, sector)), virtiotest.Writable(n), virtiotest.Writable(1))
	s := status(t, u)
	return u.Data[:u.Len-1], s
}

func pattern(n int, seed byte) []byte {
	p := make([]byte, n)
	for i := range p {
		p[i] = seed + byte(i*7)
	}
	return p
}

func TestConfigAndFeatures(t *testing.T) {
	r := newRig(t, newImage(t), false)
	want := uint64(virtio.FeatureVersion1 | FeatureSizeMax | FeatureSegMax | FeatureBlkSize |
		FeatureFlush | FeatureConfigWCE | FeatureDiscard | FeatureWriteZeroes)
	assert.Equal(t, want, r.features&^virtio.FeatureIndirectDesc)
	cfg := make([]byte, configSize)
	r.b.ReadConfig(0, cfg)
	le := binary.LittleEndian
	assert.Equal(t, uint64(testSectors), le.Uint64(cfg[cfgCapacity:]), "capacity from the file size")
	assert.Equal(t, uint32(SegMax), le.Uint32(cfg[cfgSegMax:]))
	assert.Equal(t, uint32(SizeMax), le.Uint32(cfg[cfgSizeMax:]))
	assert.Equal(t, uint32(SectorSize), le.Uint32(cfg[cfgBlkSize:]))
	assert.Equal(t, byte(1), cfg[cfgWriteback], "writeback until the driver says otherwise")
	assert.Equal(t, uint32(MaxDiscardSegs), le.Uint32(cfg[cfgMaxDiscardSeg:]))

	ro := newRig(t, newImage(t), true)
	assert.NotZero(t, ro.features&FeatureRO, "a read-only disk says so")
	assert.Zero(t, ro.features&(FeatureDiscard|FeatureWriteZeroes), "and offers nothing that writes")
}

func TestReadWrite(t *testing.T) {
	r := newRig(t, newImage(t), false)
	data := pattern(3*SectorSize, 1)
	require.Equal(t, byte(StatusOK), r.write(t, 5, data))
	got, s := r.read(t, 5, 3*SectorSize)
	require.Equal(t, byte(StatusOK), s)
	assert.Equal(t, data, got)
	// The bytes are in the file at sector 5, written through to the host.
	file, err := os.ReadFile(r.path)
	require.NoError(t, err)
	assert.Equal(t, data, file[5*SectorSize:8*SectorSize])

	// Framing independence (§2.6.4): the header split over two buffers,
	// the data over three, the status sharing the last buffer.
	data2 := pattern(2*SectorSize, 9)
	h := header(TypeOut, 100)
	u := r.do(t, virtiotest.Readable(h[:5]), virtiotest.Readable(append(h[5:], data2[:100]...)),
		virtiotest.Readable(data2[100:]), virtiotest.Writable(1))
	require.Equal(t, byte(StatusOK), status(t, u))
	u = r.do(t, virtiotest.Readable(header(TypeIn, 100)), virtiotest.Writable(700), virtiotest.Writable(2*SectorSize-700+1))
	require.Equal(t, byte(StatusOK), status(t, u))
	assert.Equal(t, data2, u.Data[:2*SectorSize])
	assert.Equal(t, uint32(2*SectorSize+1), u.Len, "used length: data and status")

	// The last sector is readable; the capacity is exact.
	_, s = r.read(t, testSectors-1, SectorSize)
	assert.Equal(t, byte(StatusOK), s)
}

func TestFlushAndGetID(t *testing.T) {
	r := newRig(t, newImage(t), false)
	u := r.do(t, virtiotest.Readable(header(TypeFlush, 0)), virtiotest.Writable(1))
	assert.Equal(t, byte(StatusOK), status(t, u))
	assert.Equal(t, uint64(1), r.b.Stats().Flushes.Load())

	u = r.do(t, virtiotest.Readable(header(TypeGetID, 0)), virtiotest.Writable(IDBytes), virtiotest.Writable(1))
	require.Equal(t, byte(StatusOK), status(t, u))
	assert.Equal(t, "gvmm-test-serial\x00\x00\x00\x00", string(u.Data[:IDBytes]))
}

// TestWritethrough: with the cache mode set to writethrough (CONFIG_WCE)
// a write still completes, and reads back; the mode reads back too.
func TestWritethrough(t *testing.T) {
	r := newRig(t, newImage(t), false)
	r.b.WriteConfig(cfgWriteback, []byte{0})
	cfg := make([]byte, configSize)
	r.b.ReadConfig(0, cfg)
	assert.Equal(t, byte(0), cfg[cfgWriteback])
	require.Equal(t, byte(StatusOK), r.write(t, 0, pattern(SectorSize, 3)))
	got, _ := r.read(t, 0, SectorSize)
	assert.Equal(t, pattern(SectorSize, 3), got)
}

// allocated returns the bytes the file occupies on disk.
func allocated(t *testing.T, path string) int64 {
	t.Helper()
	var st syscall.Stat_t
	require.NoError(t, syscall.Stat(path, &st))
	return st.Blocks * 512
}

func discardSeg(sector uint64, count, flags uint32) []byte {
	b := make([]byte, segmentSize)
	binary.LittleEndian.PutUint64(b[0:], sector)
	binary.LittleEndian.PutUint32(b[8:], count)
	binary.LittleEndian.PutUint32(b[12:], flags)
	return b
}

// TestDiscardAndWriteZeroesKeepSparse: the image starts sparse, a write
// allocates, DISCARD and WRITE_ZEROES with unmap give the space back and
// the range reads as zeros; WRITE_ZEROES without unmap zeroes in place.
func TestDiscardAndWriteZeroesKeepSparse(t *testing.T) {
	r := newRig(t, newImage(t), false)
	before := allocated(t, r.path)
	data := pattern(256*SectorSize, 5) // 128 KiB
	require.Equal(t, byte(StatusOK), r.write(t, 0, data))
	require.Equal(t, byte(StatusOK), r.write(t, 1024, data))
	full := allocated(t, r.path)
	require.Greater(t, full, before)

	u := r.do(t, virtiotest.Readable(header(TypeDiscard, 0)), virtiotest.Readable(discardSeg(0, 256, 0)), virtiotest.Writable(1))
	require.Equal(t, byte(StatusOK), status(t, u))
	u = r.do(t, virtiotest.Readable(header(TypeWriteZeroes, 0)), virtiotest.Readable(discardSeg(1024, 128, flagUnmap)),
		virtiotest.Writable(1))
	require.Equal(t, byte(StatusOK), status(t, u))
	u = r.do(t, virtiotest.Readable(header(TypeWriteZeroes, 0)), virtiotest.Readable(discardSeg(1152, 128, 0)),
		virtiotest.Writable(1))
	require.Equal(t, byte(StatusOK), status(t, u))
	if fs := allocated(t, r.path); fs >= full {
		t.Errorf("discard freed nothing: %d bytes allocated before, %d after", full, fs)
	}
	got, _ := r.read(t, 0, 256*SectorSize)
	assert.Equal(t, make([]byte, 256*SectorSize), got, "a discarded range reads as zeros")
	got, _ = r.read(t, 1024, 256*SectorSize)
	assert.Equal(t, make([]byte, 256*SectorSize), got, "a zeroed range reads as zeros")
	st, err := os.Stat(r.path)
	require.NoError(t, err)
	assert.Equal(t, int64(testSectors*SectorSize), st.Size(), "the file keeps its size")
}

// TestHostileRequests: each broken request gets IOERR or UNSUPP, the file
// is unchanged, and the device serves the next good request.
func TestHostileRequests(t *testing.T) {
	w := virtiotest.Writable
	rd := virtiotest.Readable
	// Data that differs from the zeros of a fresh image, so that a write
	// that lands anywhere shows (a sector number that wraps to 0 when
	// multiplied by 512 would otherwise write zeros over zeros).
	sector := pattern(SectorSize, 7)
	for _, tc := range []struct {
		name   string
		ro     bool
		bufs   []virtiotest.Buffer
		status byte
	}{
		{"read beyond the capacity", false, []virtiotest.Buffer{rd(header(TypeIn, testSectors)), w(SectorSize), w(1)}, StatusIOErr},
		{"read straddling the end", false, []virtiotest.Buffer{rd(header(TypeIn, testSectors-1)), w(2 * SectorSize), w(1)}, StatusIOErr},
		{"write beyond the capacity", false, []virtiotest.Buffer{rd(header(TypeOut, testSectors)), rd(sector), w(1)}, StatusIOErr},
		{"sector that wraps to 0 in bytes", false, []virtiotest.Buffer{rd(header(TypeOut, 1<<55)), rd(sector), w(1)}, StatusIOErr},
		{"sector near 2^64", false, []virtiotest.Buffer{rd(header(TypeOut, ^uint64(0))), rd(sector), w(1)}, StatusIOErr},
		{"length not a multiple of 512", false, []virtiotest.Buffer{rd(header(TypeOut, 0)), rd(make([]byte, 100)), w(1)}, StatusIOErr},
		{"read with readable data", false, []virtiotest.Buffer{rd(header(TypeIn, 0)), rd(sector), w(1)}, StatusIOErr},
		{"write with writable data", false, []virtiotest.Buffer{rd(header(TypeOut, 0)), w(SectorSize), w(1)}, StatusIOErr},
		{"header too short", false, []virtiotest.Buffer{rd(make([]byte, 8)), w(1)}, StatusIOErr},
		{"write to a read-only disk", true, []virtiotest.Buffer{rd(header(TypeOut, 0)), rd(pattern(SectorSize, 1)), w(1)}, StatusIOErr},
		{"discard on a read-only disk", true, []virtiotest.Buffer{rd(header(TypeDiscard, 0)), rd(discardSeg(0, 1, 0)), w(1)}, StatusUnsupp},
		{"segment larger than size_max", false, []virtiotest.Buffer{rd(header(TypeIn, 0)), w(SizeMax + SectorSize), w(1)}, StatusIOErr},
		{"unknown request type", false, []virtiotest.Buffer{rd(header(99, 0)), w(1)}, StatusUnsupp},
		{"discard with unmap", false, []virtiotest.Buffer{rd(header(TypeDiscard, 0)), rd(discardSeg(0, 1, flagUnmap)), w(1)}, StatusUnsupp},
		{"write zeroes with an unknown flag", false, []virtiotest.Buffer{rd(header(TypeWriteZeroes, 0)), rd(discardSeg(0, 1, 4)), w(1)}, StatusUnsupp},
		{"discard beyond the capacity", false, []virtiotest.Buffer{rd(header(TypeDiscard, 0)), rd(discardSeg(testSectors, 1, 0)), w(1)}, StatusIOErr},
		{"discard of a partial segment", false, []virtiotest.Buffer{rd(header(TypeDiscard, 0)), rd(make([]byte, 10)), w(1)}, StatusIOErr},
		{"too many discard segments", false, []virtiotest.Buffer{rd(header(TypeDiscard, 0)), rd(make([]byte, segmentSize*(MaxDiscardSegs+1))), w(1)}, StatusIOErr},
		{"GET_ID into a large buffer", false, []virtiotest.Buffer{rd(header(TypeGetID, 0)), w(4096), w(1)}, StatusIOErr},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := newImage(t)
			r := newRig(t, path, tc.ro)
			assert.Equal(t, tc.status, status(t, r.do(t, tc.bufs...)))
			assert.False(t, r.t.NeedsReset(), "a bad request is not a broken queue")
			file, err := os.ReadFile(path)
			require.NoError(t, err)
			assert.Equal(t, make([]byte, testSectors*SectorSize), file, "the file is unchanged")
			_, s := r.read(t, 0, SectorSize)
			assert.Equal(t, byte(StatusOK), s, "the device goes on")
		})
	}
}

// TestMissingStatusByte: a chain with nothing writable cannot be
// answered; it comes back with nothing written, and the device goes on.
func TestMissingStatusByte(t *testing.T) {
	r := newRig(t, newImage(t), false)
	u := r.do(t, virtiotest.Readable(header(TypeOut, 0)), virtiotest.Readable(pattern(SectorSize, 1)))
	assert.Zero(t, u.Len)
	file, err := os.ReadFile(r.path)
	require.NoError(t, err)
	assert.Equal(t, make([]byte, SectorSize), file[:SectorSize], "nothing written without a status to report it")
	_, s := r.read(t, 0, SectorSize)
	assert.Equal(t, byte(StatusOK), s)
}

// TestTooManySegments: an indirect table with more data segments than
// seg_max gets IOERR.
func TestTooManySegments(t *testing.T) {
	r := newRig(t, newImage(t), false)
	n := SegMax + 3 // header, SegMax+1 data segments, status
	table, err := r.d.Alloc(uint64(16*n), 16)
	require.NoError(t, err)
	bufs, err := r.d.Alloc(uint64(n*SectorSize), 8)
	require.NoError(t, err)
	_, err = r.d.Mem.WriteAt(header(TypeIn, 0), int64(bufs))
	require.NoError(t, err)
	for i := range n {
		d := virtio.Desc{Addr: bufs + uint64(i*SectorSize), Len: SectorSize, Flags: virtio.DescFlagNext | virtio.DescFlagWrite, Next: uint16(i + 1)}
		switch i {
		case 0:
			d.Len, d.Flags = headerSize, virtio.DescFlagNext
		case n - 1:
			d.Len, d.Flags, d.Next = 1, virtio.DescFlagWrite, 0
		}
		var b [16]byte
		binary.LittleEndian.PutUint64(b[0:], d.Addr)
		binary.LittleEndian.PutUint32(b[8:], d.Len)
		binary.LittleEndian.PutUint16(b[12:], d.Flags)
		binary.LittleEndian.PutUint16(b[14:], d.Next)
		_, err = r.d.Mem.WriteAt(b[:], int64(table+uint64(16*i)))
		require.NoError(t, err)
	}
	r.q.WriteDesc(0, virtio.Desc{Addr: table, Len: uint32(16 * n), Flags: virtio.DescFlagIndirect})
	r.q.PutAvail(0)
	r.q.Kick()
	used := r.q.WaitUsed(1, 10*time.Second)
	require.Len(t, used, 1)
	var st [1]byte
	_, err = r.d.Mem.ReadAt(st[:], int64(bufs+uint64((n-1)*SectorSize)))
	require.NoError(t, err)
	assert.Equal(t, byte(StatusIOErr), st[0])
	assert.False(t, r.t.NeedsReset())
}

// TestBrokenRingNeedsReset: a chain the transport refuses (a buffer
// outside RAM) breaks the queue: DEVICE_NEEDS_RESET, and after the
// driver's reset the device works again.
func TestBrokenRingNeedsReset(t *testing.T) {
	r := newRig(t, newImage(t), false)
	r.q.WriteDesc(0, virtio.Desc{Addr: 1 << 40, Len: 16})
	r.q.PutAvail(0)
	r.q.Kick()
	require.Eventually(t, r.t.NeedsReset, 10*time.Second, time.Millisecond)
	_, qs, err := r.d.Start(^uint64(0), 128)
	require.NoError(t, err)
	r.q = qs[0]
	require.False(t, r.t.NeedsReset())
	require.Equal(t, byte(StatusOK), r.write(t, 1, pattern(SectorSize, 2)))
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	_, err := Open(filepath.Join(dir, "missing.img"), false)
	assert.ErrorContains(t, err, "no such file")
	_, err = Open(dir, true)
	assert.ErrorIs(t, err, ErrNotDisk)
	empty := filepath.Join(dir, "empty.img")
	require.NoError(t, os.WriteFile(empty, nil, 0o644))
	_, err = Open(empty, false)
	assert.ErrorIs(t, err, ErrNotDisk)
	assert.ErrorContains(t, err, "truncate -s")
	// A trailing partial sector is not part of the disk.
	odd := filepath.Join(dir, "odd.img")
	require.NoError(t, os.WriteFile(odd, make([]byte, 3*SectorSize+100), 0o644))
	b, err := Open(odd, true)
	require.NoError(t, err)
	assert.Equal(t, uint64(3), b.Sectors())
	require.NoError(t, b.Close())
}

// TestLock: one writer or any number of readers, as QEMU's image locking.
func TestLock(t *testing.T) {
	p := newImage(t)
	w, err := Open(p, false)
	require.NoError(t, err)
	_, err = Open(p, false)
	assert.ErrorIs(t, err, ErrLocked, "a second writer")
	_, err = Open(p, true)
	assert.ErrorIs(t, err, ErrLocked, "a reader while one writes")
	require.NoError(t, w.Close())

	r1, err := Open(p, true)
	require.NoError(t, err)
	r2, err := Open(p, true)
	require.NoError(t, err, "readers share")
	_, err = Open(p, false)
	assert.ErrorIs(t, err, ErrLocked, "a writer while others read")
	require.NoError(t, r1.Close())
	require.NoError(t, r2.Close())
	w, err = Open(p, false)
	require.NoError(t, err, "the lock goes with the last close")
	require.NoError(t, w.Close())
}

// TestResetStopsIO: after Reset returns the device is quiet; requests
// made available after it are not served until the driver starts again.
func TestResetStopsIO(t *testing.T) {
	r := newRig(t, newImage(t), false)
	require.Equal(t, byte(StatusOK), r.write(t, 0, pattern(SectorSize, 1)))
	r.d.SetStatus(0)
	_, err := r.q.Add(virtiotest.Readable(header(TypeOut, 1)), virtiotest.Readable(pattern(SectorSize, 2)), virtiotest.Writable(1))
	require.NoError(t, err)
	r.q.Kick()
	assert.Empty(t, r.q.WaitUsed(1, 100*time.Millisecond))
	file, err := os.ReadFile(r.path)
	require.NoError(t, err)
	assert.True(t, bytes.Equal(make([]byte, SectorSize), file[SectorSize:2*SectorSize]), "no write after reset")
}

// TestFullHostDisk: the image is sparse and the host file system behind
// it fills up. The write that meets ENOSPC is answered VIRTIO_BLK_S_IOERR
// (the guest sees an I/O error, as on a failing disk), what was written
// before stays, and the device goes on serving reads.
func TestFullHostDisk(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounts a small tmpfs: needs root")
	}
	dir := t.TempDir()
	require.NoError(t, unix.Mount("tmpfs", dir, "tmpfs", 0, "size=256k"))
	t.Cleanup(func() { _ = unix.Unmount(dir, unix.MNT_DETACH) })
	p := filepath.Join(dir, "disk.img")
	require.NoError(t, os.WriteFile(p, nil, 0o644))
	require.NoError(t, os.Truncate(p, 4<<20)) // 4 MiB of sparse disk on 256 KiB
	r := newRig(t, p, false)

	first := pattern(64<<10, 1)
	require.Equal(t, byte(StatusOK), r.write(t, 0, first))
	var st byte
	sector := uint64(len(first) / SectorSize)
	for i := 0; i < 8 && st == StatusOK; i++ { // 8 x 64 KiB: past 256 KiB
		st = r.write(t, sector, pattern(64<<10, byte(i+2)))
		sector += (64 << 10) / SectorSize
	}
	require.Equal(t, byte(StatusIOErr), st, "ENOSPC is an I/O error for the guest")
	got, st := r.read(t, 0, uint32(len(first)))
	require.Equal(t, byte(StatusOK), st, "the device still serves")
	require.Equal(t, first, got, "what was written before is intact")
	require.False(t, r.t.NeedsReset(), "a full disk is not a broken device")
}
