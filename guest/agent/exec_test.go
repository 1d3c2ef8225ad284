package agent

import (
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseExec(t *testing.T) {
	tests := []struct {
		name    string
		cmdline string
		want    []string
		wantErr bool
	}{
		{name: "program alone", cmdline: "gvmm.exec=/usr/sbin/nginx", want: []string{"/usr/sbin/nginx"}},
		{name: "quoted word keeps arguments", cmdline: `"gvmm.exec=/bin/prog -v  x" gvmm.mode=stay`, want: []string{"/bin/prog", "-v", "x"}},
		{name: "quoted value", cmdline: `gvmm.exec="/bin/prog -v"`, want: []string{"/bin/prog", "-v"}},
		{name: "empty clears", cmdline: "gvmm.exec=/bin/prog gvmm.exec=", want: nil},
		{name: "relative path", cmdline: "gvmm.exec=nginx", wantErr: true},
		{name: "relative path with arguments", cmdline: `"gvmm.exec=./nginx -t"`, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := DefaultConfig()
			err := c.ParseCmdline(tt.cmdline)
			if tt.wantErr {
				require.ErrorIs(t, err, ErrBadConfig)
				assert.ErrorContains(t, err, "absolute path")
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, c.Exec)
		})
	}
}

func TestExecFromEnvironment(t *testing.T) {
	c := DefaultConfig()
	require.NoError(t, c.ParseCmdline("gvmm.exec=/bin/a"))
	require.NoError(t, c.ApplyEnv(func(k string) string { return map[string]string{EnvExec: "/bin/b -x"}[k] }))
	assert.Equal(t, []string{"/bin/b", "-x"}, c.Exec)
	err := c.ApplyEnv(func(k string) string { return map[string]string{EnvExec: "b"}[k] })
	require.ErrorIs(t, err, ErrBadConfig)
	assert.ErrorContains(t, err, EnvExec)
}

func TestExecWithHTTPIsRefused(t *testing.T) {
	c := DefaultConfig()
	require.NoError(t, c.ParseCmdline("gvmm.exec=/usr/sbin/nginx gvmm.http=:80"))
	require.ErrorIs(t, c.Validate(), ErrBadConfig)
}

func TestCheckExecutable(t *testing.T) {
	dir := t.TempDir()
	prog := filepath.Join(dir, "prog")
	require.NoError(t, os.WriteFile(prog, []byte("#!/bin/sh\n"), 0o755))
	data := filepath.Join(dir, "data")
	require.NoError(t, os.WriteFile(data, nil, 0o644))
	tests := []struct {
		name string
		argv []string
		ok   bool
	}{
		{name: "not set", argv: nil, ok: true},
		{name: "executable", argv: []string{prog, "-x"}, ok: true},
		{name: "missing", argv: []string{filepath.Join(dir, "nginx")}},
		{name: "not executable", argv: []string{data}},
		{name: "directory", argv: []string{dir}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := checkExecutable(tt.argv)
			if tt.ok {
				assert.NoError(t, err)
			} else {
				assert.ErrorIs(t, err, ErrNoProgram)
			}
		})
	}
}

// A program that is not there fails the agent before READY.
func TestMainExecMissingProgram(t *testing.T) {
	r, w, err := os.Pipe()
	require.NoError(t, err)
	defer r.Close()
	env, out := testEnv(t, map[string]string{
		EnvReadyFD: strconv.Itoa(int(w.Fd())),
		EnvExec:    "/nonexistent/nginx",
	}, "")

	assert.Equal(t, exitFailure, Main(env))
	assert.Contains(t, out.String(), "gvmm-agent: error: "+ErrNoProgram.Error())
	assert.NotContains(t, out.String(), "gvmm-agent: READY")
	// The agent owns and closed the write end (as the runtime's fd 3),
	// so the read ends at once, without a READY byte.
	require.NoError(t, r.SetReadDeadline(time.Now().Add(time.Second)))
	b, _ := io.ReadAll(r)
	assert.Empty(t, b, "no READY byte")
}

// execHelperEnv makes TestMainExecHelper be the agent.
const execHelperEnv = "GVMM_AGENT_TEST_EXEC_HELPER"

// TestMainExecHelper is not a test: TestMainExecReplacesAgent runs the
// test binary with it as the agent's main, in a process of its own, since
// the agent execs.
func TestMainExecHelper(t *testing.T) {
	if os.Getenv(execHelperEnv) != "1" {
		t.Skip("the agent process of TestMainExecReplacesAgent")
	}
	os.Exit(Main(HostEnv()))
}

// The agent signals READY, closes the READY pipe and becomes the program:
// same pid, the program's command line, its arguments passed on.
func TestMainExecReplacesAgent(t *testing.T) {
	sleep, err := exec.LookPath("sleep")
	require.NoError(t, err)
	r, w, err := os.Pipe()
	require.NoError(t, err)
	defer r.Close()
	cmd := exec.Command(os.Args[0], "-test.run=^TestMainExecHelper$")
	// A file, not a buffer: no copying goroutine races with the reads.
	outFile, err := os.Create(filepath.Join(t.TempDir(), "out"))
	require.NoError(t, err)
	defer outFile.Close()
	cmd.Stdout, cmd.Stderr = outFile, outFile
	output := func() string {
		b, _ := os.ReadFile(outFile.Name())
		return string(b)
	}
	cmd.ExtraFiles = []*os.File{w} // fd 3
	cmd.Env = append(os.Environ(), execHelperEnv+"=1", EnvReadyFD+"=3", EnvExec+"="+sleep+" 30")
	require.NoError(t, cmd.Start())
	require.NoError(t, w.Close())
	defer func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}()

	// READY, then EOF while the program still runs: the agent closed
	// its end of the pipe before the exec.
	done := make(chan []byte, 1)
	go func() {
		b, _ := io.ReadAll(r)
		done <- b
	}()
	select {
	case b := <-done:
		require.Equal(t, []byte{ReadyMagic}, b, output())
	case <-time.After(20 * time.Second):
		t.Fatalf("no READY and EOF on the pipe: %s", output())
	}
	require.Eventually(t, func() bool {
		b, err := os.ReadFile("/proc/" + strconv.Itoa(cmd.Process.Pid) + "/cmdline")
		return err == nil && strings.ReplaceAll(string(b), "\x00", " ") == sleep+" 30 "
	}, 10*time.Second, 10*time.Millisecond, "the agent's process became %s 30", sleep)
	assert.Contains(t, output(), "gvmm-agent: READY\n")
	assert.Contains(t, output(), "gvmm-agent: exec "+sleep+" 30\n")
	assert.NotContains(t, output(), "gvmm-agent: mode ")
}
