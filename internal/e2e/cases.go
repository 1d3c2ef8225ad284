package e2e

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// l2Case is one `gvmm boot` of a Linux guest inside L1.
type l2Case struct {
	name string
	// kernel is the path inside L1 (rig.L2KernelPath, or a Files path).
	kernel string
	// initrd is the initramfs path inside L1.
	initrd string
	// cmdline is the kernel command line.
	cmdline string
	// flags are further gvmm boot flags.
	flags string
	// timeoutSec bounds this L2 boot inside L1 (busybox timeout).
	timeoutSec int
}

// script returns the L1 shell lines that run the case and report its exit
// status between markers, so one L1 boot can run several L2 boots and each
// can be checked on its own.
func (c l2Case) script() string {
	// gvmm's own stderr goes to a file printed after the guest's console,
	// so its lines cannot interleave with the guest's. A boot that hits
	// the deadline (gvmm stopped by timeout's SIGTERM) is tried once more, and
	// says so: about 2% of L2 boots stall in QEMU's TCG emulation of SVM
	// (../shared/NESTED.md, "A race in QEMU's TCG SVM emulation"). A
	// second stall fails the case.
	return fmt.Sprintf("for attempt in 1 2; do\n"+
		"echo '=== begin %[1]s'\n"+
		"timeout %[2]d gvmm boot %[3]s --initrd %[4]s --mem 256M %[5]s --cmdline '%[6]s' </dev/null 2>/tmp/%[1]s.err\n"+
		"code=$?\ncat /tmp/%[1]s.err\n"+
		// busybox timeout passes on the child's status, and gvmm exits 0
		// on SIGTERM: a stall shows as gvmm's "terminating on signal".
		"grep -q 'terminating on signal' /tmp/%[1]s.err || break\n"+
		"code=124\n"+
		"echo '=== retry %[1]s: the L2 boot stalled past %[2]d s (QEMU TCG SVM race, see NESTED.md)'\n"+
		"done\n"+
		"echo \"=== end %[1]s exit $code\"\n",
		c.name, c.timeoutSec, c.kernel, c.initrd, c.flags, c.cmdline)
}

// script joins several cases into one L1 command.
func script(cases ...l2Case) string {
	var b strings.Builder
	for _, c := range cases {
		b.WriteString(c.script())
	}
	return b.String()
}

// caseOutput is what one case printed and how gvmm exited.
type caseOutput struct {
	text string
	exit int
}

// retryMarker is the line the script prints before trying a stalled boot
// again.
var retryMarker = regexp.MustCompile(`(?m)^=== retry .*$`)

// retries returns the retry notices in the output, for the test log.
func retries(out string) []string { return retryMarker.FindAllString(out, -1) }

var endMarker = regexp.MustCompile(`^=== end (\S+) exit (-?[0-9]+)$`)

// splitCases cuts the L1 command's output into the cases' outputs.
func splitCases(out string) map[string]caseOutput {
	res := map[string]caseOutput{}
	var cur []string
	for _, line := range strings.Split(out, "\n") {
		line = strings.TrimRight(line, "\r")
		if strings.HasPrefix(line, "=== begin ") {
			cur = cur[:0]
			continue
		}
		if m := endMarker.FindStringSubmatch(line); m != nil {
			code, _ := strconv.Atoi(m[2])
			res[m[1]] = caseOutput{text: strings.Join(cur, "\n"), exit: code}
			continue
		}
		cur = append(cur, line)
	}
	return res
}
