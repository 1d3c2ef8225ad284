package bench

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"gvmm/internal/rig"
	"gvmm/internal/rig/rigtest"
)

// The exits benchmark (issue "Fewer exits than any peer"): VM exits per
// boot, gvmm against QEMU's microvm, both in one L1 of the nested rig,
// alternating, each VMM booting the same kernel and initramfs to the guest
// agent's READY line. Exits are counted by KVM itself, in L1, the same way
// for both: L1's debugfs (/sys/kernel/debug/kvm/*) sums each statistic
// over the live VMs, and only one VM is alive at a time, so the values read
// the moment READY appears are that boot's counts, from VM creation on.
// Unlike rig seconds, these counts do not depend on how fast the emulator
// runs, so they compare across hosts.
//
// Each VMM runs its own bare command line, nothing wrapped around it:
//   - gvmm boot KERNEL --initrd I --mem 256M --acpi --cmdline CMD
//   - qemu-system-x86_64 -enable-kvm -cpu host -smp 1 -m 256M -M microvm,…
//     -bios qboot.rom -nodefaults -no-user-config -nographic -serial stdio
//     -kernel KERNEL -initrd I -append CMD
//
// QEMU gets its best machine for each kernel: for Debian's kernel, which
// needs ACPI, microvm's ACPI (the default) with its RTC on; for the
// minimal kernel, which has no ACPI, acpi=off so that QEMU writes its MP
// table, also with the RTC on. CMD has gvmm.ready=console, so the agent
// does the same in both VMMs: READY is its console line.

// exitsRuns is how many times each (VMM, kernel) pair boots.
const exitsRuns = 3

// exitCounters are the L1 debugfs statistics read at READY
// (Documentation/virt/kvm/api.rst, "KVM_GET_STATS_FD", names them).
var exitCounters = []string{"exits", "io_exits", "mmio_exits", "halt_exits", "irq_exits", "pf_taken"}

// exitsKernel is one guest kernel of the comparison.
type exitsKernel struct {
	name, path, initrd string
	qemuMachine        string // -M for QEMU
}

// exitsScript is the L1 command: every kernel with both VMMs, exitsRuns
// rounds, one "exits:" line per boot.
func exitsScript(kernels []exitsKernel) string {
	var b strings.Builder
	b.WriteString(`set -u
chmod +x ` + qemuDir + `/qemu-system-x86_64
grep -q ' /sys/kernel/debug ' /proc/mounts || mount -t debugfs none /sys/kernel/debug
D=/sys/kernel/debug/kvm
CMD='console=ttyS0 reboot=k panic=-1 quiet gvmm.mode=stay gvmm.ready=console'
up() { read -r u _ </proc/uptime; echo "$u"; }
counters() { for c in ` + strings.Join(exitCounters, " ") + `; do printf ' %s=%s' $c "$(cat $D/$c)"; done; }
one() { # VMM KERNEL-NAME KERNEL INITRD QEMU-MACHINE RUN
  rm -f /tmp/out
  t0=$(up)
  if [ "$1" = gvmm ]; then
    gvmm boot "$3" --initrd "$4" --mem 256M --acpi --cmdline "$CMD" </dev/null >/tmp/out 2>&1 &
  else
    ` + qemuDir + `/qemu-system-x86_64 -enable-kvm -cpu host -smp 1 -m 256M -M "$5" -bios ` + qemuDir + `/qboot.rom \
      -nodefaults -no-user-config -nographic -serial stdio \
      -kernel "$3" -initrd "$4" -append "$CMD" </dev/null >/tmp/out 2>&1 &
  fi
  pid=$!
  i=0
  while ! grep -q 'gvmm-agent: READY' /tmp/out 2>/dev/null && [ $i -lt 6000 ]; do sleep 0.05; i=$((i+1)); done
  t1=$(up)
  c=$(counters)
  kill $pid; wait $pid 2>/dev/null
  if grep -q 'gvmm-agent: READY' /tmp/out; then
    echo "exits: vmm=$1 kernel=$2 run=$6 ready=$t0..$t1$c"
  else
    echo "exits: vmm=$1 kernel=$2 run=$6 failed"; cat /tmp/out
  fi
}
`)
	for r := 1; r <= exitsRuns; r++ {
		for _, k := range kernels {
			for _, vmm := range []string{"gvmm", "qemu"} {
				fmt.Fprintf(&b, "one %s %s %s %s %s %d\n", vmm, k.name, k.path, k.initrd, k.qemuMachine, r)
			}
		}
	}
	return b.String()
}

// exitsSample is one boot's line.
type exitsSample struct {
	VMM, Kernel string
	Ready       time.Duration // VMM launch to READY, L1 (rig) time
	Counters    map[string]int64
}

var exitsLine = regexp.MustCompile(`(?m)^exits: vmm=(\S+) kernel=(\S+) run=\d+ (.*)$`)

// parseExits reads the "exits:" lines; a failed boot is an error.
func parseExits(out string) ([]exitsSample, error) {
	var samples []exitsSample
	for _, line := range strings.Split(out, "\n") {
		m := exitsLine.FindStringSubmatch(strings.TrimSpace(line))
		if m == nil {
			continue
		}
		if m[3] == "failed" {
			return nil, fmt.Errorf("%s on %s never reached READY", m[1], m[2])
		}
		s := exitsSample{VMM: m[1], Kernel: m[2], Counters: map[string]int64{}}
		for _, kv := range strings.Fields(m[3]) {
			k, v, ok := strings.Cut(kv, "=")
			if !ok {
				return nil, fmt.Errorf("bad field %q in %q", kv, line)
			}
			if k == "ready" {
				d, err := interval(v)
				if err != nil {
					return nil, fmt.Errorf("ready: %w", err)
				}
				s.Ready = d
				continue
			}
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return nil, fmt.Errorf("counter %s=%q: %w", k, v, err)
			}
			s.Counters[k] = n
		}
		for _, c := range exitCounters {
			if _, ok := s.Counters[c]; !ok {
				return nil, fmt.Errorf("no %s in %q", c, line)
			}
		}
		samples = append(samples, s)
	}
	if len(samples) == 0 {
		return nil, fmt.Errorf("no exits: lines in the output")
	}
	return samples, nil
}

// medianOf returns the median (the lower middle for an even count).
func medianOf(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	return s[(len(s)-1)/2]
}

// exitsTable is the Markdown report: per kernel, the medians of each VMM
// and gvmm's ratio to QEMU.
func exitsTable(samples []exitsSample, kernels []string) (string, error) {
	var b strings.Builder
	fmt.Fprintf(&b, "| kernel | metric | gvmm | QEMU microvm | gvmm / QEMU |\n|---|---|--:|--:|--:|\n")
	metrics := append([]string{"ready_s"}, exitCounters...)
	for _, k := range kernels {
		for _, m := range metrics {
			med := map[string]float64{}
			for _, vmm := range []string{"gvmm", "qemu"} {
				var vals []float64
				for _, s := range samples {
					if s.VMM != vmm || s.Kernel != k {
						continue
					}
					if m == "ready_s" {
						vals = append(vals, s.Ready.Seconds())
					} else {
						vals = append(vals, float64(s.Counters[m]))
					}
				}
				if len(vals) == 0 {
					return "", fmt.Errorf("no %s samples for %s", vmm, k)
				}
				med[vmm] = medianOf(vals)
			}
			ratio := "–"
			if med["qemu"] > 0 {
				ratio = fmt.Sprintf("%.2f×", med["gvmm"]/med["qemu"])
			}
			format := "%.0f"
			if m == "ready_s" {
				format = "%.2f"
			}
			fmt.Fprintf(&b, "| %s | %s | "+format+" | "+format+" | %s |\n", k, m, med["gvmm"], med["qemu"], ratio)
		}
	}
	return b.String(), nil
}

// BenchmarkBootExitsRig boots each kernel with gvmm and with QEMU microvm,
// exitsRuns times each, alternating, in one L1 (`make bench-exits`), and
// reports the medians. It needs GVMM_E2E=1, both kernels, both initramfs
// images and the rig's QEMU (`make kernel kernel-debian initramfs
// initramfs-debian rig-qemu`). GVMM_BENCH_EXITS_OUT names the Markdown
// file to write.
func BenchmarkBootExitsRig(b *testing.B) {
	rigtest.RequireE2E(b)
	root, err := rig.RepoRoot()
	require.NoError(b, err)
	minimal := rigtest.MinimalKernel(b)
	debian := rigtest.DebianKernel(b)
	build := func(name string) string {
		p := filepath.Join(root, "build", name)
		require.FileExists(b, p, "run make "+strings.TrimSuffix(name, ".cpio"))
		return p
	}
	initrd, initrdDebian := build("initramfs.cpio"), build("initramfs-debian.cpio")
	qemu := build("rig-qemu/qemu-system-x86_64")
	dir := b.TempDir()
	files := append(qemuFiles(b, dir, qemu),
		rig.File{Host: minimal.VMLinux, Guest: "/l2/vmlinux"},
		rig.File{Host: debian.BzImage, Guest: "/l2/debian"},
		rig.File{Host: initrdDebian, Guest: "/l2/initrd-debian"})
	const (
		qemuNoACPI = "microvm,acpi=off,x-option-roms=off,rtc=on,isa-serial=on"
		qemuACPI   = "microvm,x-option-roms=off,rtc=on,isa-serial=on"
	)
	kernels := []exitsKernel{
		{"minimal-bzImage", rig.L2KernelPath, rig.L2InitrdPath, qemuNoACPI},
		{"minimal-PVH", "/l2/vmlinux", rig.L2InitrdPath, qemuNoACPI},
		{"debian-6.1", "/l2/debian", "/l2/initrd-debian", qemuACPI},
	}
	names := make([]string, len(kernels))
	for i, k := range kernels {
		names[i] = k.name
	}
	for i := 0; i < b.N; i++ {
		res := rigtest.Run(b, rig.Config{
			GVMM: rigtest.GVMM(b), L2Kernel: minimal.BzImage, L2Initrd: initrd,
			Files: files, Command: exitsScript(kernels),
			AttemptTimeout: 50 * time.Minute,
		})
		samples, err := parseExits(res.OutputText())
		require.NoError(b, err, "%s", res.OutputText())
		for _, l := range exitsLine.FindAllString(res.OutputText(), -1) {
			b.Log(l) // every boot, for the record
		}
		table, err := exitsTable(samples, names)
		require.NoError(b, err)
		b.Log("\n" + table)
		if p := os.Getenv("GVMM_BENCH_EXITS_OUT"); p != "" {
			require.NoError(b, os.WriteFile(p, []byte(table), 0o644))
		}
	}
}
