package guest

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/u-root/mkuimage/cpio"
)

func TestUnpackRoundTrip(t *testing.T) {
	first := []cpio.Record{
		cpio.Directory(".", 0o755),
		cpio.Directory("etc", 0o750),
		cpio.StaticFile("etc/motd", "hi\n", 0o640),
		cpio.Symlink("etc/link", "motd"),
		cpio.StaticFile("deep/er/file", "x", 0o644), // parents made on the way
	}
	// Unpacking a second archive over the tree replaces what it names.
	second := []cpio.Record{
		cpio.StaticFile("etc/motd", "replaced\n", 0o600),
		cpio.Symlink("etc/link", "motd"),
	}
	dir := filepath.Join(t.TempDir(), "root")
	for i, records := range [][]cpio.Record{first, second} {
		file := filepath.Join(t.TempDir(), "a.cpio")
		require.NoError(t, writeCPIOFile(file, records))
		require.NoError(t, UnpackCPIO(file, dir), "archive %d", i)
	}

	b, err := os.ReadFile(filepath.Join(dir, "etc/link"))
	require.NoError(t, err)
	assert.Equal(t, "replaced\n", string(b))
	fi, err := os.Stat(filepath.Join(dir, "etc/motd"))
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm())
	fi, err = os.Stat(filepath.Join(dir, "etc"))
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o750), fi.Mode().Perm())
	b, err = os.ReadFile(filepath.Join(dir, "deep/er/file"))
	require.NoError(t, err)
	assert.Equal(t, "x", string(b))
}

// A hostile archive must not write outside the target directory.
func TestUnpackRejectsEscapes(t *testing.T) {
	outside := t.TempDir()
	tests := []struct {
		name    string
		records []cpio.Record
	}{
		{name: "dot-dot", records: []cpio.Record{cpio.StaticFile("../evil", "x", 0o644)}},
		{name: "dot-dot inside", records: []cpio.Record{cpio.StaticFile("a/../../evil", "x", 0o644)}},
		{name: "through a symlink", records: []cpio.Record{
			cpio.Symlink("a", outside),
			cpio.StaticFile("a/evil", "x", 0o644),
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "bad.cpio")
			require.NoError(t, writeCPIOFile(file, tt.records))
			dir := filepath.Join(t.TempDir(), "root")
			err := UnpackCPIO(file, dir)
			require.ErrorIs(t, err, ErrUnsafePath)
			_, err = os.Stat(filepath.Join(outside, "evil"))
			assert.ErrorIs(t, err, os.ErrNotExist)
			_, err = os.Stat(filepath.Join(filepath.Dir(dir), "evil"))
			assert.ErrorIs(t, err, os.ErrNotExist)
		})
	}
}

func TestUnpackAbsoluteNameStaysInside(t *testing.T) {
	// Newc names are relative; a leading "/" is stripped on read, as the
	// kernel and cpio(1) do, so the entry lands inside the target.
	file := filepath.Join(t.TempDir(), "abs.cpio")
	require.NoError(t, writeCPIOFile(file, []cpio.Record{cpio.StaticFile("/etc/x", "x", 0o644)}))
	dir := t.TempDir()
	require.NoError(t, UnpackCPIO(file, dir))
	_, err := os.Stat(filepath.Join(dir, "etc/x"))
	assert.NoError(t, err)
}

func TestReadCPIONotAnArchive(t *testing.T) {
	file := filepath.Join(t.TempDir(), "junk")
	for _, junk := range []string{"", "this is not a cpio archive at all, really not"} {
		require.NoError(t, os.WriteFile(file, []byte(junk), 0o644))
		_, err := ReadCPIO(file)
		assert.ErrorIs(t, err, ErrBadArchive, "%q", junk)
		assert.ErrorIs(t, UnpackCPIO(file, t.TempDir()), ErrBadArchive)
	}
	// A real archive cut short loses its trailer.
	whole := filepath.Join(t.TempDir(), "whole.cpio")
	require.NoError(t, writeCPIOFile(whole, []cpio.Record{cpio.StaticFile("a", "0123456789", 0o644)}))
	b, err := os.ReadFile(whole)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(file, b[:len(b)/2], 0o644))
	_, err = ReadCPIO(file)
	assert.ErrorIs(t, err, ErrBadArchive, "truncated")
}
