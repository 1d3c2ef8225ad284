package container

import (
	"fmt"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// deniedSyscalls are refused with EPERM by the default profile: the calls
// Docker's default profile (moby/profiles/seccomp) leaves out of its allow
// list for a container without extra capabilities. Each one either changes
// state outside the container (kernel modules, clocks, swap, reboot, kexec,
// keyrings), escapes or rebuilds the sandbox (mount, pivot_root, setns,
// unshare, the new mount API, open_by_handle_at: the "shocker" escape), or
// inspects other processes (ptrace, process_vm_*, perf, bpf).
var deniedSyscalls = []string{
	"acct", "add_key", "bpf", "clock_adjtime", "clock_settime", "create_module",
	"delete_module", "finit_module", "fsconfig", "fsmount", "fsopen", "fspick",
	"get_kernel_syms", "init_module", "ioperm", "iopl", "kcmp", "kexec_file_load",
	"kexec_load", "keyctl", "lookup_dcookie", "mount", "mount_setattr", "move_mount",
	"name_to_handle_at", "nfsservctl", "open_by_handle_at", "open_tree",
	"perf_event_open", "pivot_root", "process_vm_readv", "process_vm_writev",
	"ptrace", "query_module", "quotactl", "reboot", "request_key", "setns",
	"settimeofday", "swapoff", "swapon", "sysfs", "_sysctl", "umount2", "unshare",
	"uselib", "userfaultfd", "ustat", "vm86", "vm86old",
}

// DefaultSeccomp is the OCI-style profile gvmm applies when it builds the
// configuration itself (DefaultSpec): allow everything, refuse
// deniedSyscalls with EPERM. A deny list, unlike Docker's allow list, does
// not break new system calls the kernel adds, at the price of letting
// them through.
func DefaultSeccomp() *specs.LinuxSeccomp {
	eperm := uint(unix.EPERM)
	return &specs.LinuxSeccomp{
		DefaultAction: specs.ActAllow,
		Architectures: []specs.Arch{specs.ArchX86_64},
		Syscalls: []specs.LinuxSyscall{{
			Names: append([]string(nil), deniedSyscalls...), Action: specs.ActErrno, ErrnoRet: &eperm,
		}},
	}
}

// seccompActions maps the OCI actions (config-linux.md "Seccomp") to
// seccomp(2)'s return values. SCMP_ACT_ERRNO is only accepted with EPERM.
var seccompActions = map[specs.LinuxSeccompAction]uint32{
	specs.ActKill: unix.SECCOMP_RET_KILL_THREAD, specs.ActKillThread: unix.SECCOMP_RET_KILL_THREAD,
	specs.ActKillProcess: unix.SECCOMP_RET_KILL_PROCESS, specs.ActTrap: unix.SECCOMP_RET_TRAP,
	specs.ActErrno: unix.SECCOMP_RET_ERRNO | uint32(unix.EPERM), specs.ActLog: unix.SECCOMP_RET_LOG,
	specs.ActAllow: unix.SECCOMP_RET_ALLOW,
}

// seccompOps maps the OCI argument comparisons.
var seccompOps = map[specs.LinuxSeccompOperator]seccompOp{
	specs.OpEqualTo: opEqual, specs.OpNotEqual: opNotEqual,
	specs.OpLessThan: opLessThan, specs.OpLessEqual: opLessEqual,
	specs.OpGreaterThan: opGreaterThan, specs.OpGreaterEqual: opGreaterEqual,
	specs.OpMaskedEqual: opMaskedEqual,
}

func seccompAction(a specs.LinuxSeccompAction, errno *uint) (uint32, error) {
	act, ok := seccompActions[a]
	if !ok {
		return 0, fmt.Errorf("config: seccomp action %q: %w", a, ErrUnsupported)
	}
	if a == specs.ActErrno && errno != nil && *errno != uint(unix.EPERM) {
		return 0, fmt.Errorf("config: seccomp errnoRet %d: only EPERM (1): %w", *errno, ErrUnsupported)
	}
	return act, nil
}

// seccompRules translates an OCI seccomp section into rules for the
// calling architecture (x86_64), in the profile's order, and the default
// action. Names the kernel's table does not know are skipped, as
// libseccomp does; other architectures in the profile are ignored: the
// filter refuses every call through another ABI (i386, x32) with ENOSYS,
// see compileSeccomp.
func seccompRules(s *specs.LinuxSeccomp) ([]seccompRule, uint32, error) {
	if len(s.Flags) > 0 || s.ListenerPath != "" {
		return nil, 0, fmt.Errorf("config: seccomp flags/listenerPath: %w", ErrUnsupported)
	}
	def, err := seccompAction(s.DefaultAction, s.DefaultErrnoRet)
	if err != nil {
		return nil, 0, err
	}
	var rules []seccompRule
	for _, sc := range s.Syscalls {
		act, err := seccompAction(sc.Action, sc.ErrnoRet)
		if err != nil {
			return nil, 0, err
		}
		conds, err := seccompConditions(sc.Args)
		if err != nil {
			return nil, 0, err
		}
		for _, name := range sc.Names {
			if nr, ok := syscallNumber(name); ok {
				rules = append(rules, seccompRule{nr: nr, conds: conds, action: act})
			}
		}
	}
	return rules, def, nil
}

// maxSyscallArgs is the number of system call arguments seccomp sees.
const maxSyscallArgs = 6

func seccompConditions(args []specs.LinuxSeccompArg) ([]seccompCond, error) {
	var conds []seccompCond
	for _, a := range args {
		op, ok := seccompOps[a.Op]
		if !ok {
			return nil, fmt.Errorf("config: seccomp operator %q: %w", a.Op, ErrUnsupported)
		}
		if a.Index >= maxSyscallArgs {
			return nil, fmt.Errorf("config: seccomp argument index %d: a system call has %d: %w",
				a.Index, maxSyscallArgs, ErrBadSpec)
		}
		// SCMP_CMP_MASKED_EQ: value is the mask, valueTwo the datum.
		conds = append(conds, seccompCond{arg: a.Index, op: op, value: a.Value, datum: a.ValueTwo})
	}
	return conds, nil
}

// assembleSeccomp compiles an OCI seccomp section into the classic-BPF
// program init installs (seccomp(2) SECCOMP_SET_MODE_FILTER); nil for none.
// Compiling here, in the runtime, keeps the syscall table out of init.
func assembleSeccomp(s *specs.LinuxSeccomp) ([]unix.SockFilter, error) {
	if s == nil {
		return nil, nil
	}
	rules, def, err := seccompRules(s)
	if err != nil {
		return nil, err
	}
	return compileSeccomp(rules, def)
}
