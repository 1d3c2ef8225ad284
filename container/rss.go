package container

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// ResidentKiB returns the resident set size of process pid in KiB (VmRSS
// of /proc/PID/status, proc(5)); pid 0 means this process. The bench uses
// it for the runtime's own memory once the workload runs.
func ResidentKiB(pid int) (int, error) {
	path := "/proc/self/status"
	if pid != 0 {
		path = "/proc/" + strconv.Itoa(pid) + "/status"
	}
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if v, ok := strings.CutPrefix(s.Text(), "VmRSS:"); ok {
			return strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
		}
	}
	return 0, fmt.Errorf("%s: no VmRSS", path)
}
