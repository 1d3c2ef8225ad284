package rig

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
)

// DynamicExecutable returns the files that make the dynamically linked
// program host run in L1 as guest: a stripped copy of it (written into
// dir: symbols only cost initramfs space) and every shared library ldd
// resolves, at the same paths as on the host. L1's root is a busybox
// initramfs with no libraries of its own, so a program like QEMU needs
// all of them.
func DynamicExecutable(host, guest, dir string) ([]File, error) {
	stripped := filepath.Join(dir, filepath.Base(guest))
	if out, err := exec.Command("strip", "-o", stripped, host).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("strip %s: %w: %s", host, err, out)
	}
	out, err := exec.Command("ldd", host).Output()
	if err != nil {
		return nil, fmt.Errorf("ldd %s: %w", host, err)
	}
	libs, err := ParseLDD(string(out))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", host, err)
	}
	files := []File{{Host: stripped, Guest: guest, Executable: true}}
	for _, l := range libs {
		files = append(files, File{Host: l, Guest: l, Executable: true})
	}
	return files, nil
}

// ParseLDD returns the absolute paths ldd(1) resolved: "name => /path
// (addr)" and the loader's "/lib64/ld-linux-x86-64.so.2 (addr)". A library
// ldd could not find is an error: the program would not start in L1.
func ParseLDD(out string) ([]string, error) {
	var libs []string
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) == 0 || strings.HasPrefix(f[0], "linux-vdso"):
		case len(f) >= 3 && f[1] == "=>" && f[2] == "not":
			return nil, fmt.Errorf("ldd: %s not found", f[0])
		case len(f) >= 3 && f[1] == "=>" && strings.HasPrefix(f[2], "/"):
			libs = append(libs, f[2])
		case strings.HasPrefix(f[0], "/"):
			libs = append(libs, f[0])
		}
	}
	if len(libs) == 0 {
		return nil, fmt.Errorf("ldd listed no libraries: %q", out)
	}
	return libs, nil
}
