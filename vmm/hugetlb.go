package vmm

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Guest RAM from hugetlbfs (`gvmm boot --hugepages`): 2 MiB pages that the
// host administrator set aside in advance (vm.nr_hugepages), instead of
// transparent huge pages that the kernel may or may not find at fault
// time. Every page of guest RAM is then a huge page, guaranteed, and KVM
// maps each with one nested-page-table entry
// (Documentation/admin-guide/mm/hugetlbpage.rst).
//
// The mapping is made without MAP_NORESERVE, on purpose. With it, an empty
// pool would be discovered only when the guest touches a page, and the
// kernel answers that with SIGBUS: a guest could crash the VMM by using its
// RAM. Without it, mmap reserves the pages up front (HugePages_Rsvd) and
// fails at once when the pool is short. A reserved page is still not
// allocated until it is touched, so an idle guest costs the pool its
// reservation, not its memory.

// ErrNoHugePages is returned when the hugetlb pool cannot hold the guest.
var ErrNoHugePages = errors.New("not enough huge pages reserved")

// mapHuge2MB is MAP_HUGE_2MB: log2(2 MiB) = 21 in the MAP_HUGE_SHIFT (26)
// bits of the flags, which picks the 2 MiB pool whatever the default size.
const mapHuge2MB = 21 << unix.MAP_HUGE_SHIFT

// freeHugePagesPath counts the free pages of the 2 MiB pool.
const freeHugePagesPath = "/sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages"

// NewHugeTLBGuestMemory maps size bytes of guest RAM from the 2 MiB
// hugetlb pool. size must be a multiple of 2 MiB.
func NewHugeTLBGuestMemory(size uint64) (*GuestMemory, error) {
	if size < MinMemorySize {
		return nil, fmt.Errorf("guest memory %d bytes is below the minimum of %d MiB", size, MinMemorySize>>20)
	}
	if size%HugePageSize != 0 {
		return nil, fmt.Errorf("%w: --mem %d MiB with --hugepages must be a multiple of 2 MiB", ErrNoHugePages, size>>20)
	}
	mapping, err := unix.Mmap(-1, 0, int(size),
		unix.PROT_READ|unix.PROT_WRITE,
		unix.MAP_PRIVATE|unix.MAP_ANONYMOUS|unix.MAP_HUGETLB|mapHuge2MB)
	if err != nil {
		need := size / HugePageSize
		if errors.Is(err, unix.ENOMEM) || errors.Is(err, unix.EINVAL) {
			return nil, fmt.Errorf("%w: the guest needs %d pages of 2 MiB and the host has %s free; "+
				"reserve them with `sysctl vm.nr_hugepages=%d` (or drop --hugepages)",
				ErrNoHugePages, need, freeHugePages(), need)
		}
		return nil, fmt.Errorf("mmap %d MiB of huge-page guest memory: %w", size>>20, err)
	}
	return &GuestMemory{host: mapping, mapping: mapping, regions: splitRAM(size), hugePages: true, hugeTLB: true}, nil
}

// freeHugePages reads how many 2 MiB pages the pool has free, for the
// error message ("none" when the pool does not exist).
func freeHugePages() string {
	b, err := os.ReadFile(freeHugePagesPath)
	if err != nil {
		return "none"
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return "an unknown number"
	}
	return strconv.Itoa(n)
}
