package sandbox

import (
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// hasCap reports whether the calling thread's effective set holds c.
func hasCap(c int) bool {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return false
	}
	return data[c/32].Effective&(1<<(c%32)) != 0
}

// lastCap is the highest capability this kernel knows
// (/proc/sys/kernel/cap_last_cap), 40 (CAP_CHECKPOINT_RESTORE) when the
// file cannot be read.
func lastCap() (int, error) {
	b, err := os.ReadFile("/proc/sys/kernel/cap_last_cap")
	if err != nil {
		return unix.CAP_CHECKPOINT_RESTORE, nil
	}
	return strconv.Atoi(strings.TrimSpace(string(b)))
}
