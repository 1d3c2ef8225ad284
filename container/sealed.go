package container

import (
	"fmt"
	"io"
	"os"
	"sync"

	"golang.org/x/sys/unix"
)

// The container's init is this very binary, but never the file on disk: it
// runs from a sealed, anonymous memfd copy (memfd_create(2), fcntl(2) "File
// Seals"). That is the CVE-2019-5736 defence runc adopted: while init runs
// inside the container, /proc/<pid>/exe points at the memfd, so a hostile
// container that opens it (or tricks init into executing it again) can
// neither write the copy (F_SEAL_WRITE) nor reach the host's gvmm binary.
// The copy is made once per runtime process and reused.
var sealed struct {
	once sync.Once
	file *os.File
	err  error
}

// memfdSeals forbid any change to the copy and any later change of seals.
const memfdSeals = unix.F_SEAL_SEAL | unix.F_SEAL_SHRINK | unix.F_SEAL_GROW | unix.F_SEAL_WRITE

// sealedExecutable returns the read-only memfd copy of /proc/self/exe.
func sealedExecutable() (*os.File, error) {
	sealed.once.Do(func() { sealed.file, sealed.err = makeSealedCopy() })
	return sealed.file, sealed.err
}

func makeSealedCopy() (*os.File, error) {
	src, err := os.Open("/proc/self/exe")
	if err != nil {
		return nil, fmt.Errorf("open own executable: %w", err)
	}
	defer src.Close()
	// MFD_EXEC asks for an executable memfd explicitly where the kernel
	// knows the flag (6.3+, vm.memfd_noexec); older kernels refuse it.
	fd, err := unix.MemfdCreate("gvmm-init", unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING|unix.MFD_EXEC)
	if err == unix.EINVAL {
		fd, err = unix.MemfdCreate("gvmm-init", unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	}
	if err != nil {
		return nil, fmt.Errorf("memfd_create: %w", err)
	}
	dst := os.NewFile(uintptr(fd), "gvmm-init")
	// io.Copy between two files uses copy_file_range/sendfile: the bytes
	// move inside the kernel, page cache to page cache.
	if _, err := io.Copy(dst, src); err != nil {
		dst.Close()
		return nil, fmt.Errorf("copy own executable: %w", err)
	}
	defer dst.Close()
	if _, err := unix.FcntlInt(dst.Fd(), unix.F_ADD_SEALS, memfdSeals); err != nil {
		return nil, fmt.Errorf("seal init copy: %w", err)
	}
	// Keep only a read-only handle: a writable fd open on a file makes
	// execve fail with ETXTBSY, and nothing here needs to write it again.
	ro, err := os.Open(fmt.Sprintf("/proc/self/fd/%d", dst.Fd()))
	if err != nil {
		return nil, fmt.Errorf("reopen init copy: %w", err)
	}
	return ro, nil
}
