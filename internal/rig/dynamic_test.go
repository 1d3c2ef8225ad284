package rig

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"gvmm/internal/testenv"
)

func TestParseLDD(t *testing.T) {
	libs, err := ParseLDD(`	linux-vdso.so.1 (0x00007ffc1b5f0000)
	libglib-2.0.so.0 => /lib/x86_64-linux-gnu/libglib-2.0.so.0 (0x00007f0e0e000000)
	libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f0e0de00000)
	/lib64/ld-linux-x86-64.so.2 (0x00007f0e0e3a0000)
`)
	require.NoError(t, err)
	assert.Equal(t, []string{"/lib/x86_64-linux-gnu/libglib-2.0.so.0", "/lib/x86_64-linux-gnu/libc.so.6", "/lib64/ld-linux-x86-64.so.2"}, libs)
	_, err = ParseLDD("\tlibfoo.so.1 => not found\n")
	assert.Error(t, err)
	_, err = ParseLDD("\tstatically linked\n")
	assert.Error(t, err)
}

func TestDynamicExecutable(t *testing.T) {
	for _, tool := range []string{"strip", "ldd"} {
		testenv.NeedTool(t, tool, "binutils libc-bin")
	}
	files, err := DynamicExecutable("/bin/ls", "/usr/bin/ls", t.TempDir())
	require.NoError(t, err)
	require.Greater(t, len(files), 2, "ls, libc and the loader at least")
	assert.Equal(t, "/usr/bin/ls", files[0].Guest)
	assert.True(t, files[0].Executable)
	var guests []string
	for _, f := range files[1:] {
		assert.Equal(t, f.Host, f.Guest, "libraries keep their paths")
		guests = append(guests, f.Guest)
	}
	assert.Contains(t, guests, "/lib64/ld-linux-x86-64.so.2")
}
