package main

import (
	"bytes"
	"errors"
	"fmt"
	"testing"
	"testing/fstest"

	"github.com/stretchr/testify/assert"
	"golang.org/x/sys/unix"

	"gvmm/vmm"
)

// fakeSystem is an open KVM device that answers from fields.
type fakeSystem struct {
	api    int
	vcpus  int
	caps   map[uintptr]int
	closed bool
}

func (s *fakeSystem) APIVersion() (int, error)              { return s.api, nil }
func (s *fakeSystem) MaxVCPUs() int                         { return s.vcpus }
func (s *fakeSystem) CheckExtension(c uintptr) (int, error) { return s.caps[c], nil }
func (s *fakeSystem) Close() error                          { s.closed = true; return nil }

// opens returns an openKVM that gives sys, or fails with err.
func opens(sys kvmSystem, err error) func(string) (kvmSystem, error) {
	return func(path string) (kvmSystem, error) {
		if err != nil {
			return nil, fmt.Errorf("open %s: %w", path, err)
		}
		return sys, nil
	}
}

func TestCheckCases(t *testing.T) {
	good := &fakeSystem{api: 12, vcpus: 710, caps: map[uintptr]int{vmm.KVM_CAP_USER_MEMORY: 1, vmm.KVM_CAP_IRQFD: 1}}
	intelHost := fstest.MapFS{
		"sys/module/kvm":                         {},
		"sys/module/kvm_intel":                   {},
		"sys/module/kvm_intel/parameters/nested": {Data: []byte("N\n")},
		"proc/misc":                              {Data: []byte("232 kvm\n")},
		"proc/cpuinfo":                           cpuinfo("vmx"),
	}
	pvmGuest := fstest.MapFS{
		"sys/module/kvm":     {},
		"sys/module/kvm_pvm": {},
		"proc/misc":          {Data: []byte("200 tun\n")},
		"proc/cpuinfo":       cpuinfo("hypervisor"),
	}
	pvmLog := logText("<6>[    0.000000] Hypervisor detected: PVM\n" +
		"<6>[    0.269553] kvm-pvm: this kernel is itself a kvm-pvm guest; not binding\n")
	cases := []struct {
		name    string
		probe   hostProbe
		code    int
		want    []string
		notWant []string
	}{{
		name:  "a: hardware KVM",
		probe: hostProbe{root: intelHost, cpuid: newCPU("", true, false).cpuid, openKVM: opens(good, nil)},
		code:  0,
		want: []string{
			"host:          bare metal (no hypervisor bit); VT-x visible\n",
			"KVM module:    kvm_intel (hardware, Intel VT-x)\n",
			"nested:        disabled (guests of this host cannot run KVM; set kvm_intel nested=1)\n",
			"/dev/kvm:      present, opened read-write\n",
			"API version:   12\n",
			"max vCPUs:     710\n",
			"capabilities:  USER_MEMORY=yes IRQCHIP=no",
			"\nverdict:       OK: hardware virtualization",
		},
	}, {
		name: "b: kvm_pvm provides /dev/kvm",
		probe: hostProbe{
			root:    fstest.MapFS{"sys/module/kvm_pvm": {}, "proc/misc": {Data: []byte("232 kvm\n")}, "proc/cpuinfo": cpuinfo("hypervisor")},
			cpuid:   newCPU("KVMKVMKVM\x00\x00\x00", false, false).cpuid,
			openKVM: opens(good, nil),
		},
		code: 0,
		want: []string{
			`host:          a VM (hypervisor: KVM, CPUID "KVMKVMKVM"); no VT-x/SVM visible`,
			"KVM module:    kvm_pvm (SOFTWARE nested virtualization",
			"API version:   12\n",
			"verdict:       LIMITED: kvm_pvm",
			"Linux will not boot to userspace here",
		},
		notWant: []string{"nested:", "PVM does not trap CPUID"},
	}, {
		name:  "c: a PVM guest, kvm_pvm loaded but no device (this project's CI)",
		probe: hostProbe{root: pvmGuest, cpuid: newCPU("bhyve bhyve ", false, false).cpuid, kernelLog: pvmLog, openKVM: opens(nil, vmm.ErrNoKVM)},
		code:  1,
		want: []string{
			`host:          a VM (hypervisor: PVM, CPUID "bhyve bhyve "); no VT-x/SVM visible` + "\n",
			"PVM does not trap CPUID",
			"KVM module:    kvm_pvm loaded, but it provides no /dev/kvm here\n",
			`kernel log: "kvm-pvm: this kernel is itself a kvm-pvm guest; not binding"`,
			"/dev/kvm:      NOT USABLE (does not exist; /proc/misc has no kvm entry",
			"\nverdict:       NO KVM: this host is a VM under PVM, which gives it no VT-x/SVM;",
			"loading kvm_intel or kvm_amd cannot help",
			"kvm_pvm is loaded, but it registered no /dev/kvm: it is not this host's KVM.",
			"make run", "make e2e", "make kvm-tests runs the KVM tests inside it",
			"enable nested virtualization on the machine that runs",
			"or use a runner that offers it",
		},
		notWant: []string{"modprobe", "SOFTWARE", "firmware", "nested:"},
	}, {
		name: "c: a KVM guest without nested virtualization, kernel log unreadable",
		probe: hostProbe{
			root:      fstest.MapFS{"proc/cpuinfo": cpuinfo("hypervisor")},
			cpuid:     newCPU("KVMKVMKVM\x00\x00\x00", false, false).cpuid,
			kernelLog: func() (string, error) { return "", errors.New("operation not permitted") },
			openKVM:   opens(nil, vmm.ErrNoKVM),
		},
		code: 1,
		want: []string{
			`host:          a VM (hypervisor: KVM, CPUID "KVMKVMKVM"); no VT-x/SVM visible`,
			"kernel log unreadable (operation not permitted)",
			"KVM module:    none loaded\n",
			"verdict:       NO KVM: this host is a VM under KVM",
		},
		notWant: []string{"modprobe", "is loaded, but", "PVM"},
	}, {
		name:    "c: an unknown signature is shown as text",
		probe:   hostProbe{root: fstest.MapFS{}, cpuid: newCPU("ABCDEFGHIJKL", false, false).cpuid, openKVM: opens(nil, vmm.ErrNoKVM)},
		code:    1,
		want:    []string{`host:          a VM (CPUID "ABCDEFGHIJKL"); no VT-x/SVM visible`, "a VM under an unnamed hypervisor"},
		notWant: []string{"modprobe"},
	}, {
		name:  "d: bare metal without a module",
		probe: hostProbe{root: fstest.MapFS{"proc/cpuinfo": cpuinfo()}, cpuid: newCPU("", true, false).cpuid, openKVM: opens(nil, vmm.ErrNoKVM)},
		code:  1,
		want: []string{
			"host:          bare metal (no hypervisor bit); no VT-x/SVM visible\n",
			"KVM module:    none loaded\n",
			"/dev/kvm:      NOT USABLE (does not exist",
			"gvmm: open /dev/kvm: /dev/kvm does not exist: load KVM (modprobe kvm_intel or kvm_amd)",
			"verdict:       NO KVM: enable VT-x/AMD-V in the firmware, then modprobe kvm_intel or kvm_amd\n",
		},
	}, {
		name:  "d: a VM with SVM visible (nested virtualization on)",
		probe: hostProbe{root: fstest.MapFS{}, cpuid: newCPU("KVMKVMKVM\x00\x00\x00", false, true).cpuid, openKVM: opens(nil, vmm.ErrNoKVM)},
		code:  1,
		want: []string{
			`host:          a VM (hypervisor: KVM, CPUID "KVMKVMKVM"); AMD-V (SVM) visible`,
			"verdict:       NO KVM: AMD-V (SVM) is visible but KVM is not loaded: modprobe kvm_amd\n",
		},
		notWant: []string{"cannot help"},
	}, {
		name:  "e: permission denied",
		probe: hostProbe{root: intelHost, cpuid: newCPU("", true, false).cpuid, openKVM: opens(nil, vmm.ErrKVMPermission)},
		code:  1,
		want: []string{
			"KVM module:    kvm_intel (hardware, Intel VT-x)\n",
			"/dev/kvm:      NOT USABLE (present, but this user may not open it read-write)\n",
			"kvm group",
			"verdict:       NO ACCESS: /dev/kvm exists, but this user cannot open it",
		},
		notWant: []string{"modprobe"},
	}, {
		name:  "KVM registered its device, but the node is missing (a container)",
		probe: hostProbe{root: intelHost, cpuid: newCPU("", true, false).cpuid, openKVM: opens(nil, vmm.ErrNoKVM)},
		code:  1,
		want: []string{
			"KVM module:    kvm_intel (hardware, Intel VT-x)\n",
			"/dev/kvm:      NOT USABLE (does not exist)\n",
			"verdict:       NO KVM: KVM registered its device (misc 10:232 in /proc/misc), but /dev/kvm is not its node",
			"mknod /dev/kvm c 10 232",
		},
		notWant: []string{"loaded, but it provides no"},
	}, {
		name:  "a node no driver answers is no device",
		probe: hostProbe{root: pvmGuest, cpuid: newCPU("bhyve bhyve ", false, false).cpuid, kernelLog: pvmLog, openKVM: opens(nil, unix.ENXIO)},
		code:  1,
		want: []string{
			"KVM module:    kvm_pvm loaded, but it provides no /dev/kvm here\n",
			"/dev/kvm:      NOT USABLE (no KVM driver answers it: open /dev/kvm: no such device or address;",
			"verdict:       NO KVM: this host is a VM under PVM",
		},
	}, {
		name:  "a device gvmm cannot use",
		probe: hostProbe{root: intelHost, cpuid: newCPU("", true, false).cpuid, openKVM: opens(nil, vmm.ErrAPIVersion)},
		code:  1,
		want: []string{
			"/dev/kvm:      NOT USABLE (open /dev/kvm: unsupported KVM API version)\n",
			"verdict:       NO KVM: gvmm cannot use this KVM device",
		},
	}}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var out bytes.Buffer
			assert.Equal(t, c.code, c.probe.check(&out, vmm.DevKVM))
			for _, s := range c.want {
				assert.Contains(t, out.String(), s)
			}
			for _, s := range c.notWant {
				assert.NotContains(t, out.String(), s)
			}
			if c.code == 0 {
				assert.Regexp(t, `(?m)^verdict: *(OK|LIMITED)`, out.String())
			} else {
				assert.NotRegexp(t, `(?m)^verdict: *OK`, out.String(), "the Makefile boots only on OK")
				assert.Regexp(t, `(?m)^verdict: +NO (KVM|ACCESS): `, out.String())
			}
			assert.Regexp(t, `^host:          \S`, out.String(), "the host line comes first")
		})
	}
	assert.True(t, good.closed, "check closes the device it opened")
}

// TestCheckLineFormat: every field starts its value at column 15, so the
// Makefile's `^verdict: *OK` and the tests' "API version:   12" match.
func TestCheckLineFormat(t *testing.T) {
	var out bytes.Buffer
	field(&out, "API version", "12")
	field(&out, "verdict", "OK: x")
	more(&out, "next")
	assert.Equal(t, "API version:   12\nverdict:       OK: x\n               next\n", out.String())
}
