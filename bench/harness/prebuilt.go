package harness

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"gvmm/container"
)

// BuildPrebuilt writes into dir the executables that a Workspace with
// Prebuilt = dir takes instead of building: gvmm and gvmm-init, the
// launcher and gokvm, all statically linked, for the nested rig's L1,
// which has neither compilers nor shared libraries. An executable that
// cannot be built here (gokvm without the module proxy) is left out and
// its reason returned in missing; its rows then skip in L1.
func (ws *Workspace) BuildPrebuilt(dir string) (missing map[string]string, err error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	missing = map[string]string{}
	static := func(pkg, name string) error {
		return ws.run([]string{"CGO_ENABLED=0"}, "go", "build", "-o", filepath.Join(dir, name), pkg)
	}
	if err := static("./cmd/gvmm", "gvmm"); err != nil {
		return nil, err
	}
	initArgs := container.InitCompile(filepath.Join(ws.Repo, container.InitSource), filepath.Join(dir, container.InitName))
	if err := ws.run(nil, initArgs...); err != nil {
		return nil, fmt.Errorf("gvmm-init (needs gcc and libc6-dev's libc.a): %w", err)
	}
	c := filepath.Join(ws.Dir, "launcher-static.c")
	if err := os.WriteFile(c, launcherSource, 0o644); err != nil {
		return nil, err
	}
	if err := ws.run(nil, "gcc", "-O2", "-static", "-o", filepath.Join(dir, "launcher"), c); err != nil {
		return nil, fmt.Errorf("static launcher (needs libc6-dev's libc.a): %w", err)
	}
	gokvm, err := ws.Gokvm() // CGO_ENABLED=0: static
	switch {
	case errors.Is(err, ErrSkip):
		missing["gokvm"] = err.Error()
	case err != nil:
		return nil, err
	default:
		if err := copyFile(gokvm, filepath.Join(dir, "gokvm")); err != nil {
			return nil, err
		}
	}
	return missing, nil
}

// copyFile copies an executable.
func copyFile(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o755)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
