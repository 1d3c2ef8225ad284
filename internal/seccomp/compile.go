package seccomp

import (
	"errors"
	"fmt"

	"golang.org/x/sys/unix"
)

// This file compiles seccomp rules into the classic-BPF program the kernel
// runs on every system call of the filtered process (seccomp(2), and the
// kernel's Documentation/userspace-api/seccomp_filter.rst).
//
// The program reads struct seccomp_data (include/uapi/linux/seccomp.h):
//
//	offset 0:  int nr            the system call number
//	offset 4:  u32 arch          AUDIT_ARCH_* of the calling convention
//	offset 8:  u64 instruction_pointer
//	offset 16: u64 args[6]       in the CPU's byte order (little endian)
//
// Its shape, for rules in order (the first matching rule wins):
//
//	ld arch; jeq X86_64 ? next : ret ENOSYS      (i386 calls: see below)
//	ld nr;   jge X32_BIT ? ret ENOSYS : next     (x32 calls: see below)
//	per rule without conditions:  jeq NR ? next : skip 1;  ret ACTION
//	per rule with conditions:     jeq NR ? skip 1 : next;  ja END
//	                              the checks, each failing to END; ret ACTION
//	                              END: ld nr
//	ret DEFAULT
//
// Every conditional jump stays short (BPF's are 8 bits), so the program
// needs no trampolines however many rules it has.

// ErrProgram: the rules cannot be compiled into a filter the kernel takes.
var ErrProgram = errors.New("seccomp rules do not compile")

// Offsets into struct seccomp_data.
const (
	nrOffset   = 0
	archOffset = 4
	argsOffset = 16
)

// X32SyscallBit marks the x32 ABI's system calls, which share the
// x86_64 audit arch (arch/x86/include/uapi/asm/unistd.h __X32_SYSCALL_BIT).
// They are refused with ENOSYS, as Docker's profile does, since a rule
// for a call's x86_64 number would not match its x32 twin. Calls through
// the i386 ABI (int 0x80, AUDIT_ARCH_I386) are refused the same way: the
// rules hold x86_64 numbers, and i386 numbers differ (mount is 165 on
// x86_64, 21 on i386), so an allowing default would let a denied call
// through its 32-bit twin. The filtered process then runs 64-bit code
// only, like a kernel without IA32_EMULATION.
const X32SyscallBit = 0x40000000

// MaxInsns is the kernel's limit on a filter (BPF_MAXINSNS).
const MaxInsns = 4096

// Rule is one system call, the conditions on its arguments that
// must all hold, and the action (a SECCOMP_RET_* value) taken then.
type Rule struct {
	Nr     uint32
	Conds  []Cond
	Action uint32
}

// Cond compares argument Arg (0-5) as an unsigned 64-bit number.
type Cond struct {
	Arg uint
	Op  Op
	// Value is the operand; for MaskedEqual the mask, with Datum the
	// value the masked argument must equal.
	Value, Datum uint64
}

// Op is a comparison of an argument with a value.
type Op int

// The comparisons of the OCI profile (config-linux.md "Seccomp").
const (
	Equal Op = iota
	NotEqual
	LessThan
	LessEqual
	GreaterThan
	GreaterEqual
	MaskedEqual
)

// Instruction helpers: BPF_LD|BPF_W|BPF_ABS loads the 32-bit word at k,
// BPF_JMP compares the accumulator with k and skips jt or jf instructions,
// BPF_RET returns k, BPF_ALU|BPF_AND masks the accumulator with k.
func bpfLoad(off uint32) unix.SockFilter {
	return unix.SockFilter{Code: unix.BPF_LD | unix.BPF_W | unix.BPF_ABS, K: off}
}

func bpfJump(op uint16, k uint32, jt, jf uint8) unix.SockFilter {
	return unix.SockFilter{Code: unix.BPF_JMP | op | unix.BPF_K, Jt: jt, Jf: jf, K: k}
}

func bpfRet(k uint32) unix.SockFilter { return unix.SockFilter{Code: unix.BPF_RET | unix.BPF_K, K: k} }

func bpfAnd(k uint32) unix.SockFilter {
	return unix.SockFilter{Code: unix.BPF_ALU | unix.BPF_AND | unix.BPF_K, K: k}
}

// Compile assembles rules and the default action into a filter.
func Compile(rules []Rule, def uint32) ([]unix.SockFilter, error) {
	prog := []unix.SockFilter{
		bpfLoad(archOffset),
		bpfJump(unix.BPF_JEQ, unix.AUDIT_ARCH_X86_64, 1, 0),
		bpfRet(unix.SECCOMP_RET_ERRNO | uint32(unix.ENOSYS)),
		bpfLoad(nrOffset),
		bpfJump(unix.BPF_JGE, X32SyscallBit, 0, 1),
		bpfRet(unix.SECCOMP_RET_ERRNO | uint32(unix.ENOSYS)),
	}
	for _, r := range rules {
		if len(r.Conds) == 0 {
			prog = append(prog, bpfJump(unix.BPF_JEQ, r.Nr, 0, 1), bpfRet(r.Action))
			continue
		}
		block, err := conditionBlock(r)
		if err != nil {
			return nil, err
		}
		prog = append(prog, bpfJump(unix.BPF_JEQ, r.Nr, 1, 0),
			unix.SockFilter{Code: unix.BPF_JMP | unix.BPF_JA, K: uint32(len(block))})
		prog = append(prog, block...)
		prog = append(prog, bpfLoad(nrOffset)) // END: the checks loaded arguments
	}
	prog = append(prog, bpfRet(def))
	if len(prog) > MaxInsns {
		return nil, fmt.Errorf("seccomp: the rules compile to %d instructions, over the kernel's %d: %w",
			len(prog), MaxInsns, ErrProgram)
	}
	return prog, nil
}

// bpfClassMask selects an instruction's class (BPF_CLASS in
// include/uapi/linux/bpf_common.h).
const bpfClassMask = 0x07

// failJump marks a jump offset still to be pointed at the block's end.
const failJump = 0xff

// conditionBlock returns the checks of r's conditions followed by its
// action; a failed check jumps to the instruction just past the block.
func conditionBlock(r Rule) ([]unix.SockFilter, error) {
	var b []unix.SockFilter
	for _, c := range r.Conds {
		b = append(b, conditionCheck(c)...)
	}
	b = append(b, bpfRet(r.Action))
	// Point every failing jump at the end. A check is at most six
	// instructions, so only a rule with dozens of conditions could
	// overflow the 8-bit offsets.
	for i := range b {
		for _, j := range []*uint8{&b[i].Jt, &b[i].Jf} {
			if b[i].Code&bpfClassMask != unix.BPF_JMP || *j != failJump {
				continue
			}
			off := len(b) - (i + 1)
			if off >= failJump {
				return nil, fmt.Errorf("seccomp: the rule for call %d has too many conditions: %w", r.Nr, ErrProgram)
			}
			*j = uint8(off)
		}
	}
	return b, nil
}

// conditionCheck compares one argument, 64 bits as two 32-bit halves
// (classic BPF has a 32-bit accumulator): the check falls through when
// the condition holds and jumps failJump when it does not.
func conditionCheck(c Cond) []unix.SockFilter {
	lo := uint32(argsOffset + 8*c.Arg) // little endian: low word first
	hi := lo + 4
	vhi, vlo := uint32(c.Value>>32), uint32(c.Value)
	const fail = failJump
	switch c.Op {
	case Equal:
		return []unix.SockFilter{bpfLoad(hi), bpfJump(unix.BPF_JEQ, vhi, 0, fail),
			bpfLoad(lo), bpfJump(unix.BPF_JEQ, vlo, 0, fail)}
	case NotEqual: // holds if either half differs
		return []unix.SockFilter{bpfLoad(hi), bpfJump(unix.BPF_JEQ, vhi, 0, 2),
			bpfLoad(lo), bpfJump(unix.BPF_JEQ, vlo, fail, 0)}
	case GreaterThan, GreaterEqual: // high half greater, or equal and low half greater (or equal)
		op := uint16(unix.BPF_JGT)
		if c.Op == GreaterEqual {
			op = unix.BPF_JGE
		}
		return []unix.SockFilter{bpfLoad(hi), bpfJump(unix.BPF_JGT, vhi, 3, 0), bpfJump(unix.BPF_JEQ, vhi, 0, fail),
			bpfLoad(lo), bpfJump(op, vlo, 0, fail)}
	case LessThan, LessEqual: // BPF has no "less": the greater tests, with the branches swapped
		op := uint16(unix.BPF_JGE)
		if c.Op == LessEqual {
			op = unix.BPF_JGT
		}
		return []unix.SockFilter{bpfLoad(hi), bpfJump(unix.BPF_JGE, vhi, 0, 3), bpfJump(unix.BPF_JEQ, vhi, 0, fail),
			bpfLoad(lo), bpfJump(op, vlo, fail, 0)}
	default: // MaskedEqual: (arg & value) == datum
		dhi, dlo := uint32(c.Datum>>32), uint32(c.Datum)
		return []unix.SockFilter{bpfLoad(hi), bpfAnd(vhi), bpfJump(unix.BPF_JEQ, dhi, 0, fail),
			bpfLoad(lo), bpfAnd(vlo), bpfJump(unix.BPF_JEQ, dlo, 0, fail)}
	}
}
