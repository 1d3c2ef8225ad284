package vmm

import (
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"gvmm/internal/testenv"
)

const nrHugePagesPath = "/proc/sys/vm/nr_hugepages"

// withHugePages sets the host's 2 MiB pool to n pages for the test and
// puts the old size back afterwards.
func withHugePages(t *testing.T, n int) {
	t.Helper()
	testenv.NeedRoot(t, "sizing the hugetlb pool (vm.nr_hugepages)")
	old, err := os.ReadFile(nrHugePagesPath)
	require.NoError(t, err)
	t.Cleanup(func() { _ = os.WriteFile(nrHugePagesPath, old, 0o644) })
	require.NoError(t, os.WriteFile(nrHugePagesPath, []byte(strconv.Itoa(n)), 0o644))
	got, err := os.ReadFile(nrHugePagesPath)
	require.NoError(t, err)
	if strings.TrimSpace(string(got)) != strconv.Itoa(n) {
		testenv.Skip(t, "the host gave the hugetlb pool %s pages of the %d asked (fragmented memory)", got, n)
	}
}

func TestHugeTLBGuestMemory(t *testing.T) {
	const size = 16 << 20
	withHugePages(t, size/HugePageSize)
	m, err := NewHugeTLBGuestMemory(size)
	require.NoError(t, err)
	defer m.Close()
	assert.True(t, m.HugeTLB())
	assert.True(t, m.HugePages())
	assert.Zero(t, hostAddress(m.host)%HugePageSize, "hugetlb memory is 2 MiB-aligned")
	before, err := m.Resident()
	require.NoError(t, err)
	assert.Zero(t, before, "reserved, not yet allocated")
	for _, off := range []int64{0, HugePageSize + 5, size - 1} {
		_, err := m.WriteAt([]byte{0x5a}, off)
		require.NoError(t, err)
	}
	after, err := m.Resident()
	require.NoError(t, err)
	assert.Equal(t, uint64(3*HugePageSize), after, "three touches, three whole huge pages")
	b := make([]byte, 1)
	_, err = m.ReadAt(b, HugePageSize+5)
	require.NoError(t, err)
	assert.Equal(t, byte(0x5a), b[0])
}

func TestHugeTLBPoolTooSmall(t *testing.T) {
	withHugePages(t, 2)
	_, err := NewHugeTLBGuestMemory(16 << 20)
	require.ErrorIs(t, err, ErrNoHugePages)
	assert.Contains(t, err.Error(), "needs 8 pages of 2 MiB and the host has 2 free")
	assert.Contains(t, err.Error(), "sysctl vm.nr_hugepages=8")
}

func TestHugeTLBSizeMustBeHugePages(t *testing.T) {
	_, err := NewHugeTLBGuestMemory(17 << 20)
	require.ErrorIs(t, err, ErrNoHugePages)
	assert.Contains(t, err.Error(), "multiple of 2 MiB")
	_, err = NewHugeTLBGuestMemory(1 << 20)
	require.Error(t, err)
}
