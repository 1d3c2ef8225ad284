package guest

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/u-root/mkuimage/cpio"
	"golang.org/x/sys/unix"
)

// ErrUnsafePath is returned when an archive entry would land outside the
// target directory (an absolute or ".." path, or a path through a symlink).
var ErrUnsafePath = errors.New("unsafe path in archive")

// ErrBadArchive is returned for an archive that is not a newc cpio or holds an
// entry of a kind that cannot be unpacked.
var ErrBadArchive = errors.New("bad initramfs archive")

// File type bits of a cpio mode (they are the stat(2) st_mode bits).
const (
	modeTypeMask = 0o170000
	modePermMask = 0o7777
)

// writeCPIOFile writes records as a newc cpio to path, through a temp file
// beside it that is renamed into place, so path is either complete or left
// as it was.
func writeCPIOFile(dst string, records []cpio.Record) (err error) {
	tmp, err := os.CreateTemp(filepath.Dir(dst), "."+filepath.Base(dst)+".*")
	if err != nil {
		return fmt.Errorf("initramfs output: %w", err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	buf := bufio.NewWriter(tmp)
	w := cpio.Newc.Writer(buf)
	for _, r := range records {
		// newc stores the name NUL-terminated, so one with a NUL in
		// it would read back cut short; an empty name would be
		// written as "." (cpio.Normalize), the archive's root.
		if r.Name == "" || strings.ContainsRune(r.Name, 0) {
			return fmt.Errorf("%w: entry name %q", ErrBadArchive, r.Name)
		}
		if err := w.WriteRecord(r); err != nil {
			return fmt.Errorf("write %s to initramfs: %w", r.Name, err)
		}
	}
	if err := cpio.WriteTrailer(w); err != nil {
		return fmt.Errorf("initramfs trailer: %w", err)
	}
	if err := buf.Flush(); err != nil {
		return fmt.Errorf("initramfs output: %w", err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		return fmt.Errorf("initramfs output: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("initramfs output: %w", err)
	}
	if err := os.Rename(tmp.Name(), dst); err != nil {
		return fmt.Errorf("initramfs output: %w", err)
	}
	return nil
}

// newc layout (Documentation/driver-api/early-userspace/buffer-format.rst):
// a 110-byte header starting with the magic "070701", the name, then the
// data, each padded to 4 bytes. The last entry is named TRAILER!!!.
const (
	newcMagic      = "070701"
	newcHeaderSize = 110
	newcAlign      = 4
)

// ReadCPIO reads every record of a newc cpio file into memory (contents
// included: an initramfs is small), without the trailer. The archive must
// end with the trailer record: anything else is truncated or not a cpio.
func ReadCPIO(file string) ([]cpio.Record, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []cpio.Record
	var end int64 // where the next header starts
	// The reader reports the trailer, and a file too short for another
	// header, as io.EOF; checkTrailer tells the two apart.
	rr := cpio.Newc.Reader(f)
	for {
		r, err := rr.ReadRecord()
		if errors.Is(err, io.EOF) {
			return out, checkTrailer(f, end)
		}
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %w", ErrBadArchive, file, err)
		}
		data, err := io.ReadAll(io.NewSectionReader(r.ReaderAt, 0, int64(r.FileSize)))
		if err != nil || uint64(len(data)) != r.FileSize {
			return nil, fmt.Errorf("%w: %s: %s: data cut short", ErrBadArchive, file, r.Name)
		}
		out = append(out, cpio.StaticRecord(data, r.Info))
		end = alignUp(int64(r.FilePos)+int64(r.FileSize), newcAlign)
	}
}

// checkTrailer checks that a trailer header starts at off.
func checkTrailer(f *os.File, off int64) error {
	buf := make([]byte, newcHeaderSize+len(cpio.Trailer))
	if _, err := f.ReadAt(buf, off); err != nil ||
		string(buf[:len(newcMagic)]) != newcMagic || string(buf[newcHeaderSize:]) != cpio.Trailer {
		return fmt.Errorf("%w: %s: no trailer record at offset %d (truncated, or not a newc cpio)", ErrBadArchive, f.Name(), off)
	}
	return nil
}

func alignUp(n, a int64) int64 { return (n + a - 1) / a * a }

// UnpackCPIO extracts the newc cpio file into dir (created if missing), the
// way the kernel unpacks an initramfs: an entry replaces a file or symlink
// already there (so unpacking again over an old tree updates it).
// Entries that would escape dir are refused; device nodes are skipped when
// the caller may not create them (a container mounts its own /dev).
func UnpackCPIO(file, dir string) error {
	records, err := ReadCPIO(file)
	if err != nil {
		return err
	}
	return unpackRecords(recordList(records), dir)
}

// recordList lets a slice be unpacked like an archive.
type recordList []cpio.Record

// unpackRecords creates every record under dir.
func unpackRecords(records recordList, dir string) error {
	if err := os.MkdirAll(dir, rootDirPerm); err != nil {
		return fmt.Errorf("unpack into %s: %w", dir, err)
	}
	for _, r := range records {
		if err := unpackRecord(r, dir); err != nil {
			return fmt.Errorf("unpack %q into %s: %w", r.Name, dir, err)
		}
	}
	return nil
}

// unpackRecord creates one entry below root.
func unpackRecord(r cpio.Record, root string) error {
	rel, err := safeRelPath(root, r.Name)
	if err != nil {
		return err
	}
	target := filepath.Join(root, rel)
	perm := os.FileMode(r.Mode & modePermMask)
	kind := r.Mode & modeTypeMask
	if rel != "." {
		if err := replaceable(target, kind == cpio.S_IFDIR); err != nil {
			return err
		}
	}
	switch kind {
	case cpio.S_IFDIR:
		if err := os.Mkdir(target, perm); err != nil && !errors.Is(err, os.ErrExist) {
			return err
		}
		return os.Chmod(target, perm) // Mkdir is subject to umask
	case cpio.S_IFREG:
		return writeRegular(target, perm, r)
	case cpio.S_IFLNK:
		link, err := io.ReadAll(io.NewSectionReader(r.ReaderAt, 0, int64(r.FileSize)))
		if err != nil {
			return err
		}
		return os.Symlink(string(link), target)
	case cpio.S_IFCHR, cpio.S_IFBLK:
		dev := unix.Mkdev(uint32(r.Rmajor), uint32(r.Rminor))
		err := unix.Mknod(target, uint32(kind)|uint32(perm), int(dev))
		if errors.Is(err, unix.EPERM) {
			return nil // unprivileged: the runtime provides /dev
		}
		if err != nil {
			return err
		}
		return os.Chmod(target, perm) // mknod is subject to umask
	case cpio.S_IFIFO:
		if err := unix.Mkfifo(target, uint32(perm)); err != nil {
			return err
		}
		return os.Chmod(target, perm)
	default:
		return fmt.Errorf("%w: file type %#o", ErrBadArchive, kind)
	}
}

// safeRelPath checks an archive name and returns it relative to root. It
// refuses absolute names, ".." components and any parent that is a symlink
// on disk, so a hostile archive cannot write outside root.
func safeRelPath(root, name string) (string, error) {
	name = strings.TrimPrefix(name, "./")
	if name == "" || name == "." {
		return ".", nil
	}
	if path.IsAbs(name) {
		return "", fmt.Errorf("%w: absolute name", ErrUnsafePath)
	}
	for _, part := range strings.Split(name, "/") {
		if part == ".." {
			return "", fmt.Errorf("%w: '..' component", ErrUnsafePath)
		}
	}
	rel := path.Clean(name)
	parent := root
	for _, part := range strings.Split(path.Dir(rel), "/") {
		if part == "." {
			break
		}
		parent = filepath.Join(parent, part)
		fi, err := os.Lstat(parent)
		if errors.Is(err, os.ErrNotExist) {
			if err := os.Mkdir(parent, rootDirPerm); err != nil {
				return "", err
			}
			continue
		}
		if err != nil {
			return "", err
		}
		if !fi.IsDir() {
			return "", fmt.Errorf("%w: parent %s is not a directory", ErrUnsafePath, parent)
		}
	}
	return filepath.FromSlash(rel), nil
}

// replaceable removes a non-directory at target so a later entry can take its
// place, and refuses to replace a directory with something else.
func replaceable(target string, isDir bool) error {
	fi, err := os.Lstat(target)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if fi.IsDir() {
		if isDir {
			return nil
		}
		return fmt.Errorf("%w: a directory is in the way", ErrBadArchive)
	}
	return os.Remove(target)
}

// writeRegular creates a regular file with the record's contents. O_EXCL and
// O_NOFOLLOW: replaceable removed what was there, so anything found now is a
// race and is refused.
func writeRegular(target string, perm os.FileMode, r cpio.Record) error {
	f, err := os.OpenFile(target, os.O_WRONLY|os.O_CREATE|os.O_EXCL|unix.O_NOFOLLOW, perm)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, io.NewSectionReader(r.ReaderAt, 0, int64(r.FileSize))); err != nil {
		f.Close()
		return err
	}
	if err := f.Chmod(perm); err != nil { // OpenFile is subject to umask
		f.Close()
		return err
	}
	return f.Close()
}
