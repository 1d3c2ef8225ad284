package sandbox

import (
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// capsetAllThreads sets the effective, permitted and inheritable
// capability sets of every thread to keep (a mask of the first 32
// capabilities; the upper 32 are cleared), with capset(2) and
// _LINUX_CAPABILITY_VERSION_3. The header and data live until the call
// returns on every thread: AllThreadsSyscall waits for all of them.
func capsetAllThreads(keep uint32) error {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	data := [2]unix.CapUserData{{Effective: keep, Permitted: keep, Inheritable: keep}}
	_, _, e := syscall.AllThreadsSyscall(unix.SYS_CAPSET, uintptr(unsafe.Pointer(&hdr)), uintptr(unsafe.Pointer(&data[0])), 0)
	if e != 0 {
		return e
	}
	return nil
}
