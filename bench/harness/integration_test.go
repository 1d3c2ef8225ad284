package harness

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"gvmm/bench/report"
	"gvmm/internal/kvmtest"
	"gvmm/internal/testenv"
)

// hostSubjects are the subjects that run directly on this machine; QEMU
// -M pc is left out for time (its SeaBIOS takes seconds under kvm_pvm).
// The VM subjects need /dev/kvm; on a host without one they are left out
// here, and the same three (raw KVM, gvmm's tiny guest, QEMU microvm) are
// run by the floor test (bench.TestFloorHarness) inside the nested rig by
// `make kvm-tests`.
const (
	hostVMSubjects        = "raw-kvm,gvmm-vm-pvh-tiny,qemu-microvm-pvh-tiny"
	hostContainerSubjects = "gvmm-container,crun,runc,unshare-chroot,plain-exec"
)

// TestHostSubjects runs two rounds of the real host subjects: gvmm and
// its peers, each started as a real process, and checks the numbers are
// there and that nothing is left running.
func TestHostSubjects(t *testing.T) {
	testenv.NeedRoot(t, "containers (namespaces, cgroups)")
	hostSubjects := hostVMSubjects + "," + hostContainerSubjects
	withVMs := kvmtest.Usable() == nil
	if !withVMs {
		hostSubjects = hostContainerSubjects
		t.Logf("no usable /dev/kvm: the container subjects only (%s); make kvm-tests runs the VM ones in the rig", hostSubjects)
	}
	ws, _ := testLauncher(t)
	host, err := report.ProbeHost(os.DirFS("/"))
	require.NoError(t, err)
	ws.Flavour = host.KVMFlavour
	kvmtest.RequireArtefact(t, filepath.Join(ws.Build, "initramfs.cpio"), "initramfs") // the containers' root
	chosen, left, err := Select(Catalogue(), hostSubjects)
	require.NoError(t, err)
	t0 := time.Now()
	out, err := Run(context.Background(), ws, chosen, left, "not selected", Options{N: 2, Probes: 1, Timeout: 30 * time.Second})
	require.NoError(t, err)
	t.Logf("two rounds in %s", time.Since(t0).Round(time.Millisecond))

	byName := map[string]report.Subject{}
	for _, s := range out {
		byName[s.Name] = s
		if s.Status != report.StatusMeasured {
			t.Logf("%s: %s: %s", s.Name, s.Status, s.Reason)
		}
	}
	for _, name := range strings.Split(hostSubjects, ",") {
		s := byName[name]
		if s.Status == report.StatusSkipped && strings.Contains(s.Reason, "not installed") {
			continue // a peer this machine lacks
		}
		require.Equal(t, report.StatusMeasured, s.Status, "%s: %s", name, s.Reason)
		require.Len(t, s.Samples, 2, name)
		for _, smp := range s.Samples {
			assert.Positive(t, smp.ReadyNS, name)
			assert.GreaterOrEqual(t, smp.ExitNS, smp.ReadyNS, name)
			assert.Positive(t, smp.PeakRSSKiB, name)
		}
	}
	if withVMs {
		tiny := byName[report.SubjectGvmmTiny].Samples[0]
		assert.Positive(t, tiny.SteadyRSSKiB, "gvmm's VmRSS once READY")
		assert.Positive(t, tiny.GuestTouchedKiB, "the spin guest touched some of its RAM")
		assert.Less(t, tiny.GuestTouchedKiB, int64(guestMemKiB), "but far from all 256 MiB")
	}
	ctr := byName[report.SubjectGvmmContainer].Samples[0]
	assert.Positive(t, ctr.CgroupMemoryKiB, "the container's memory cgroup once READY")
	assert.Zero(t, byName[report.SubjectGvmmContainer].Samples[1].CgroupMemoryKiB, "probes in round 1 only")

	// Nothing the bench started still runs: no process refers to the
	// workspace or to a bench container id.
	procs, err := filepath.Glob("/proc/[0-9]*/cmdline")
	require.NoError(t, err)
	for _, p := range procs {
		b, err := os.ReadFile(p)
		if err != nil || len(b) == 0 {
			continue
		}
		cmd := strings.ReplaceAll(string(b), "\x00", " ")
		if strings.Contains(cmd, ws.Dir) || strings.Contains(cmd, "gvmm-bench-") {
			t.Errorf("left running: %s: %s", p, cmd)
		}
	}
}
