package seccomp

import (
	"encoding/binary"
	"fmt"

	"golang.org/x/sys/unix"
)

// seccompDataSize is the size of struct seccomp_data.
const seccompDataSize = 64

// Run executes prog on one system call the way the kernel's classic-BPF
// interpreter does, for the instructions Compile emits, and returns the
// action. It lets a test (or a student) see what a filter decides
// without installing it.
func Run(prog []unix.SockFilter, arch, nr uint32, args [6]uint64) (uint32, error) {
	var data [seccompDataSize]byte
	binary.LittleEndian.PutUint32(data[nrOffset:], nr)
	binary.LittleEndian.PutUint32(data[archOffset:], arch)
	for i, a := range args {
		binary.LittleEndian.PutUint64(data[argsOffset+8*i:], a)
	}
	var acc uint32
	for pc := 0; pc < len(prog); pc++ {
		in := prog[pc]
		var taken bool
		switch in.Code {
		case unix.BPF_LD | unix.BPF_W | unix.BPF_ABS:
			if int(in.K)+4 > len(data) {
				return 0, fmt.Errorf("instruction %d: load at %d, out of seccomp_data", pc, in.K)
			}
			acc = binary.LittleEndian.Uint32(data[in.K:])
			continue
		case unix.BPF_ALU | unix.BPF_AND | unix.BPF_K:
			acc &= in.K
			continue
		case unix.BPF_RET | unix.BPF_K:
			return in.K, nil
		case unix.BPF_JMP | unix.BPF_JA:
			pc += int(in.K)
			continue
		case unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K:
			taken = acc == in.K
		case unix.BPF_JMP | unix.BPF_JGT | unix.BPF_K:
			taken = acc > in.K
		case unix.BPF_JMP | unix.BPF_JGE | unix.BPF_K:
			taken = acc >= in.K
		default:
			return 0, fmt.Errorf("instruction %d: unexpected code %#x", pc, in.Code)
		}
		if taken {
			pc += int(in.Jt)
		} else {
			pc += int(in.Jf)
		}
	}
	return 0, fmt.Errorf("the program ends without a return")
}
