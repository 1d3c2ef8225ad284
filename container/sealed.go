package container

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"gvmm/container/nsinit"

	"golang.org/x/sys/unix"
)

// InitName is the file name of the separate init program (the C program
// of container/cinit), looked for beside the running executable.
const InitName = "gvmm-init"

// findInit chooses the init program: the caller's choice, else gvmm-init
// beside the running executable, else the executable itself, which then
// runs Init when it sees InitArgs. The second is several milliseconds
// faster to start (see the package documentation); the third always works,
// and says so once on stderr, since it is slower.
func findInit(choice string) (string, error) {
	if choice != "" {
		return choice, nil
	}
	exe, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("find own executable: %w", err)
	}
	sibling := filepath.Join(filepath.Dir(exe), InitName)
	st, err := os.Stat(sibling)
	switch {
	case err != nil || !st.Mode().IsRegular():
		warnSelfInit(sibling, "is missing")
		return exe, nil
	case st.Mode().Perm()&0o022 != 0:
		// Whoever may write it could run code as root in every container.
		warnSelfInit(sibling, "is writable by group or others, so it is not used")
		return exe, nil
	}
	return sibling, nil
}

// selfInitWarned makes warnSelfInit speak once per process.
var selfInitWarned sync.Once

// warnSelfInit says, once, that containers start with the runtime's own
// binary as init, and how to get the fast one.
func warnSelfInit(sibling, why string) {
	selfInitWarned.Do(func() {
		fmt.Fprintf(os.Stderr, "gvmm: %s %s: containers start with this binary re-executed as init, "+
			"about 4 ms slower; build both with `make gvmm` (or: %s)\n",
			sibling, why, strings.Join(InitCompile(InitSource, sibling), " "))
	})
}

// The init program never runs from its path on disk. A container that
// could reach that file through /proc/<init pid>/exe, or by naming
// /proc/self/exe as its command so that init executes itself inside the
// container, could overwrite it and have the host run its code
// (CVE-2019-5736, which hit runc). Init is therefore executed from a
// handle that cannot be written through by anyone:
//
//  1. an O_PATH handle on the file inside a private, read-only overlayfs
//     built with the new mount API (fsopen/fsconfig/fsmount, Linux 5.2)
//     from the file's directory and an empty directory as the two lower
//     layers. The mount is never attached anywhere, so there is nothing to
//     clean up, nothing copied, and, unlike a read-only bind mount, no way
//     to make it writable: an overlay without an upper layer is read-only
//     by construction (runc 1.2 does the same). It needs CAP_SYS_ADMIN.
//  2. otherwise, a copy in a memfd sealed against any change
//     (memfd_create(2), fcntl(2) "File seals"): cost grows with the size of
//     the program, which is one more reason to keep init small.
//
// A handle is made once per program and process, and reused.
var sealedCache struct {
	sync.Mutex
	files map[string]*os.File
}

// sealMode names how a handle was made, for tests and GVMM_TRACE.
type sealMode string

const (
	sealOverlay sealMode = "overlayfs"
	sealMemfd   sealMode = "memfd"
)

// memfdSeals forbid any change to the copy and any later change of seals.
const memfdSeals = unix.F_SEAL_SEAL | unix.F_SEAL_SHRINK | unix.F_SEAL_GROW | unix.F_SEAL_WRITE

// sealedProgram returns the read-only handle to execute path from;
// emptyDir is an empty directory for the overlay's second layer.
func sealedProgram(path, emptyDir string) (*os.File, error) {
	sealedCache.Lock()
	defer sealedCache.Unlock()
	if f, ok := sealedCache.files[path]; ok {
		return f, nil
	}
	f, mode, err := seal(path, emptyDir)
	if err != nil {
		return nil, err
	}
	if timingsOn {
		fmt.Fprintf(os.Stderr, "gvmm: timing init program %s, sealed by %s\n", path, mode)
	}
	if sealedCache.files == nil {
		sealedCache.files = map[string]*os.File{}
	}
	sealedCache.files[path] = f
	return f, nil
}

func seal(path, emptyDir string) (*os.File, sealMode, error) {
	real, err := filepath.EvalSymlinks(path)
	if err != nil {
		return nil, "", fmt.Errorf("init program %s: %w", path, err)
	}
	f, oerr := overlayHandle(real, emptyDir)
	if oerr == nil {
		return f, sealOverlay, nil
	}
	f, err = memfdCopy(real)
	if err != nil {
		return nil, "", fmt.Errorf("seal init program %s: overlayfs: %v; memfd: %w", real, oerr, err)
	}
	return f, sealMemfd, nil
}

// overlayHandle opens path through a detached read-only overlayfs whose
// lower layers are path's directory and emptyDir.
func overlayHandle(path, emptyDir string) (*os.File, error) {
	if err := os.MkdirAll(emptyDir, 0o700); err != nil {
		return nil, err
	}
	ctx, err := unix.Fsopen("overlay", unix.FSOPEN_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("fsopen overlay: %w", err)
	}
	defer unix.Close(ctx)
	dir, name := filepath.Split(path)
	// overlayfs(5) "lowerdir": layers are separated by ':', and '\' escapes.
	esc := strings.NewReplacer(`\`, `\\`, `:`, `\:`)
	// The program's directory is the upper of the two lower layers, so
	// nothing in emptyDir can hide it. An overlay needs two lower layers
	// when it has no upper one.
	lower := esc.Replace(filepath.Clean(dir)) + ":" + esc.Replace(emptyDir)
	if err := unix.FsconfigSetString(ctx, "lowerdir", lower); err != nil {
		return nil, fmt.Errorf("overlay lowerdir=%s: %w", lower, err)
	}
	// Inode number mapping is irrelevant here; off avoids kernel log noise.
	_ = unix.FsconfigSetString(ctx, "xino", "off")
	if err := unix.FsconfigCreate(ctx); err != nil {
		return nil, fmt.Errorf("create overlay: %w", err)
	}
	mnt, err := unix.Fsmount(ctx, unix.FSMOUNT_CLOEXEC, unix.MOUNT_ATTR_RDONLY|unix.MOUNT_ATTR_NODEV|unix.MOUNT_ATTR_NOSUID)
	if err != nil {
		return nil, fmt.Errorf("fsmount overlay: %w", err)
	}
	defer unix.Close(mnt)
	fd, err := unix.Openat(mnt, name, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open %s in overlay: %w", name, err)
	}
	return os.NewFile(uintptr(fd), nsinit.Arg), nil
}

// memfdCopy copies path into a sealed memfd and returns a read-only handle.
func memfdCopy(path string) (*os.File, error) {
	src, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer src.Close()
	st, err := src.Stat()
	if err != nil {
		return nil, err
	}
	// MFD_EXEC asks for an executable memfd explicitly where the kernel
	// knows the flag (6.3+, vm.memfd_noexec); older kernels refuse it.
	fd, err := unix.MemfdCreate(InitName, unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING|unix.MFD_EXEC)
	if errors.Is(err, unix.EINVAL) {
		fd, err = unix.MemfdCreate(InitName, unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	}
	if err != nil {
		return nil, fmt.Errorf("memfd_create: %w", err)
	}
	defer unix.Close(fd)
	// sendfile(2) moves the bytes inside the kernel (copy_file_range
	// refuses a memfd destination with EXDEV).
	for left := st.Size(); left > 0; {
		n, err := unix.Sendfile(fd, int(src.Fd()), nil, int(min(left, 1<<30)))
		if err != nil {
			return nil, fmt.Errorf("copy %s: %w", path, err)
		}
		if n == 0 {
			return nil, fmt.Errorf("copy %s: file shrank", path)
		}
		left -= int64(n)
	}
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_ADD_SEALS, memfdSeals); err != nil {
		return nil, fmt.Errorf("seal init copy: %w", err)
	}
	// Keep only a read-only handle: a writable fd open on a file makes
	// execve fail with ETXTBSY, and nothing here needs to write it again.
	ro, err := unix.Open(fmt.Sprintf("/proc/self/fd/%d", fd), unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("reopen init copy: %w", err)
	}
	return os.NewFile(uintptr(ro), InitName), nil
}
