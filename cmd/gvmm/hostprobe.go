package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"gvmm/vmm"
)

// kvmModules are the modules that can provide /dev/kvm, in the order
// `gvmm check` names them when several are loaded.
var kvmModules = []string{"kvm_intel", "kvm_amd", "kvm_pvm"}

// CPUID leaves and bits the probe reads.
const (
	// Intel SDM Vol. 2A, CPUID leaf 01H, ECX bit 5: VMX. Bit 31 is not
	// used by processors and is set by hypervisors to say "you are a
	// guest" (Linux: X86_FEATURE_HYPERVISOR; AMD APM Vol. 3, Fn0000_0001
	// ECX bit 31, "reserved for use by hypervisor").
	cpuidLeafFeatures = 0x1
	cpuidECXVMX       = 1 << 5
	cpuidECXHyper     = 1 << 31
	// Intel SDM / AMD APM: leaf 80000000H EAX is the highest extended
	// leaf; AMD APM Vol. 3, Fn8000_0001 ECX bit 2: SVM.
	cpuidLeafExtMax      = 0x80000000
	cpuidLeafExtFeatures = 0x80000001
	cpuidECXSVM          = 1 << 2
	// Documentation/virt/kvm/x86/cpuid.rst: leaf 0x40000000 returns the
	// hypervisor's 12-byte signature in EBX, ECX, EDX ("KVMKVMKVM\0\0\0" for
	// KVM); the other hypervisors below use the same leaf. It means
	// something only when the hypervisor bit is set: on bare metal Intel
	// answers leaves above the maximum with the highest basic leaf.
	cpuidLeafHypervisor = 0x40000000
)

// hypervisorSignatures names the signatures of CPUID leaf 0x40000000, as
// each hypervisor (and Linux's arch/x86/kernel/cpu/ detection) spells them.
// PVM answers 0x40000000 with KVM's signature (it is a KVM backend) and
// its own "PVMPVMPVM\0\0\0" only at 0x40000200 through its synthetic,
// privileged CPUID (arch/x86/include/uapi/asm/pvm_para.h), which user space
// cannot execute: the kernel log is where PVM is named.
var hypervisorSignatures = map[string]string{
	"KVMKVMKVM\x00\x00\x00": "KVM",
	"Microsoft Hv":          "Microsoft Hyper-V",
	"VMwareVMware":          "VMware",
	"XenVMMXenVMM":          "Xen",
	"TCGTCGTCGTCG":          "QEMU TCG",
	" lrpepyh  vr":          "Parallels",
	"bhyve bhyve ":          "bhyve",
	"ACRNACRNACRN":          "ACRN",
	"VBoxVBoxVBox":          "VirtualBox",
	"Jailhouse\x00\x00\x00": "Jailhouse",
	"PVMPVMPVM\x00\x00\x00": "PVM",
}

// kvmSystem is what `gvmm check` asks an open KVM device; *vmm.System
// implements it, and tests fake it.
type kvmSystem interface {
	APIVersion() (int, error)
	MaxVCPUs() int
	CheckExtension(c uintptr) (int, error)
	Close() error
}

// hostProbe reads what `gvmm check` reports about the host. Every source
// is a field, so tests can describe any host without having it.
type hostProbe struct {
	// root is the host's file system rooted at "/" (os.DirFS("/")): the
	// probe reads sys/module/..., proc/misc, proc/cpuinfo,
	// sys/hypervisor/type and var/log/dmesg from it.
	root fs.FS
	// cpuid executes CPUID; nil when it cannot be executed.
	cpuid func(leaf, subleaf uint32) (eax, ebx, ecx, edx uint32)
	// kernelLog returns the kernel log (what dmesg prints); an error
	// says why it cannot be read (dmesg_restrict for non-root users).
	kernelLog func() (string, error)
	// openKVM opens the KVM device at path and checks that gvmm can use
	// it, as vmm.OpenSystem does, returning its sentinel errors.
	openKVM func(path string) (kvmSystem, error)
}

// systemProbe is the probe of the machine gvmm runs on.
func systemProbe() hostProbe {
	return hostProbe{
		root:      os.DirFS("/"),
		cpuid:     cpuid,
		kernelLog: readKernelLog,
		openKVM:   openSystem,
	}
}

// openSystem wraps vmm.OpenSystem so that a failed open is a nil
// interface, not an interface holding a nil *vmm.System.
func openSystem(path string) (kvmSystem, error) {
	s, err := vmm.OpenSystem(path)
	if err != nil {
		return nil, err
	}
	return s, nil
}

// readKernelLog reads the kernel's log buffer with syslog(2)
// SYSLOG_ACTION_READ_ALL, which needs CAP_SYSLOG when dmesg_restrict=1.
func readKernelLog() (string, error) {
	n, err := unix.Klogctl(unix.SYSLOG_ACTION_SIZE_BUFFER, nil)
	if err != nil {
		return "", fmt.Errorf("syslog(SYSLOG_ACTION_SIZE_BUFFER): %w", err)
	}
	buf := make([]byte, n)
	n, err = unix.Klogctl(unix.SYSLOG_ACTION_READ_ALL, buf)
	if err != nil {
		return "", fmt.Errorf("syslog(SYSLOG_ACTION_READ_ALL): %w", err)
	}
	return string(buf[:n]), nil
}

// hostFacts is what the probe found. It says nothing about whether the
// KVM device opens: that is the open's error, beside it.
type hostFacts struct {
	// module is the first of kvmModules loaded (/sys/module), "" if none.
	module string
	// kvmCore is whether the kvm module itself is loaded.
	kvmCore bool
	// kvmMinor is KVM's misc-device minor from /proc/misc (232,
	// include/linux/miscdevice.h KVM_MINOR), or -1 when KVM registered
	// no device: then no /dev/kvm can exist, whatever module is loaded.
	kvmMinor int
	// hypervisorBit is whether this OS runs in a VM: CPUID.1:ECX[31], the
	// kernel's "hypervisor" flag, or a hypervisor the kernel named.
	hypervisorBit bool
	// kernelHypervisor is the kernel's "Hypervisor detected: NAME" (from
	// arch/x86/kernel/cpu/hypervisor.c), "" when not found.
	kernelHypervisor string
	// sysHypervisor is /sys/hypervisor/type (Xen sets it), "" if absent.
	sysHypervisor string
	// signature is CPUID leaf 0x40000000's EBX:ECX:EDX, "" when the
	// hypervisor bit is clear or CPUID is unavailable.
	signature string
	// vmx and svm are whether VT-x or AMD-V is available to this OS.
	vmx, svm bool
	// virtKnown is whether vmx and svm were read at all.
	virtKnown bool
	// nested is the hardware module's "nested" parameter, "" if unread.
	nested string
	// moduleLog is the module's last kernel log line (e.g. why kvm_pvm
	// did not bind), "" when there is none.
	moduleLog string
	// logErr is why the kernel log could not be read, nil if it was.
	logErr error
}

// hypervisorName names the hypervisor this OS runs on, preferring the
// kernel's own detection (which, under PVM, used PVM's synthetic CPUID)
// to the CPUID signature user space sees, "" when nothing names it.
func (h hostFacts) hypervisorName() string {
	switch {
	case h.kernelHypervisor != "":
		return h.kernelHypervisor
	case h.sysHypervisor != "":
		return h.sysHypervisor
	}
	return hypervisorSignatures[h.signature]
}

// facts probes the host. Unreadable sources leave their facts zero.
func (p hostProbe) facts() hostFacts {
	h := hostFacts{kvmMinor: -1}
	for _, m := range kvmModules {
		if p.exists("sys/module/" + m) {
			h.module = m
			break
		}
	}
	h.kvmCore = p.exists("sys/module/kvm")
	h.kvmMinor = p.miscMinor("kvm")
	if h.module == "kvm_intel" || h.module == "kvm_amd" {
		h.nested = p.readTrimmed("sys/module/" + h.module + "/parameters/nested")
	}
	h.sysHypervisor = p.readTrimmed("sys/hypervisor/type")
	p.probeCPU(&h)
	p.probeKernelLog(&h)
	if h.kernelHypervisor != "" || h.sysHypervisor != "" {
		h.hypervisorBit = true
	}
	return h
}

// probeCPU fills in the hypervisor bit, the signature and VT-x/SVM.
// /proc/cpuinfo's flags are the kernel's view, and they win over raw
// CPUID for VT-x/SVM: the kernel clears "vmx" when the firmware disabled
// it (arch/x86/kernel/cpu/feat_ctl.c), and under PVM user-mode CPUID is
// not trapped, so it describes the layer below PVM, not this OS.
func (p hostProbe) probeCPU(h *hostFacts) {
	flags, haveFlags := p.cpuFlags()
	if haveFlags {
		h.hypervisorBit = flags["hypervisor"]
		h.vmx, h.svm, h.virtKnown = flags["vmx"], flags["svm"], true
	}
	if p.cpuid == nil {
		return
	}
	maxLeaf, _, _, _ := p.cpuid(0, 0)
	var ecx uint32
	if maxLeaf >= cpuidLeafFeatures {
		_, _, ecx, _ = p.cpuid(cpuidLeafFeatures, 0)
	}
	var extECX uint32
	if extMax, _, _, _ := p.cpuid(cpuidLeafExtMax, 0); extMax >= cpuidLeafExtFeatures {
		_, _, extECX, _ = p.cpuid(cpuidLeafExtFeatures, 0)
	}
	if ecx&cpuidECXHyper != 0 {
		h.hypervisorBit = true
		_, b, c, d := p.cpuid(cpuidLeafHypervisor, 0)
		h.signature = signatureText(b, c, d)
	}
	if !haveFlags {
		h.vmx, h.svm, h.virtKnown = ecx&cpuidECXVMX != 0, extECX&cpuidECXSVM != 0, true
	}
}

// probeKernelLog finds the kernel's "Hypervisor detected" line and the
// KVM module's last message, in the kernel log or else /var/log/dmesg
// (the boot log some distributions save).
func (p hostProbe) probeKernelLog(h *hostFacts) {
	var log string
	if p.kernelLog != nil {
		log, h.logErr = p.kernelLog()
	}
	if !strings.Contains(log, "Hypervisor detected: ") {
		if b, err := fs.ReadFile(p.root, "var/log/dmesg"); err == nil {
			log, h.logErr = log+"\n"+string(b), nil
		}
	}
	h.kernelHypervisor = strings.TrimSpace(strings.TrimPrefix(
		lastLogMessage(log, "Hypervisor detected: "), "Hypervisor detected: "))
	if h.module != "" {
		// Modules log under their name, with "-" or "_" ("kvm-pvm: ...").
		h.moduleLog = lastLogMessage(log, h.module+": ")
		if h.moduleLog == "" {
			h.moduleLog = lastLogMessage(log, strings.ReplaceAll(h.module, "_", "-")+": ")
		}
	}
}

// lastLogMessage returns the last log line containing marker, from marker
// on (without the "<6>[  0.000000] " prefix), or "".
func lastLogMessage(log, marker string) string {
	i := strings.LastIndex(log, marker)
	if i < 0 {
		return ""
	}
	line, _, _ := strings.Cut(log[i:], "\n")
	return strings.TrimSpace(line)
}

// signatureText turns the three signature registers into their 12 bytes.
func signatureText(ebx, ecx, edx uint32) string {
	var b []byte
	for _, r := range []uint32{ebx, ecx, edx} {
		b = append(b, byte(r), byte(r>>8), byte(r>>16), byte(r>>24))
	}
	if bytes.Count(b, []byte{0}) == len(b) {
		return "" // a hypervisor that publishes no signature
	}
	return string(b)
}

// quoteSignature shows a signature as text, its trailing NULs dropped and
// anything unprintable escaped.
func quoteSignature(s string) string {
	return strconv.Quote(strings.TrimRight(s, "\x00"))
}

func (p hostProbe) exists(name string) bool {
	_, err := fs.Stat(p.root, name)
	return err == nil
}

func (p hostProbe) readTrimmed(name string) string {
	b, err := fs.ReadFile(p.root, name)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// miscMinor returns the minor of the misc device called name in
// /proc/misc ("232 kvm" lines), or -1.
func (p hostProbe) miscMinor(name string) int {
	b, err := fs.ReadFile(p.root, "proc/misc")
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(b), "\n") {
		minor, n, ok := strings.Cut(strings.TrimSpace(line), " ")
		if ok && strings.TrimSpace(n) == name {
			if m, err := strconv.Atoi(minor); err == nil {
				return m
			}
		}
	}
	return -1
}

// cpuFlags returns the first "flags" line of /proc/cpuinfo as a set.
func (p hostProbe) cpuFlags() (map[string]bool, bool) {
	f, err := p.root.Open("proc/cpuinfo")
	if err != nil {
		return nil, false
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	s.Buffer(nil, 1<<20)
	for s.Scan() {
		key, val, ok := strings.Cut(s.Text(), ":")
		if ok && strings.TrimSpace(key) == "flags" {
			set := map[string]bool{}
			for _, fl := range strings.Fields(val) {
				set[fl] = true
			}
			return set, true
		}
	}
	return nil, false
}

// errNoDevice reports whether an open failed because there is no KVM
// device behind the path: no node (ENOENT), or a node no driver answers
// (ENXIO, ENODEV: e.g. a /dev/kvm made by hand without KVM loaded).
func errNoDevice(err error) bool {
	return errors.Is(err, vmm.ErrNoKVM) || errors.Is(err, unix.ENXIO) || errors.Is(err, unix.ENODEV)
}
