package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
)

// benchBinary is the benchmark harness's own command (bench/cmd/gvmm-bench).
// It is a separate binary, found beside gvmm or on PATH, so that its
// chart library and report code never weigh on the VMM itself: gvmm's
// start-up time and RSS are among the numbers it measures.
const benchBinary = "gvmm-bench"

// runBench execs gvmm-bench with the same arguments: `gvmm bench -n 5`
// is `gvmm-bench -n 5`.
func runBench(args []string) int {
	path, err := findBench()
	if err != nil {
		fmt.Fprintf(os.Stderr, "gvmm bench: %v: run `make bench` from the source tree, or `go build -o build/%s ./bench/cmd/%s`\n", err, benchBinary, benchBinary)
		return 1
	}
	argv := append([]string{path}, args...)
	if err := syscall.Exec(path, argv, os.Environ()); err != nil {
		fmt.Fprintf(os.Stderr, "gvmm bench: exec %s: %v\n", path, err)
		return 1
	}
	return 0 // not reached: Exec replaced the process
}

// findBench looks beside the gvmm executable first, then on PATH.
func findBench() (string, error) {
	if self, err := os.Executable(); err == nil {
		p := filepath.Join(filepath.Dir(self), benchBinary)
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	p, err := exec.LookPath(benchBinary)
	if err != nil {
		return "", errors.New(benchBinary + " not found beside gvmm or on PATH")
	}
	return p, nil
}
