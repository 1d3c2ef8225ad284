package nsinit

import (
	"bytes"
	"os"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"
)

// rssFileKiB reads this process's resident pages that are backed by files
// (RssFile in /proc/self/status, proc(5)), in KiB.
func rssFileKiB(t *testing.T) int {
	t.Helper()
	data, err := os.ReadFile("/proc/self/status")
	require.NoError(t, err)
	for _, line := range bytes.Split(data, []byte("\n")) {
		if v, ok := bytes.CutPrefix(line, []byte("RssFile:")); ok {
			n, err := strconv.Atoi(string(bytes.TrimSuffix(bytes.TrimSpace(v), []byte(" kB"))))
			require.NoError(t, err)
			return n
		}
	}
	t.Fatal("no RssFile in /proc/self/status")
	return 0
}

// TestDropProgramPages checks that the waiter's trim gives back pages of
// the program's code (the test binary's here) and that the program keeps
// running from the page cache afterwards.
func TestDropProgramPages(t *testing.T) {
	before := rssFileKiB(t)
	dropProgramPages()
	after := rssFileKiB(t)
	t.Logf("RssFile %d KiB -> %d KiB", before, after)
	// What this test runs between the two reads faults some pages back;
	// most of a test binary's touched code and data stays out.
	require.Less(t, after, before*3/4, "resident program pages given back")
	require.Equal(t, "still runs", string(append([]byte("still "), "runs"...)))
}
