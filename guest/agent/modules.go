package agent

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"golang.org/x/sys/unix"

	"gvmm/guest/agentcfg"
)

// ModuleDir is where the initramfs keeps kernel modules for the agent. It is
// deliberately not /lib/modules: u-root's init loads /lib/modules/*.ko in
// alphabetical order, which breaks on dependencies.
const ModuleDir = "/lib/gvmm/modules"

// ModuleOrderFile, inside ModuleDir, lists modules in load order
// (dependencies first), one per line, as names ("virtio_net") or file names
// ("virtio_net.ko"); guest.BuildCPIO writes it.
const ModuleOrderFile = "modules.order"

// moduleExt is the file name extension of a kernel module.
const moduleExt = ".ko"

// LoadModules loads modules from dir. With names, it loads dir/<name>.ko for
// each; otherwise every module in dir's modules.order (or, without one,
// every *.ko in name order). A module that fails is retried after the others
// as long as a round makes progress, so a missing order file still works when
// dependencies load first in some round. Modules already loaded or built in
// count as loaded. It returns the names loaded and the first error left.
func LoadModules(dir string, names []string) ([]string, error) {
	paths, err := modulePaths(dir, names)
	if err != nil {
		return nil, err
	}
	var loaded []string
	pending := paths
	for len(pending) > 0 {
		var failed []string
		var errs []error
		for _, p := range pending {
			if err := loadModule(p); err != nil {
				failed = append(failed, p)
				errs = append(errs, err)
				continue
			}
			loaded = append(loaded, strings.TrimSuffix(filepath.Base(p), moduleExt))
		}
		if len(failed) == len(pending) {
			return loaded, errors.Join(errs...)
		}
		pending = failed
	}
	return loaded, nil
}

// modulePaths lists the module files to load, in order.
func modulePaths(dir string, names []string) ([]string, error) {
	if len(names) > 0 {
		paths := make([]string, 0, len(names))
		for _, n := range names {
			if strings.ContainsRune(n, '/') {
				return nil, fmt.Errorf("%w: module name %q contains '/'", agentcfg.ErrBadConfig, n)
			}
			paths = append(paths, filepath.Join(dir, moduleFile(n)))
		}
		return paths, nil
	}
	f, err := os.Open(filepath.Join(dir, ModuleOrderFile))
	if errors.Is(err, os.ErrNotExist) {
		paths, err := filepath.Glob(filepath.Join(dir, "*"+moduleExt))
		sort.Strings(paths)
		return paths, err
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var paths []string
	s := bufio.NewScanner(f)
	for s.Scan() {
		if name := strings.TrimSpace(s.Text()); name != "" && !strings.HasPrefix(name, "#") {
			paths = append(paths, filepath.Join(dir, moduleFile(filepath.Base(name))))
		}
	}
	return paths, s.Err()
}

// loadModule loads one module file with finit_module(2), which lets the
// kernel read the file itself (and check its signature against the fd).
func loadModule(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("load module: %w", err)
	}
	defer f.Close()
	err = unix.FinitModule(int(f.Fd()), "", 0)
	if errors.Is(err, unix.EEXIST) {
		return nil // already loaded
	}
	if err != nil {
		return fmt.Errorf("finit_module %s: %w", path, err)
	}
	return nil
}

// moduleFile turns a module name into its file name; a file name stays.
func moduleFile(name string) string {
	return strings.TrimSuffix(name, moduleExt) + moduleExt
}
