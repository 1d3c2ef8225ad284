package e2e

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"gvmm/internal/rig"
	"gvmm/internal/rig/rigtest"
)

// TestDebianKernel boots Debian's stock cloud kernel, the "stock distro
// VM": its virtio drivers are modules, which the agent loads from the
// initramfs before it reports READY.
func TestDebianKernel(t *testing.T) {
	rigtest.RequireE2E(t)
	k := rigtest.DebianKernel(t)
	res := rigtest.Run(t, rig.Config{
		GVMM: gvmm(t), L2Kernel: k.BzImage, L2Initrd: buildFile(t, "initramfs-debian.cpio", "initramfs-debian"),
		Command: script(l2Case{name: "debian", kernel: rig.L2KernelPath, initrd: rig.L2InitrdPath,
			cmdline: baseCmdline + " gvmm.mode=poweroff", flags: "--stats", timeoutSec: 150}),
		AttemptTimeout: 420 * time.Second,
	})
	for _, r := range retries(res.OutputText()) {
		t.Log(r)
	}
	c, ok := splitCases(res.OutputText())["debian"]
	require.True(t, ok, "no result for the Debian boot")
	for _, m := range statsLine.FindAllString(c.text, -1) {
		t.Logf("rig (kvm-amd in QEMU TCG) debian: %s", m) // the exits, for the record
	}
	assert.Equal(t, 0, c.exit)
	assert.Regexp(t, `gvmm: READY at [0-9]+ us`, c.text)
	assert.Regexp(t, `modules loaded: .*virtio_pci`, c.text, "the agent loaded the virtio modules")
}
