package machine

import (
	"fmt"
	"slices"
	"strings"

	"gvmm/vmm"
)

// StatsTopN is how many ports and MMIO pages StatsLines names.
const StatsTopN = 8

// kvmCounterNames are the KVM counters StatsLines prints, in this order:
// all exits, the kinds the course discusses, and the guest page faults
// KVM took (pf_taken). x86 KVM's names (arch/x86/kvm/x86.c,
// kvm_vcpu_stats_desc).
var kvmCounterNames = []string{
	"exits", "io_exits", "mmio_exits", "halt_exits", "irq_exits",
	"irq_window_exits", "nmi_window_exits", "signal_exits", "request_irq_exits",
	"insn_emulation", "hypercalls", "pf_taken", "pf_fixed",
}

// StatsLines formats what `gvmm boot --stats` prints at exit, one
// "gvmm: stats:" line each, key=value words so a script (the bench) can
// read them:
//
//	gvmm: stats: setup_us=… first_output_us=… ready_us=… reason=…
//	gvmm: stats: exits=N io=N mmio=N hlt=N …   (userspace exits, by reason)
//	gvmm: stats: ports 0x64:in=N 0x3f8:out=N … (the StatsTopN busiest)
//	gvmm: stats: mmio 0xd0000000:write=N …     (by 4 KiB page)
//	gvmm: stats: kvm exits=N io_exits=N …      (KVM's counters, all exits)
//	gvmm: stats: memory guest_resident_kib=N huge_pages=true hugetlb=false
//
// The exits by reason, port and page are the ones that reached gvmm; the
// kvm line is KVM's own count, which includes the exits KVM handled in the
// kernel (the in-kernel APIC, PIT and PIC, page faults).
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
	switch {
	case r.KVMErr != nil:
		lines = append(lines, "gvmm: stats: kvm unavailable: "+r.KVMErr.Error())
	case r.KVM != nil:
		words = words[:0]
		for _, name := range kvmCounterNames {
			if v, ok := r.KVM[name]; ok {
				words = append(words, fmt.Sprintf("%s=%d", name, v))
			}
		}
		lines = append(lines, "gvmm: stats: kvm "+strings.Join(words, " "))
	}
	lines = append(lines, fmt.Sprintf("gvmm: stats: memory guest_resident_kib=%d huge_pages=%t hugetlb=%t",
		r.GuestResident>>10, r.HugePages, r.HugeTLB))
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
