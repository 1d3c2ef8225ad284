package rig_test

import (
	"context"
	"errors"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"gvmm/internal/rig"
	"gvmm/internal/rig/rigtest"
	"gvmm/internal/testenv"
)

// Deadlines for console lines, in rig time from QEMU's start. L1 reaches its
// init in ~2 s under TCG (NESTED.md); these leave room for a loaded machine.
const (
	l1CommandDeadline = 45 * time.Second
)

// TestL1HasKVM proves the rig's premise: under TCG with -cpu max, L1 sees an
// AMD CPU with SVM, kvm-amd loads with nested paging, and /dev/kvm exists.
func TestL1HasKVM(t *testing.T) {
	rigtest.RequireE2E(t)
	res := rigtest.Run(t, rig.Config{
		Command: `set -e
grep -qw svm /proc/cpuinfo && echo "cpu: svm"
echo "npt: $(cat /sys/module/kvm_amd/parameters/npt)"
ls -l /dev/kvm
lsmod | cut -d' ' -f1 | sort | tr '\n' ' '; echo`,
	})
	rigtest.RequireExit(t, res, 0)
	rigtest.Expect(t, res, `^cpu: svm$`, l1CommandDeadline)
	rigtest.Expect(t, res, `^npt: (1|Y)$`, l1CommandDeadline)
	rigtest.Expect(t, res, `^crw.* 10, *232 .*/dev/kvm$`, l1CommandDeadline)
	rigtest.Expect(t, res, `\birqbypass\b.*\bkvm\b.*\bkvm_amd\b|\bkvm_amd\b`, l1CommandDeadline)
}

// TestCommandExitStatus checks that the rig reports the command's real exit
// status (not a constant) and only the output printed while it ran.
func TestCommandExitStatus(t *testing.T) {
	rigtest.RequireE2E(t)
	res := rigtest.Run(t, rig.Config{
		Command:    "echo before-exit; exit 7",
		WithoutKVM: true,
	})
	rigtest.RequireExit(t, res, 7)
	rigtest.Expect(t, res, `^before-exit$`, l1CommandDeadline)
	require.Equal(t, 1, res.Attempts)
	require.Contains(t, res.Uptime, "exit", "the exit marker carries L1's uptime")
}

// TestKVMProgramInL1 runs a tiny static C KVM program (testdata/kvmhello.c)
// inside L1: real-mode code that adds two registers, writes the sum to COM1
// and halts. It exercises KVM_CREATE_VM, memory slots, KVM_RUN, I/O and HLT
// exits on kvm-amd before any VMM is involved.
func TestKVMProgramInL1(t *testing.T) {
	rigtest.RequireE2E(t)
	bin := filepath.Join(t.TempDir(), "kvmhello")
	out, err := exec.Command("gcc", "-static", "-O2", "-Wall", "-Werror", "-o", bin, "testdata/kvmhello.c").CombinedOutput()
	require.NoError(t, err, "gcc -static testdata/kvmhello.c (apt-get install build-essential): %s", out)

	res := rigtest.Run(t, rig.Config{
		Command: "kvmhello",
		Files:   []rig.File{{Host: bin, Guest: "/bin/kvmhello", Executable: true}},
	})
	rigtest.RequireExit(t, res, 0)
	rigtest.Expect(t, res, `^kvmhello: api version 12$`, l1CommandDeadline)
	rigtest.Expect(t, res, `^kvmhello: out 0x3f8 0x35$`, l1CommandDeadline) // '5' = 2 + 3
	rigtest.Expect(t, res, `^kvmhello: out 0x3f8 0x0a$`, l1CommandDeadline)
	l := rigtest.Expect(t, res, `^kvmhello: hlt after 3 exits`, l1CommandDeadline)
	t.Logf("inside L1 (rig time): %s", l.Text)
}

// TestGVMMCheckInL1 runs `gvmm check` inside L1, where /dev/kvm is kvm-amd:
// the check must pass there and name the KVM flavour.
func TestGVMMCheckInL1(t *testing.T) {
	rigtest.RequireE2E(t)
	res := rigtest.Run(t, rig.Config{
		Command: "gvmm check",
		GVMM:    rigtest.GVMM(t),
	})
	rigtest.RequireExit(t, res, 0)
	rigtest.Expect(t, res, `^KVM module: +kvm_amd\b`, l1CommandDeadline)
	rigtest.Expect(t, res, `^verdict: +OK\b`, l1CommandDeadline)
}

// TestMinimalKernelBootsUnderTCG boots gvmm's minimal kernel directly as the
// QEMU guest (no KVM anywhere), once as a bzImage and once as the vmlinux
// through its PVH entry, and checks that it reaches init with its console on
// ttyS0 and finds its processors through the MP table (it has no ACPI).
// SeaBIOS's MP table under TCG lists only the boot CPU, so the CPU count is
// not asserted here; `--cpus N` is for gvmm's own MP table (lead's e2e tests).
func TestMinimalKernelBootsUnderTCG(t *testing.T) {
	rigtest.RequireE2E(t)
	k := rigtest.MinimalKernel(t)
	for _, tc := range []struct{ name, kernel string }{
		{"bzImage", k.BzImage},
		{"vmlinux-pvh", k.VMLinux},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := rigtest.Run(t, rig.Config{
				Kernel:     tc.kernel,
				WithoutKVM: true,
				// reboot=k: without ACPI the rig's init ends the VM by a
				// keyboard-controller reset, which -no-reboot turns into exit.
				Append:  "reboot=k",
				Command: `echo "kernel $(uname -r)"; cat /proc/cmdline; dmesg | grep -E 'MultiProcessor Specification|Processors:'`,
			})
			rigtest.RequireExit(t, res, 0)
			rigtest.Expect(t, res, `^kernel 6\.1\.`, l1CommandDeadline)
			rigtest.Expect(t, res, `Intel MultiProcessor Specification v1\.4`, l1CommandDeadline)
			rigtest.Expect(t, res, `Processors: [1-9]`, l1CommandDeadline)
			rigtest.Expect(t, res, `reboot=k`, l1CommandDeadline)
			t.Logf("%s: init after %v uptime, command done at %v, whole run %v wall (rig, TCG)",
				tc.name, res.Uptime["boot"], res.Uptime["exit"], res.Wall.Round(time.Millisecond))
		})
	}
}

// TestTimeoutIsRetriedOnce checks the bound on a stuck L1: a command that
// never ends is killed at the attempt timeout, retried once (visibly), and
// then reported as ErrTimeout.
func TestTimeoutIsRetriedOnce(t *testing.T) {
	rigtest.RequireE2E(t)
	var notices lineRecorder
	start := time.Now()
	res, err := rig.Run(context.Background(), rig.Config{
		Command:        "echo stuck; sleep 600",
		WithoutKVM:     true,
		AttemptTimeout: 15 * time.Second,
		Console:        &notices,
		TempDir:        t.TempDir(),
	})
	require.ErrorIs(t, err, rig.ErrTimeout)
	require.NotNil(t, res)
	require.Equal(t, 2, res.Attempts)
	require.Len(t, res.Earlier, 1)
	require.Contains(t, notices.String(), "attempt 1 of 2 failed (rig: L1 did not finish in time", "the retry must be visible in the log")
	require.Less(t, time.Since(start), 2*15*time.Second+2*10*time.Second, "each attempt is bounded")
	_, seen := res.Console.Find(regexpMust(`^stuck$`))
	require.True(t, seen, "the console of the last attempt is kept")
}

// TestMissingPrerequisiteFails checks that a missing QEMU or kernel is an
// error naming the fix, never a skip.
func TestMissingPrerequisiteFails(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  rig.Config
		want string
	}{
		{"no qemu", rig.Config{Command: "true", QEMU: "/nonexistent/qemu-system-x86_64"}, "apt-get install qemu-system-x86"},
		{"no kernel", rig.Config{Command: "true", Kernel: "/nonexistent/vmlinuz"}, "make kernel-debian"},
		{"no modules", rig.Config{Command: "true", Kernel: "/bin/true"}, "make kernel-debian"},
		{"dynamic busybox", rig.Config{Command: "true", WithoutKVM: true, Kernel: "/bin/true", Busybox: "/bin/ls"}, "busybox-static"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.name != "no qemu" {
				testenv.NeedTool(t, "qemu-system-x86_64", "qemu-system-x86") // to reach the later checks
			}
			_, err := rig.Run(context.Background(), tc.cfg)
			require.Error(t, err)
			require.True(t, errors.Is(err, rig.ErrMissing), "want ErrMissing, got %v", err)
			require.Contains(t, err.Error(), tc.want)
		})
	}
}
