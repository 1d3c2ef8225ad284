package e2e

import (
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"gvmm/internal/rig"
	"gvmm/internal/rig/rigtest"
)

// TestDebianKernel boots Debian's stock cloud kernel, the "stock distro
// VM": its virtio drivers are modules, which the agent loads from the
// initramfs before it reports READY. That kernel has no MP-table parser,
// so it learns its CPUs, the I/O APIC and how to power off from gvmm's
// ACPI tables alone (boot/acpi):
//
//   - "debian" boots it with two vCPUs and checks that both come online;
//   - "debian-acpi-off" lets the kernel power off on its own
//     (gvmm.ready=console keeps the agent away from gvmm's exit port), so
//     exit 0 with reason=poweroff can only come from ACPI soft-off:
//     without it the kernel halts, init exits and the kernel panics;
//   - "debian-no-acpi" is the control: the same boot with --acpi=false. Without ACPI this kernel
//     runs on the 8259 PIC and the PIT, which KVM emulates in the kernel:
//     their port accesses show in KVM's io_exits, not in gvmm's own
//     counts, and the ACPI boot must have far fewer of them.
func TestDebianKernel(t *testing.T) {
	rigtest.RequireE2E(t)
	k := rigtest.DebianKernel(t)
	debian := func(name, cmdline, flags string) l2Case {
		return l2Case{name: name, kernel: rig.L2KernelPath, initrd: rig.L2InitrdPath,
			cmdline: baseCmdline + " " + cmdline, flags: flags, timeoutSec: 150}
	}
	res := rigtest.Run(t, rig.Config{
		GVMM: gvmm(t), L2Kernel: k.BzImage, L2Initrd: buildFile(t, "initramfs-debian.cpio", "initramfs-debian"),
		Command: script(
			debian("debian", "gvmm.mode=poweroff", "--stats --cpus 2 --acpi"),
			debian("debian-acpi-off", "gvmm.mode=poweroff gvmm.ready=console", "--stats --cpus 2 --acpi"),
			debian("debian-no-acpi", "gvmm.mode=poweroff", "--stats --cpus 2 --acpi=false"),
		),
		AttemptTimeout: 900 * time.Second,
	})
	for _, r := range retries(res.OutputText()) {
		t.Log(r)
	}
	cases := splitCases(res.OutputText())
	c, ok := cases["debian"]
	require.True(t, ok, "no result for the Debian boot")
	for _, m := range statsLine.FindAllString(c.text, -1) {
		t.Logf("rig (kvm-amd in QEMU TCG) debian: %s", m) // the exits, for the record
	}
	assert.Equal(t, 0, c.exit)
	assert.Regexp(t, `gvmm: READY at [0-9]+ us`, c.text)
	assert.Regexp(t, `modules loaded: .*virtio_pci`, c.text, "the agent loaded the virtio modules")
	assert.Contains(t, c.text, "cpus online: 2 ", "both vCPUs, found through the MADT")

	off, ok := cases["debian-acpi-off"]
	require.True(t, ok, "no result for the ACPI power-off boot")
	assert.Equal(t, 0, off.exit, "the kernel's own poweroff ends the VM:\n%s", off.text)
	assert.Contains(t, off.text, "reason=poweroff", "through the ACPI sleep control register")
	assert.Contains(t, off.text, "gvmm-agent: READY")

	ctl, ok := cases["debian-no-acpi"]
	require.True(t, ok, "no result for the boot without ACPI")
	for _, m := range statsLine.FindAllString(ctl.text, -1) {
		t.Logf("rig (kvm-amd in QEMU TCG) debian with --acpi=false: %s", m)
	}
	assert.Equal(t, 0, ctl.exit)
	withACPI, without := kvmCounter(t, c.text, "io_exits"), kvmCounter(t, ctl.text, "io_exits")
	t.Logf("KVM io_exits per Debian boot: %d with ACPI, %d without", withACPI, without)
	assert.Less(t, 2*withACPI, without, "ACPI retires the PIC and PIT: at least half the port exits go")
}

// kvmCounter returns one of KVM's counters from a case's
// "gvmm: stats: kvm ..." line.
func kvmCounter(t *testing.T, text, name string) int {
	t.Helper()
	m := regexp.MustCompile(`gvmm: stats: kvm .*\b` + name + `=([0-9]+)`).FindStringSubmatch(text)
	require.NotNil(t, m, "no %s in the stats", name)
	n, err := strconv.Atoi(m[1])
	require.NoError(t, err)
	return n
}
