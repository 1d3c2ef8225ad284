package virtio

import (
	"encoding/binary"
	"errors"
	"fmt"

	"gvmm/vmm"
)

// Sentinel errors for a broken queue; each means the driver broke the
// virtio contract, and the transport answers with DEVICE_NEEDS_RESET.
var (
	ErrQueueConfig  = errors.New("invalid virtqueue configuration")
	ErrAvailOverrun = errors.New("avail index ahead of the ring by more than the queue size")
	ErrDescriptor   = errors.New("invalid descriptor chain")
)

// QueueConfig is what the driver programs for one queue (§4.1.4.3:
// queue_size, queue_desc, queue_driver, queue_device).
type QueueConfig struct {
	Size                   uint16
	DescAddr               uint64 // descriptor table
	DriverAddr, DeviceAddr uint64 // available ring, used ring
}

// Queue is the device side of one split virtqueue (§2.7). It is not safe
// for concurrent use: each device serialises access to its queues.
type Queue struct {
	mem      *vmm.GuestMemory
	cfg      QueueConfig
	indirect bool // VIRTIO_F_INDIRECT_DESC negotiated

	nextAvail uint16 // next avail ring entry to consume
	nextUsed  uint16 // next used ring entry to fill
}

// NewQueue validates cfg against the rules of §2.7 and guest RAM: the size
// is a non-zero power of two no larger than maxSize, each part is aligned
// as the table in §2.7 requires and lies entirely in guest RAM.
func NewQueue(mem *vmm.GuestMemory, cfg QueueConfig, maxSize uint16, indirect bool) (*Queue, error) {
	n := uint64(cfg.Size)
	switch {
	case n == 0 || n&(n-1) != 0:
		return nil, fmt.Errorf("%w: size %d is not a power of two", ErrQueueConfig, n)
	case n > uint64(maxSize) || n > MaxQueueSize:
		return nil, fmt.Errorf("%w: size %d is larger than the maximum %d", ErrQueueConfig, n, maxSize)
	case cfg.DescAddr%descAlign != 0 || cfg.DriverAddr%availAlign != 0 || cfg.DeviceAddr%usedAlign != 0:
		return nil, fmt.Errorf("%w: misaligned rings desc=%#x avail=%#x used=%#x",
			ErrQueueConfig, cfg.DescAddr, cfg.DriverAddr, cfg.DeviceAddr)
	}
	parts := []struct {
		name       string
		addr, size uint64
	}{
		{"descriptor table", cfg.DescAddr, descSize * n},
		{"available ring", cfg.DriverAddr, ringHeaderSize + availElemSize*n},
		{"used ring", cfg.DeviceAddr, ringHeaderSize + usedElemSize*n},
	}
	for _, p := range parts {
		if _, err := mem.Slice(p.addr, p.size); err != nil {
			return nil, fmt.Errorf("%w: %s: %w", ErrQueueConfig, p.name, err)
		}
	}
	q := &Queue{mem: mem, cfg: cfg, indirect: indirect}
	// The device owns the used ring header: start with flags 0 (we want
	// notifications) and idx 0.
	if err := storeRing32(mem, cfg.DeviceAddr, 0); err != nil {
		return nil, fmt.Errorf("%w: used ring: %w", ErrQueueConfig, err)
	}
	return q, nil
}

// Size returns the queue size the driver chose.
func (q *Queue) Size() uint16 { return q.cfg.Size }

// Pop returns the next chain the driver made available, or nil when there
// is none. An error means the queue is broken (the driver overran the ring
// or wrote a bad chain); the caller stops using the queue.
func (q *Queue) Pop() (*Chain, error) {
	availIdx, err := loadRing16(q.mem, q.cfg.DriverAddr+2)
	if err != nil {
		return nil, fmt.Errorf("read avail idx: %w", err)
	}
	pending := availIdx - q.nextAvail // free-running 16-bit indexes, §2.7.6
	if pending == 0 {
		return nil, nil
	}
	if pending > q.cfg.Size {
		return nil, fmt.Errorf("%w: avail idx %d, device at %d, size %d", ErrAvailOverrun, availIdx, q.nextAvail, q.cfg.Size)
	}
	slot := uint64(q.nextAvail % q.cfg.Size)
	var b [availElemSize]byte
	if _, err := q.mem.ReadAt(b[:], int64(q.cfg.DriverAddr+ringHeaderSize+availElemSize*slot)); err != nil {
		return nil, fmt.Errorf("read avail ring: %w", err)
	}
	head := binary.LittleEndian.Uint16(b[:])
	c, err := q.decodeChain(head)
	if err != nil {
		return nil, err
	}
	q.nextAvail++
	return c, nil
}

// Push returns the chain with head id to the driver, reporting that the
// device wrote written bytes into its writable part (§2.7.8). The entry is
// written before the index that publishes it.
func (q *Queue) Push(head uint16, written uint32) error {
	slot := uint64(q.nextUsed % q.cfg.Size)
	var b [usedElemSize]byte
	binary.LittleEndian.PutUint32(b[0:], uint32(head))
	binary.LittleEndian.PutUint32(b[4:], written)
	if _, err := q.mem.WriteAt(b[:], int64(q.cfg.DeviceAddr+ringHeaderSize+usedElemSize*slot)); err != nil {
		return fmt.Errorf("write used ring: %w", err)
	}
	q.nextUsed++
	// used.flags (low half) stays 0; used.idx (high half) publishes.
	return storeRing32(q.mem, q.cfg.DeviceAddr, uint32(q.nextUsed)<<16)
}

// NeedsInterrupt reports whether the driver wants an interrupt for used
// buffers: without VIRTIO_F_EVENT_IDX it sets VIRTQ_AVAIL_F_NO_INTERRUPT
// in avail.flags to ask us not to (§2.7.7.2). A flags word we cannot read
// counts as "interrupt": a spurious interrupt is harmless.
func (q *Queue) NeedsInterrupt() bool {
	flags, err := loadRing16(q.mem, q.cfg.DriverAddr)
	return err != nil || flags&availFlagNoInterrupt == 0
}
