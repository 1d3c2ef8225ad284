package container

import (
	"encoding/binary"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// runFilter executes a seccomp program on one system call the way the
// kernel does (kernel/bpf/core.c, classic BPF on struct seccomp_data, read
// in the CPU's byte order), for the instructions compileSeccomp emits. It
// fails the test on anything else, a jump out of the program, or falling
// off its end.
func runFilter(t *testing.T, prog []unix.SockFilter, arch, nr uint32, args [6]uint64) uint32 {
	t.Helper()
	var data [64]byte
	binary.LittleEndian.PutUint32(data[seccompNrOffset:], nr)
	binary.LittleEndian.PutUint32(data[seccompArchOffset:], arch)
	for i, a := range args {
		binary.LittleEndian.PutUint64(data[seccompArgsOffset+8*i:], a)
	}
	var acc uint32
	for pc := 0; pc < len(prog); pc++ {
		in := prog[pc]
		switch in.Code {
		case unix.BPF_LD | unix.BPF_W | unix.BPF_ABS:
			require.LessOrEqual(t, int(in.K)+4, len(data), "load out of seccomp_data at %d", pc)
			acc = binary.LittleEndian.Uint32(data[in.K:])
			continue
		case unix.BPF_ALU | unix.BPF_AND | unix.BPF_K:
			acc &= in.K
			continue
		case unix.BPF_RET | unix.BPF_K:
			return in.K
		case unix.BPF_JMP | unix.BPF_JA:
			pc += int(in.K)
			continue
		}
		var taken bool
		switch in.Code {
		case unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K:
			taken = acc == in.K
		case unix.BPF_JMP | unix.BPF_JGT | unix.BPF_K:
			taken = acc > in.K
		case unix.BPF_JMP | unix.BPF_JGE | unix.BPF_K:
			taken = acc >= in.K
		default:
			t.Fatalf("instruction %d: unexpected code %#x", pc, in.Code)
		}
		if taken {
			pc += int(in.Jt)
		} else {
			pc += int(in.Jf)
		}
	}
	t.Fatal("fell off the end of the program")
	return 0
}

const (
	retAllow = unix.SECCOMP_RET_ALLOW
	retEPERM = unix.SECCOMP_RET_ERRNO | uint32(unix.EPERM)
)

func TestSeccompDefaultProfile(t *testing.T) {
	prog, err := assembleSeccomp(DefaultSeccomp())
	require.NoError(t, err)
	tests := []struct {
		name string
		arch uint32
		nr   uint32
		want uint32
	}{
		{"mount denied", unix.AUDIT_ARCH_X86_64, unix.SYS_MOUNT, retEPERM},
		{"unshare denied", unix.AUDIT_ARCH_X86_64, unix.SYS_UNSHARE, retEPERM},
		{"ptrace denied", unix.AUDIT_ARCH_X86_64, unix.SYS_PTRACE, retEPERM},
		{"the last denied name", unix.AUDIT_ARCH_X86_64, unix.SYS_USERFAULTFD, retEPERM},
		{"read allowed", unix.AUDIT_ARCH_X86_64, unix.SYS_READ, retAllow},
		{"clone3 allowed", unix.AUDIT_ARCH_X86_64, unix.SYS_CLONE3, retAllow},
		{"x32 ABI refused", unix.AUDIT_ARCH_X86_64, x32SyscallBit | unix.SYS_MOUNT, unix.SECCOMP_RET_ERRNO | uint32(unix.ENOSYS)},
		// The rules are x86_64 numbers; an i386 call (int 0x80) with the
		// same number is another call, so it must not fall through to an
		// allowing default: mount is 21 there.
		{"i386 ABI refused", unix.AUDIT_ARCH_I386, 21, unix.SECCOMP_RET_ERRNO | uint32(unix.ENOSYS)},
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, runFilter(t, prog, tt.arch, tt.nr, [6]uint64{}), tt.name)
	}
	for _, name := range deniedSyscalls {
		if nr, ok := syscallNumber(name); ok {
			require.Equal(t, uint32(retEPERM), runFilter(t, prog, unix.AUDIT_ARCH_X86_64, nr, [6]uint64{}), name)
		}
	}
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
		{Names: []string{"no_such_call", "reboot"}, Action: specs.ActErrno},
	}}
	prog, err := assembleSeccomp(profile)
	require.NoError(t, err)
	call := func(nr uint32, a0, a1 uint64) uint32 {
		return runFilter(t, prog, unix.AUDIT_ARCH_X86_64, nr, [6]uint64{a0, a1})
	}
	require.Equal(t, uint32(retEPERM), call(unix.SYS_SOCKET, unix.AF_PACKET, unix.SOCK_RAW))
	require.Equal(t, uint32(retAllow), call(unix.SYS_SOCKET, unix.AF_PACKET, unix.SOCK_DGRAM))
	require.Equal(t, uint32(retAllow), call(unix.SYS_SOCKET, unix.AF_INET, unix.SOCK_RAW))
	require.Equal(t, uint32(retEPERM), call(unix.SYS_REBOOT, 0, 0), "unknown names are skipped, the rest kept")
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
