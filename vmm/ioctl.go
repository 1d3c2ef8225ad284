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

// ioctlPtr is ioctl with a pointer argument. The pointer is converted to a
// uintptr inside the call expression, which keeps the object alive and
// unmoved for the duration of the syscall (unsafe.Pointer rule 4).
func ioctlPtr(fd int, req uintptr, arg unsafe.Pointer) error {
	_, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), req, uintptr(arg))
	if errno != 0 {
		return errno
	}
	return nil
}

// ioctlName makes error messages readable for the requests we issue.
func ioctlError(name string, err error) error {
	return fmt.Errorf("%s: %w", name, err)
}
