package machine

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"

	"gvmm/vmm"
)

func TestStatsLines(t *testing.T) {
	r := Result{Reason: GuestExit, SetupDoneAt: 900, FirstOutputAt: 1200, ReadyAt: 5000, Exits: vmm.ExitCounts{
		Reasons: map[uint32]uint64{vmm.KVM_EXIT_IO: 30, vmm.KVM_EXIT_MMIO: 2, vmm.KVM_EXIT_HLT: 1, 99: 1},
		Ports: map[vmm.PortKey]uint64{
			{Port: 0x64}: 20, {Port: 0x3f8, Write: true}: 9, {Port: 0x3fd}: 1,
		},
		MMIO: map[vmm.MMIOKey]uint64{{Page: 0xd0000000, Write: true}: 2},
	}, KVM: map[string]uint64{"exits": 900, "pf_taken": 12, "io_exits": 30, "blocking": 3},
		GuestResident: 6 << 20, HugePages: true}
	assert.Equal(t, []string{
		"gvmm: stats: setup_us=900 first_output_us=1200 ready_us=5000 reason=" + string(GuestExit),
		"gvmm: stats: exits=34 io=30 hlt=1 mmio=2 reason99=1",
		"gvmm: stats: ports 0x64:in=20 0x3f8:out=9 0x3fd:in=1",
		"gvmm: stats: mmio 0xd0000000:write=2",
		"gvmm: stats: kvm exits=900 io_exits=30 pf_taken=12",
		"gvmm: stats: memory guest_resident_kib=6144 huge_pages=true hugetlb=false",
	}, StatsLines(r))

	r.KVM, r.KVMErr = nil, errors.New("KVM_GET_STATS_FD: inappropriate ioctl for device")
	lines := StatsLines(r)
	assert.Equal(t, "gvmm: stats: kvm unavailable: KVM_GET_STATS_FD: inappropriate ioctl for device", lines[len(lines)-2])

	lines = StatsLines(Result{Reason: Stopped})
	assert.Len(t, lines, 3, "no exits: no port or MMIO line")
	assert.Equal(t, "gvmm: stats: exits=0", lines[1])
}
