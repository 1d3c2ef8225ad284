package seccomp

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

func TestCompileFirstMatchWins(t *testing.T) {
	const eperm = unix.SECCOMP_RET_ERRNO | uint32(unix.EPERM)
	prog, err := Compile([]Rule{
		{Nr: unix.SYS_IOCTL, Action: unix.SECCOMP_RET_ALLOW, Conds: []Cond{{Arg: 1, Op: Equal, Value: 0xae80}}},
		{Nr: unix.SYS_IOCTL, Action: eperm},
		{Nr: unix.SYS_MMAP, Action: unix.SECCOMP_RET_ALLOW, Conds: []Cond{{Arg: 2, Op: MaskedEqual, Value: unix.PROT_EXEC, Datum: 0}}},
	}, unix.SECCOMP_RET_KILL_PROCESS)
	require.NoError(t, err)
	x86 := uint32(unix.AUDIT_ARCH_X86_64)
	for _, c := range []struct {
		nr   uint32
		args [6]uint64
		want uint32
	}{
		{unix.SYS_IOCTL, [6]uint64{3, 0xae80}, unix.SECCOMP_RET_ALLOW},
		{unix.SYS_IOCTL, [6]uint64{3, 0xae81}, eperm},
		{unix.SYS_IOCTL, [6]uint64{3, 1<<32 | 0xae80}, eperm}, // all 64 bits compared
		{unix.SYS_MMAP, [6]uint64{0, 4096, unix.PROT_READ}, unix.SECCOMP_RET_ALLOW},
		{unix.SYS_MMAP, [6]uint64{0, 4096, unix.PROT_READ | unix.PROT_EXEC}, unix.SECCOMP_RET_KILL_PROCESS},
		{unix.SYS_READ, [6]uint64{}, unix.SECCOMP_RET_KILL_PROCESS},
		{X32SyscallBit | unix.SYS_READ, [6]uint64{}, unix.SECCOMP_RET_ERRNO | uint32(unix.ENOSYS)},
	} {
		got, err := Run(prog, x86, c.nr, c.args)
		require.NoError(t, err)
		assert.Equal(t, c.want, got, "call %d %#x", c.nr, c.args)
	}
	got, err := Run(prog, unix.AUDIT_ARCH_I386, unix.SYS_READ, [6]uint64{})
	require.NoError(t, err)
	assert.Equal(t, unix.SECCOMP_RET_ERRNO|uint32(unix.ENOSYS), got, "another ABI is refused")
}

func TestCompileRefusesTooLong(t *testing.T) {
	rules := make([]Rule, MaxInsns)
	for i := range rules {
		rules[i] = Rule{Nr: uint32(i), Action: unix.SECCOMP_RET_ALLOW}
	}
	_, err := Compile(rules, unix.SECCOMP_RET_KILL_PROCESS)
	require.ErrorIs(t, err, ErrProgram)
}
