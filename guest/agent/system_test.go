package agent

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCountCPUList(t *testing.T) {
	tests := []struct {
		in      string
		want    int
		wantErr bool
	}{
		{in: "", want: 0},
		{in: "0", want: 1},
		{in: "0-1", want: 2},
		{in: "0-3,5,7-8", want: 7},
		{in: "3-1", wantErr: true},
		{in: "a-b", wantErr: true},
		{in: "0,", wantErr: true},
		{in: "-1", wantErr: true},
	}
	for _, tt := range tests {
		n, err := CountCPUList(tt.in)
		if tt.wantErr {
			assert.ErrorIs(t, err, ErrBadCPUList, tt.in)
			continue
		}
		require.NoError(t, err, tt.in)
		assert.Equal(t, tt.want, n, tt.in)
	}
}

func TestOnlineCPUsOnThisHost(t *testing.T) {
	n, list, err := OnlineCPUs()
	require.NoError(t, err)
	assert.NotEmpty(t, list)
	assert.GreaterOrEqual(t, n, 1)
}

// Run by hand (or by go test) on a host, the agent must never power it off.
func TestPowerOffRefusesOutsideGuest(t *testing.T) {
	require.False(t, RootIsInitramfs(), "this test expects a host whose / is not an initramfs")
	path := filepath.Join(t.TempDir(), "port")
	require.NoError(t, os.WriteFile(path, nil, 0o600))
	ports, err := OpenDevPort(path)
	require.NoError(t, err)
	s := NewPortSignaller(ports)
	defer s.Close()

	require.ErrorIs(t, PowerOff(s), ErrNotGuest)
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Empty(t, b, "no exit byte written when refusing")

	r, w, err := os.Pipe()
	require.NoError(t, err)
	defer r.Close()
	assert.ErrorIs(t, PowerOff(NewPipeSignaller(int(w.Fd()))), ErrNotGuest)
	w.Close()
}

func TestEnsureMountsOnHostIsNoop(t *testing.T) {
	mounted, err := EnsureMounts()
	require.NoError(t, err)
	assert.Empty(t, mounted, "/proc, /sys and /dev are mounted on the host")
}
