package vmm

import (
	"errors"
	"fmt"
	"io"

	"golang.org/x/sys/unix"
)

// ErrOutOfBounds is returned when a guest-physical range is not entirely
// backed by guest RAM. Guest-supplied addresses that fail this check are the
// guest's fault, never the host's: callers log and refuse the access.
var ErrOutOfBounds = errors.New("guest address range outside guest RAM")

// Range is a guest-physical address range [Start, Start+Size).
type Range struct {
	Start, Size uint64
}

// End returns the first address past the range.
func (r Range) End() uint64 { return r.Start + r.Size }

// memRegion is one contiguous block of guest RAM: Size bytes at guest
// physical address Start, backed by host[HostOffset:HostOffset+Size].
type memRegion struct {
	Range
	hostOffset uint64
}

// GuestMemory is the guest's RAM: one anonymous host mapping, split into at
// most two guest-physical regions around the 32-bit MMIO hole (below
// MMIOGapStart, and from HighRAMStart up).
//
// All access goes through bounds-checked methods. The mapping is created
// with MAP_NORESERVE and never touched by the VMM beyond what it writes, so
// RAM the guest does not use costs the host nothing.
//
// The host mapping starts on a 2 MiB boundary and is advised
// MADV_HUGEPAGE. KVM can map a 2 MiB page of guest memory with one
// nested-page-table entry only when the host backs it with a huge page and
// the guest-physical and host-virtual addresses agree modulo 2 MiB
// (Documentation/virt/kvm/mmu.rst: the large page must be "fully backed" and
// aligned on both sides). Both regions start 2 MiB-aligned (at 0 and
// HighRAMStart, the second at host offset MMIOGapStart), so aligning the
// mapping's start aligns them all. A guest that touches its memory then
// takes one nested page fault per 2 MiB instead of one per 4 KiB.
type GuestMemory struct {
	host    []byte
	mapping []byte // what mmap returned: host plus the alignment slack
	regions []memRegion
	// hugePages is whether the kernel took the MADV_HUGEPAGE advice (it
	// refuses with EINVAL when built without transparent huge pages),
	// or, with hugeTLB, that the RAM comes from the hugetlb pool
	// (hugetlb.go).
	hugePages bool
	hugeTLB   bool
}

// HugePageSize is the x86-64 large page KVM maps guest memory with.
const HugePageSize = 2 << 20

// MinMemorySize is the smallest guest RAM gvmm accepts: the low boot
// structures plus a kernel at 1 MiB need at least a few MiB.
const MinMemorySize = 4 << 20

// NewGuestMemory maps size bytes of guest RAM. size must be a multiple of
// the page size.
func NewGuestMemory(size uint64) (*GuestMemory, error) {
	if size < MinMemorySize {
		return nil, fmt.Errorf("guest memory %d bytes is below the minimum of %d MiB", size, MinMemorySize>>20)
	}
	if size%pageSize != 0 {
		return nil, fmt.Errorf("guest memory size %d is not a multiple of the %d-byte page size", size, pageSize)
	}
	// Over-map by one huge page and use the aligned part. The slack is
	// never touched, so under MAP_NORESERVE it costs address space only.
	mapping, err := unix.Mmap(-1, 0, int(size+HugePageSize),
		unix.PROT_READ|unix.PROT_WRITE,
		unix.MAP_PRIVATE|unix.MAP_ANONYMOUS|unix.MAP_NORESERVE)
	if err != nil {
		return nil, fmt.Errorf("mmap %d MiB of guest memory: %w", size>>20, err)
	}
	skip := alignUp(hostAddress(mapping), HugePageSize) - hostAddress(mapping)
	host := mapping[skip : skip+size : skip+size]
	m := &GuestMemory{host: host, mapping: mapping, regions: splitRAM(size)}
	m.hugePages = unix.Madvise(host, unix.MADV_HUGEPAGE) == nil
	return m, nil
}

// alignUp rounds v up to a multiple of align, a power of two.
func alignUp(v, align uint64) uint64 { return (v + align - 1) &^ (align - 1) }

// HugePages reports whether the kernel took the MADV_HUGEPAGE advice, or
// the memory is hugetlb memory.
func (m *GuestMemory) HugePages() bool { return m.hugePages }

// HugeTLB reports whether the memory comes from the hugetlb pool.
func (m *GuestMemory) HugeTLB() bool { return m.hugeTLB }

// Resident returns how many bytes of guest RAM the host has backed with
// memory so far: the pages the guest (or a loader) has touched
// (mincore(2)). With huge pages they come in 2 MiB steps.
func (m *GuestMemory) Resident() (uint64, error) {
	vec := make([]byte, (len(m.host)+pageSize-1)/pageSize)
	if err := mincore(m.host, vec); err != nil {
		return 0, fmt.Errorf("mincore guest memory: %w", err)
	}
	var n uint64
	for _, v := range vec {
		n += uint64(v & 1)
	}
	return n * pageSize, nil
}

// RAMLayout returns the guest-physical RAM ranges a GuestMemory of size
// bytes will have (NewGuestMemory lays RAM out the same way), so that a
// boot can be validated before any memory is mapped.
func RAMLayout(size uint64) []Range {
	regions := splitRAM(size)
	out := make([]Range, len(regions))
	for i, r := range regions {
		out[i] = r.Range
	}
	return out
}

// splitRAM lays size bytes of RAM out around the MMIO hole.
func splitRAM(size uint64) []memRegion {
	low := min(size, MMIOGapStart)
	regions := []memRegion{{Range: Range{Start: 0, Size: low}}}
	if size > low {
		regions = append(regions, memRegion{
			Range:      Range{Start: HighRAMStart, Size: size - low},
			hostOffset: low,
		})
	}
	return regions
}

const pageSize = 4096

// Size returns the total amount of guest RAM in bytes.
func (m *GuestMemory) Size() uint64 { return uint64(len(m.host)) }

// RAMRanges lists the guest-physical ranges backed by RAM, ascending.
func (m *GuestMemory) RAMRanges() []Range {
	out := make([]Range, len(m.regions))
	for i, r := range m.regions {
		out[i] = r.Range
	}
	return out
}

// Slice returns the host bytes backing guest-physical [addr, addr+n). The
// whole range must lie in one RAM region. The result aliases guest memory:
// the guest may change it at any time, so callers copy before validating
// (see ARCHITECTURE.md, "Rules for guest memory").
func (m *GuestMemory) Slice(addr, n uint64) ([]byte, error) {
	for _, r := range m.regions {
		// Overflow-safe: addr >= r.Start, then compare lengths, never
		// compute addr+n.
		if addr < r.Start || addr-r.Start > r.Size || n > r.Size-(addr-r.Start) {
			continue
		}
		off := r.hostOffset + (addr - r.Start)
		return m.host[off : off+n : off+n], nil
	}
	return nil, fmt.Errorf("%w: [%#x, +%#x)", ErrOutOfBounds, addr, n)
}

// ReadAt copies len(p) bytes from guest-physical address off into p.
// It implements io.ReaderAt; a range not wholly in RAM reads nothing and
// returns an error wrapping ErrOutOfBounds.
func (m *GuestMemory) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("%w: negative address %d", ErrOutOfBounds, off)
	}
	s, err := m.Slice(uint64(off), uint64(len(p)))
	if err != nil {
		return 0, err
	}
	return copy(p, s), nil
}

// WriteAt copies p to guest-physical address off. It implements
// io.WriterAt with the same all-or-nothing bounds rule as ReadAt.
func (m *GuestMemory) WriteAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("%w: negative address %d", ErrOutOfBounds, off)
	}
	s, err := m.Slice(uint64(off), uint64(len(p)))
	if err != nil {
		return 0, err
	}
	return copy(s, p), nil
}

// Close unmaps guest memory. The VM must not run afterwards.
func (m *GuestMemory) Close() error {
	if m.host == nil {
		return nil
	}
	err := unix.Munmap(m.mapping)
	m.host, m.mapping, m.regions = nil, nil, nil
	return err
}

var (
	_ io.ReaderAt = (*GuestMemory)(nil)
	_ io.WriterAt = (*GuestMemory)(nil)
)
