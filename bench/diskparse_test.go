package bench

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseDisk(t *testing.T) {
	out := "noise\n" +
		"disk: vmm=gvmm run=1 ready=10.0..40.5 login=10.0..42.0 rss_kib=300000 guest_kib=280000 read=1.2k write=900 randread=1.1k randwrite=850\n" +
		"disk: vmm=qemu run=1 ready=50.0..90.0 login=50.0..93.0 rss_kib=350000 guest_kib=290000 read=1000 write=800 randread=1.0k randwrite=700\n"
	s, err := parseDisk(out)
	require.NoError(t, err)
	require.Len(t, s, 2)
	assert.Equal(t, 30500*time.Millisecond, s[0].Ready)
	assert.Equal(t, 1200.0, s[0].IOPS["read"])
	assert.Equal(t, int64(280000), s[0].Guest)
	table, err := diskTable(s)
	require.NoError(t, err)
	assert.Contains(t, table, "| READY (nginx up), rig s | 30.5 | 40.0 | 0.76× |")
	assert.Contains(t, table, "| fio 4 KiB randread, IOPS | 1100 | 1000 | 1.10× |")

	_, err = parseDisk("disk: vmm=qemu run=2 failed\n")
	assert.ErrorContains(t, err, "never reached READY")
	_, err = parseDisk("disk: vmm=gvmm run=1 ready=1..2 login=1..3 rss_kib=1 guest_kib=1 read=1\n")
	assert.ErrorContains(t, err, "no fio write result")
}
