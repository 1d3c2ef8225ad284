package rig

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path"
	"strings"
)

// The "newc" cpio format (SVR4 without CRC), the one the Linux kernel unpacks
// as an initramfs. Documentation/driver-api/early-userspace/buffer-format.rst:
// every member is a 110-byte ASCII header, the NUL-terminated name padded to a
// multiple of 4 bytes, then the data padded to a multiple of 4 bytes; the
// archive ends with a member named "TRAILER!!!".
const (
	newcMagic      = "070701"
	newcHeaderSize = 110
	newcAlign      = 4
	newcTrailer    = "TRAILER!!!"
)

// File mode type bits (stat(2), S_IFMT), as cpio stores them in c_mode.
const (
	modeRegular = 0o100000
	modeDir     = 0o040000
	modeSymlink = 0o120000
	modeCharDev = 0o020000
)

// cpioWriter writes a newc archive. Names are relative ("bin/sh"); parent
// directories must be added before their entries (the kernel does not create
// them). It is not safe for concurrent use.
type cpioWriter struct {
	w     *bufio.Writer
	ino   uint32
	err   error
	names map[string]bool
}

func newCPIOWriter(w io.Writer) *cpioWriter {
	return &cpioWriter{w: bufio.NewWriter(w), ino: 1, names: map[string]bool{}}
}

// header writes one member header and its padded name.
func (c *cpioWriter) header(name string, mode uint32, size int64, rdevMajor, rdevMinor uint32) error {
	if c.err != nil {
		return c.err
	}
	name = strings.TrimPrefix(path.Clean("/"+name), "/")
	if name == "" && mode != 0 {
		return fmt.Errorf("cpio: empty member name")
	}
	if c.names[name] {
		return fmt.Errorf("cpio: duplicate member %q", name)
	}
	if size < 0 || size > 0xffffffff {
		return fmt.Errorf("cpio: member %q: size %d does not fit newc's 32-bit c_filesize", name, size)
	}
	c.names[name] = true
	nlink := uint32(1)
	if mode&modeDir != 0 {
		nlink = 2
	}
	// Fields in order: magic, ino, mode, uid, gid, nlink, mtime, filesize,
	// devmajor, devminor, rdevmajor, rdevminor, namesize (with the NUL), check.
	hdr := fmt.Sprintf("%s%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x",
		newcMagic, c.ino, mode, 0, 0, nlink, 0, uint32(size), 0, 0,
		rdevMajor, rdevMinor, len(name)+1, 0)
	c.ino++
	c.write([]byte(hdr))
	c.write([]byte(name))
	c.write([]byte{0})
	c.pad(newcHeaderSize + len(name) + 1)
	return c.err
}

func (c *cpioWriter) write(b []byte) {
	if c.err == nil {
		_, c.err = c.w.Write(b)
	}
}

// pad writes the zero bytes that align a member part of n bytes to newcAlign.
func (c *cpioWriter) pad(n int) {
	if rem := n % newcAlign; rem != 0 {
		c.write(make([]byte, newcAlign-rem))
	}
}

// Dir adds a directory.
func (c *cpioWriter) Dir(name string, perm uint32) error {
	return c.header(name, modeDir|perm, 0, 0, 0)
}

// Bytes adds a regular file with the given contents.
func (c *cpioWriter) Bytes(name string, perm uint32, data []byte) error {
	if err := c.header(name, modeRegular|perm, int64(len(data)), 0, 0); err != nil {
		return err
	}
	c.write(data)
	c.pad(len(data))
	return c.err
}

// HostFile adds the regular file at hostPath under name.
func (c *cpioWriter) HostFile(name string, perm uint32, hostPath string) error {
	f, err := os.Open(hostPath)
	if err != nil {
		return fmt.Errorf("cpio: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("cpio: %w", err)
	}
	if !st.Mode().IsRegular() {
		return fmt.Errorf("cpio: %s is not a regular file", hostPath)
	}
	if err := c.header(name, modeRegular|perm, st.Size(), 0, 0); err != nil {
		return err
	}
	n, err := io.Copy(c.w, f)
	if err != nil {
		c.err = fmt.Errorf("cpio: copy %s: %w", hostPath, err)
		return c.err
	}
	if n != st.Size() {
		c.err = fmt.Errorf("cpio: %s changed size while being archived", hostPath)
		return c.err
	}
	c.pad(int(n % newcAlign))
	return c.err
}

// Symlink adds a symbolic link name -> target.
func (c *cpioWriter) Symlink(name, target string) error {
	if err := c.header(name, modeSymlink|0o777, int64(len(target)), 0, 0); err != nil {
		return err
	}
	c.write([]byte(target))
	c.pad(len(target))
	return c.err
}

// CharDev adds a character device node.
func (c *cpioWriter) CharDev(name string, perm, major, minor uint32) error {
	return c.header(name, modeCharDev|perm, 0, major, minor)
}

// Close writes the trailer and flushes. It does not close the underlying writer.
func (c *cpioWriter) Close() error {
	if c.err != nil {
		return c.err
	}
	c.ino = 0
	if err := c.header(newcTrailer, 0, 0, 0, 0); err != nil {
		return err
	}
	if err := c.w.Flush(); err != nil {
		return fmt.Errorf("cpio: %w", err)
	}
	return nil
}
