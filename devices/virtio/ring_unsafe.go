package virtio

import (
	"fmt"
	"sync/atomic"
	"unsafe"

	"gvmm/vmm"
)

// Ring indexes are shared with a driver running on another CPU. The split
// ring's ordering rules (§2.7.13.3 "the driver performs a suitable memory
// barrier before the idx update", §2.7.8 for the used ring) need the
// device to read avail.idx before the entries it covers, and to make used
// entries visible before used.idx. Go has no 16-bit atomics and no bare
// fences, so indexes are read and written as the aligned 32-bit word that
// contains them; Go's atomics are sequentially consistent, which gives the
// acquire (load) and release (store) ordering the spec asks for.
//
// This file is the only place the package turns guest memory into a
// pointer; the word is bounds-checked through GuestMemory.Slice first.

// wordAt returns a pointer to the aligned 32-bit guest word at addr.
func wordAt(mem *vmm.GuestMemory, addr uint64) (*uint32, error) {
	if addr%4 != 0 {
		return nil, fmt.Errorf("ring word at %#x is not 4-byte aligned", addr)
	}
	b, err := mem.Slice(addr, 4)
	if err != nil {
		return nil, err
	}
	p := unsafe.Pointer(unsafe.SliceData(b))
	if uintptr(p)%4 != 0 {
		// Guest RAM is page-aligned in the host, so this cannot happen
		// for an aligned guest address; refuse rather than tear.
		return nil, fmt.Errorf("ring word at %#x is misaligned in the host mapping", addr)
	}
	return (*uint32)(p), nil
}

// loadRing16 atomically reads the 16-bit ring field at addr (2-aligned).
func loadRing16(mem *vmm.GuestMemory, addr uint64) (uint16, error) {
	w, err := wordAt(mem, addr&^3)
	if err != nil {
		return 0, err
	}
	return uint16(atomic.LoadUint32(w) >> ((addr & 3) * 8)), nil
}

// storeRing32 atomically publishes the 32-bit ring word at addr
// (4-aligned). The used ring's flags and idx share one word, both owned by
// the device, so the device writes them together.
func storeRing32(mem *vmm.GuestMemory, addr uint64, v uint32) error {
	w, err := wordAt(mem, addr)
	if err != nil {
		return err
	}
	atomic.StoreUint32(w, v)
	return nil
}
