package report

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"runtime"
	"strconv"
	"strings"
)

// kvmModules are the modules that can provide /dev/kvm, in the order
// ProbeHost looks for them (the same order as vmm.Flavour).
var kvmModules = []Flavour{FlavourIntel, FlavourAMD, FlavourPVM}

// ProbeHost describes the machine from its /proc and /sys, read through
// fsys (os.DirFS("/") on a real host; a directory of copies in tests).
// Load averages are read into LoadStart; the caller reads LoadEnd with
// ReadLoadAvg when the run ends. GitRevision and RunnerClass are the
// caller's to fill.
func ProbeHost(fsys fs.FS) (Host, error) {
	h := Host{KVMFlavour: FlavourNone, GoVersion: runtime.Version()}
	for _, m := range kvmModules {
		if _, err := fs.Stat(fsys, "sys/module/"+string(m)); err == nil {
			h.KVMFlavour = m
			break
		}
	}
	// The "nested" parameter exists for kvm_intel and kvm_amd
	// (Documentation/virt/kvm/x86/running-nested-guests.rst); "Y" or "1"
	// means this KVM offers virtualization to its own guests.
	if b, err := fs.ReadFile(fsys, "sys/module/"+string(h.KVMFlavour)+"/parameters/nested"); err == nil {
		v := strings.TrimSpace(string(b))
		h.Nested = v == "Y" || v == "1"
	}
	cpu, err := fsys.Open("proc/cpuinfo")
	if err != nil {
		return h, fmt.Errorf("probe host: %w", err)
	}
	defer cpu.Close()
	sc := bufio.NewScanner(cpu)
	sc.Buffer(make([]byte, 64<<10), 1<<20) // the flags line is long
	for sc.Scan() {
		key, val, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		key, val = strings.TrimSpace(key), strings.TrimSpace(val)
		switch key {
		case "processor":
			h.CPUs++
		case "model name":
			if h.CPUModel == "" {
				h.CPUModel = val
			}
		case "flags":
			// x86 CPUID.1:ECX bit 31, "hypervisor": we run in a VM.
			if !h.InVM && hasFlag(val, "hypervisor") {
				h.InVM = true
			}
		}
	}
	if err := sc.Err(); err != nil {
		return h, fmt.Errorf("probe host: proc/cpuinfo: %w", err)
	}
	rel, err := fs.ReadFile(fsys, "proc/sys/kernel/osrelease") // what uname -r prints
	if err != nil {
		return h, fmt.Errorf("probe host: %w", err)
	}
	h.Kernel = strings.TrimSpace(string(rel))
	h.LoadStart, err = ReadLoadAvg(fsys)
	return h, err
}

func hasFlag(flags, want string) bool {
	for _, f := range strings.Fields(flags) {
		if f == want {
			return true
		}
	}
	return false
}

// ErrLoadAvg: /proc/loadavg did not have three numbers first.
var ErrLoadAvg = errors.New("malformed loadavg")

// ReadLoadAvg reads proc/loadavg from fsys: "0.52 0.58 0.59 1/467 12345".
func ReadLoadAvg(fsys fs.FS) (LoadAvg, error) {
	b, err := fs.ReadFile(fsys, "proc/loadavg")
	if err != nil {
		return LoadAvg{}, fmt.Errorf("read load average: %w", err)
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return LoadAvg{}, fmt.Errorf("%w: %q", ErrLoadAvg, b)
	}
	var v [3]float64
	for i := range v {
		if v[i], err = strconv.ParseFloat(f[i], 64); err != nil || v[i] < 0 {
			return LoadAvg{}, fmt.Errorf("%w: %q", ErrLoadAvg, b)
		}
	}
	return LoadAvg{One: v[0], Five: v[1], Fifteen: v[2]}, nil
}
