package bench

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseExits(t *testing.T) {
	out := strings.Join([]string{
		"noise",
		"exits: vmm=gvmm kernel=k run=1 ready=10.00..14.50 exits=100 io_exits=10 mmio_exits=1 halt_exits=2 irq_exits=3 pf_taken=4",
		"exits: vmm=qemu kernel=k run=1 ready=20.00..29.00 exits=400 io_exits=40 mmio_exits=0 halt_exits=0 irq_exits=6 pf_taken=8",
		"exits: vmm=gvmm kernel=k run=2 ready=30.00..34.00 exits=120 io_exits=12 mmio_exits=1 halt_exits=2 irq_exits=3 pf_taken=4",
		"exits: vmm=qemu kernel=k run=2 ready=40.00..50.00 exits=500 io_exits=50 mmio_exits=0 halt_exits=0 irq_exits=6 pf_taken=8",
	}, "\n")
	s, err := parseExits(out)
	require.NoError(t, err)
	require.Len(t, s, 4)
	assert.Equal(t, 4500*time.Millisecond, s[0].Ready)
	assert.Equal(t, int64(400), s[1].Counters["exits"])
	table, err := exitsTable(s, []string{"k"})
	require.NoError(t, err)
	assert.Contains(t, table, "| k | exits | 100 | 400 | 0.25× |", "lower medians of two runs")
	assert.Contains(t, table, "| k | ready_s | 4.00 | 9.00 | 0.44× |")
}

func TestParseExitsErrors(t *testing.T) {
	for name, out := range map[string]string{
		"nothing":        "hello",
		"failed boot":    "exits: vmm=qemu kernel=k run=1 failed",
		"missing field":  "exits: vmm=gvmm kernel=k run=1 ready=1..2 exits=1",
		"bad number":     "exits: vmm=gvmm kernel=k run=1 ready=1..2 exits=x io_exits=1 mmio_exits=1 halt_exits=1 irq_exits=1 pf_taken=1",
		"time backwards": "exits: vmm=gvmm kernel=k run=1 ready=3..2 exits=1 io_exits=1 mmio_exits=1 halt_exits=1 irq_exits=1 pf_taken=1",
	} {
		_, err := parseExits(out)
		assert.Error(t, err, name)
	}
	_, err := exitsTable(nil, []string{"k"})
	assert.Error(t, err, "no samples")
}
