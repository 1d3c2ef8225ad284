package rig

import (
	"io"
	"os/exec"
	"strings"
	"testing"

	"gvmm/internal/testenv"
)

func execCommand(t *testing.T, name string, args ...string) *exec.Cmd {
	t.Helper()
	return exec.Command(testenv.NeedTool(t, name, name), args...)
}

func stringsReader(s string) io.Reader { return strings.NewReader(s) }
