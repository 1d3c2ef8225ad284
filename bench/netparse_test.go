package bench

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const sha = "1de7bf1ff72925599cbc10c023f034fb59c099b52eed9fa92d5abe0a7a309cdd"

func TestParseNetResults(t *testing.T) {
	out := "noise\n" +
		"result: vmm=gvmm dir=guest-to-host wall=10.00..12.00 cpu=100..250 guest=20..50 out=33554432 " + sha + "\n" +
		"result: vmm=qemu dir=host-to-guest wall=20.50..21.50 cpu=5..105 guest=0..40 out=33554432 " + sha + " 33554432 " + sha + "\n"
	s, err := parseNetResults(out)
	require.NoError(t, err)
	require.Len(t, s, 2)
	assert.Equal(t, netSample{VMM: "gvmm", Dir: "guest-to-host", Wall: 2 * time.Second, CPU: 1500 * time.Millisecond, GuestCPU: 300 * time.Millisecond, Bytes: netBytes, Intact: true}, s[0])
	assert.Equal(t, time.Second, s[1].Wall)

	rep := summariseNet(s)
	require.Len(t, rep.Rows, 2)
	assert.Equal(t, "guest-to-host", rep.Rows[0].Dir)
	assert.InDelta(t, float64(netBytes)/1e6/2, rep.Rows[0].MBps, 1e-9)
	assert.InDelta(t, 1.2/(float64(netBytes)/1e9), rep.Rows[0].VMMCPUPerGB, 1e-9)
	assert.Contains(t, rep.Markdown(), "| gvmm | guest-to-host |")
}

func TestParseNetResultsRejectsBrokenTransfers(t *testing.T) {
	for name, out := range map[string]string{
		"none":     "nothing here\n",
		"error":    "result: vmm=gvmm dir=guest-to-host wall=1..2 cpu=1..2 guest=1..2 out=error: connection reset\n",
		"short":    "result: vmm=gvmm dir=guest-to-host wall=1..2 cpu=1..2 guest=1..2 out=1000 " + sha + "\n",
		"mismatch": "result: vmm=qemu dir=host-to-guest wall=1..2 cpu=1..2 guest=1..2 out=33554432 " + sha + " 33554432 " + strings.Repeat("0", 64) + "\n",
		"no-time":  "result: vmm=qemu dir=guest-to-host wall=2..2 cpu=1..2 guest=1..2 out=33554432 " + sha + "\n",
	} {
		t.Run(name, func(t *testing.T) {
			_, err := parseNetResults(out)
			assert.Error(t, err)
		})
	}
}
