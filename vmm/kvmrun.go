package vmm

import (
	"encoding/binary"
	"fmt"
)

// The kvm_run page is memory shared with the host kernel, not guest
// memory: the guest cannot write it. We still decode it field by field
// with encoding/binary at the offsets of include/uapi/linux/kvm.h rather
// than casting, so the layout is visible here, and every offset and
// length it carries is checked against the page: a wrong value (a kernel
// bug, or a fuzzer's page in the tests) is an error, never a panic.

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

	// internalMaxData is the length of kvm_run.internal.data.
	internalMaxData = 16
	// mmioMaxLen is the length of kvm_run.mmio.data.
	mmioMaxLen = 8
)

// Exit is one decoded exit: the reason and the fields of its union
// member. IO.Data and MMIO.Data alias the kvm_run page, so a handler's
// answer to a read lands where KVM reads it on the next KVM_RUN.
type Exit struct {
	Reason uint32
	// IO is set for KVM_EXIT_IO.
	IO IOExit
	// MMIO is set for KVM_EXIT_MMIO.
	MMIO MMIOExit
	// SystemEventType is set for KVM_EXIT_SYSTEM_EVENT.
	SystemEventType uint32
	// FailReason is set for KVM_EXIT_FAIL_ENTRY.
	FailReason uint64
	// InternalSuberror and InternalData are set for
	// KVM_EXIT_INTERNAL_ERROR.
	InternalSuberror uint32
	InternalData     []uint64
}

// IOExit is a KVM_EXIT_IO: Count accesses of Size bytes each to Port;
// Data holds Count×Size bytes, the accesses one after the other (a
// string instruction such as rep outsb delivers several in one exit).
type IOExit struct {
	Port  uint16
	Size  int
	Count int
	Write bool
	Data  []byte
}

// MMIOExit is a KVM_EXIT_MMIO of len(Data) bytes at Addr.
type MMIOExit struct {
	Addr  uint64
	Write bool
	Data  []byte
}

// runPage reads the little-endian fields of a kvm_run page whose size has
// been checked to hold the header and the union.
type runPage []byte

func (r runPage) u8(off int) uint8   { return r[runUnion+off] }
func (r runPage) u16(off int) uint16 { return binary.LittleEndian.Uint16(r[runUnion+off:]) }
func (r runPage) u32(off int) uint32 { return binary.LittleEndian.Uint32(r[runUnion+off:]) }
func (r runPage) u64(off int) uint64 { return binary.LittleEndian.Uint64(r[runUnion+off:]) }

// decodeExit decodes the exit described by a kvm_run page. It is a pure
// function of the page, so it is table-tested with hostile pages without
// KVM (kvmrun_test.go), as Firecracker tests its exit handling with fake
// exits. What it checks (api.rst, "struct kvm_run"):
//
//   - the page holds the header and the 256-byte union;
//   - KVM_EXIT_IO: size is 1, 2 or 4 (in/out take no other), count is at
//     least 1, and [data_offset, data_offset+size×count) lies in the page,
//     computed without overflow;
//   - KVM_EXIT_MMIO: len is 1 to 8, the size of mmio.data;
//   - KVM_EXIT_INTERNAL_ERROR: ndata is capped at the 16 entries of data.
func decodeExit(page []byte) (Exit, error) {
	if len(page) < runUnion+runUnionSize {
		return Exit{}, fmt.Errorf("kvm_run page of %d bytes, want at least %d", len(page), runUnion+runUnionSize)
	}
	r := runPage(page)
	e := Exit{Reason: binary.LittleEndian.Uint32(page[runExitReason:])}
	switch e.Reason {
	case KVM_EXIT_IO:
		io := IOExit{
			Port:  r.u16(ioPort),
			Size:  int(r.u8(ioSize)),
			Count: int(r.u32(ioCount)),
			Write: r.u8(ioDirection) == KVM_EXIT_IO_OUT,
		}
		off := r.u64(ioDataOffset)
		if io.Size != 1 && io.Size != 2 && io.Size != 4 {
			return e, fmt.Errorf("KVM_EXIT_IO with access size %d, want 1, 2 or 4", io.Size)
		}
		n := uint64(io.Size) * uint64(r.u32(ioCount)) // at most 4×(2^32-1): no overflow
		if io.Count == 0 || off > uint64(len(page)) || n > uint64(len(page))-off {
			return e, fmt.Errorf("KVM_EXIT_IO with bad data window: offset %d, %d×%d bytes in a %d-byte page",
				off, io.Count, io.Size, len(page))
		}
		io.Data = page[off : off+n]
		e.IO = io
	case KVM_EXIT_MMIO:
		n := r.u32(mmioLen)
		if n == 0 || n > mmioMaxLen {
			return e, fmt.Errorf("KVM_EXIT_MMIO with bad length %d", n)
		}
		start := runUnion + mmioData
		e.MMIO = MMIOExit{Addr: r.u64(mmioAddr), Write: r.u8(mmioIsWrite) != 0, Data: page[start : start+int(n)]}
	case KVM_EXIT_SYSTEM_EVENT:
		e.SystemEventType = r.u32(sysEventType)
	case KVM_EXIT_FAIL_ENTRY:
		e.FailReason = r.u64(failReason)
	case KVM_EXIT_INTERNAL_ERROR:
		e.InternalSuberror = r.u32(internalSub)
		e.InternalData = make([]uint64, min(r.u32(internalN), internalMaxData))
		for i := range e.InternalData {
			e.InternalData[i] = r.u64(internalData + 8*i)
		}
	}
	return e, nil
}

func (c *VCPU) setImmediateExit(v uint8) { c.run[runImmediateExit] = v }
