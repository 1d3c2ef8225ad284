package rig

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// BuildGVMM builds ./cmd/gvmm of the repository as a static binary
// (CGO_ENABLED=0: L1 has no libc) at dir/gvmm and returns its path.
func BuildGVMM(ctx context.Context, dir string) (string, error) {
	return BuildStatic(ctx, "./cmd/gvmm", filepath.Join(dir, "gvmm"))
}

// BuildStatic builds the Go package pkg (a path relative to the repository
// root) with CGO_ENABLED=0 into out and checks that the result is static.
func BuildStatic(ctx context.Context, pkg, out string) (string, error) {
	root, err := RepoRoot()
	if err != nil {
		return "", err
	}
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, pkg)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64")
	if msg, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("rig: go build %s: %w\n%s", pkg, err, msg)
	}
	if err := checkStatic(out, "build with CGO_ENABLED=0"); err != nil {
		return "", fmt.Errorf("rig: %w", err)
	}
	return out, nil
}
