package vmm

import (
	"encoding/binary"
	"fmt"
)

// The kvm_run page is memory shared with the host kernel, not guest
// memory: the guest cannot write it. We still decode it field by field
// with encoding/binary at the offsets of include/uapi/linux/kvm.h rather
// than casting, so the layout is visible here and bad offsets are caught.

// Offsets of the exit-specific union members, relative to runUnion.
const (
	ioDirection  = 0  // __u8 direction
	ioSize       = 1  // __u8 size
	ioPort       = 2  // __u16 port
	ioCount      = 4  // __u32 count
	ioDataOffset = 8  // __u64 data_offset (from the start of kvm_run)
	mmioAddr     = 0  // __u64 phys_addr
	mmioData     = 8  // __u8 data[8]
	mmioLen      = 16 // __u32 len
	mmioIsWrite  = 20 // __u8 is_write
	failReason   = 0  // __u64 hardware_entry_failure_reason
	internalSub  = 0  // __u32 suberror
	internalN    = 4  // __u32 ndata
	internalData = 8  // __u64 data[16]
	sysEventType = 0  // __u32 type
)

func (c *VCPU) exitReason() uint32 {
	return binary.LittleEndian.Uint32(c.run[runExitReason:])
}

func (c *VCPU) u8(off int) uint8   { return c.run[runUnion+off] }
func (c *VCPU) u16(off int) uint16 { return binary.LittleEndian.Uint16(c.run[runUnion+off:]) }
func (c *VCPU) u32(off int) uint32 { return binary.LittleEndian.Uint32(c.run[runUnion+off:]) }
func (c *VCPU) u64(off int) uint64 { return binary.LittleEndian.Uint64(c.run[runUnion+off:]) }

// ioExit describes a KVM_EXIT_IO: count accesses of size bytes to port,
// whose data lives in the kvm_run page at data[off:].
type ioExit struct {
	port  uint16
	size  int
	count int
	write bool
	data  []byte
}

func (c *VCPU) decodeIO() (ioExit, error) {
	e := ioExit{
		port:  c.u16(ioPort),
		size:  int(c.u8(ioSize)),
		count: int(c.u32(ioCount)),
		write: c.u8(ioDirection) == KVM_EXIT_IO_OUT,
	}
	off := c.u64(ioDataOffset)
	n := uint64(e.size) * uint64(e.count)
	if e.size == 0 || off > uint64(len(c.run)) || n > uint64(len(c.run))-off {
		return e, fmt.Errorf("KVM_EXIT_IO with bad data window: offset %d, %d×%d bytes", off, e.count, e.size)
	}
	e.data = c.run[off : off+n]
	return e, nil
}

// mmioExit describes a KVM_EXIT_MMIO; data aliases the kvm_run page, so a
// read's result is written straight back for KVM to complete the load.
type mmioExit struct {
	addr  uint64
	write bool
	data  []byte
}

func (c *VCPU) decodeMMIO() (mmioExit, error) {
	n := c.u32(mmioLen)
	if n == 0 || n > 8 {
		return mmioExit{}, fmt.Errorf("KVM_EXIT_MMIO with bad length %d", n)
	}
	start := runUnion + mmioData
	return mmioExit{
		addr:  c.u64(mmioAddr),
		write: c.u8(mmioIsWrite) != 0,
		data:  c.run[start : start+int(n)],
	}, nil
}

func (c *VCPU) internalError() *InternalError {
	n := min(int(c.u32(internalN)), 16)
	data := make([]uint64, n)
	for i := range data {
		data[i] = c.u64(internalData + 8*i)
	}
	return &InternalError{VCPU: c.id, Suberror: c.u32(internalSub), Data: data}
}

func (c *VCPU) setImmediateExit(v uint8) { c.run[runImmediateExit] = v }
