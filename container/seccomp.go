package container

import (
	"fmt"

	seccomp "github.com/elastic/go-seccomp-bpf"
	"github.com/elastic/go-seccomp-bpf/arch"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/net/bpf"
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

// seccompActions maps the OCI actions (config-linux.md "Seccomp") to the
// library's. SCMP_ACT_ERRNO is only accepted with EPERM, the errno the
// library returns.
var seccompActions = map[specs.LinuxSeccompAction]seccomp.Action{
	specs.ActKill: seccomp.ActionKillThread, specs.ActKillThread: seccomp.ActionKillThread,
	specs.ActKillProcess: seccomp.ActionKillProcess, specs.ActTrap: seccomp.ActionTrap,
	specs.ActErrno: seccomp.ActionErrno, specs.ActLog: seccomp.ActionLog,
	specs.ActAllow: seccomp.ActionAllow,
}

// seccompOps maps the OCI argument comparisons the library can express.
var seccompOps = map[specs.LinuxSeccompOperator]seccomp.Operation{
	specs.OpEqualTo: seccomp.Equal, specs.OpNotEqual: seccomp.NotEqual,
	specs.OpLessThan: seccomp.LessThan, specs.OpLessEqual: seccomp.LessOrEqual,
	specs.OpGreaterThan: seccomp.GreaterThan, specs.OpGreaterEqual: seccomp.GreaterOrEqual,
}

func seccompAction(a specs.LinuxSeccompAction, errno *uint) (seccomp.Action, error) {
	act, ok := seccompActions[a]
	if !ok {
		return 0, fmt.Errorf("config: seccomp action %q: %w", a, ErrUnsupported)
	}
	if a == specs.ActErrno && errno != nil && *errno != uint(unix.EPERM) {
		return 0, fmt.Errorf("config: seccomp errnoRet %d: only EPERM (1): %w", *errno, ErrUnsupported)
	}
	return act, nil
}

// seccompPolicy translates an OCI seccomp section into a policy for the
// calling architecture (x86_64). Names the kernel's table does not know are
// skipped, as libseccomp does; other architectures in the profile are
// ignored because an amd64 runtime only ever filters amd64 calls here.
func seccompPolicy(s *specs.LinuxSeccomp) (*seccomp.Policy, error) {
	if len(s.Flags) > 0 || s.ListenerPath != "" {
		return nil, fmt.Errorf("config: seccomp flags/listenerPath: %w", ErrUnsupported)
	}
	def, err := seccompAction(s.DefaultAction, s.DefaultErrnoRet)
	if err != nil {
		return nil, err
	}
	known := arch.X86_64.SyscallNames
	policy := &seccomp.Policy{DefaultAction: def}
	for _, sc := range s.Syscalls {
		act, err := seccompAction(sc.Action, sc.ErrnoRet)
		if err != nil {
			return nil, err
		}
		group := seccomp.SyscallGroup{Action: act}
		for _, name := range sc.Names {
			if _, ok := known[name]; !ok {
				continue
			}
			if len(sc.Args) == 0 {
				group.Names = append(group.Names, name)
				continue
			}
			conds, err := seccompConditions(sc.Args)
			if err != nil {
				return nil, err
			}
			group.NamesWithCondtions = append(group.NamesWithCondtions,
				seccomp.NameWithConditions{Name: name, Conditions: conds})
		}
		if len(group.Names)+len(group.NamesWithCondtions) > 0 {
			policy.Syscalls = append(policy.Syscalls, group)
		}
	}
	return policy, nil
}

func seccompConditions(args []specs.LinuxSeccompArg) (seccomp.ArgumentConditions, error) {
	var conds seccomp.ArgumentConditions
	for _, a := range args {
		op, ok := seccompOps[a.Op]
		if a.Op == specs.OpMaskedEqual && a.Value == a.ValueTwo {
			op, ok = seccomp.BitsSet, true
		}
		if !ok {
			return nil, fmt.Errorf("config: seccomp operator %q: %w", a.Op, ErrUnsupported)
		}
		conds = append(conds, seccomp.Condition{Argument: uint32(a.Index), Operation: op, Value: a.Value})
	}
	return conds, nil
}

// assembleSeccomp compiles an OCI seccomp section into the classic-BPF
// program init installs (seccomp(2) SECCOMP_SET_MODE_FILTER); nil for none.
// Assembling here, in the runtime, keeps the BPF library and its syscall
// tables out of init.
func assembleSeccomp(s *specs.LinuxSeccomp) ([]unix.SockFilter, error) {
	if s == nil {
		return nil, nil
	}
	policy, err := seccompPolicy(s)
	if err != nil {
		return nil, err
	}
	insts, err := policy.Assemble()
	if err != nil {
		return nil, fmt.Errorf("config: seccomp: %v: %w", err, ErrBadSpec)
	}
	raw, err := bpf.Assemble(insts)
	if err != nil {
		return nil, fmt.Errorf("config: seccomp: %v: %w", err, ErrBadSpec)
	}
	filter := make([]unix.SockFilter, len(raw))
	for i, r := range raw {
		filter[i] = unix.SockFilter{Code: r.Op, Jt: r.Jt, Jf: r.Jf, K: r.K}
	}
	return filter, nil
}
