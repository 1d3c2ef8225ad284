package container

import (
	"fmt"
	"gvmm/internal/seccomp"
	"os"
	"os/exec"
	"runtime"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// runFilter runs a seccomp program on one system call as the kernel
// would (seccomp.Run).
func runFilter(t *testing.T, prog []unix.SockFilter, arch, nr uint32, args [6]uint64) uint32 {
	t.Helper()
	act, err := seccomp.Run(prog, arch, nr, args)
	require.NoError(t, err)
	return act
}

const (
	retAllow = unix.SECCOMP_RET_ALLOW
	retEPERM = unix.SECCOMP_RET_ERRNO | uint32(unix.EPERM)
)

func TestSeccompDefaultProfile(t *testing.T) {
	prog, err := assembleSeccomp(DefaultSeccomp())
	require.NoError(t, err)
	const retENOSYS = unix.SECCOMP_RET_ERRNO | uint32(unix.ENOSYS)
	x86 := uint32(unix.AUDIT_ARCH_X86_64)
	tests := []struct {
		name  string
		arch  uint32
		nr    uint32
		flags uint64 // the first argument
		want  uint32
	}{
		{"mount denied", x86, unix.SYS_MOUNT, 0, retEPERM},
		{"unshare denied", x86, unix.SYS_UNSHARE, 0, retEPERM},
		{"ptrace denied", x86, unix.SYS_PTRACE, 0, retEPERM},
		{"the last denied name", x86, unix.SYS_USERFAULTFD, 0, retEPERM},
		{"open_tree_attr denied (Linux 6.15)", x86, 467, 0, retEPERM},
		{"read allowed", x86, unix.SYS_READ, 0, retAllow},
		{"mseal allowed (Linux 6.10)", x86, 462, 0, retAllow},
		// fork(2) is clone(SIGCHLD); threads add CLONE_VM and friends.
		{"clone for fork allowed", x86, unix.SYS_CLONE, uint64(unix.SIGCHLD), retAllow},
		{"clone for a thread allowed", x86, unix.SYS_CLONE, unix.CLONE_VM | unix.CLONE_FS | unix.CLONE_FILES |
			unix.CLONE_SIGHAND | unix.CLONE_THREAD | unix.CLONE_SYSVSEM | unix.CLONE_SETTLS, retAllow},
		{"clone with a user namespace denied", x86, unix.SYS_CLONE, unix.CLONE_NEWUSER | uint64(unix.SIGCHLD), retEPERM},
		{"clone with a network namespace denied", x86, unix.SYS_CLONE, unix.CLONE_NEWNET, retEPERM},
		{"clone with a mount namespace denied", x86, unix.SYS_CLONE, unix.CLONE_NEWNS, retEPERM},
		{"clone with high bits and a namespace denied", x86, unix.SYS_CLONE, 1<<32 | unix.CLONE_NEWPID, retEPERM},
		{"clone3 is ENOSYS: the C library falls back to clone", x86, unix.SYS_CLONE3, 0, retENOSYS},
		{"x32 ABI refused", x86, seccomp.X32SyscallBit | unix.SYS_MOUNT, 0, retENOSYS},
		// The rules are x86_64 numbers; an i386 call (int 0x80) with the
		// same number is another call, so it must not fall through to an
		// allowing default: mount is 21 there.
		{"i386 ABI refused", unix.AUDIT_ARCH_I386, 21, 0, retENOSYS},
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, runFilter(t, prog, tt.arch, tt.nr, [6]uint64{tt.flags}), tt.name)
	}
	for _, name := range deniedSyscalls {
		if nr, ok := syscallNumber(name); ok {
			require.Equal(t, uint32(retEPERM), runFilter(t, prog, unix.AUDIT_ARCH_X86_64, nr, [6]uint64{}), name)
		}
	}
}

// TestDefaultSeccompInTheKernel loads the default profile into a child
// process (this test binary again, as a helper) and makes the calls for
// real: the kernel, not the test's BPF interpreter, must refuse them.
func TestDefaultSeccompInTheKernel(t *testing.T) {
	if os.Getenv("GVMM_SECCOMP_HELPER") == "1" {
		seccompHelper()
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestDefaultSeccompInTheKernel$")
	cmd.Env = append(os.Environ(), "GVMM_SECCOMP_HELPER=1")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, string(out))
	require.Contains(t, string(out), "clone(CLONE_NEWUSER): operation not permitted\n")
	require.Contains(t, string(out), "clone(CLONE_NEWNET): operation not permitted\n")
	require.Contains(t, string(out), "unshare(CLONE_NEWUSER): operation not permitted\n")
	require.Contains(t, string(out), "clone3: function not implemented\n")
	require.Contains(t, string(out), "fork: ok\n")
}

// seccompHelper runs in the child of TestDefaultSeccompInTheKernel.
func seccompHelper() {
	prog, err := assembleSeccomp(DefaultSeccomp())
	if err != nil {
		fmt.Println("assemble:", err)
		os.Exit(1)
	}
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		fmt.Println("no_new_privs:", err)
		os.Exit(1)
	}
	// TSYNC: every thread of the Go runtime gets the filter.
	if err := loadFilterAllThreads(prog); err != nil {
		fmt.Println("seccomp:", err)
		os.Exit(1)
	}
	runtime.LockOSThread()
	try := func(name string, nr, a0 uintptr) {
		pid, _, e := unix.RawSyscall6(nr, a0, 0, 0, 0, 0, 0)
		switch {
		case e != 0:
			fmt.Printf("%s: %v\n", name, e)
		case nr != unix.SYS_UNSHARE && pid == 0:
			unix.RawSyscall(unix.SYS_EXIT_GROUP, 0, 0, 0) // the child of a clone that got through
		default:
			if nr != unix.SYS_UNSHARE {
				var ws unix.WaitStatus
				_, _ = unix.Wait4(int(pid), &ws, 0, nil)
			}
			fmt.Printf("%s: ok\n", name)
		}
	}
	try("clone(CLONE_NEWUSER)", unix.SYS_CLONE, unix.CLONE_NEWUSER|uintptr(unix.SIGCHLD))
	try("clone(CLONE_NEWNET)", unix.SYS_CLONE, unix.CLONE_NEWNET|uintptr(unix.SIGCHLD))
	try("unshare(CLONE_NEWUSER)", unix.SYS_UNSHARE, unix.CLONE_NEWUSER)
	try("clone3", unix.SYS_CLONE3, 0)
	try("fork", unix.SYS_CLONE, uintptr(unix.SIGCHLD))
	os.Exit(0)
}

// TestSeccompConditions checks every comparison against Go's own on 64-bit
// values around the operand, in both halves.
func TestSeccompConditions(t *testing.T) {
	// Operands whose low half is above, and below, their high half.
	for _, v := range []uint64{0x0000_0002_8000_0010, 0x0000_8000_0000_0010} {
		values := []uint64{0, 1, v - 1, v, v + 1, v - 1<<32, v + 1<<32, 0x10, 0x8000_0010,
			0x0000_0100_0000_0000, 0x0000_0100_ffff_ffff, 0x0000_0010_0000_0000, 1<<64 - 1}
		for _, o := range conditionOps(v) {
			profile := &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{
				{Names: []string{"personality"}, Action: specs.ActErrno,
					Args: []specs.LinuxSeccompArg{{Index: 2, Value: v, ValueTwo: 0x10, Op: o.op}}},
				{Names: []string{"personality"}, Action: specs.ActKillProcess}, // reached when the first does not match
			}}
			prog, err := assembleSeccomp(profile)
			require.NoError(t, err)
			for _, a := range values {
				want := uint32(unix.SECCOMP_RET_KILL_PROCESS)
				if o.want(a) {
					want = retEPERM
				}
				got := runFilter(t, prog, unix.AUDIT_ARCH_X86_64, unix.SYS_PERSONALITY, [6]uint64{0, 0, a})
				require.Equal(t, want, got, "%s %#x, arg %#x", o.op, v, a)
			}
			require.Equal(t, uint32(retAllow), runFilter(t, prog, unix.AUDIT_ARCH_X86_64, unix.SYS_READ, [6]uint64{0, 0, v}),
				"%s: other calls reach the default, with the call number reloaded", o.op)
		}
	}
}

// conditionOps pairs each OCI comparison with operand v with Go's.
func conditionOps(v uint64) []struct {
	op   specs.LinuxSeccompOperator
	want func(a uint64) bool
} {
	return []struct {
		op   specs.LinuxSeccompOperator
		want func(a uint64) bool
	}{
		{specs.OpEqualTo, func(a uint64) bool { return a == v }},
		{specs.OpNotEqual, func(a uint64) bool { return a != v }},
		{specs.OpLessThan, func(a uint64) bool { return a < v }},
		{specs.OpLessEqual, func(a uint64) bool { return a <= v }},
		{specs.OpGreaterThan, func(a uint64) bool { return a > v }},
		{specs.OpGreaterEqual, func(a uint64) bool { return a >= v }},
		{specs.OpMaskedEqual, func(a uint64) bool { return a&v == 0x10 }},
	}
}

func TestSeccompAllConditionsMustHold(t *testing.T) {
	profile := &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{
		{Names: []string{"socket"}, Action: specs.ActErrno, Args: []specs.LinuxSeccompArg{
			{Index: 0, Value: unix.AF_PACKET, Op: specs.OpEqualTo},
			{Index: 1, Value: unix.SOCK_RAW, Op: specs.OpEqualTo},
		}},
		{Names: []string{"socketcall", "reboot"}, Action: specs.ActErrno},
	}}
	prog, err := assembleSeccomp(profile)
	require.NoError(t, err)
	call := func(nr uint32, a0, a1 uint64) uint32 {
		return runFilter(t, prog, unix.AUDIT_ARCH_X86_64, nr, [6]uint64{a0, a1})
	}
	require.Equal(t, uint32(retEPERM), call(unix.SYS_SOCKET, unix.AF_PACKET, unix.SOCK_RAW))
	require.Equal(t, uint32(retAllow), call(unix.SYS_SOCKET, unix.AF_PACKET, unix.SOCK_DGRAM))
	require.Equal(t, uint32(retAllow), call(unix.SYS_SOCKET, unix.AF_INET, unix.SOCK_RAW))
	require.Equal(t, uint32(retEPERM), call(unix.SYS_REBOOT, 0, 0), "other architectures' names are skipped, the rest kept")
}

func TestSeccompRefuses(t *testing.T) {
	tests := []struct {
		name string
		arg  specs.LinuxSeccompArg
		want error
	}{
		{"argument index past the sixth", specs.LinuxSeccompArg{Index: 6, Op: specs.OpEqualTo}, ErrBadSpec},
		{"unknown operator", specs.LinuxSeccompArg{Index: 0, Op: "SCMP_CMP_SOMETIMES"}, ErrUnsupported},
	}
	for _, tt := range tests {
		_, err := assembleSeccomp(&specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{
			{Names: []string{"read"}, Action: specs.ActErrno, Args: []specs.LinuxSeccompArg{tt.arg}}}})
		require.ErrorIs(t, err, tt.want, tt.name)
	}
	many := make([]string, 0, len(syscallTable))
	for _, e := range syscallTable {
		many = append(many, e.name)
	}
	var groups []specs.LinuxSyscall
	for i := 0; i < 6; i++ {
		groups = append(groups, specs.LinuxSyscall{Names: many, Action: specs.ActErrno})
	}
	_, err := assembleSeccomp(&specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: groups})
	require.ErrorIs(t, err, ErrBadSpec, "over BPF_MAXINSNS")
}

// TestSeccompUnknownNames: a name only other architectures have is
// skipped (profiles such as Docker's list them for every architecture);
// a name no architecture has is refused, so a profile that means to deny
// it does not silently allow it.
func TestSeccompUnknownNames(t *testing.T) {
	for _, name := range []string{"socketcall", "_llseek", "vm86", "breakpoint", "s390_pci_mmio_read", "riscv_flush_icache"} {
		_, _, err := seccompRules(&specs.LinuxSeccomp{DefaultAction: specs.ActAllow,
			Syscalls: []specs.LinuxSyscall{{Names: []string{name}, Action: specs.ActErrno}}})
		require.NoError(t, err, name)
	}
	for _, name := range []string{"listmount", "statmount", "mseal", "open_tree_attr", "listns"} {
		_, ok := syscallNumber(name)
		require.True(t, ok, "%s is in the table (%s)", name, syscallHeaders)
	}
	_, _, err := seccompRules(&specs.LinuxSeccomp{DefaultAction: specs.ActAllow,
		Syscalls: []specs.LinuxSyscall{{Names: []string{"reboot", "no_such_call"}, Action: specs.ActErrno}}})
	require.ErrorIs(t, err, ErrBadSpec)
	require.Contains(t, err.Error(), `"no_such_call"`)
}
