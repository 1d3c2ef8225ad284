package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"gvmm/vmm"
)

// runCheck is `gvmm check`: everything a user needs to know before
// booting, and whether booting Linux can work here.
func runCheck(args []string) int {
	fs := flag.NewFlagSet("check", flag.ContinueOnError)
	kvmPath := fs.String("kvm", vmm.DevKVM, "KVM device `path`")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	return check(os.Stdout, *kvmPath)
}

// checkedCaps are the capabilities `gvmm check` lists.
var checkedCaps = []struct {
	cap  uintptr
	name string
}{
	{vmm.KVM_CAP_USER_MEMORY, "USER_MEMORY"},
	{vmm.KVM_CAP_IRQCHIP, "IRQCHIP"},
	{vmm.KVM_CAP_PIT2, "PIT2"},
	{vmm.KVM_CAP_EXT_CPUID, "EXT_CPUID"},
	{vmm.KVM_CAP_IMMEDIATE_EXIT, "IMMEDIATE_EXIT"},
	{vmm.KVM_CAP_IRQFD, "IRQFD"},
	{vmm.KVM_CAP_IOEVENTFD, "IOEVENTFD"},
	{vmm.KVM_CAP_TSC_DEADLINE_TIMER, "TSC_DEADLINE_TIMER"},
	{vmm.KVM_CAP_ADJUST_CLOCK, "ADJUST_CLOCK"},
}

func check(w io.Writer, kvmPath string) int {
	flavour := vmm.Flavour()
	fmt.Fprintf(w, "KVM module:    %s\n", describeFlavour(flavour))
	if n := nestedSetting(flavour); n != "" {
		fmt.Fprintf(w, "nested:        %s\n", n)
	}
	sys, err := vmm.OpenSystem(kvmPath)
	if err != nil {
		fmt.Fprintf(w, "%-14s %s\n", kvmPath+":", "NOT USABLE")
		fmt.Fprintln(w, "gvmm: "+advice(err))
		return 1
	}
	defer sys.Close()
	v, _ := sys.APIVersion()
	fmt.Fprintf(w, "%-14s %s\n", kvmPath+":", "present, opened read-write")
	fmt.Fprintf(w, "API version:   %d\n", v)
	fmt.Fprintf(w, "max vCPUs:     %d\n", sys.MaxVCPUs())
	var caps []string
	for _, c := range checkedCaps {
		mark := "yes"
		if n, _ := sys.CheckExtension(c.cap); n <= 0 {
			mark = "no"
		}
		caps = append(caps, c.name+"="+mark)
	}
	fmt.Fprintf(w, "capabilities:  %s\n", strings.Join(caps, " "))
	switch flavour {
	case "kvm_intel", "kvm_amd":
		fmt.Fprintln(w, "verdict:       OK: hardware virtualization; gvmm can boot Linux guests")
	case "kvm_pvm":
		fmt.Fprintln(w, "verdict:       LIMITED: kvm_pvm is software nested virtualization. Tiny guests")
		fmt.Fprintln(w, "               run, but guest kernel code goes through KVM's instruction emulator,")
		fmt.Fprintln(w, "               which fails on instructions stock Linux kernels use (cmpxchg16b,")
		fmt.Fprintln(w, "               xrstor, int3, syscall): Linux will not boot to userspace here.")
		fmt.Fprintln(w, "               Use hardware KVM, or the nested rig (make e2e).")
	default:
		fmt.Fprintln(w, "verdict:       UNKNOWN KVM implementation; tiny guests should run")
	}
	return 0
}

func describeFlavour(f string) string {
	switch f {
	case "kvm_intel":
		return "kvm_intel (hardware, Intel VT-x)"
	case "kvm_amd":
		return "kvm_amd (hardware, AMD-V/SVM)"
	case "kvm_pvm":
		return "kvm_pvm (SOFTWARE nested virtualization, no hardware VT-x/SVM)"
	case "":
		if _, err := os.Stat("/sys/module/kvm"); err == nil {
			return "kvm loaded, but no kvm_intel/kvm_amd/kvm_pvm module"
		}
		return "none loaded (modprobe kvm_intel or kvm_amd)"
	}
	return f
}

// nestedSetting reads whether the hardware module lets guests run KVM
// themselves (the "nested" module parameter).
func nestedSetting(flavour string) string {
	if flavour != "kvm_intel" && flavour != "kvm_amd" {
		return ""
	}
	b, err := os.ReadFile("/sys/module/" + flavour + "/parameters/nested")
	if err != nil {
		return "unknown"
	}
	switch strings.TrimSpace(string(b)) {
	case "Y", "1":
		return "enabled (guests of this host may run KVM)"
	}
	return "disabled (guests of this host cannot run KVM; set " + flavour + " nested=1)"
}
