package harness

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"gvmm/bench/report"
)

// fake is a subject whose starts append its name to log, then say READY.
func fake(name, log string, hold bool) Subject {
	return Subject{Name: name, Kind: report.KindProcess, Workload: report.WorkloadReady, Where: report.WhereHost,
		Prepare: func(*Workspace) (*Plan, error) {
			p := &Plan{Start: fixed(sh("echo " + name + " >> " + log + "; echo READY >&2"))}
			if hold {
				p.Hold = fixed(sh("echo READY >&2; exec sleep 60"))
			}
			return p, nil
		}}
}

func TestRun(t *testing.T) {
	ws, _ := testLauncher(t)
	log := filepath.Join(t.TempDir(), "order")
	failing := Subject{Name: "fails-in-round-1", Kind: report.KindProcess, Workload: report.WorkloadReady, Where: report.WhereHost,
		Prepare: func(*Workspace) (*Plan, error) {
			// Succeeds once (the warm-up), then exits 7.
			marker := filepath.Join(t.TempDir(), "once")
			return &Plan{Start: fixed(sh("if [ -e " + marker + " ]; then exit 7; fi; touch " + marker + "; echo READY >&2"))}, nil
		}}
	skipped := Subject{Name: "not-here", Kind: report.KindVM, Workload: report.WorkloadReady, Where: report.WhereHost,
		Prepare: func(*Workspace) (*Plan, error) { return nil, Skip("peer not installed: apt-get install peer") }}
	broken := Subject{Name: "broken", Kind: report.KindContainer, Workload: report.WorkloadReady, Where: report.WhereHost,
		Prepare: func(*Workspace) (*Plan, error) { return nil, errors.New("bundle: disk full") }}
	left := Subject{Name: "left-out", Kind: report.KindVM, Workload: report.WorkloadReady, Where: report.WhereHost}

	subjects := []Subject{fake("a", log, true), fake("b", log, false), failing, skipped, broken}
	out, err := Run(context.Background(), ws, subjects, []Subject{left}, "not selected (-only process)",
		Options{N: 3, Probes: 2, Timeout: 10 * time.Second})
	require.NoError(t, err)
	require.Len(t, out, 6)
	byName := map[string]report.Subject{}
	for _, s := range out {
		byName[s.Name] = s
	}
	a, b := byName["a"], byName["b"]
	assert.Equal(t, report.StatusMeasured, a.Status)
	assert.Equal(t, report.StatusMeasured, b.Status)
	require.Len(t, a.Samples, 3, "N samples, warm-up excluded")
	for i, s := range a.Samples {
		assert.Positive(t, s.ReadyNS)
		assert.Equal(t, i < 2, s.SteadyRSSKiB > 0, "sample %d: probes in the first 2 rounds only", i)
	}
	for _, s := range b.Samples {
		assert.Zero(t, s.SteadyRSSKiB, "no holding variant, no probe")
	}
	f := byName["fails-in-round-1"]
	assert.Equal(t, report.StatusFailed, f.Status)
	assert.Contains(t, f.Reason, "round 1")
	assert.Contains(t, f.Reason, "unexpected exit status 7")
	assert.Empty(t, f.Samples)
	assert.Equal(t, report.StatusSkipped, byName["not-here"].Status)
	assert.Equal(t, "peer not installed: apt-get install peer", byName["not-here"].Reason)
	assert.Equal(t, report.StatusFailed, byName["broken"].Status)
	assert.Equal(t, "prepare: bundle: disk full", byName["broken"].Reason)
	assert.Equal(t, report.StatusSkipped, byName["left-out"].Status)
	assert.Equal(t, "not selected (-only process)", byName["left-out"].Reason)

	// Warm-up a b, then rounds rotated by one each: a b, b a, a b.
	order, err := os.ReadFile(log)
	require.NoError(t, err)
	assert.Equal(t, "a b a b b a a b", strings.Join(strings.Fields(string(order)), " "))

	// The whole run is valid for the report.
	run := report.Run{SchemaVersion: report.SchemaVersion, StartedAt: time.Now(), FinishedAt: time.Now(),
		Host: report.Host{KVMFlavour: report.FlavourNone}, Subjects: out}
	run.ComputeStats()
	require.NoError(t, run.Validate())
}

func TestSelect(t *testing.T) {
	all := Catalogue()
	for _, tc := range []struct {
		only     string
		want     []string
		nLeft    int
		wantFail bool
	}{
		{only: "", want: names(all)},
		{only: "container", want: []string{"gvmm-container", "crun", "runc", "gvmm-container-nginx"}, nLeft: len(all) - 4},
		{only: "crun, raw-kvm", want: []string{"raw-kvm", "crun"}, nLeft: len(all) - 2},
		{only: "process,gvmm-vm-pvh-tiny", want: []string{"raw-kvm", "gvmm-vm-pvh-tiny", "unshare-chroot", "plain-exec"}, nLeft: len(all) - 4},
		{only: "kontainer", wantFail: true},
	} {
		t.Run(tc.only, func(t *testing.T) {
			got, left, err := Select(all, tc.only)
			if tc.wantFail {
				require.ErrorIs(t, err, ErrSelect)
				assert.Contains(t, err.Error(), "gvmm-vm-pvh-tiny", "the error lists the names")
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, names(got))
			assert.Len(t, left, tc.nLeft)
		})
	}
}

func TestCatalogue(t *testing.T) {
	all := Catalogue()
	seen := map[string]bool{}
	for _, s := range all {
		assert.False(t, seen[s.Name], "%s twice", s.Name)
		seen[s.Name] = true
		assert.NotNil(t, s.Prepare, s.Name)
	}
	for _, name := range []string{report.SubjectRawKVM, report.SubjectGvmmTiny, report.SubjectQEMUMicrovmTiny,
		report.SubjectGvmmContainer, report.SubjectCrun} {
		assert.True(t, seen[name], "the report's targets need %s", name)
	}
}

// TestSkipReasons prepares the subjects that cannot run under a given
// KVM flavour and checks they say why, without building anything.
func TestSkipReasons(t *testing.T) {
	byName := map[string]Subject{}
	for _, s := range Catalogue() {
		byName[s.Name] = s
	}
	dir := t.TempDir()
	for _, tc := range []struct {
		flavour report.Flavour
		subject string
		reason  string
	}{
		{report.FlavourPVM, "gvmm-vm-bzimage-minimal", "runs in the nested rig"},
		{report.FlavourPVM, "gvmm-vm-bzimage-debian", "kvm_pvm cannot boot Linux"},
		{report.FlavourPVM, "gokvm-linux-minimal", "kvm_pvm cannot boot Linux"},
		{report.FlavourPVM, "qemu-microvm-linux-minimal", "kvm_pvm cannot boot Linux"},
		{report.FlavourPVM, "gvmm-vm-nginx", "kvm_pvm cannot boot Linux"},
		{report.FlavourNone, report.SubjectGvmmTiny, "no KVM module loaded"},
		{report.FlavourNone, report.SubjectRawKVM, "no KVM module loaded"},
		{report.FlavourNone, "gvmm-vm-pvh-minimal", "no KVM module loaded"},
		{report.FlavourIntel, "gvmm-container-nginx", "make initramfs-nginx"},
	} {
		t.Run(string(tc.flavour)+"/"+tc.subject, func(t *testing.T) {
			ws := &Workspace{Dir: dir, Repo: dir, Build: dir, Flavour: tc.flavour, cache: map[string]*built{}}
			_, err := byName[tc.subject].Prepare(ws)
			require.ErrorIs(t, err, ErrSkip)
			assert.Contains(t, err.Error(), tc.reason)
		})
	}
}

func TestMissingArtefactSaysWhichTarget(t *testing.T) {
	dir := t.TempDir()
	ws := &Workspace{Dir: dir, Build: dir, cache: map[string]*built{}}
	_, err := ws.Rootfs()
	require.ErrorIs(t, err, ErrSkip)
	assert.Contains(t, err.Error(), "run make initramfs")
}

// TestTimedArgv: each container peer is timed on exactly its own
// command line, bare: no unshare, shell or mount around crun (the bench
// hides the unified hierarchy once per run, EnterV1View), and gvmm on the
// same bundle in the same mode.
func TestTimedArgv(t *testing.T) {
	assert.Equal(t, []string{"crun", "run", "--preserve-fds", "1", "--bundle", "/b", "ID"}, ociArgv("crun", "/b", "ID"))
	assert.Equal(t, []string{"runc", "run", "--preserve-fds", "1", "--bundle", "/b", "ID"}, ociArgv("runc", "/b", "ID"))
	assert.Equal(t, []string{"/x/gvmm", "container", "run", "--rm", "--preserve-fds", "1", "--run-dir", "/r", "--name", "ID", "/b"},
		gvmmContainerArgv("/x/gvmm", "/r", "/b", "ID"))
}

func TestIsReadyLine(t *testing.T) {
	for line, want := range map[string]bool{
		"gvmm: READY at 1234 us": true,
		"READY":                  true,
		"gvmm: READY at x us":    false,
		"READY!":                 false,
		"gvmm-agent: READY":      false, // the console line, watched separately
		"":                       false,
	} {
		assert.Equal(t, want, IsReadyLine(line), "%q", line)
	}
}
