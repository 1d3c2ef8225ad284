package container

import (
	"fmt"
	"gvmm/internal/seccomp"

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
	"name_to_handle_at", "nfsservctl", "open_by_handle_at", "open_tree", "open_tree_attr",
	"perf_event_open", "pivot_root", "process_vm_readv", "process_vm_writev",
	"ptrace", "query_module", "quotactl", "reboot", "request_key", "setns",
	"settimeofday", "swapoff", "swapon", "sysfs", "_sysctl", "umount2", "unshare",
	"uselib", "userfaultfd", "ustat", "vm86", "vm86old",
}

// cloneNamespaceFlags are clone(2)'s flags that create namespaces:
// CLONE_NEWNS, NEWCGROUP, NEWUTS, NEWIPC, NEWUSER, NEWPID and NEWNET
// (together 0x7E020000, the mask Docker's profile uses). Denying unshare
// alone would leave clone with CLONE_NEWUSER open, and a new user
// namespace is where many kernel exploits start.
var cloneNamespaceFlags = []uint64{unix.CLONE_NEWNS, unix.CLONE_NEWCGROUP, unix.CLONE_NEWUTS,
	unix.CLONE_NEWIPC, unix.CLONE_NEWUSER, unix.CLONE_NEWPID, unix.CLONE_NEWNET}

// DefaultSeccomp is the OCI-style profile gvmm applies when it builds the
// configuration itself (DefaultSpec): allow everything, except
//   - clone with any of cloneNamespaceFlags (EPERM): one rule per flag,
//     "arg0 & flag == flag" (clone's flags are its first argument on
//     x86_64, so an argument filter can see them);
//   - clone3 (ENOSYS, as Docker's profile does: its flags are in a
//     struct in memory, which seccomp cannot read, and ENOSYS makes the C
//     library fall back to clone);
//   - deniedSyscalls (EPERM).
//
// Every rule denies, so the profile means the same whether rules are
// tried in order (gvmm's compiler) or merged (libseccomp, which crun and
// runc use, and which drops a rule whose action is the default's: an
// "allow clone if no flag" rule would vanish there and leave clone
// denied). A deny list, unlike Docker's allow list, does not break new
// system calls the kernel adds, at the price of letting them through.
func DefaultSeccomp() *specs.LinuxSeccomp {
	eperm, enosys := uint(unix.EPERM), uint(unix.ENOSYS)
	var rules []specs.LinuxSyscall
	for _, flag := range cloneNamespaceFlags {
		rules = append(rules, specs.LinuxSyscall{Names: []string{"clone"}, Action: specs.ActErrno, ErrnoRet: &eperm,
			Args: []specs.LinuxSeccompArg{{Index: 0, Op: specs.OpMaskedEqual, Value: flag, ValueTwo: flag}}})
	}
	rules = append(rules,
		specs.LinuxSyscall{Names: []string{"clone3"}, Action: specs.ActErrno, ErrnoRet: &enosys},
		specs.LinuxSyscall{Names: append([]string(nil), deniedSyscalls...), Action: specs.ActErrno, ErrnoRet: &eperm})
	return &specs.LinuxSeccomp{
		DefaultAction: specs.ActAllow,
		Architectures: []specs.Arch{specs.ArchX86_64},
		Syscalls:      rules,
	}
}

// seccompActions maps the OCI actions (config-linux.md "Seccomp") to
// seccomp(2)'s return values. SCMP_ACT_ERRNO carries its errno in the
// low 16 bits (SECCOMP_RET_DATA): seccompAction adds it.
var seccompActions = map[specs.LinuxSeccompAction]uint32{
	specs.ActKill: unix.SECCOMP_RET_KILL_THREAD, specs.ActKillThread: unix.SECCOMP_RET_KILL_THREAD,
	specs.ActKillProcess: unix.SECCOMP_RET_KILL_PROCESS, specs.ActTrap: unix.SECCOMP_RET_TRAP,
	specs.ActErrno: unix.SECCOMP_RET_ERRNO, specs.ActLog: unix.SECCOMP_RET_LOG,
	specs.ActAllow: unix.SECCOMP_RET_ALLOW,
}

// maxErrno is the largest errno a system call can return (the kernel's
// MAX_ERRNO, include/linux/err.h).
const maxErrno = 4095

// seccompOps maps the OCI argument comparisons.
var seccompOps = map[specs.LinuxSeccompOperator]seccomp.Op{
	specs.OpEqualTo: seccomp.Equal, specs.OpNotEqual: seccomp.NotEqual,
	specs.OpLessThan: seccomp.LessThan, specs.OpLessEqual: seccomp.LessEqual,
	specs.OpGreaterThan: seccomp.GreaterThan, specs.OpGreaterEqual: seccomp.GreaterEqual,
	specs.OpMaskedEqual: seccomp.MaskedEqual,
}

func seccompAction(a specs.LinuxSeccompAction, errno *uint) (uint32, error) {
	act, ok := seccompActions[a]
	if !ok {
		return 0, fmt.Errorf("config: seccomp action %q: %w", a, ErrUnsupported)
	}
	if a != specs.ActErrno {
		return act, nil
	}
	// config-linux.md: without errnoRet the call fails with EPERM.
	e := uint(unix.EPERM)
	if errno != nil {
		e = *errno
	}
	if e == 0 || e > maxErrno {
		return 0, fmt.Errorf("config: seccomp errnoRet %d: give an errno from 1 to %d: %w", e, maxErrno, ErrBadSpec)
	}
	return act | uint32(e), nil
}

// seccompRules translates an OCI seccomp section into rules for the
// calling architecture (x86_64), in the profile's order, and the default
// action. A name only other architectures have (foreignSyscalls: a
// profile such as Docker's names "socketcall" or "_llseek") matches
// nothing on x86_64 and is skipped; a name no architecture has is refused,
// since a profile meant to deny it would silently not. Other
// architectures in the profile are ignored: the filter refuses every call
// through another ABI (i386, x32) with ENOSYS, see seccomp.Compile.
func seccompRules(s *specs.LinuxSeccomp) ([]seccomp.Rule, uint32, error) {
	if len(s.Flags) > 0 || s.ListenerPath != "" {
		return nil, 0, fmt.Errorf("config: seccomp flags/listenerPath: %w", ErrUnsupported)
	}
	def, err := seccompAction(s.DefaultAction, s.DefaultErrnoRet)
	if err != nil {
		return nil, 0, err
	}
	var rules []seccomp.Rule
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
			nr, ok := syscallNumber(name)
			switch {
			case ok:
				rules = append(rules, seccomp.Rule{Nr: nr, Conds: conds, Action: act})
			case !foreignSyscall(name):
				return nil, 0, fmt.Errorf("config: seccomp: no architecture has a system call %q (table: %s): %w",
					name, syscallHeaders, ErrBadSpec)
			}
		}
	}
	return rules, def, nil
}

// maxSyscallArgs is the number of system call arguments seccomp sees.
const maxSyscallArgs = 6

func seccompConditions(args []specs.LinuxSeccompArg) ([]seccomp.Cond, error) {
	var conds []seccomp.Cond
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
		conds = append(conds, seccomp.Cond{Arg: a.Index, Op: op, Value: a.Value, Datum: a.ValueTwo})
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
	prog, err := seccomp.Compile(rules, def)
	if err != nil {
		return nil, fmt.Errorf("config: %w (%w)", err, ErrBadSpec)
	}
	return prog, nil
}
