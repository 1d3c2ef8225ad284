package vmm

import (
	"cmp"
	"slices"
)

// ExitCounts is how many exits of each kind one vCPU brought to userspace
// and, for port I/O and MMIO, where: the figures `gvmm boot --stats`
// prints, so a student (and the bench) can see which device costs how many
// exits. Exits that KVM handles in the kernel (the in-kernel APIC, PIT and
// PIC, nested page faults) never reach userspace and are not here; KVM's
// own statistics count those.
//
// A string instruction (rep outsb) that moves several items is one exit
// and counts once.
type ExitCounts struct {
	// Reasons counts exits by KVM_EXIT_* reason.
	Reasons map[uint32]uint64
	// Ports counts KVM_EXIT_IO exits by port and direction.
	Ports map[PortKey]uint64
	// MMIO counts KVM_EXIT_MMIO exits by 4 KiB page and direction.
	MMIO map[MMIOKey]uint64
}

// PortKey is one I/O port in one direction.
type PortKey struct {
	Port  uint16
	Write bool
}

// MMIOKey is one 4 KiB page of guest-physical MMIO space, in one
// direction; Page is the page's first address.
type MMIOKey struct {
	Page  uint64
	Write bool
}

// mmioPageMask clears the offset within a 4 KiB page.
const mmioPageMask = ^uint64(pageSize - 1)

// record counts one decoded exit. A vCPU records from its own thread, so
// this is a map increment without a lock.
func (c *ExitCounts) record(e Exit) {
	if c.Reasons == nil {
		c.Reasons = map[uint32]uint64{}
		c.Ports = map[PortKey]uint64{}
		c.MMIO = map[MMIOKey]uint64{}
	}
	c.Reasons[e.Reason]++
	switch e.Reason {
	case KVM_EXIT_IO:
		c.Ports[PortKey{e.IO.Port, e.IO.Write}]++
	case KVM_EXIT_MMIO:
		c.MMIO[MMIOKey{e.MMIO.Addr & mmioPageMask, e.MMIO.Write}]++
	}
}

// Add adds o's counts to c (to sum the vCPUs of a VM).
func (c *ExitCounts) Add(o ExitCounts) {
	for k, v := range o.Reasons {
		if c.Reasons == nil {
			c.Reasons = map[uint32]uint64{}
		}
		c.Reasons[k] += v
	}
	for k, v := range o.Ports {
		if c.Ports == nil {
			c.Ports = map[PortKey]uint64{}
		}
		c.Ports[k] += v
	}
	for k, v := range o.MMIO {
		if c.MMIO == nil {
			c.MMIO = map[MMIOKey]uint64{}
		}
		c.MMIO[k] += v
	}
}

// Total is the number of exits counted.
func (c ExitCounts) Total() uint64 {
	var n uint64
	for _, v := range c.Reasons {
		n += v
	}
	return n
}

// clone returns a deep copy, for a reader on another goroutine.
func (c ExitCounts) clone() ExitCounts {
	var out ExitCounts
	out.Add(c)
	return out
}

// Counted is one key of a count and how many exits it had.
type Counted[K any] struct {
	Key   K
	Count uint64
}

// Top returns the n largest entries of counts, largest first; ties go by
// less, so the order does not depend on map iteration.
func Top[K comparable](counts map[K]uint64, n int, less func(a, b K) int) []Counted[K] {
	out := make([]Counted[K], 0, len(counts))
	for k, v := range counts {
		out = append(out, Counted[K]{k, v})
	}
	slices.SortFunc(out, func(a, b Counted[K]) int {
		if c := cmp.Compare(b.Count, a.Count); c != 0 {
			return c
		}
		return less(a.Key, b.Key)
	})
	return out[:min(n, len(out))]
}

// ComparePorts orders PortKeys by port, reads first.
func ComparePorts(a, b PortKey) int {
	if c := cmp.Compare(a.Port, b.Port); c != 0 {
		return c
	}
	return cmpBool(a.Write, b.Write)
}

// CompareMMIO orders MMIOKeys by page, reads first.
func CompareMMIO(a, b MMIOKey) int {
	if c := cmp.Compare(a.Page, b.Page); c != 0 {
		return c
	}
	return cmpBool(a.Write, b.Write)
}

func cmpBool(a, b bool) int {
	switch {
	case a == b:
		return 0
	case !a:
		return -1
	default:
		return 1
	}
}
