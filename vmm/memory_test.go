package vmm

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestGuestMemoryBounds(t *testing.T) {
	mem, err := NewGuestMemory(16 << 20)
	require.NoError(t, err)
	defer mem.Close()

	cases := []struct {
		name    string
		addr, n uint64
		ok      bool
	}{
		{"start", 0, 16, true},
		{"whole", 0, 16 << 20, true},
		{"last byte", 16<<20 - 1, 1, true},
		{"empty at end", 16 << 20, 0, true},
		{"one past end", 16<<20 - 1, 2, false},
		{"beyond", 16 << 20, 1, false},
		{"huge length", 0x1000, math.MaxUint64, false},
		{"wrapping", math.MaxUint64 - 4, 16, false},
		{"in the MMIO hole", MMIOGapStart, 4, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s, err := mem.Slice(c.addr, c.n)
			if !c.ok {
				assert.ErrorIs(t, err, ErrOutOfBounds)
				return
			}
			require.NoError(t, err)
			assert.Len(t, s, int(c.n))
			assert.Equal(t, int(c.n), cap(s), "slice capacity must not reach past the range")
		})
	}
}

func TestGuestMemoryReadWriteAt(t *testing.T) {
	mem, err := NewGuestMemory(8 << 20)
	require.NoError(t, err)
	defer mem.Close()

	n, err := mem.WriteAt([]byte("gvmm"), 0x1000)
	require.NoError(t, err)
	assert.Equal(t, 4, n)
	buf := make([]byte, 4)
	_, err = mem.ReadAt(buf, 0x1000)
	require.NoError(t, err)
	assert.Equal(t, "gvmm", string(buf))

	_, err = mem.WriteAt([]byte("xy"), 8<<20-1)
	assert.ErrorIs(t, err, ErrOutOfBounds, "a write straddling the end is refused whole")
	_, err = mem.ReadAt(buf, -1)
	assert.ErrorIs(t, err, ErrOutOfBounds)
}

func TestGuestMemorySplitsAroundMMIOHole(t *testing.T) {
	regions := splitRAM(MMIOGapStart + 1<<30)
	require.Len(t, regions, 2)
	assert.Equal(t, Range{0, MMIOGapStart}, regions[0].Range)
	assert.Equal(t, Range{HighRAMStart, 1 << 30}, regions[1].Range)
	assert.EqualValues(t, MMIOGapStart, regions[1].hostOffset)

	assert.Len(t, splitRAM(256<<20), 1, "small guests have one region")
}

func TestGuestMemoryHighRegion(t *testing.T) {
	// 3.25 GiB + 8 MiB: MAP_NORESERVE makes this cheap, nothing is touched.
	mem, err := NewGuestMemory(MMIOGapStart + 8<<20)
	require.NoError(t, err)
	defer mem.Close()
	_, err = mem.WriteAt([]byte{1, 2, 3}, HighRAMStart+8<<20-3)
	require.NoError(t, err)
	_, err = mem.WriteAt([]byte{1}, HighRAMStart+8<<20)
	assert.ErrorIs(t, err, ErrOutOfBounds)
	_, err = mem.Slice(MMIOGapStart-2, 4)
	assert.ErrorIs(t, err, ErrOutOfBounds, "a range crossing into the hole is refused")
}

func TestNewGuestMemoryRejects(t *testing.T) {
	_, err := NewGuestMemory(1 << 20)
	assert.Error(t, err)
	_, err = NewGuestMemory(8<<20 + 1)
	assert.Error(t, err)
}

func TestGuestCPUID(t *testing.T) {
	supported := []CPUIDEntry{
		{Function: cpuidLeafFeatures, EBX: 0x0a000800, ECX: 0x1},
		{Function: cpuidLeafExtTopology, EDX: 7},
	}
	got := GuestCPUID(supported, 3)
	byLeaf := map[uint32]CPUIDEntry{}
	for _, e := range got {
		byLeaf[e.Function] = e
	}
	assert.NotZero(t, byLeaf[cpuidLeafFeatures].ECX&cpuidHypervisorBit, "hypervisor bit")
	assert.EqualValues(t, 3, byLeaf[cpuidLeafFeatures].EBX>>24, "initial APIC ID")
	assert.EqualValues(t, 0x000800, byLeaf[cpuidLeafFeatures].EBX&0xffffff, "other EBX fields kept")
	assert.EqualValues(t, 3, byLeaf[cpuidLeafExtTopology].EDX, "x2APIC ID")
	sig := byLeaf[cpuidLeafKVMSignature]
	assert.Equal(t, "KVMKVMKVM\x00\x00\x00", string(le32(sig.EBX)+le32(sig.ECX)+le32(sig.EDX)))
	assert.Contains(t, byLeaf, uint32(cpuidLeafKVMFeatures))
	assert.EqualValues(t, 0x0a000800, supported[0].EBX, "input not modified")
}

func TestGuestCPUIDOverwritesKVMSignature(t *testing.T) {
	supported := []CPUIDEntry{
		{Function: cpuidLeafKVMSignature, EAX: 0x40000000, EBX: 1, ECX: 2, EDX: 3},
		{Function: cpuidLeafKVMFeatures, EAX: 0x1234},
	}
	got := GuestCPUID(supported, 0)
	require.Len(t, got, 2, "no duplicate leaves when KVM lists them")
	sig := got[0]
	assert.EqualValues(t, cpuidLeafKVMFeatures, sig.EAX, "max hypervisor leaf covers the features leaf")
	assert.Equal(t, "KVMKVMKVM\x00\x00\x00", le32(sig.EBX)+le32(sig.ECX)+le32(sig.EDX))
	assert.EqualValues(t, 0x1234, got[1].EAX, "KVM's PV feature bits kept")
}

func le32(v uint32) string {
	return string([]byte{byte(v), byte(v >> 8), byte(v >> 16), byte(v >> 24)})
}

// The mapping is 2 MiB-aligned, so guest-physical and host addresses agree
// modulo 2 MiB and KVM can map huge pages; untouched memory is not resident.
func TestGuestMemoryAlignedForHugePages(t *testing.T) {
	mem, err := NewGuestMemory(64 << 20)
	require.NoError(t, err)
	defer mem.Close()
	assert.Zero(t, hostAddress(mem.host)%HugePageSize, "host base on a 2 MiB boundary")
	for _, r := range mem.regions {
		assert.Zero(t, (hostAddress(mem.host)+r.hostOffset)%HugePageSize, "region at %#x", r.Start)
		assert.Zero(t, r.Start%HugePageSize)
	}
	before, err := mem.Resident()
	require.NoError(t, err)
	assert.Zero(t, before, "MAP_NORESERVE and nothing touched: nothing resident")
	_, err = mem.WriteAt([]byte{1}, 5<<20)
	require.NoError(t, err)
	after, err := mem.Resident()
	require.NoError(t, err)
	assert.GreaterOrEqual(t, after, uint64(pageSize), "the touched page is resident")
	if mem.HugePages() {
		assert.LessOrEqual(t, after, uint64(HugePageSize), "one touch costs at most one huge page")
	} else {
		assert.Equal(t, uint64(pageSize), after)
	}
}
