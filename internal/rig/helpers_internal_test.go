package rig

import (
	"io"
	"os/exec"
	"strings"
	"testing"
)

func execCommand(t *testing.T, name string, args ...string) *exec.Cmd {
	t.Helper()
	if _, err := exec.LookPath(name); err != nil {
		t.Skipf("%s not on PATH", name)
	}
	return exec.Command(name, args...)
}

func stringsReader(s string) io.Reader { return strings.NewReader(s) }
