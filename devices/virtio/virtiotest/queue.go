package virtiotest

import (
	"encoding/binary"
	"fmt"
	"time"

	"gvmm/devices/virtio"
)

// Queue is the driver side of one split virtqueue.
type Queue struct {
	d     *Driver
	Index uint16
	Size  uint16
	// Desc, Avail and Used are the guest addresses of the three parts.
	Desc, Avail, Used uint64

	nextDesc  uint16 // next free descriptor (allocated round-robin)
	availIdx  uint16
	lastUsed  uint16
	writables map[uint16][]virtio.Desc // head -> writable buffers, for Used
}

// Buffer is one buffer of a chain: Data is copied in for a readable
// buffer; a writable one has WriteLen bytes for the device.
type Buffer struct {
	Data     []byte
	WriteLen uint32
}

// Readable returns a device-readable buffer holding data.
func Readable(data []byte) Buffer { return Buffer{Data: data} }

// Writable returns a device-writable buffer of n bytes.
func Writable(n uint32) Buffer { return Buffer{WriteLen: n} }

// Used is one used ring entry with the bytes the device wrote.
type Used struct {
	Head uint16
	Len  uint32
	Data []byte // the first Len bytes of the chain's writable buffers
	// Writable holds every writable buffer of the chain whole, whatever
	// Len says (a virtio-blk status byte is the last byte of the last).
	Writable [][]byte
}

// SetupQueue selects queue i, sets its size (0: keep the maximum),
// allocates and programs its rings and enables it (§3.1.1 step 7).
func (d *Driver) SetupQueue(i, size uint16) (*Queue, error) {
	d.Write(d.Common+QueueSelect, 2, uint64(i))
	maxSize := uint16(d.Read(d.Common+QueueSize, 2))
	if maxSize == 0 {
		return nil, fmt.Errorf("queue %d is not available", i)
	}
	if size == 0 {
		size = maxSize
	}
	q, err := d.NewQueueLayout(i, size)
	if err != nil {
		return nil, err
	}
	q.Program()
	d.Write(d.Common+QueueEnable, 2, 1)
	return q, nil
}

// NewQueueLayout allocates rings for a queue of the given size without
// telling the device; hostile tests program them themselves.
func (d *Driver) NewQueueLayout(i, size uint16) (*Queue, error) {
	n := uint64(size)
	q := &Queue{d: d, Index: i, Size: size, writables: map[uint16][]virtio.Desc{}}
	var err error
	if q.Desc, err = d.Alloc(16*n, 16); err != nil {
		return nil, err
	}
	if q.Avail, err = d.Alloc(6+2*n, 2); err != nil {
		return nil, err
	}
	if q.Used, err = d.Alloc(6+8*n, 4); err != nil {
		return nil, err
	}
	return q, nil
}

// Program writes the queue's size and ring addresses into the common
// configuration (queue_select first).
func (q *Queue) Program() {
	d := q.d
	d.Write(d.Common+QueueSelect, 2, uint64(q.Index))
	d.Write(d.Common+QueueSize, 2, uint64(q.Size))
	d.Write(d.Common+QueueDesc, 8, q.Desc)
	// Linux writes 64-bit fields as two halves; exercise that path too.
	d.Write(d.Common+QueueDriver, 4, q.Avail&0xffff_ffff)
	d.Write(d.Common+QueueDriver+4, 4, q.Avail>>32)
	d.Write(d.Common+QueueDevice, 8, q.Used)
}

// WriteDesc writes descriptor i of the table verbatim.
func (q *Queue) WriteDesc(i uint16, desc virtio.Desc) {
	var b [16]byte
	binary.LittleEndian.PutUint64(b[0:], desc.Addr)
	binary.LittleEndian.PutUint32(b[8:], desc.Len)
	binary.LittleEndian.PutUint16(b[12:], desc.Flags)
	binary.LittleEndian.PutUint16(b[14:], desc.Next)
	q.must(q.d.Mem.WriteAt(b[:], int64(q.Desc+16*uint64(i))))
}

// PutAvail places head in the next avail ring slot and publishes it.
func (q *Queue) PutAvail(head uint16) {
	var b [2]byte
	binary.LittleEndian.PutUint16(b[:], head)
	q.must(q.d.Mem.WriteAt(b[:], int64(q.Avail+4+2*uint64(q.availIdx%q.Size))))
	q.SetAvailIdx(q.availIdx + 1)
}

// SetAvailIdx writes avail.idx (hostile tests use it to jump ahead).
func (q *Queue) SetAvailIdx(idx uint16) {
	q.availIdx = idx
	var b [2]byte
	binary.LittleEndian.PutUint16(b[:], idx)
	q.must(q.d.Mem.WriteAt(b[:], int64(q.Avail+2)))
}

// SetAvailFlags writes avail.flags (1 = VIRTQ_AVAIL_F_NO_INTERRUPT).
func (q *Queue) SetAvailFlags(flags uint16) {
	var b [2]byte
	binary.LittleEndian.PutUint16(b[:], flags)
	q.must(q.d.Mem.WriteAt(b[:], int64(q.Avail)))
}

func (q *Queue) must(_ int, err error) {
	if err != nil {
		panic(fmt.Sprintf("virtiotest: driver ring outside its own memory: %v", err))
	}
}

// Add builds a chain from bufs (readable ones first, as the driver must),
// makes it available and returns its head. It does not notify.
func (q *Queue) Add(bufs ...Buffer) (uint16, error) {
	if len(bufs) == 0 || len(bufs) > int(q.Size) {
		return 0, fmt.Errorf("chain of %d buffers for a queue of %d", len(bufs), q.Size)
	}
	head := q.nextDesc
	var writable []virtio.Desc
	for i, b := range bufs {
		idx := q.nextDesc
		q.nextDesc = (q.nextDesc + 1) % q.Size
		desc := virtio.Desc{Len: uint32(len(b.Data))}
		if b.Data == nil {
			desc.Len = b.WriteLen
			desc.Flags = virtio.DescFlagWrite
		}
		addr, err := q.d.Alloc(uint64(max(desc.Len, 1)), 8)
		if err != nil {
			return 0, err
		}
		desc.Addr = addr
		if b.Data != nil {
			q.must(q.d.Mem.WriteAt(b.Data, int64(addr)))
		} else {
			writable = append(writable, desc)
		}
		if i < len(bufs)-1 {
			desc.Flags |= virtio.DescFlagNext
			desc.Next = q.nextDesc
		}
		q.WriteDesc(idx, desc)
	}
	q.writables[head] = writable
	q.PutAvail(head)
	return head, nil
}

// Kick notifies the device through the notify area (§4.1.5.2).
func (q *Queue) Kick() {
	d := q.d
	d.Write(d.Common+QueueSelect, 2, uint64(q.Index))
	off := d.Read(d.Common+QueueNotifyOff, 2)
	d.Write(d.Notify+off*uint64(d.notifyMul), 2, uint64(q.Index))
}

// UsedIdx reads used.idx.
func (q *Queue) UsedIdx() uint16 {
	var b [2]byte
	q.must(q.d.Mem.ReadAt(b[:], int64(q.Used+2)))
	return binary.LittleEndian.Uint16(b[:])
}

// TakeUsed returns the used entries added since the last call, with the
// data the device wrote into chains added by Add.
func (q *Queue) TakeUsed() []Used {
	var out []Used
	for end := q.UsedIdx(); q.lastUsed != end; q.lastUsed++ {
		var b [8]byte
		q.must(q.d.Mem.ReadAt(b[:], int64(q.Used+4+8*uint64(q.lastUsed%q.Size))))
		u := Used{Head: uint16(binary.LittleEndian.Uint32(b[0:])), Len: binary.LittleEndian.Uint32(b[4:])}
		left := u.Len
		for _, w := range q.writables[u.Head] {
			whole := make([]byte, w.Len)
			q.must(q.d.Mem.ReadAt(whole, int64(w.Addr)))
			u.Writable = append(u.Writable, whole)
			n := min(left, w.Len)
			buf := make([]byte, n)
			q.must(q.d.Mem.ReadAt(buf, int64(w.Addr)))
			u.Data = append(u.Data, buf...)
			left -= n
		}
		out = append(out, u)
	}
	return out
}

// WaitUsed collects at least n used entries from a device that completes
// them asynchronously, acknowledging interrupts (reading the ISR) like a
// driver's interrupt handler and waiting on the line in between. It
// returns what it has when timeout passes.
func (q *Queue) WaitUsed(n int, timeout time.Duration) []Used {
	var used []Used
	deadline := time.Now().Add(timeout)
	for {
		used = append(used, q.TakeUsed()...)
		left := time.Until(deadline)
		if len(used) >= n || left <= 0 {
			return used
		}
		q.d.ReadISR()
		if q.d.Line != nil {
			q.d.Line.WaitRaised(min(left, 50*time.Millisecond))
		} else {
			time.Sleep(min(left, time.Millisecond))
		}
	}
}
