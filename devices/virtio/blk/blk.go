package blk

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"

	"gvmm/devices/virtio"
	"gvmm/vmm"
)

// Feature bits, virtio 1.2 §5.2.3.
const (
	FeatureSizeMax     = 1 << 1  // VIRTIO_BLK_F_SIZE_MAX: size_max is valid
	FeatureSegMax      = 1 << 2  // VIRTIO_BLK_F_SEG_MAX: seg_max is valid
	FeatureRO          = 1 << 5  // VIRTIO_BLK_F_RO: the disk is read-only
	FeatureBlkSize     = 1 << 6  // VIRTIO_BLK_F_BLK_SIZE: blk_size is valid
	FeatureFlush       = 1 << 9  // VIRTIO_BLK_F_FLUSH: VIRTIO_BLK_T_FLUSH works
	FeatureConfigWCE   = 1 << 11 // VIRTIO_BLK_F_CONFIG_WCE: writeback is read-write
	FeatureDiscard     = 1 << 13 // VIRTIO_BLK_F_DISCARD
	FeatureWriteZeroes = 1 << 14 // VIRTIO_BLK_F_WRITE_ZEROES
)

// Request types (virtio_blk_req.type) and status values, §5.2.6.
const (
	TypeIn          = 0  // VIRTIO_BLK_T_IN: read
	TypeOut         = 1  // VIRTIO_BLK_T_OUT: write
	TypeFlush       = 4  // VIRTIO_BLK_T_FLUSH
	TypeGetID       = 8  // VIRTIO_BLK_T_GET_ID: the serial number
	TypeDiscard     = 11 // VIRTIO_BLK_T_DISCARD
	TypeWriteZeroes = 13 // VIRTIO_BLK_T_WRITE_ZEROES

	StatusOK     = 0 // VIRTIO_BLK_S_OK
	StatusIOErr  = 1 // VIRTIO_BLK_S_IOERR
	StatusUnsupp = 2 // VIRTIO_BLK_S_UNSUPP

	// headerSize is type, reserved and sector: the device-readable part
	// every request starts with.
	headerSize = 16
	// statusSize is the status byte every request ends with.
	statusSize = 1
	// IDBytes is the length of the GET_ID answer (VIRTIO_BLK_ID_BYTES):
	// the serial, NUL-padded, not NUL-terminated when it is 20 bytes.
	IDBytes = 20
	// segmentSize is struct virtio_blk_discard_write_zeroes: le64 sector,
	// le32 num_sectors, le32 flags (§5.2.6).
	segmentSize = 16
	// flagUnmap is that struct's only flag: for WRITE_ZEROES, the device
	// may deallocate the range; for DISCARD it must be clear.
	flagUnmap = 1
)

// The limits this device offers (§5.2.4), and enforces on every request.
const (
	// QueueSize is the requestq's size. One queue: Linux then runs one
	// blk-mq hardware queue, and a single I/O goroutine keeps requests in
	// order without locks between them.
	QueueSize = 256
	// SegMax is seg_max, the most data segments in one request: the queue
	// size less the header and status descriptors, as QEMU offers.
	SegMax = QueueSize - 2
	// SizeMax is size_max, the largest single segment. With SegMax it
	// bounds a request to 254 MiB, far above Linux's 1.25 MiB default.
	SizeMax = 1 << 20
	// MaxDiscardSectors and MaxDiscardSegs bound DISCARD and
	// WRITE_ZEROES: 4 GiB - 512 per segment (a le32 count of sectors),
	// and 16 segments per request.
	MaxDiscardSectors = 1<<23 - 1
	MaxDiscardSegs    = 16
)

// struct virtio_blk_config offsets, §5.2.4 (all little-endian).
const (
	cfgCapacity          = 0  // le64, in sectors
	cfgSizeMax           = 8  // le32
	cfgSegMax            = 12 // le32
	cfgBlkSize           = 20 // le32
	cfgWriteback         = 32 // u8: 0 writethrough, 1 writeback
	cfgMaxDiscardSectors = 36 // le32
	cfgMaxDiscardSeg     = 40 // le32
	cfgDiscardAlign      = 44 // le32, in sectors
	cfgMaxWZSectors      = 48 // le32
	cfgMaxWZSeg          = 52 // le32
	cfgWZMayUnmap        = 56 // u8
	configSize           = 60 // through unused1[3]; secure erase and zoned not offered
)

// Block is a virtio-blk device on a Backend. Create it with New.
//
// The vCPU that notifies only wakes the device's I/O goroutine: reads,
// writes and fdatasync run there, so a slow disk never stalls a vCPU.
type Block struct {
	backend *Backend
	serial  [IDBytes]byte

	// writeback is the cache mode the driver sees and may set (CONFIG_WCE):
	// when clear, each write is made durable before it completes.
	writeback atomic.Bool

	kick chan struct{} // a notification, coalesced: capacity 1

	mu      sync.Mutex // the fields below; held by Activate, Reset, Close
	running *worker    // between Activate and Reset
	closed  bool

	stats Stats
}

// Stats counts the requests the device completed, by outcome, for tests
// and --debug.
type Stats struct {
	Reads, Writes, Flushes, Other atomic.Uint64
	Errors, Unsupported           atomic.Uint64
}

// New returns a virtio-blk device on backend. serial is what GET_ID
// answers (/dev/disk/by-id/virtio-SERIAL in Linux), at most IDBytes long.
func New(backend *Backend, serial string) (*Block, error) {
	if len(serial) > IDBytes {
		return nil, fmt.Errorf("virtio-blk: serial %q is longer than %d bytes", serial, IDBytes)
	}
	b := &Block{backend: backend, kick: make(chan struct{}, 1)}
	copy(b.serial[:], serial)
	b.writeback.Store(true) // §5.2.5: what a driver with FLUSH but not CONFIG_WCE assumes
	return b, nil
}

// Stats returns the device's request counters.
func (b *Block) Stats() *Stats { return &b.stats }

// Type implements virtio.Device.
func (b *Block) Type() virtio.DeviceType { return virtio.DeviceTypeBlock }

// Features implements virtio.Device.
func (b *Block) Features() uint64 {
	f := uint64(FeatureSizeMax | FeatureSegMax | FeatureBlkSize | FeatureFlush | FeatureConfigWCE)
	if b.backend.ReadOnly() {
		return f | FeatureRO
	}
	return f | FeatureDiscard | FeatureWriteZeroes
}

// QueueMaxSizes implements virtio.Device.
func (b *Block) QueueMaxSizes() []uint16 { return []uint16{QueueSize} }

// ConfigSize implements virtio.Device.
func (b *Block) ConfigSize() uint64 { return configSize }

// ReadConfig implements virtio.Device.
func (b *Block) ReadConfig(off uint64, data []byte) {
	var c [configSize]byte
	le := binary.LittleEndian
	le.PutUint64(c[cfgCapacity:], b.backend.Sectors())
	le.PutUint32(c[cfgSizeMax:], SizeMax)
	le.PutUint32(c[cfgSegMax:], SegMax)
	le.PutUint32(c[cfgBlkSize:], SectorSize)
	if b.writeback.Load() {
		c[cfgWriteback] = 1
	}
	if !b.backend.ReadOnly() {
		le.PutUint32(c[cfgMaxDiscardSectors:], MaxDiscardSectors)
		le.PutUint32(c[cfgMaxDiscardSeg:], MaxDiscardSegs)
		le.PutUint32(c[cfgDiscardAlign:], 1)
		le.PutUint32(c[cfgMaxWZSectors:], MaxDiscardSectors)
		le.PutUint32(c[cfgMaxWZSeg:], MaxDiscardSegs)
		c[cfgWZMayUnmap] = 1
	}
	copy(data, c[off:])
}

// WriteConfig implements virtio.Device. The one writable field is
// writeback (§5.2.5, with VIRTIO_BLK_F_CONFIG_WCE); other writes are
// ignored.
func (b *Block) WriteConfig(off uint64, data []byte) {
	if off == cfgWriteback && len(data) == 1 {
		b.writeback.Store(data[0] != 0)
		slog.Debug("virtio-blk: cache mode", "disk", b.backend.Path(), "writeback", data[0] != 0)
	}
}

// Activate implements virtio.Device: it starts the I/O goroutine.
func (b *Block) Activate(a virtio.Activation) error {
	if a.Queues[0] == nil {
		return errors.New("virtio-blk needs requestq enabled")
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return errors.New("virtio-blk: device closed")
	}
	w := &worker{b: b, mem: a.Mem, q: a.Queues[0], signal: a.Signal, features: a.Features,
		stop: make(chan struct{}), done: make(chan struct{})}
	b.running = w
	go w.run()
	return nil
}

// Notify implements virtio.Device. It runs on the vCPU: it only wakes the
// I/O goroutine and returns.
func (b *Block) Notify(int) {
	select {
	case b.kick <- struct{}{}:
	default: // a wake-up is already pending; it will see these requests too
	}
}

// Reset implements virtio.Device: it stops the I/O goroutine and waits
// for the request it is serving, so that on return the device no longer
// touches guest memory.
func (b *Block) Reset() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.stopLocked()
	b.writeback.Store(true)
}

// Precondition: b.mu held.
func (b *Block) stopLocked() {
	if b.running != nil {
		close(b.running.stop)
		<-b.running.done
		b.running = nil
	}
}

// Close stops the device and closes its backend, releasing the lock.
func (b *Block) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.stopLocked()
	if b.closed {
		return nil
	}
	b.closed = true
	return b.backend.Close()
}

// worker is one activation's I/O goroutine and what it works with.
type worker struct {
	b        *Block
	mem      *vmm.GuestMemory
	q        *virtio.Queue
	signal   virtio.Signal
	features uint64
	stop     chan struct{}
	done     chan struct{}
}

// run serves the queue until Reset: every notification (and once at the
// start, for requests queued before DRIVER_OK) it completes every
// request the driver has made available, then interrupts once.
func (w *worker) run() {
	defer close(w.done)
	for {
		if !w.drain() {
			<-w.stop // the queue is broken: wait for the driver's reset
			return
		}
		select {
		case <-w.b.kick:
		case <-w.stop:
			return
		}
	}
}

// drain completes the available requests. It returns false when the
// queue itself is broken (the transport then has DEVICE_NEEDS_RESET).
func (w *worker) drain() bool {
	used := false
	defer func() {
		if used {
			w.signal.UsedBuffers(w.q)
		}
	}()
	for {
		select {
		case <-w.stop:
			return true
		default:
		}
		ch, err := w.q.Pop()
		if err != nil {
			w.signal.Fail(err)
			return false
		}
		if ch == nil {
			return true
		}
		written := w.serve(ch)
		if err := w.q.Push(ch.Head, written); err != nil {
			w.signal.Fail(err)
			return false
		}
		used = true
	}
}

// request is a checked request: where its data and status byte are.
type request struct {
	typ    uint32
	sector uint64
	// data are the data buffers: after the header among the readable
	// descriptors (OUT, DISCARD, WRITE_ZEROES) or before the status byte
	// among the writable ones (IN, GET_ID).
	data [][]byte
	n    uint64 // bytes in data
}

// errUnsupp marks a request that gets S_UNSUPP rather than S_IOERR.
var errUnsupp = errors.New("unsupported")

// serve runs one request and writes its status. It returns the number of
// bytes the device wrote into the chain, for the used ring.
func (w *worker) serve(ch *virtio.Chain) uint32 {
	status := byte(StatusOK)
	req, err := w.parse(ch)
	if err == nil {
		err = w.execute(req)
	}
	switch {
	case errors.Is(err, errUnsupp):
		status = StatusUnsupp
		w.b.stats.Unsupported.Add(1)
	case err != nil:
		status = StatusIOErr
		w.b.stats.Errors.Add(1)
	}
	if err != nil {
		// The guest's mistake (or the host file's): one debug line, not a
		// warning a guest could flood the host log with.
		slog.Debug("virtio-blk: request failed", "disk", w.b.backend.Path(), "err", err)
	}
	if !w.putStatus(ch, status) {
		return 0
	}
	// The used length is the prefix of the writable part the device
	// wrote (§2.7.8.2: a lower bound). On success that is all of it: the
	// data, then the status. After an error only the status byte at the
	// end was written, which is a prefix only when it is all there is.
	switch {
	case err == nil && (req.typ == TypeIn || req.typ == TypeGetID):
		return uint32(req.n) + statusSize // n <= SegMax*SizeMax: fits
	case err == nil || ch.WritableLen() == statusSize:
		return statusSize
	}
	return 0
}

// putStatus writes the status into the chain's last writable byte. A
// chain without one cannot be answered; it is returned with nothing
// written, and the driver's request times out.
func (w *worker) putStatus(ch *virtio.Chain, status byte) bool {
	if len(ch.Writable) == 0 || ch.Writable[len(ch.Writable)-1].Len == 0 {
		slog.Debug("virtio-blk: request without a status byte", "disk", w.b.backend.Path())
		return false
	}
	d := ch.Writable[len(ch.Writable)-1]
	_, err := w.mem.WriteAt([]byte{status}, int64(d.Addr+uint64(d.Len)-1))
	return err == nil // cannot fail: Pop checked the buffer is in RAM
}

// parse checks a request's layout (§5.2.6): the header in the readable
// part, the status byte at the end of the writable part, the data in the
// direction its type needs, and the limits this device offered.
func (w *worker) parse(ch *virtio.Chain) (*request, error) {
	var hdr [headerSize]byte
	if ch.ReadableLen() < headerSize {
		return nil, fmt.Errorf("request of %d readable bytes has no %d-byte header", ch.ReadableLen(), headerSize)
	}
	if _, err := io.ReadFull(ch, hdr[:]); err != nil {
		return nil, fmt.Errorf("read header: %w", err)
	}
	if ch.WritableLen() < statusSize {
		return nil, errors.New("request has no status byte")
	}
	req := &request{typ: binary.LittleEndian.Uint32(hdr[0:]), sector: binary.LittleEndian.Uint64(hdr[8:])}
	in := ch.WritableLen() - statusSize // device-writable bytes before the status
	out := ch.ReadableLen() - headerSize
	var err error
	switch req.typ {
	case TypeIn, TypeGetID:
		if out != 0 {
			return nil, fmt.Errorf("type %d request with %d readable data bytes: its data must be device-writable", req.typ, out)
		}
		req.data, err = w.span(ch.Writable, 0, in)
		req.n = in
	default:
		if in != 0 {
			return nil, fmt.Errorf("type %d request with %d writable bytes before the status: its data must be device-readable", req.typ, in)
		}
		req.data, err = w.span(ch.Readable, headerSize, out)
		req.n = out
	}
	if err != nil {
		return nil, err
	}
	return req, nil
}

// span returns guest memory for bytes [off, off+n) of the buffers descs,
// one slice per descriptor touched, and checks the segment limits
// (SEG_MAX, SIZE_MAX) on them.
func (w *worker) span(descs []virtio.Desc, off, n uint64) ([][]byte, error) {
	var out [][]byte
	for _, d := range descs {
		if n == 0 {
			break
		}
		l := uint64(d.Len)
		if off >= l {
			off -= l
			continue
		}
		k := min(l-off, n)
		if k > SizeMax {
			return nil, fmt.Errorf("segment of %d bytes exceeds size_max %d", k, SizeMax)
		}
		if len(out) == SegMax {
			return nil, fmt.Errorf("more than seg_max %d data segments", SegMax)
		}
		s, err := w.mem.Slice(d.Addr+off, k)
		if err != nil {
			return nil, err // cannot happen: Pop checked every buffer
		}
		out = append(out, s)
		off, n = 0, n-k
	}
	return out, nil
}

// execute performs a parsed request on the backend.
func (w *worker) execute(r *request) error {
	be := w.b.backend
	switch r.typ {
	case TypeIn, TypeOut:
		if err := w.checkRange(r.sector, r.n); err != nil {
			return err
		}
		off := int64(r.sector * SectorSize)
		if r.typ == TypeIn {
			w.b.stats.Reads.Add(1)
			return be.ReadV(r.data, off)
		}
		if be.ReadOnly() {
			return errors.New("write to a read-only disk")
		}
		w.b.stats.Writes.Add(1)
		if err := be.WriteV(r.data, off); err != nil {
			return err
		}
		if w.writethrough() {
			return be.Flush() // durable before it completes
		}
		return nil
	case TypeFlush:
		if w.features&FeatureFlush == 0 {
			return fmt.Errorf("%w: FLUSH without VIRTIO_BLK_F_FLUSH", errUnsupp)
		}
		w.b.stats.Flushes.Add(1)
		return be.Flush()
	case TypeGetID:
		w.b.stats.Other.Add(1)
		if r.n > IDBytes {
			return fmt.Errorf("GET_ID buffer of %d bytes, want at most %d", r.n, IDBytes)
		}
		id := w.b.serial[:r.n]
		for _, s := range r.data {
			id = id[copy(s, id):]
		}
		return nil
	case TypeDiscard, TypeWriteZeroes:
		return w.discard(r)
	}
	return fmt.Errorf("%w: request type %d", errUnsupp, r.typ)
}

// writethrough reports whether a write must be durable before it
// completes: when the driver chose writethrough (CONFIG_WCE), and when it
// did not negotiate FLUSH, since it then has no other way to make its
// writes durable (§5.2.5).
func (w *worker) writethrough() bool {
	return w.features&FeatureFlush == 0 || !w.b.writeback.Load()
}

// checkRange checks that n bytes from sector are whole sectors inside the
// disk; the arithmetic cannot overflow whatever the guest wrote.
func (w *worker) checkRange(sector, n uint64) error {
	if n%SectorSize != 0 {
		return fmt.Errorf("data length %d is not a multiple of %d", n, SectorSize)
	}
	if c := w.b.backend.Sectors(); sector > c || n/SectorSize > c-sector {
		return fmt.Errorf("sectors %d+%d beyond the capacity of %d", sector, n/SectorSize, c)
	}
	return nil
}

// discard runs DISCARD or WRITE_ZEROES: a list of ranges (§5.2.6.2: the
// device MUST answer S_UNSUPP for an unknown flag, or for unmap on
// DISCARD, and S_IOERR for a range beyond the limits it offered).
func (w *worker) discard(r *request) error {
	want := uint64(FeatureDiscard)
	if r.typ == TypeWriteZeroes {
		want = FeatureWriteZeroes
	}
	if w.features&want == 0 {
		return fmt.Errorf("%w: type %d was not negotiated", errUnsupp, r.typ)
	}
	if r.n == 0 || r.n%segmentSize != 0 || r.n/segmentSize > MaxDiscardSegs {
		return fmt.Errorf("type %d request with %d data bytes, want 1 to %d segments of %d", r.typ, r.n, MaxDiscardSegs, segmentSize)
	}
	raw := make([]byte, 0, r.n)
	for _, s := range r.data {
		raw = append(raw, s...)
	}
	if w.b.backend.ReadOnly() {
		return errors.New("discard or write-zeroes on a read-only disk")
	}
	w.b.stats.Other.Add(1)
	for i := 0; i < len(raw); i += segmentSize {
		sector := binary.LittleEndian.Uint64(raw[i:])
		count := uint64(binary.LittleEndian.Uint32(raw[i+8:]))
		flags := binary.LittleEndian.Uint32(raw[i+12:])
		switch {
		case r.typ == TypeDiscard && flags != 0:
			return fmt.Errorf("%w: DISCARD with flags %#x", errUnsupp, flags)
		case flags&^flagUnmap != 0:
			return fmt.Errorf("%w: WRITE_ZEROES with unknown flags %#x", errUnsupp, flags)
		case count > MaxDiscardSectors:
			return fmt.Errorf("type %d segment of %d sectors exceeds %d", r.typ, count, MaxDiscardSectors)
		}
		if err := w.checkRange(sector, count*SectorSize); err != nil {
			return err
		}
		off, n := int64(sector*SectorSize), int64(count*SectorSize)
		var err error
		if r.typ == TypeDiscard {
			err = w.b.backend.Discard(off, n)
		} else {
			err = w.b.backend.WriteZeroes(off, n, flags&flagUnmap != 0)
		}
		if err != nil {
			return err
		}
	}
	return nil
}
