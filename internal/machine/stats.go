package machine

import (
	"fmt"
	"slices"
	"strings"

	"gvmm/vmm"
)

// StatsTopN is how many ports and MMIO pages StatsLines names.
const StatsTopN = 8

// StatsLines formats what `gvmm boot --stats` prints at exit, one
// "gvmm: stats:" line each, key=value words so a script (the bench) can
// read them:
//
//	gvmm: stats: setup_us=… first_output_us=… ready_us=… reason=…
//	gvmm: stats: exits=N io=N mmio=N hlt=N …   (userspace exits, by reason)
//	gvmm: stats: ports 0x64:in=N 0x3f8:out=N … (the StatsTopN busiest)
//	gvmm: stats: mmio 0xd0000000:write=N …     (by 4 KiB page)
//
// The exits are the ones that reached gvmm; KVM handles the rest in the
// kernel and counts them in its own statistics.
func StatsLines(r Result) []string {
	lines := []string{fmt.Sprintf("gvmm: stats: setup_us=%d first_output_us=%d ready_us=%d reason=%s",
		r.SetupDoneAt, r.FirstOutputAt, r.ReadyAt, r.Reason)}
	words := []string{fmt.Sprintf("exits=%d", r.Exits.Total())}
	reasons := make([]uint32, 0, len(r.Exits.Reasons))
	for k := range r.Exits.Reasons {
		reasons = append(reasons, k)
	}
	slices.Sort(reasons)
	for _, k := range reasons {
		words = append(words, fmt.Sprintf("%s=%d", reasonKey(k), r.Exits.Reasons[k]))
	}
	lines = append(lines, "gvmm: stats: "+strings.Join(words, " "))
	if len(r.Exits.Ports) > 0 {
		words = words[:0]
		for _, p := range vmm.Top(r.Exits.Ports, StatsTopN, vmm.ComparePorts) {
			words = append(words, fmt.Sprintf("%#x:%s=%d", p.Key.Port, dir(p.Key.Write, "out", "in"), p.Count))
		}
		lines = append(lines, "gvmm: stats: ports "+strings.Join(words, " "))
	}
	if len(r.Exits.MMIO) > 0 {
		words = words[:0]
		for _, p := range vmm.Top(r.Exits.MMIO, StatsTopN, vmm.CompareMMIO) {
			words = append(words, fmt.Sprintf("%#x:%s=%d", p.Key.Page, dir(p.Key.Write, "write", "read"), p.Count))
		}
		lines = append(lines, "gvmm: stats: mmio "+strings.Join(words, " "))
	}
	return lines
}

// reasonKey is an exit reason as a key: KVM_EXIT_IO becomes "io".
func reasonKey(r uint32) string {
	name := vmm.ExitReasonName(r)
	if k, ok := strings.CutPrefix(name, "KVM_EXIT_"); ok {
		return strings.ToLower(k)
	}
	return fmt.Sprintf("reason%d", r)
}

func dir(write bool, w, r string) string {
	if write {
		return w
	}
	return r
}
