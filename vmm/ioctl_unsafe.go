package vmm

import (
	"fmt"
	"unsafe"

	"golang.org/x/sys/unix"
)

// ioctl issues one ioctl and returns its result. EINTR is returned to the
// caller: only KVM_RUN can be interrupted, and the run loop handles it.
func ioctl(fd int, req uintptr, arg uintptr) (uintptr, error) {
	r, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), req, arg)
	if errno != 0 {
		return r, errno
	}
	return r, nil
}

// ioctlPtr is ioctl with a pointer to a kernel structure, T laid out as
// the kernel's (kvm_abi_unsafe_amd64.go, checked by abi_test.go). The
// pointer is converted to a uintptr inside the call expression, which
// keeps the object alive and unmoved for the duration of the syscall
// (unsafe.Pointer rule 4). This file and the other _unsafe.go files are
// the only ones in package vmm that import unsafe, as gVisor keeps
// machine_unsafe.go beside machine.go.
func ioctlPtr[T any](fd int, req uintptr, arg *T) error {
	_, err := ioctlPtrResult(fd, req, arg)
	return err
}

// ioctlPtrResult is ioctlPtr for requests whose non-negative result
// means something (KVM_SET_MSRS: how many MSRs were set).
func ioctlPtrResult[T any](fd int, req uintptr, arg *T) (uintptr, error) {
	r, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), req, uintptr(unsafe.Pointer(arg)))
	if errno != 0 {
		return r, errno
	}
	return r, nil
}

// hostAddress is the process address of b[0], for KVM structures that
// name user memory by address (kvm_userspace_memory_region). b must stay
// mapped while KVM uses the address: guest memory is an mmap that lives
// until the VM is closed.
func hostAddress(b []byte) uint64 { return uint64(uintptr(unsafe.Pointer(&b[0]))) }

// ioctlError makes error messages readable for the requests we issue.
func ioctlError(name string, err error) error {
	return fmt.Errorf("%s: %w", name, err)
}

// mincore is mincore(2): vec[i] bit 0 says whether page i of b is
// resident. golang.org/x/sys/unix has no wrapper for it on Linux.
func mincore(b, vec []byte) error {
	if len(b) == 0 {
		return nil
	}
	_, _, e := unix.Syscall(unix.SYS_MINCORE, uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)), uintptr(unsafe.Pointer(&vec[0])))
	if e != 0 {
		return e
	}
	return nil
}
