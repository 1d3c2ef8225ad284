package rig

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"
)

// newcEntry is one decoded member, for checking what cpioWriter wrote.
type newcEntry struct {
	name         string
	mode         uint32
	rdevMajor    uint32
	rdevMinor    uint32
	data         string
	headerOffset int
}

// readNewc decodes a newc archive independently of the writer, checking
// magic, hex fields and 4-byte alignment of every header and data part.
func readNewc(t *testing.T, b []byte) []newcEntry {
	t.Helper()
	var out []newcEntry
	off := 0
	field := func(i int) uint32 {
		s := string(b[off+6+8*i : off+6+8*i+8])
		v, err := strconv.ParseUint(s, 16, 32)
		require.NoError(t, err, "field %d at %d", i, off)
		return uint32(v)
	}
	for {
		require.Zero(t, off%newcAlign, "header at %d is not 4-byte aligned", off)
		require.GreaterOrEqual(t, len(b)-off, newcHeaderSize, "truncated header at %d", off)
		require.Equal(t, newcMagic, string(b[off:off+6]))
		mode, size, namesize := field(1), field(6), field(11)
		rmaj, rmin := field(9), field(10)
		nameStart := off + newcHeaderSize
		name := string(b[nameStart : nameStart+int(namesize)-1])
		require.Zero(t, b[nameStart+int(namesize)-1], "name %q is not NUL-terminated", name)
		dataStart := nameStart + int(namesize)
		dataStart += (newcAlign - dataStart%newcAlign) % newcAlign
		e := newcEntry{name: name, mode: mode, rdevMajor: rmaj, rdevMinor: rmin,
			data: string(b[dataStart : dataStart+int(size)]), headerOffset: off}
		off = dataStart + int(size)
		off += (newcAlign - off%newcAlign) % newcAlign
		if name == newcTrailer {
			require.Equal(t, len(b), off, "bytes after the trailer")
			return out
		}
		out = append(out, e)
	}
}

func TestCPIOWriterMembers(t *testing.T) {
	host := filepath.Join(t.TempDir(), "host")
	require.NoError(t, os.WriteFile(host, []byte("from the host\n"), 0o600))

	var buf bytes.Buffer
	w := newCPIOWriter(&buf)
	require.NoError(t, w.Dir("bin", 0o755))
	require.NoError(t, w.Bytes("/bin/a", 0o755, []byte("x")))      // 1 byte: 3 bytes of padding
	require.NoError(t, w.Bytes("bin/four", 0o644, []byte("abcd"))) // no padding
	require.NoError(t, w.HostFile("bin/host", 0o644, host))
	require.NoError(t, w.Symlink("bin/sh", "busybox"))
	require.NoError(t, w.CharDev("dev/console", 0o600, 5, 1))
	require.NoError(t, w.Close())

	got := readNewc(t, buf.Bytes())
	want := []newcEntry{
		{name: "bin", mode: modeDir | 0o755},
		{name: "bin/a", mode: modeRegular | 0o755, data: "x"},
		{name: "bin/four", mode: modeRegular | 0o644, data: "abcd"},
		{name: "bin/host", mode: modeRegular | 0o644, data: "from the host\n"},
		{name: "bin/sh", mode: modeSymlink | 0o777, data: "busybox"},
		{name: "dev/console", mode: modeCharDev | 0o600, rdevMajor: 5, rdevMinor: 1},
	}
	require.Len(t, got, len(want))
	for i := range want {
		want[i].headerOffset = got[i].headerOffset
	}
	require.Equal(t, want, got)
}

func TestCPIOWriterRejects(t *testing.T) {
	for _, tc := range []struct {
		name string
		do   func(w *cpioWriter) error
	}{
		{"duplicate", func(w *cpioWriter) error {
			require.NoError(t, w.Dir("a", 0o755))
			return w.Dir("/a/", 0o755)
		}},
		{"missing host file", func(w *cpioWriter) error {
			return w.HostFile("x", 0o644, "/nonexistent/file")
		}},
		{"host directory", func(w *cpioWriter) error {
			return w.HostFile("x", 0o644, t.TempDir())
		}},
		{"empty name", func(w *cpioWriter) error {
			return w.Bytes("/", 0o644, nil)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.Error(t, tc.do(newCPIOWriter(&bytes.Buffer{})))
		})
	}
}
