package boot

import (
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"gvmm/internal/testenv"
)

// Real kernels are not in the repository; the end-to-end rig boots them.
// These tests load one when pointed at it, e.g.
//
//	GVMM_TEST_BZIMAGE=~/.cache/gvmm/debian-kernel-*/vmlinuz \
//	GVMM_TEST_VMLINUX=build/kernel/vmlinux go test -run Real -v ./boot/
//
// and say plainly that they skipped otherwise (go test -v shows it); `make
// unit` points them at the minimal kernel, and under CI an unset variable
// is a failure, not a skip (testenv).

// openKernel opens the file named by the environment variable env.
func openKernel(t *testing.T, env string) Config {
	t.Helper()
	path := os.Getenv(env)
	if path == "" {
		testenv.Skip(t, "%s not set: no real kernel to load (make unit sets it; the e2e rig boots real kernels)", env)
	}
	f, err := os.Open(path)
	require.NoError(t, err)
	t.Cleanup(func() { _ = f.Close() })
	fi, err := f.Stat()
	require.NoError(t, err)
	return Config{Kernel: f, KernelSize: fi.Size(), Cmdline: "console=ttyS0"}
}

func TestRealBzImage(t *testing.T) {
	cfg := openKernel(t, "GVMM_TEST_BZIMAGE")
	h, err := ParseSetupHeader(cfg.Kernel, cfg.KernelSize)
	require.NoError(t, err)
	t.Logf("protocol %d.%02d, setup_sects %d, init_size %d MiB, pref_address %#x, kernel_alignment %#x, relocatable %v, cmdline_size %d, xloadflags %#x",
		h.Version>>8, h.Version&0xff, h.SetupSects, h.InitSize>>20, h.PrefAddress, h.KernelAlignment, h.Relocatable, h.CmdlineSize, h.XLoadFlags)
	// Relocatable or not (Debian's kernel is, the minimal one is not), the
	// compressed kernel goes to 1 MiB and moves itself to pref_address.
	entry, err := Load(newMemory(t, 256<<20), cfg)
	require.NoError(t, err)
	assert.Equal(t, Mode64, entry.Mode)
	assert.Equal(t, uint64(0x100200), entry.IP)
}

func TestRealVmlinux(t *testing.T) {
	cfg := openKernel(t, "GVMM_TEST_VMLINUX")
	entry, err := Load(newMemory(t, 256<<20), cfg)
	require.NoError(t, err)
	assert.Equal(t, Mode32, entry.Mode)
	t.Logf("PVH entry %#x", entry.IP)
}
