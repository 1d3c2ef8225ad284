package virtio

import (
	"encoding/binary"
	"fmt"
	"io"
)

// Desc is a decoded copy of one descriptor, struct virtq_desc (§2.7.5).
// The device never writes the descriptor table.
type Desc struct {
	Addr  uint64
	Len   uint32
	Flags uint16
	Next  uint16
}

// Writable reports whether the device may write the buffer.
func (d Desc) Writable() bool { return d.Flags&DescFlagWrite != 0 }

// Chain is one validated descriptor chain: the device-readable buffers
// followed by the device-writable ones. Pop builds it so that:
//
//   - the head and every next index is below the size of the table it
//     indexes (the queue, or an indirect table);
//   - the walk stops after as many descriptors as the table holds, so a
//     cycle is an error rather than a hang (the chain's TTL);
//   - every buffer lies entirely in guest RAM (overflow-safe check);
//   - no readable buffer follows a writable one (§2.7.4.2);
//   - an indirect descriptor appears only if VIRTIO_F_INDIRECT_DESC was
//     negotiated, never with NEXT, never inside an indirect table, and
//     points at a whole number of descriptors (§2.7.5.3.1).
//
// A Chain is an io.Reader over its readable part and an io.Writer over its
// writable part; Written counts what the device wrote, for Queue.Push.
type Chain struct {
	// Head is the descriptor index to hand back to Queue.Push.
	Head uint16
	// Readable and Writable are the validated buffers in chain order.
	Readable, Writable []Desc

	q          *Queue
	rIdx, wIdx int    // current buffer for Read / Write
	rOff, wOff uint32 // offset in it
	written    uint32
}

// decodeChain walks the chain at head and validates it (see Chain).
func (q *Queue) decodeChain(head uint16) (*Chain, error) {
	c := &Chain{Head: head, q: q}
	table, tableSize := q.cfg.DescAddr, uint32(q.cfg.Size)
	indirect := false
	idx := uint32(head)
	ttl := tableSize
	for {
		if idx >= tableSize {
			return nil, fmt.Errorf("%w: head %d: index %d not below table size %d", ErrDescriptor, head, idx, tableSize)
		}
		if ttl == 0 {
			return nil, fmt.Errorf("%w: head %d: longer than its table of %d (a loop?)", ErrDescriptor, head, tableSize)
		}
		ttl--
		d, err := q.readDesc(table, idx)
		if err != nil {
			return nil, fmt.Errorf("%w: head %d: %w", ErrDescriptor, head, err)
		}
		if d.Flags&DescFlagIndirect != 0 {
			if table, tableSize, err = q.checkIndirect(d, indirect); err != nil {
				return nil, fmt.Errorf("%w: head %d: %w", ErrDescriptor, head, err)
			}
			indirect, idx, ttl = true, 0, tableSize
			continue
		}
		if err := c.add(d); err != nil {
			return nil, fmt.Errorf("%w: head %d: %w", ErrDescriptor, head, err)
		}
		if d.Flags&DescFlagNext == 0 {
			return c, nil
		}
		idx = uint32(d.Next)
	}
}

// readDesc copies descriptor idx of the table at base out of guest memory.
func (q *Queue) readDesc(base uint64, idx uint32) (Desc, error) {
	var b [descSize]byte
	if _, err := q.mem.ReadAt(b[:], int64(base+descSize*uint64(idx))); err != nil {
		return Desc{}, fmt.Errorf("read descriptor %d: %w", idx, err)
	}
	return Desc{
		Addr:  binary.LittleEndian.Uint64(b[0:]),
		Len:   binary.LittleEndian.Uint32(b[8:]),
		Flags: binary.LittleEndian.Uint16(b[12:]),
		Next:  binary.LittleEndian.Uint16(b[14:]),
	}, nil
}

// checkIndirect validates an indirect descriptor and returns its table.
func (q *Queue) checkIndirect(d Desc, nested bool) (uint64, uint32, error) {
	switch {
	case !q.indirect:
		return 0, 0, fmt.Errorf("indirect descriptor without VIRTIO_F_INDIRECT_DESC")
	case nested:
		return 0, 0, fmt.Errorf("indirect descriptor inside an indirect table")
	case d.Flags&DescFlagNext != 0:
		return 0, 0, fmt.Errorf("indirect descriptor with NEXT set")
	case d.Len == 0 || d.Len%descSize != 0 || d.Len/descSize > maxIndirectDescs:
		return 0, 0, fmt.Errorf("indirect table length %d is not 1..%d descriptors", d.Len, maxIndirectDescs)
	case d.Addr%descAlign != 0:
		return 0, 0, fmt.Errorf("indirect table at %#x is not %d-byte aligned", d.Addr, descAlign)
	}
	if _, err := q.mem.Slice(d.Addr, uint64(d.Len)); err != nil {
		return 0, 0, fmt.Errorf("indirect table: %w", err)
	}
	return d.Addr, d.Len / descSize, nil
}

// add appends a validated buffer descriptor.
func (c *Chain) add(d Desc) error {
	if _, err := c.q.mem.Slice(d.Addr, uint64(d.Len)); err != nil {
		return fmt.Errorf("buffer: %w", err)
	}
	if d.Writable() {
		c.Writable = append(c.Writable, d)
		return nil
	}
	if len(c.Writable) > 0 {
		return fmt.Errorf("readable descriptor at %#x after a writable one", d.Addr)
	}
	c.Readable = append(c.Readable, d)
	return nil
}

// ReadableLen and WritableLen return the total sizes, as uint64 so that
// sums of guest-chosen lengths cannot overflow.
func (c *Chain) ReadableLen() uint64 { return totalLen(c.Readable) }

// WritableLen returns the total size of the writable buffers.
func (c *Chain) WritableLen() uint64 { return totalLen(c.Writable) }

func totalLen(ds []Desc) uint64 {
	var n uint64
	for _, d := range ds {
		n += uint64(d.Len)
	}
	return n
}

// Read copies the readable buffers, in order, into p.
func (c *Chain) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		if c.rIdx == len(c.Readable) {
			if n == 0 {
				return 0, io.EOF
			}
			break
		}
		d := c.Readable[c.rIdx]
		if c.rOff == d.Len {
			c.rIdx, c.rOff = c.rIdx+1, 0
			continue
		}
		k := min(uint64(d.Len-c.rOff), uint64(len(p)-n))
		if _, err := c.q.mem.ReadAt(p[n:n+int(k)], int64(d.Addr+uint64(c.rOff))); err != nil {
			return n, err
		}
		n += int(k)
		c.rOff += uint32(k)
	}
	return n, nil
}

// Write copies p into the writable buffers, in order. It returns
// io.ErrShortWrite when they are full.
func (c *Chain) Write(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		if c.wIdx == len(c.Writable) {
			return n, io.ErrShortWrite
		}
		d := c.Writable[c.wIdx]
		if c.wOff == d.Len {
			c.wIdx, c.wOff = c.wIdx+1, 0
			continue
		}
		k := min(uint64(d.Len-c.wOff), uint64(len(p)-n))
		if _, err := c.q.mem.WriteAt(p[n:n+int(k)], int64(d.Addr+uint64(c.wOff))); err != nil {
			return n, err
		}
		n += int(k)
		c.wOff += uint32(k)
		c.written = satAdd32(c.written, k)
	}
	return n, nil
}

// Written returns how many bytes Write stored, the length for Queue.Push.
func (c *Chain) Written() uint32 { return c.written }

// satAdd32 adds without wrapping: a guest can describe more than 4 GiB of
// writable buffers, but the used length is 32 bits.
func satAdd32(a uint32, b uint64) uint32 {
	if s := uint64(a) + b; s <= 1<<32-1 {
		return uint32(s)
	}
	return 1<<32 - 1
}
