package container

import (
	"encoding/binary"
	"fmt"
	"runtime"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// cgroup v2 has no devices.allow file: device access is decided by an eBPF
// program of type BPF_PROG_TYPE_CGROUP_DEVICE attached to the group
// (cgroup-v2.rst "Device controller"). The kernel calls it with
// struct bpf_cgroup_dev_ctx { u32 access_type; u32 major; u32 minor; },
// access_type holding the device type in its low 16 bits and the access
// bits in its high 16 (include/uapi/linux/bpf.h); it returns 1 to allow.
// deviceProgram compiles the OCI rules the way the v1 controller reads
// them: the last rule that matches decides. With no match access is
// denied: deviceRules puts a "deny all" first anyway, and a program that
// fell through to "allow" would open every device to a list that forgot
// it.

// eBPF instruction classes and operations (Documentation/bpf/
// standardization/instruction-set.rst), named as in linux/bpf.h.
const (
	bpfLdxMemW   = 0x61 // BPF_LDX | BPF_MEM | BPF_W: dst = *(u32 *)(src + off)
	bpfAlu32AndK = 0x54 // BPF_ALU | BPF_AND | BPF_K: dst &= imm (32-bit)
	bpfAlu32RshK = 0x74 // BPF_ALU | BPF_RSH | BPF_K: dst >>= imm (32-bit)
	bpfMov64X    = 0xbf // BPF_ALU64 | BPF_MOV | BPF_X: dst = src
	bpfMov64K    = 0xb7 // BPF_ALU64 | BPF_MOV | BPF_K: dst = imm
	bpfJmp32NeK  = 0x56 // BPF_JMP32 | BPF_JNE | BPF_K: if (u32)dst != imm goto +off
	bpfExit      = 0x95 // BPF_JMP | BPF_EXIT: return r0
)

// Registers: r1 holds the context on entry; the program keeps the type in
// r2, the access in r3, major in r4, minor in r5 and answers in r0.
const (
	regR0 = iota
	regCtx
	regType
	regAccess
	regMajor
	regMinor
)

// bpfInsn is one 8-byte eBPF instruction.
type bpfInsn struct {
	code     uint8
	dst, src uint8
	off      int16
	imm      int32
}

// deviceAccess maps OCI access letters to BPF_DEVCG_ACC_* bits.
var deviceAccess = map[rune]int32{'r': unix.BPF_DEVCG_ACC_READ, 'w': unix.BPF_DEVCG_ACC_WRITE, 'm': unix.BPF_DEVCG_ACC_MKNOD}

// allAccess is every access bit.
const allAccess = unix.BPF_DEVCG_ACC_READ | unix.BPF_DEVCG_ACC_WRITE | unix.BPF_DEVCG_ACC_MKNOD

// deviceProgram compiles rules into an eBPF program.
func deviceProgram(rules []specs.LinuxDeviceCgroup) ([]bpfInsn, error) {
	prog := []bpfInsn{
		{code: bpfLdxMemW, dst: regType, src: regCtx, off: 0},
		{code: bpfAlu32AndK, dst: regType, imm: 0xffff},
		{code: bpfLdxMemW, dst: regAccess, src: regCtx, off: 0},
		{code: bpfAlu32RshK, dst: regAccess, imm: 16},
		{code: bpfLdxMemW, dst: regMajor, src: regCtx, off: 4},
		{code: bpfLdxMemW, dst: regMinor, src: regCtx, off: 8},
	}
	for i := len(rules) - 1; i >= 0; i-- {
		block, err := deviceRuleBlock(rules[i])
		if err != nil {
			return nil, err
		}
		prog = append(prog, block...)
		if len(block) == 2 {
			// A rule for every device and access decides everything:
			// earlier rules are unreachable, and the verifier refuses
			// unreachable instructions.
			return prog, nil
		}
	}
	return append(prog, bpfInsn{code: bpfMov64K, dst: regR0, imm: 0}, bpfInsn{code: bpfExit}), nil
}

// deviceRuleBlock is one rule: tests that jump past the block when the
// device does not match, then "return allow".
func deviceRuleBlock(d specs.LinuxDeviceCgroup) ([]bpfInsn, error) {
	var tests []bpfInsn
	switch d.Type {
	case "", "a":
	case "c":
		tests = append(tests, bpfInsn{code: bpfJmp32NeK, dst: regType, imm: unix.BPF_DEVCG_DEV_CHAR})
	case "b":
		tests = append(tests, bpfInsn{code: bpfJmp32NeK, dst: regType, imm: unix.BPF_DEVCG_DEV_BLOCK})
	default:
		return nil, fmt.Errorf("config: device rule type %q: give a, b or c: %w", d.Type, ErrBadSpec)
	}
	var acc int32
	for _, r := range d.Access {
		bit, ok := deviceAccess[r]
		if !ok {
			return nil, fmt.Errorf("config: device rule access %q: give letters of rwm: %w", d.Access, ErrBadSpec)
		}
		acc |= bit
	}
	if d.Access != "" && acc != allAccess {
		// Match only if the access asked for is within the rule's.
		tests = append(tests,
			bpfInsn{code: bpfMov64X, dst: regCtx, src: regAccess},
			bpfInsn{code: bpfAlu32AndK, dst: regCtx, imm: ^acc & allAccess},
			bpfInsn{code: bpfJmp32NeK, dst: regCtx, imm: 0})
	}
	if d.Major != nil && *d.Major >= 0 {
		tests = append(tests, bpfInsn{code: bpfJmp32NeK, dst: regMajor, imm: int32(uint32(*d.Major))})
	}
	if d.Minor != nil && *d.Minor >= 0 {
		tests = append(tests, bpfInsn{code: bpfJmp32NeK, dst: regMinor, imm: int32(uint32(*d.Minor))})
	}
	var allow int32
	if d.Allow {
		allow = 1
	}
	block := append(tests, bpfInsn{code: bpfMov64K, dst: regR0, imm: allow}, bpfInsn{code: bpfExit})
	for i := range block {
		if block[i].code == bpfJmp32NeK {
			block[i].off = int16(len(block) - i - 1) // to the next block
		}
	}
	return block, nil
}

// encodeBPF lays instructions out as struct bpf_insn.
func encodeBPF(prog []bpfInsn) []byte {
	out := make([]byte, 0, 8*len(prog))
	for _, in := range prog {
		out = append(out, in.code, in.dst|in.src<<4)
		out = binary.LittleEndian.AppendUint16(out, uint16(in.off))
		out = binary.LittleEndian.AppendUint32(out, uint32(in.imm))
	}
	return out
}

// bpfProgLoadAttr is the BPF_PROG_LOAD part of union bpf_attr.
type bpfProgLoadAttr struct {
	progType, insnCnt   uint32
	insns, license      uint64
	logLevel, logSize   uint32
	logBuf              uint64
	kernVersion, flags  uint32
	name                [16]byte
	ifindex, attachType uint32
}

// bpfProgAttachAttr is the BPF_PROG_ATTACH part of union bpf_attr.
type bpfProgAttachAttr struct {
	targetFd, attachBpfFd, attachType, attachFlags, replaceBpfFd uint32
}

// attachDeviceFilter loads the rules' program and attaches it to the v2
// group dir, next to any programs its ancestors have (BPF_F_ALLOW_MULTI:
// all must allow).
func attachDeviceFilter(dir string, rules []specs.LinuxDeviceCgroup) error {
	prog, err := deviceProgram(rules)
	if err != nil {
		return err
	}
	code := encodeBPF(prog)
	license := []byte("Apache\x00")
	logBuf := make([]byte, 4096)
	load := bpfProgLoadAttr{
		progType: unix.BPF_PROG_TYPE_CGROUP_DEVICE, insnCnt: uint32(len(prog)),
		insns:    bufAddr(code),
		license:  bufAddr(license),
		logLevel: 1, logSize: uint32(len(logBuf)), logBuf: bufAddr(logBuf),
	}
	copy(load.name[:], "gvmm_devices")
	fd, e := bpfProgLoad(&load)
	runtime.KeepAlive(code)
	runtime.KeepAlive(license)
	runtime.KeepAlive(logBuf)
	if e != 0 {
		verifier := strings.TrimRight(string(logBuf), "\x00")
		return fmt.Errorf("cgroups: load device filter: %w (verifier: %s)", e, strings.TrimSpace(verifier))
	}
	defer unix.Close(int(fd))
	dirfd, err := unix.Open(dir, unix.O_DIRECTORY|unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("cgroups: %w", err)
	}
	defer unix.Close(dirfd)
	attach := bpfProgAttachAttr{targetFd: uint32(dirfd), attachBpfFd: uint32(fd),
		attachType: unix.BPF_CGROUP_DEVICE, attachFlags: unix.BPF_F_ALLOW_MULTI}
	if e := bpfProgAttach(&attach); e != 0 {
		return fmt.Errorf("cgroups: attach device filter to %s: %w", dir, e)
	}
	return nil
}
