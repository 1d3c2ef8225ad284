package sandbox

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"gvmm/internal/seccomp"
	"gvmm/vmm"
)

const (
	allow = unix.SECCOMP_RET_ALLOW
	kill  = unix.SECCOMP_RET_KILL_PROCESS
)

// atFDCWD is AT_FDCWD (-100) as the 64-bit register holds it.
var atFDCWD = func() uint64 { v := int64(unix.AT_FDCWD); return uint64(v) }()

// TestPolicyDecisions runs the compiled filter on the calls that matter,
// the way the kernel would.
func TestPolicyDecisions(t *testing.T) {
	prog, err := Filter(Options{})
	require.NoError(t, err)
	require.Less(t, len(prog), seccomp.MaxInsns)
	x86 := uint32(unix.AUDIT_ARCH_X86_64)
	goThread := uint64(unix.CLONE_VM | unix.CLONE_FS | unix.CLONE_FILES | unix.CLONE_SIGHAND |
		unix.CLONE_SYSVSEM | unix.CLONE_THREAD)
	for _, c := range []struct {
		name string
		nr   uint32
		args [6]uint64
		want uint32
	}{
		{"KVM_RUN", unix.SYS_IOCTL, [6]uint64{7, uint64(vmm.KVM_RUN)}, allow},
		{"KVM_SIGNAL_MSI", unix.SYS_IOCTL, [6]uint64{7, uint64(vmm.KVM_SIGNAL_MSI)}, allow},
		{"KVM_CREATE_VM: set-up is over", unix.SYS_IOCTL, [6]uint64{3, uint64(vmm.KVM_CREATE_VM)}, kill},
		{"KVM_SET_USER_MEMORY_REGION: no remapping guest RAM", unix.SYS_IOCTL, [6]uint64{3, uint64(vmm.KVM_SET_USER_MEMORY_REGION)}, kill},
		{"TUNSETIFF", unix.SYS_IOCTL, [6]uint64{5, unix.TUNSETIFF}, kill},
		{"TCSETS: the terminal restored at exit", unix.SYS_IOCTL, [6]uint64{0, unix.TCSETS}, allow},
		{"mmap read-write", unix.SYS_MMAP, [6]uint64{0, 4096, unix.PROT_READ | unix.PROT_WRITE}, allow},
		{"mmap executable", unix.SYS_MMAP, [6]uint64{0, 4096, unix.PROT_READ | unix.PROT_EXEC}, kill},
		{"mprotect executable", unix.SYS_MPROTECT, [6]uint64{0x1000, 4096, unix.PROT_EXEC}, kill},
		{"a Go thread", unix.SYS_CLONE, [6]uint64{goThread}, allow},
		{"fork", unix.SYS_CLONE, [6]uint64{uint64(unix.SIGCHLD)}, kill},
		{"a thread in a new user namespace", unix.SYS_CLONE, [6]uint64{goThread | unix.CLONE_NEWUSER}, kill},
		{"clone3", unix.SYS_CLONE3, [6]uint64{}, kill},
		{"execve", unix.SYS_EXECVE, [6]uint64{}, kill},
		{"netlink socket", unix.SYS_SOCKET, [6]uint64{unix.AF_NETLINK, unix.SOCK_RAW}, allow},
		{"inet socket", unix.SYS_SOCKET, [6]uint64{unix.AF_INET, unix.SOCK_STREAM}, kill},
		{"open read-only", unix.SYS_OPENAT, [6]uint64{atFDCWD, 0, unix.O_RDONLY | unix.O_CLOEXEC}, allow},
		{"open for writing", unix.SYS_OPENAT, [6]uint64{atFDCWD, 0, unix.O_WRONLY}, kill},
		{"open to create", unix.SYS_OPENAT, [6]uint64{atFDCWD, 0, unix.O_CREAT | unix.O_RDONLY}, kill},
		{"open (the old call)", unix.SYS_OPEN, [6]uint64{}, kill},
		{"ptrace", unix.SYS_PTRACE, [6]uint64{}, kill},
		{"prctl other than PR_SET_VMA", unix.SYS_PRCTL, [6]uint64{unix.PR_SET_DUMPABLE, 1}, kill},
	} {
		got, err := seccomp.Run(prog, x86, c.nr, c.args)
		require.NoError(t, err)
		assert.Equal(t, uint32(c.want), got, c.name)
	}
	calls, filtered := Count()
	t.Logf("allowlist: %d system calls, %d of them argument-filtered (Firecracker's VMM thread: 50, 39)", calls, filtered)
	assert.Less(t, calls, 80)
}

// probe is the sandboxprobe program, built once without cgo (as gvmm is:
// syscall.AllThreadsSyscall refuses to run in a cgo program, and the
// race detector needs cgo).
var probe struct {
	once sync.Once
	path string
	err  error
}

// runHelper runs the probe: it enters the sandbox, works the Go runtime,
// then makes the call mode names.
func runHelper(t *testing.T, mode string) (string, error) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("dropping capabilities is tested as root")
	}
	probe.once.Do(func() {
		dir, err := os.MkdirTemp("", "sandboxprobe")
		if err != nil {
			probe.err = err
			return
		}
		probe.path = filepath.Join(dir, "sandboxprobe")
		cmd := exec.Command("go", "build", "-o", probe.path, "./sandboxprobe")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			probe.err = fmt.Errorf("build sandboxprobe: %v: %s", err, out)
		}
	})
	require.NoError(t, probe.err)
	t.Cleanup(func() {}) // the binary is removed by TestMain
	out, err := exec.Command(probe.path, mode).CombinedOutput()
	return string(out), err
}

// TestMain removes the probe binary.
func TestMain(m *testing.M) {
	code := m.Run()
	if probe.path != "" {
		os.RemoveAll(filepath.Dir(probe.path))
	}
	os.Exit(code)
}

func TestSandboxedRuntimeRuns(t *testing.T) {
	out, err := runHelper(t, "none")
	require.NoError(t, err, out)
	require.Equal(t, "survived\n", out)
}

// TestForbiddenCallsKill: after Enter, each forbidden call kills the
// process with SIGSYS, before it can do anything.
func TestForbiddenCallsKill(t *testing.T) {
	for _, mode := range []string{"exec", "mmap-exec", "inet", "create"} {
		t.Run(mode, func(t *testing.T) {
			out, err := runHelper(t, mode)
			var ee *exec.ExitError
			require.True(t, errors.As(err, &ee), "%v: %s", err, out)
			ws := ee.Sys().(syscall.WaitStatus)
			require.True(t, ws.Signaled(), out)
			assert.Equal(t, syscall.SIGSYS, ws.Signal())
			assert.True(t, strings.HasPrefix(out, "survived\n"), out)
		})
	}
	_, err := os.Stat(os.TempDir() + "/gvmm-sandbox-escape")
	assert.True(t, os.IsNotExist(err), "the file was not created")
}

func TestCapabilitiesDropped(t *testing.T) {
	out, err := runHelper(t, "status")
	require.NoError(t, err, out)
	assert.Contains(t, out, "CapEff:\t0000000000000000")
	assert.Contains(t, out, "CapBnd:\t0000000000000000")
	assert.Contains(t, out, "NoNewPrivs:\t1")
	assert.Contains(t, out, "Seccomp:\t2")
}
