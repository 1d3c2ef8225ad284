package container

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// bpfProgLoad and bpfProgAttach are bpf(2) with the member of union
// bpf_attr that the command reads (include/uapi/linux/bpf.h). The kernel
// takes the member's size, so a struct shorter than the union is valid
// and the rest counts as zero. bpfProgLoad returns the program's fd.
func bpfProgLoad(attr *bpfProgLoadAttr) (uintptr, unix.Errno) {
	r, _, e := unix.Syscall(unix.SYS_BPF, unix.BPF_PROG_LOAD, uintptr(unsafe.Pointer(attr)), unsafe.Sizeof(*attr))
	return r, e
}

func bpfProgAttach(attr *bpfProgAttachAttr) unix.Errno {
	_, _, e := unix.Syscall(unix.SYS_BPF, unix.BPF_PROG_ATTACH, uintptr(unsafe.Pointer(attr)), unsafe.Sizeof(*attr))
	return e
}

// bufAddr is the address of b's first byte, the form a bpf_attr field
// (an __aligned_u64 pointer) takes. The Go garbage collector does not
// see an address stored as an integer: the caller keeps b alive with
// runtime.KeepAlive until the bpf call that reads it has returned.
func bufAddr(b []byte) uint64 { return uint64(uintptr(unsafe.Pointer(&b[0]))) }
