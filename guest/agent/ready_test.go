package agent

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"gvmm/guest/agentcfg"
	"gvmm/guest/ready"
	"gvmm/vmm"
)

// The agent mirrors the VMM's constants instead of importing the VMM.
func TestPortConstantsMatchVMM(t *testing.T) {
	assert.Equal(t, vmm.DebugPort, DebugPort)
	assert.Equal(t, vmm.DebugPort+1, ExitPort)
	assert.Equal(t, vmm.DebugPortSize, debugPortCount)
}

func TestPipeSignallerWritesMagic(t *testing.T) {
	r, w, err := os.Pipe()
	require.NoError(t, err)
	defer r.Close()

	env := map[string]string{agentcfg.EnvReadyFD: strconv.Itoa(int(w.Fd()))}
	fd, ok, err := ReadyFD(func(k string) string { return env[k] })
	require.NoError(t, err)
	require.True(t, ok)
	s := NewPipeSignaller(fd)
	assert.False(t, s.InVM())
	require.NoError(t, s.Ready())
	require.NoError(t, s.Exit(3), "exit is the process exit in a container")
	require.NoError(t, s.Close()) // closes w: the read below then ends

	got := make([]byte, 8)
	n, err := r.Read(got)
	require.NoError(t, err)
	assert.Equal(t, []byte{ready.Magic}, got[:n])
}

func TestReadyFDErrors(t *testing.T) {
	for _, v := range []string{"three", "-1", "3x"} {
		_, ok, err := ReadyFD(func(string) string { return v })
		assert.True(t, ok)
		assert.ErrorIs(t, err, ErrNoReadyChannel, v)
	}
	_, ok, err := ReadyFD(func(string) string { return "" })
	assert.False(t, ok)
	assert.NoError(t, err)
}

// A plain file stands in for /dev/port: the agent's pwrite lands at the real
// port offsets, which the file then shows.
func TestPortSignallerWritesAtPortOffsets(t *testing.T) {
	path := filepath.Join(t.TempDir(), "port")
	require.NoError(t, os.WriteFile(path, nil, 0o600))
	ports, err := OpenDevPort(path)
	require.NoError(t, err)
	s := NewPortSignaller(ports)
	assert.True(t, s.InVM())

	require.NoError(t, s.Ready())
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Len(t, b, DebugPort+1, "one byte written at offset 0x440")
	assert.Equal(t, byte(ready.Magic), b[DebugPort])

	require.NoError(t, s.Exit(7))
	require.NoError(t, s.Close())
	b, err = os.ReadFile(path)
	require.NoError(t, err)
	require.Len(t, b, ExitPort+1)
	assert.Equal(t, []byte{ready.Magic, 7}, b[DebugPort:])
	assert.Equal(t, make([]byte, DebugPort), b[:DebugPort], "nothing written below the port")
}

func TestOpenDevPortMissing(t *testing.T) {
	_, err := OpenDevPort(filepath.Join(t.TempDir(), "no-such-port"))
	assert.ErrorIs(t, err, os.ErrNotExist)
}

func TestIopermOutsideRange(t *testing.T) {
	p := &iopermPorts{first: DebugPort, count: debugPortCount}
	assert.Error(t, p.Out(DebugPort+debugPortCount, 0), "port past the granted range")
	assert.Error(t, p.Out(DebugPort-1, 0))
}
