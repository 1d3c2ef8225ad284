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

	"gvmm/guest/agentcfg"
	"gvmm/guest/ready"
)

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
		agentcfg.EnvReadyFD: strconv.Itoa(int(w.Fd())),
		agentcfg.EnvExec:    "/nonexistent/nginx",
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
	cmd.Env = append(os.Environ(), execHelperEnv+"=1", agentcfg.EnvReadyFD+"=3", agentcfg.EnvExec+"="+sleep+" 30")
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
		require.Equal(t, []byte{ready.Magic}, b, output())
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
