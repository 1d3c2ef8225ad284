package blk

import (
	"errors"
	"fmt"
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// SectorSize is the unit of virtio-blk addresses and lengths (§5.2.4:
// "capacity ... in 512-byte sectors"), whatever the file's block size.
const SectorSize = 512

// Sentinel errors of Open, for errors.Is.
var (
	// ErrLocked: another process holds a lock on the disk that conflicts
	// with ours (a second VM writing the same image would corrupt it).
	ErrLocked = errors.New("disk in use")
	// ErrNotDisk: the path is not something a disk can be made of.
	ErrNotDisk = errors.New("not a disk image")
)

// Backend is a raw disk image: a regular file (or a host block device)
// whose byte n is the disk's byte n. It holds an advisory lock (flock)
// for as long as it is open: exclusive when writable, shared when
// read-only, so two VMs never write one image and no VM reads an image
// another one is writing.
type Backend struct {
	f        *os.File
	fd       int
	path     string
	size     uint64 // bytes the guest sees: whole sectors
	readOnly bool
}

// Open opens the image at path for a disk, read-only if readOnly, and
// takes its lock. The errors say what to do.
func Open(path string, readOnly bool) (*Backend, error) {
	flags := os.O_RDWR
	if readOnly {
		flags = os.O_RDONLY
	}
	f, err := os.OpenFile(path, flags|unix.O_CLOEXEC, 0)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return nil, fmt.Errorf("disk %s: no such file (create one with truncate -s 1G %s, or give an image)", path, path)
	case errors.Is(err, unix.EISDIR):
		return nil, fmt.Errorf("%w: %s is a directory, not a file or block device", ErrNotDisk, path)
	case errors.Is(err, os.ErrPermission) && !readOnly:
		return nil, fmt.Errorf("disk %s: no permission to open it for writing (check its mode, or add ,ro)", path)
	case err != nil:
		return nil, fmt.Errorf("disk %s: %w", path, err)
	}
	b := &Backend{f: f, fd: int(f.Fd()), path: path, readOnly: readOnly}
	if err := b.init(); err != nil {
		f.Close()
		return nil, err
	}
	return b, nil
}

// init checks the file, takes the lock and measures the disk.
func (b *Backend) init() error {
	st, err := b.f.Stat()
	if err != nil {
		return fmt.Errorf("disk %s: %w", b.path, err)
	}
	if m := st.Mode(); !m.IsRegular() && m&os.ModeDevice == 0 {
		return fmt.Errorf("%w: %s is a %s, not a file or block device", ErrNotDisk, b.path, m.Type())
	}
	how := unix.LOCK_EX
	if b.readOnly {
		how = unix.LOCK_SH
	}
	if err := unix.Flock(b.fd, how|unix.LOCK_NB); err != nil {
		if errors.Is(err, unix.EWOULDBLOCK) {
			return fmt.Errorf("%w: %s is locked by another process (another gvmm using it read-write, or using it at all while this one wants to write); stop it, or give both ,ro", ErrLocked, b.path)
		}
		return fmt.Errorf("disk %s: lock: %w", b.path, err)
	}
	end, err := b.f.Seek(0, io.SeekEnd) // works for block devices too
	if err != nil {
		return fmt.Errorf("disk %s: size: %w", b.path, err)
	}
	b.size = uint64(end) / SectorSize * SectorSize
	if b.size == 0 {
		return fmt.Errorf("%w: %s is smaller than one %d-byte sector (grow it with truncate -s 1G %s)", ErrNotDisk, b.path, SectorSize, b.path)
	}
	return nil
}

// Path returns the image's path.
func (b *Backend) Path() string { return b.path }

// Sectors returns the disk's capacity in sectors. A trailing partial
// sector of the file is not part of the disk.
func (b *Backend) Sectors() uint64 { return b.size / SectorSize }

// ReadOnly reports whether the image was opened read-only.
func (b *Backend) ReadOnly() bool { return b.readOnly }

// ReadV fills bufs, in order, from the image at off. The caller has
// checked that the range lies inside the disk; a short read (the file
// shrank under us) is an error.
func (b *Backend) ReadV(bufs [][]byte, off int64) error {
	return vectored(bufs, off, func(iov [][]byte, off int64) (int, error) { return unix.Preadv(b.fd, iov, off) })
}

// WriteV writes bufs, in order, to the image at off.
func (b *Backend) WriteV(bufs [][]byte, off int64) error {
	if b.readOnly {
		return unix.EROFS
	}
	return vectored(bufs, off, func(iov [][]byte, off int64) (int, error) { return unix.Pwritev(b.fd, iov, off) })
}

// vectored runs preadv or pwritev until every buffer is done: either may
// transfer less than asked (a signal, a page-cache boundary).
func vectored(bufs [][]byte, off int64, op func([][]byte, int64) (int, error)) error {
	for len(bufs) > 0 {
		n, err := op(bufs[:min(len(bufs), maxIOV)], off)
		switch {
		case errors.Is(err, unix.EINTR):
			continue
		case err != nil:
			return err
		case n == 0:
			return io.ErrUnexpectedEOF
		}
		off += int64(n)
		for n > 0 {
			k := min(n, len(bufs[0]))
			bufs[0] = bufs[0][k:]
			n -= k
			if len(bufs[0]) == 0 {
				bufs = bufs[1:]
			}
		}
		for len(bufs) > 0 && len(bufs[0]) == 0 {
			bufs = bufs[1:]
		}
	}
	return nil
}

// maxIOV is the kernel's limit on buffers per preadv (UIO_MAXIOV).
const maxIOV = 1024

// Flush makes every completed write durable: fdatasync(2) writes the
// data, and the metadata needed to read it back (a sparse file's new
// blocks), to stable storage. After it returns, the data survives gvmm
// being killed and the host losing power.
func (b *Backend) Flush() error {
	if b.readOnly {
		return nil
	}
	for {
		if err := unix.Fdatasync(b.fd); !errors.Is(err, unix.EINTR) {
			return err
		}
	}
}

// Discard gives the range's blocks back to the host file system
// (FALLOC_FL_PUNCH_HOLE): the file stays the same size, the range reads
// as zeros, and it takes no space. A file system that cannot punch holes
// makes it a no-op: discard is a hint (§5.2.6.2 lets the device ignore
// it).
func (b *Backend) Discard(off, n int64) error {
	if b.readOnly {
		return unix.EROFS
	}
	err := b.fallocate(unix.FALLOC_FL_PUNCH_HOLE|unix.FALLOC_FL_KEEP_SIZE, off, n)
	if errors.Is(err, unix.EOPNOTSUPP) {
		return nil
	}
	return err
}

// WriteZeroes makes the range read as zeros: with unmap by punching a
// hole (no space used), else with FALLOC_FL_ZERO_RANGE (space kept
// allocated). Where the file system supports neither, it writes zeros.
func (b *Backend) WriteZeroes(off, n int64, unmap bool) error {
	if b.readOnly {
		return unix.EROFS
	}
	var mode uint32 = unix.FALLOC_FL_ZERO_RANGE | unix.FALLOC_FL_KEEP_SIZE
	if unmap {
		mode = unix.FALLOC_FL_PUNCH_HOLE | unix.FALLOC_FL_KEEP_SIZE
	}
	err := b.fallocate(mode, off, n)
	if !errors.Is(err, unix.EOPNOTSUPP) {
		return err
	}
	zero := make([]byte, min(n, zeroChunk))
	for n > 0 {
		k := min(n, int64(len(zero)))
		if err := b.WriteV([][]byte{zero[:k]}, off); err != nil {
			return err
		}
		off, n = off+k, n-k
	}
	return nil
}

// zeroChunk is the buffer WriteZeroes writes from when it must write.
const zeroChunk = 1 << 20

func (b *Backend) fallocate(mode uint32, off, n int64) error {
	for {
		if err := unix.Fallocate(b.fd, mode, off, n); !errors.Is(err, unix.EINTR) {
			return err
		}
	}
}

// Close releases the lock and closes the file.
func (b *Backend) Close() error { return b.f.Close() }
