package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"gvmm/vmm"
)

const checkUsage = `usage: gvmm check [--kvm PATH]

Report whether this host can run gvmm VMs: whether it is itself a VM and
under which hypervisor, which KVM module backs the KVM device, the device's
API version and capabilities, and a verdict line ("verdict: OK ...").

exit status:
  0  the KVM device opens and gvmm can use it (verdict OK, LIMITED or UNKNOWN)
  1  it cannot (verdict NO KVM or NO ACCESS)
  2  usage error

flags:`

// runCheck is `gvmm check`: everything a user needs to know before
// booting, and whether booting Linux can work here. It exits 0 when the
// KVM device is usable, 1 when it is not and 2 for a usage error.
func runCheck(args []string) int {
	fs := flag.NewFlagSet("check", flag.ContinueOnError)
	kvmPath := fs.String("kvm", vmm.DevKVM, "KVM device `path`")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), checkUsage)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); errors.Is(err, flag.ErrHelp) {
		return 0
	} else if err != nil {
		return 2
	}
	return systemProbe().check(os.Stdout, *kvmPath)
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

// check writes the report for the KVM device at kvmPath to w and returns
// the exit code: 0 when the device is usable, else 1.
func (p hostProbe) check(w io.Writer, kvmPath string) int {
	h := p.facts()
	sys, err := p.openKVM(kvmPath)
	writeHost(w, h)
	if err == nil {
		defer sys.Close()
		writeModule(w, h, true)
		writeUsable(w, kvmPath, h.module, sys)
		return 0
	}
	// A node that is missing, or that no driver answers, is no device --
	// unless /proc/misc shows KVM registered one, which the node lacks.
	writeModule(w, h, !errNoDevice(err) || h.kvmMinor >= 0)
	switch {
	case errors.Is(err, vmm.ErrKVMPermission):
		field(w, kvmPath, "NOT USABLE (present, but this user may not open it read-write)")
		fmt.Fprintln(w, "gvmm: "+advice(err))
		field(w, "verdict", "NO ACCESS: "+kvmPath+" exists, but this user cannot open it: "+
			"join the kvm group or run as root")
	case errNoDevice(err):
		writeNoDevice(w, kvmPath, h, err)
	default:
		field(w, kvmPath, "NOT USABLE ("+err.Error()+")")
		field(w, "verdict", "NO KVM: gvmm cannot use this KVM device: "+err.Error())
	}
	return 1
}

// field writes one "label:<padding to column 15>value" line. Tests and
// the Makefile (`grep '^verdict: *OK'`) match these lines.
func field(w io.Writer, label, value string) {
	fmt.Fprintf(w, "%-14s %s\n", label+":", value)
}

// more writes lines that continue the previous field's value.
func more(w io.Writer, lines ...string) {
	for _, l := range lines {
		fmt.Fprintf(w, "%15s%s\n", "", l)
	}
}

// writeHost writes the "host:" line: VM or bare metal, which hypervisor,
// and whether VT-x/SVM is available to this OS.
func writeHost(w io.Writer, h hostFacts) {
	virt := "VT-x/SVM unknown"
	switch {
	case h.vmx:
		virt = "VT-x visible"
	case h.svm:
		virt = "AMD-V (SVM) visible"
	case h.virtKnown:
		virt = "no VT-x/SVM visible"
	}
	if !h.hypervisorBit {
		if !h.virtKnown {
			field(w, "host", "unknown (neither CPUID nor /proc/cpuinfo could be read)")
			return
		}
		field(w, "host", "bare metal (no hypervisor bit); "+virt)
		return
	}
	var about []string
	if name := h.hypervisorName(); name != "" {
		about = append(about, "hypervisor: "+name)
	}
	if h.signature != "" {
		about = append(about, "CPUID "+quoteSignature(h.signature))
	}
	desc := "a VM"
	if len(about) > 0 {
		desc += " (" + strings.Join(about, ", ") + ")"
	}
	field(w, "host", desc+"; "+virt)
	sigName := hypervisorSignatures[h.signature]
	if h.kernelHypervisor == "PVM" && h.signature != "" && sigName != "KVM" && sigName != "PVM" {
		// asm/pvm_para.h: PVM cannot trap CPUID; its guests read PVM's
		// leaves through a privileged synthetic CPUID instead.
		more(w, "PVM does not trap CPUID, so CPUID from user space reports the layer below PVM")
	}
	if h.kernelHypervisor == "" && h.logErr != nil {
		more(w, "kernel log unreadable ("+h.logErr.Error()+"); as root, its \"Hypervisor detected\" line names the hypervisor")
	}
}

// writeModule writes the "KVM module:" line, and "nested:" for a hardware
// module. hasDevice says whether a KVM device exists; without one, a
// loaded module is not this host's KVM and is not described as such.
func writeModule(w io.Writer, h hostFacts, hasDevice bool) {
	if hasDevice || h.module == "" {
		field(w, "KVM module", describeFlavour(h.module, h.kvmCore))
	} else {
		field(w, "KVM module", h.module+" loaded, but it provides no /dev/kvm here")
		if h.moduleLog != "" {
			more(w, "kernel log: "+strconv.Quote(h.moduleLog))
		}
	}
	if n := nestedSetting(h.module, h.nested); n != "" {
		field(w, "nested", n)
	}
}

// writeUsable reports an open KVM device and the verdict for its module.
func writeUsable(w io.Writer, kvmPath, module string, sys kvmSystem) {
	v, _ := sys.APIVersion()
	field(w, kvmPath, "present, opened read-write")
	field(w, "API version", strconv.Itoa(v))
	field(w, "max vCPUs", strconv.Itoa(sys.MaxVCPUs()))
	var caps []string
	for _, c := range checkedCaps {
		mark := "yes"
		if n, _ := sys.CheckExtension(c.cap); n <= 0 {
			mark = "no"
		}
		caps = append(caps, c.name+"="+mark)
	}
	field(w, "capabilities", strings.Join(caps, " "))
	switch module {
	case "kvm_intel", "kvm_amd":
		field(w, "verdict", "OK: hardware virtualization; gvmm can boot Linux guests")
	case "kvm_pvm":
		field(w, "verdict", "LIMITED: kvm_pvm is software nested virtualization. Tiny guests")
		more(w,
			"run, but guest kernel code goes through KVM's instruction emulator,",
			"which fails on instructions stock Linux kernels use (cmpxchg16b,",
			"xrstor, int3, syscall): Linux will not boot to userspace here.",
			"Use hardware KVM, or the nested rig (make e2e).")
	default:
		field(w, "verdict", "UNKNOWN KVM implementation; tiny guests should run")
	}
}

// writeNoDevice reports a host with no KVM device at kvmPath, and what,
// on this host, would give it one.
func writeNoDevice(w io.Writer, kvmPath string, h hostFacts, err error) {
	why := "does not exist"
	if !errors.Is(err, vmm.ErrNoKVM) {
		why = "no KVM driver answers it: " + err.Error()
	}
	if h.kvmMinor < 0 {
		why += "; /proc/misc has no kvm entry, so KVM registered no device"
	}
	field(w, kvmPath, "NOT USABLE ("+why+")")
	switch {
	case h.kvmMinor >= 0:
		field(w, "verdict", fmt.Sprintf("NO KVM: KVM registered its device (misc 10:%d in /proc/misc), "+
			"but %s is not its node", h.kvmMinor, kvmPath))
		more(w, fmt.Sprintf("create it (mknod /dev/kvm c 10 %d; chgrp kvm /dev/kvm; chmod 660 /dev/kvm),", h.kvmMinor),
			"or, in a container, pass the host's /dev/kvm in")
	case h.hypervisorBit && !h.vmx && !h.svm:
		writeVMWithoutVirt(w, h)
	default:
		writeLoadKVM(w, h, err)
	}
}

// writeVMWithoutVirt is the verdict for a VM whose hypervisor gives it no
// VT-x/SVM: no module loaded here can make a /dev/kvm.
func writeVMWithoutVirt(w io.Writer, h hostFacts) {
	name := h.hypervisorName()
	if name == "" {
		name = "an unnamed hypervisor"
	}
	field(w, "verdict", "NO KVM: this host is a VM under "+name+", which gives it no VT-x/SVM; "+
		"boot Linux guests in the nested rig (make run, make e2e, make kvm-tests)")
	more(w,
		"There is no /dev/kvm, and loading kvm_intel or kvm_amd cannot help: both need",
		"VT-x or SVM, and "+name+" does not expose them to this VM.")
	if h.module != "" {
		more(w, h.module+" is loaded, but it registered no /dev/kvm: it is not this host's KVM.")
	}
	more(w,
		"The nested rig runs a QEMU-emulated L1 with real KVM: make run boots Linux there,",
		"make e2e runs the end-to-end tests, and make kvm-tests runs the KVM tests inside it.",
		"To run gvmm here directly, enable nested virtualization on the machine that runs",
		"this VM, or use a runner that offers it.")
}

// writeLoadKVM is the verdict for a host that could have KVM: bare metal,
// or a VM whose hypervisor exposes VT-x/SVM.
func writeLoadKVM(w io.Writer, h hostFacts, err error) {
	fmt.Fprintln(w, "gvmm: "+advice(err))
	switch {
	case h.module != "":
		field(w, "verdict", "NO KVM: "+h.module+" is loaded but registered no KVM device (see dmesg)")
	case h.vmx:
		field(w, "verdict", "NO KVM: VT-x is visible but KVM is not loaded: modprobe kvm_intel")
	case h.svm:
		field(w, "verdict", "NO KVM: AMD-V (SVM) is visible but KVM is not loaded: modprobe kvm_amd")
	default:
		field(w, "verdict", "NO KVM: enable VT-x/AMD-V in the firmware, then modprobe kvm_intel or kvm_amd")
	}
}

// describeFlavour describes the module behind a KVM device.
func describeFlavour(module string, kvmCore bool) string {
	switch module {
	case "kvm_intel":
		return "kvm_intel (hardware, Intel VT-x)"
	case "kvm_amd":
		return "kvm_amd (hardware, AMD-V/SVM)"
	case "kvm_pvm":
		return "kvm_pvm (SOFTWARE nested virtualization, no hardware VT-x/SVM)"
	case "":
		if kvmCore {
			return "kvm loaded, but no kvm_intel/kvm_amd/kvm_pvm module"
		}
		return "none loaded"
	}
	return module
}

// nestedSetting describes the hardware module's "nested" parameter
// (value), which says whether guests of this host may run KVM themselves.
func nestedSetting(module, value string) string {
	if module != "kvm_intel" && module != "kvm_amd" {
		return ""
	}
	switch value {
	case "":
		return "unknown"
	case "Y", "1":
		return "enabled (guests of this host may run KVM)"
	}
	return "disabled (guests of this host cannot run KVM; set " + module + " nested=1)"
}
