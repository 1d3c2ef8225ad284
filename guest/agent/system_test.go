package agent

import (
	"os"
	"path/filepath"
	"testing"
	"time"

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

// TestDrainPipesWaitsForTheReader: drainPipes returns once the reader at
// the other end (u-root's init relaying to the consoles) has read what
// was written, and says the fd was a pipe; a non-pipe is skipped.
func TestDrainPipesWaitsForTheReader(t *testing.T) {
	r, w, err := os.Pipe()
	require.NoError(t, err)
	defer r.Close()
	defer w.Close()
	_, err = w.WriteString("last line\n")
	require.NoError(t, err)
	release := make(chan struct{})
	readDone := make(chan struct{})
	go func() {
		<-release
		buf := make([]byte, 64)
		r.Read(buf)
		close(readDone)
	}()
	result := make(chan bool, 1)
	go func() { result <- drainPipes(time.Now().Add(5*time.Second), int(w.Fd())) }()
	select {
	case <-result:
		t.Fatal("drainPipes returned while the pipe still held a line")
	case <-time.After(50 * time.Millisecond):
	}
	close(release)
	assert.True(t, <-result, "a pipe")
	<-readDone

	f, err := os.CreateTemp(t.TempDir(), "notpipe")
	require.NoError(t, err)
	defer f.Close()
	assert.False(t, drainPipes(time.Now().Add(time.Second), int(f.Fd())))
}
