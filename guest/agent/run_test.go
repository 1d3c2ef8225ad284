package agent

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"gvmm/guest/agentcfg"
	"gvmm/guest/ready"
)

// testEnv is an Env whose files live in a temp dir.
func testEnv(t *testing.T, vars map[string]string, cmdline string) (Env, *bytes.Buffer) {
	t.Helper()
	dir := t.TempDir()
	cmdlineFile := filepath.Join(dir, "cmdline")
	require.NoError(t, os.WriteFile(cmdlineFile, []byte(cmdline+"\n"), 0o644))
	port := filepath.Join(dir, "port")
	require.NoError(t, os.WriteFile(port, nil, 0o600))
	out := &bytes.Buffer{}
	return Env{
		Getenv:      func(k string) string { return vars[k] },
		Stdout:      out,
		CmdlineFile: cmdlineFile,
		PortDevice:  port,
		ModuleDir:   filepath.Join(dir, "no-modules"),
	}, out
}

func TestMainContainerPoweroff(t *testing.T) {
	r, w, err := os.Pipe()
	require.NoError(t, err)
	defer r.Close()
	env, out := testEnv(t, map[string]string{
		agentcfg.EnvReadyFD: strconv.Itoa(int(w.Fd())),
		agentcfg.EnvMode:    "poweroff",
	}, "gvmm.mode=stay")

	require.Equal(t, exitOK, Main(env), out.String())
	got := make([]byte, 4)
	n, err := r.Read(got)
	require.NoError(t, err)
	assert.Equal(t, []byte{ready.Magic}, got[:n])
	assert.Contains(t, out.String(), "gvmm-agent: READY\n")
	assert.Contains(t, out.String(), "gvmm-agent: mode poweroff\n")
	assert.Regexp(t, `gvmm-agent: cpus online: \d+ \(`, out.String())
	assert.NotContains(t, out.String(), "cmdline:", "a container does not read the host's command line")
	assert.NotContains(t, out.String(), "clock", "a container's clock is the host's")
}

// In VM mode on a host the agent signals READY through the port file, then
// refuses to power the host off.
func TestMainVMModeOnHost(t *testing.T) {
	env, out := testEnv(t, nil, "console=ttyS0 gvmm.mode=poweroff")

	assert.Equal(t, exitFailure, Main(env))
	assert.Contains(t, out.String(), "gvmm-agent: cmdline: console=ttyS0 gvmm.mode=poweroff\n")
	assert.Regexp(t, `gvmm-agent: clock [1-9][0-9]* ns\ngvmm-agent: READY\n`, out.String(), "the guest clock, just before READY")
	assert.Contains(t, out.String(), "gvmm-agent: READY\n")
	assert.Contains(t, out.String(), ErrNotGuest.Error())
	b, err := os.ReadFile(env.PortDevice)
	require.NoError(t, err)
	require.Len(t, b, DebugPort+1, "READY written, exit register untouched")
	assert.Equal(t, byte(ready.Magic), b[DebugPort])
}

// With gvmm.ready=console (gokvm) no port is touched: READY is the line.
func TestMainVMReadyOnConsoleOnly(t *testing.T) {
	env, out := testEnv(t, nil, "console=ttyS0 gvmm.mode=poweroff gvmm.ready=console")

	assert.Equal(t, exitFailure, Main(env), "a host is no guest to power off")
	assert.Contains(t, out.String(), "gvmm-agent: READY\n")
	b, err := os.ReadFile(env.PortDevice)
	require.NoError(t, err)
	assert.Empty(t, b, "neither the READY nor the exit register was written")
}

func TestMainBadSettings(t *testing.T) {
	tests := []struct {
		name    string
		vars    map[string]string
		cmdline string
		want    int
		wantOut string
	}{
		{name: "bad cmdline mode", cmdline: "gvmm.mode=halt", want: exitUsage, wantOut: `gvmm.mode="halt"`},
		{name: "bad env ip", vars: map[string]string{agentcfg.EnvMode: "poweroff", agentcfg.EnvIP: "nope"}, want: exitUsage, wantOut: agentcfg.EnvIP},
		{name: "bad ready fd", vars: map[string]string{agentcfg.EnvReadyFD: "x", agentcfg.EnvMode: "poweroff"}, want: exitFailure, wantOut: "not a file descriptor"},
		{name: "gateway alone", cmdline: "gvmm.mode=stay gvmm.gw=10.0.2.2", want: exitUsage, wantOut: "gvmm.gw given without gvmm.ip"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env, out := testEnv(t, tt.vars, tt.cmdline)
			assert.Equal(t, tt.want, Main(env))
			assert.Contains(t, out.String(), "gvmm-agent: error: ")
			assert.Contains(t, out.String(), tt.wantOut)
			assert.NotContains(t, out.String(), "gvmm-agent: READY")
			b, err := os.ReadFile(env.PortDevice)
			require.NoError(t, err)
			assert.Empty(t, b, "nothing signalled")
		})
	}
}
