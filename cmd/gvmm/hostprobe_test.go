package main

import (
	"encoding/binary"
	"errors"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fakeCPU is a CPU answering CPUID from a table; absent leaves read as zero.
type fakeCPU map[uint32][4]uint32

func (c fakeCPU) cpuid(leaf, _ uint32) (eax, ebx, ecx, edx uint32) {
	r := c[leaf]
	return r[0], r[1], r[2], r[3]
}

// sigRegs splits a 12-byte signature into EBX, ECX, EDX.
func sigRegs(sig string) (ebx, ecx, edx uint32) {
	b := []byte(sig)
	return binary.LittleEndian.Uint32(b[0:]), binary.LittleEndian.Uint32(b[4:]), binary.LittleEndian.Uint32(b[8:])
}

// newCPU builds a CPU: the hypervisor bit and a signature when sig is not
// "", and VT-x or SVM as asked.
func newCPU(sig string, vmx, svm bool) fakeCPU {
	c := fakeCPU{0: {0xd}, cpuidLeafExtMax: {cpuidLeafExtFeatures}}
	var ecx, extECX uint32
	if vmx {
		ecx |= cpuidECXVMX
	}
	if svm {
		extECX |= cpuidECXSVM
	}
	if sig != "" {
		ecx |= cpuidECXHyper
		b, cc, d := sigRegs(sig)
		c[cpuidLeafHypervisor] = [4]uint32{cpuidLeafHypervisor, b, cc, d}
	}
	c[cpuidLeafFeatures] = [4]uint32{0, 0, ecx, 0}
	c[cpuidLeafExtFeatures] = [4]uint32{0, 0, extECX, 0}
	return c
}

func cpuinfo(flags ...string) *fstest.MapFile {
	return &fstest.MapFile{Data: []byte("processor\t: 0\nvendor_id\t: AuthenticAMD\nflags\t\t: fpu " +
		strings.Join(flags, " ") + " sse2\n\nprocessor\t: 1\nflags\t\t: other\n")}
}

func logText(s string) func() (string, error) {
	return func() (string, error) { return s, nil }
}

func TestProbeSignatureText(t *testing.T) {
	assert.Equal(t, "KVMKVMKVM\x00\x00\x00", signatureText(sigRegs("KVMKVMKVM\x00\x00\x00")))
	assert.Equal(t, " lrpepyh  vr", signatureText(sigRegs(" lrpepyh  vr")))
	assert.Equal(t, "", signatureText(0, 0, 0), "no signature at all")
	assert.Equal(t, `"KVMKVMKVM"`, quoteSignature("KVMKVMKVM\x00\x00\x00"))
	assert.Equal(t, `"ab\x01c"`, quoteSignature("ab\x01c\x00"))
}

func TestProbeFacts(t *testing.T) {
	pvmLog := "<6>[    0.000000] Hypervisor detected: PVM\n" +
		"<6>[    0.269553] kvm-pvm: this kernel is itself a kvm-pvm guest; not binding\n"
	cases := []struct {
		name  string
		probe hostProbe
		want  hostFacts
	}{{
		name: "PVM guest: the kernel names PVM, user-mode CPUID the layer below",
		probe: hostProbe{
			root: fstest.MapFS{
				"sys/module/kvm":     {},
				"sys/module/kvm_pvm": {},
				"proc/misc":          {Data: []byte("234 btrfs-control\n200 tun\n")},
				"proc/cpuinfo":       cpuinfo("hypervisor"),
			},
			// The layer below shows VT-x to user space; the kernel's
			// flags, which have none, win.
			cpuid:     newCPU("bhyve bhyve ", true, false).cpuid,
			kernelLog: logText(pvmLog),
		},
		want: hostFacts{module: "kvm_pvm", kvmCore: true, kvmMinor: -1, hypervisorBit: true,
			kernelHypervisor: "PVM", signature: "bhyve bhyve ", virtKnown: true,
			moduleLog: "kvm-pvm: this kernel is itself a kvm-pvm guest; not binding"},
	}, {
		name: "bare metal Intel: no hypervisor bit, so leaf 0x40000000 is not a signature",
		probe: hostProbe{
			root: fstest.MapFS{
				"sys/module/kvm":                         {},
				"sys/module/kvm_intel":                   {},
				"sys/module/kvm_intel/parameters/nested": {Data: []byte("Y\n")},
				"proc/misc":                              {Data: []byte(" 61 ptp\n232 kvm\n")},
			},
			cpuid: func() func(uint32, uint32) (uint32, uint32, uint32, uint32) {
				c := newCPU("", true, false)
				c[cpuidLeafHypervisor] = [4]uint32{7, 1, 2, 3} // Intel: highest basic leaf's data
				return c.cpuid
			}(),
			kernelLog: func() (string, error) { return "", errors.New("operation not permitted") },
		},
		want: hostFacts{module: "kvm_intel", kvmCore: true, kvmMinor: 232, vmx: true, virtKnown: true,
			nested: "Y", logErr: errors.New("operation not permitted")},
	}, {
		name: "the boot log on disk names the hypervisor when syslog(2) cannot",
		probe: hostProbe{
			root: fstest.MapFS{
				"var/log/dmesg": {Data: []byte("[0.0] Hypervisor detected: KVM\n[0.1] Hypervisor detected: Xen HVM\n")},
			},
			cpuid:     newCPU("KVMKVMKVM\x00\x00\x00", false, true).cpuid,
			kernelLog: func() (string, error) { return "", errors.New("operation not permitted") },
		},
		want: hostFacts{kvmMinor: -1, hypervisorBit: true, kernelHypervisor: "Xen HVM",
			signature: "KVMKVMKVM\x00\x00\x00", svm: true, virtKnown: true},
	}, {
		name: "no extended leaf 0x80000001: no SVM bit is read",
		probe: hostProbe{
			root: fstest.MapFS{"sys/hypervisor/type": {Data: []byte("xen\n")}},
			cpuid: func() func(uint32, uint32) (uint32, uint32, uint32, uint32) {
				c := newCPU("", false, true)
				c[cpuidLeafExtMax] = [4]uint32{0x80000000}
				return c.cpuid
			}(),
		},
		want: hostFacts{kvmMinor: -1, hypervisorBit: true, sysHypervisor: "xen", virtKnown: true},
	}, {
		name:  "nothing readable",
		probe: hostProbe{root: fstest.MapFS{}},
		want:  hostFacts{kvmMinor: -1},
	}}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			assert.Equal(t, c.want, c.probe.facts())
		})
	}
}

func TestProbeHypervisorName(t *testing.T) {
	assert.Equal(t, "PVM", hostFacts{kernelHypervisor: "PVM", signature: "bhyve bhyve "}.hypervisorName())
	assert.Equal(t, "xen", hostFacts{sysHypervisor: "xen", signature: "XenVMMXenVMM"}.hypervisorName())
	assert.Equal(t, "Parallels", hostFacts{signature: " lrpepyh  vr"}.hypervisorName())
	assert.Equal(t, "", hostFacts{signature: "ABCDEFGHIJKL"}.hypervisorName())
}

// TestProbeHostCPUID runs the real CPUID instruction: leaf 0 names the
// vendor in EBX, EDX, ECX (Intel SDM Vol. 2A, CPUID leaf 00H).
func TestProbeHostCPUID(t *testing.T) {
	maxLeaf, b, c, d := cpuid(0, 0)
	require.NotZero(t, maxLeaf)
	vendor := signatureText(b, d, c)
	assert.Len(t, strings.TrimSpace(vendor), 12, "vendor %q", vendor)
	h := systemProbe().facts()
	t.Logf("this host: %+v", h)
}
