package vmm

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestExitCountsRecord(t *testing.T) {
	var c ExitCounts
	for range 3 {
		c.record(Exit{Reason: KVM_EXIT_IO, IO: IOExit{Port: 0x64, Size: 1, Count: 1}})
	}
	c.record(Exit{Reason: KVM_EXIT_IO, IO: IOExit{Port: 0x3f8, Size: 1, Count: 16, Write: true}}) // rep outsb: one exit
	c.record(Exit{Reason: KVM_EXIT_MMIO, MMIO: MMIOExit{Addr: 0xd000_0123, Write: true}})
	c.record(Exit{Reason: KVM_EXIT_MMIO, MMIO: MMIOExit{Addr: 0xd000_0fff, Write: true}})
	c.record(Exit{Reason: KVM_EXIT_HLT})

	assert.Equal(t, uint64(7), c.Total())
	assert.Equal(t, uint64(4), c.Reasons[KVM_EXIT_IO])
	assert.Equal(t, uint64(2), c.Reasons[KVM_EXIT_MMIO])
	assert.Equal(t, uint64(3), c.Ports[PortKey{0x64, false}])
	assert.Equal(t, uint64(1), c.Ports[PortKey{0x3f8, true}], "a string instruction is one exit")
	assert.Equal(t, uint64(2), c.MMIO[MMIOKey{0xd000_0000, true}], "counted by 4 KiB page")
}

func TestExitCountsAddAndTop(t *testing.T) {
	var a, b, sum ExitCounts
	a.record(Exit{Reason: KVM_EXIT_IO, IO: IOExit{Port: 0x70, Write: true}})
	a.record(Exit{Reason: KVM_EXIT_IO, IO: IOExit{Port: 0x71}})
	b.record(Exit{Reason: KVM_EXIT_IO, IO: IOExit{Port: 0x71}})
	b.record(Exit{Reason: KVM_EXIT_IO, IO: IOExit{Port: 0x71}})
	b.record(Exit{Reason: KVM_EXIT_IO, IO: IOExit{Port: 0x60}})
	sum.Add(a)
	sum.Add(b)
	assert.Equal(t, uint64(5), sum.Total())
	assert.Equal(t, uint64(2), a.Total(), "Add leaves its argument alone")

	top := Top(sum.Ports, 2, ComparePorts)
	assert.Equal(t, []Counted[PortKey]{{PortKey{0x71, false}, 3}, {PortKey{0x60, false}, 1}}, top,
		"largest first; ties by port")
	assert.Len(t, Top(sum.Ports, 10, ComparePorts), 3)
	assert.Empty(t, Top(ExitCounts{}.Ports, 3, ComparePorts))

	c := sum.clone()
	c.Ports[PortKey{0x71, false}] = 99
	assert.Equal(t, uint64(3), sum.Ports[PortKey{0x71, false}], "clone is deep")
}

func TestCompareKeys(t *testing.T) {
	assert.Negative(t, ComparePorts(PortKey{1, true}, PortKey{2, false}))
	assert.Negative(t, ComparePorts(PortKey{1, false}, PortKey{1, true}))
	assert.Zero(t, CompareMMIO(MMIOKey{0x1000, true}, MMIOKey{0x1000, true}))
	assert.Positive(t, CompareMMIO(MMIOKey{0x2000, false}, MMIOKey{0x1000, true}))
}
