package bench

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"gvmm/bench/report"
	"gvmm/internal/rig"
	"gvmm/internal/rig/rigtest"
)

// The network benchmark (virtio issue): host <-> guest TCP throughput and
// the VMM's CPU cost per GB, gvmm's virtio-net against QEMU's, both on a
// TAP, both booting the same kernel and initramfs, side by side in one L1
// of the nested rig. Both VMs are up at the same time and the transfers
// alternate between them, so a slow stretch of the emulator hits both.
//
// What is measured, per transfer of netBytes over HTTP/TCP between L1 and
// the guest agent (guest/agent/transfer.go):
//   - wall time, from L1's /proc/uptime (10 ms resolution);
//   - the VMM process's CPU time from /proc/PID/stat: utime+stime, of
//     which guest_time (field 43) is the time the vCPU spent running the
//     guest. Total minus guest time is what the VMM itself cost: device
//     emulation, exits, the TAP, its threads.
//
// Guest -> host: L1 fetches /bytes?n=N from the guest; host -> guest: L1
// posts N bytes to /sink. Each side hashes what it saw; the benchmark
// fails on any mismatch, so a fast but lossy device cannot win.

const (
	netBytes  = 32 << 20
	netRounds = 3

	// QEMU's side: microvm (the smallest QEMU machine, qboot firmware)
	// with virtio-net on virtio-mmio. acpi=off because the minimal kernel
	// has no ACPI: QEMU then names the virtio-mmio devices on the kernel
	// command line (virtio_mmio.device=...), hw/i386/microvm.c. gvmm uses virtio-pci; both are the
	// same virtio-net device model over a TAP, without vhost-net.
	qemuDir = "/opt/qemu"
)

// netScript runs in L1. It starts both VMs, waits for their agents, then
// alternates transfers and prints one "result:" line per transfer.
var netScript = `
set -u
chmod +x /bin/httpc ` + qemuDir + `/qemu-system-x86_64
N=` + strconv.Itoa(netBytes) + `
CMD='console=ttyS0 reboot=k panic=-1 quiet gvmm.mode=stay gvmm.http=:8080'
gvmm boot ` + rig.L2KernelPath + ` --initrd ` + rig.L2InitrdPath + ` --mem 256M \
  --net tap=gvmmtap0 --host-addr 192.168.100.1/24 --cmdline "$CMD gvmm.ip=192.168.100.2/24" \
  </dev/null >/tmp/gvmm.out 2>&1 &
gpid=$!
` + qemuDir + `/qemu-system-x86_64 -enable-kvm -cpu host -smp 1 -m 256M \
  -M microvm,acpi=off,x-option-roms=off,rtc=off,isa-serial=on -bios ` + qemuDir + `/qboot.rom \
  -nodefaults -no-user-config -nographic -serial stdio \
  -kernel ` + rig.L2KernelPath + ` -initrd ` + rig.L2InitrdPath + ` -append "$CMD gvmm.ip=192.168.101.2/24" \
  -netdev tap,id=n0,ifname=qtap0,script=no,downscript=no -device virtio-net-device,netdev=n0 \
  </dev/null >/tmp/qemu.out 2>&1 &
qpid=$!
wait_for() { # FILE PATTERN SECONDS
  i=0
  while ! grep -q "$2" "$1" 2>/dev/null; do
    sleep 1; i=$((i+1))
    if [ $i -ge "$3" ]; then echo "timeout waiting for $2 in $1"; return 1; fi
  done
}
i=0
while ! ip link show qtap0 >/dev/null 2>&1 && [ $i -lt 60 ]; do sleep 1; i=$((i+1)); done
ip addr add 192.168.101.1/24 dev qtap0 && ip link set qtap0 up
up() { read -r u _ </proc/uptime; echo "$u"; }
# pstat PID: "utime+stime guest_time" in clock ticks (USER_HZ, 100 on x86).
pstat() { awk '{print $14+$15, $43}' /proc/$1/stat; }
one() { # NAME PID ADDR DIR
  set -- "$1" "$2" "$3" "$4" $(pstat $2)
  t0=$(up)
  if [ "$4" = guest-to-host ]; then out=$(httpc sum "http://$3:8080/bytes?n=$N" 2>&1)
  else out=$(httpc postn "http://$3:8080/sink" $N 2>&1); fi
  t1=$(up)
  set -- "$@" $(pstat $2)
  echo "result: vmm=$1 dir=$4 wall=$t0..$t1 cpu=$5..$7 guest=$6..$8 out=$out"
}
if wait_for /tmp/gvmm.out 'gvmm-agent: READY' 300 && wait_for /tmp/qemu.out 'gvmm-agent: READY' 300; then
  echo "both-ready: $(up)"
  for r in $(seq ` + strconv.Itoa(netRounds) + `); do
    one gvmm $gpid 192.168.100.2 guest-to-host
    one qemu $qpid 192.168.101.2 guest-to-host
    one gvmm $gpid 192.168.100.2 host-to-guest
    one qemu $qpid 192.168.101.2 host-to-guest
  done
fi
kill $gpid $qpid
wait $gpid $qpid
echo '--- gvmm'; cat /tmp/gvmm.out
echo '--- qemu'; cat /tmp/qemu.out
`

// BenchmarkVirtioNetRig runs the whole comparison once (it boots a rig,
// so run it with -benchtime=1x: `make bench-net`) and reports the medians
// as metrics. It needs GVMM_E2E=1, the minimal kernel, the initramfs and
// the rig's QEMU (`make kernel initramfs rig-qemu`).
func BenchmarkVirtioNetRig(b *testing.B) {
	rigtest.RequireE2E(b)
	root, err := rig.RepoRoot()
	require.NoError(b, err)
	k := rigtest.MinimalKernel(b)
	initrd := filepath.Join(root, "build", "initramfs.cpio")
	require.FileExists(b, initrd, "run make initramfs")
	qemu := filepath.Join(root, "build", "rig-qemu", "qemu-system-x86_64")
	require.FileExists(b, qemu, "run make rig-qemu")

	dir := b.TempDir()
	files := []rig.File{{Host: buildStatic(b, dir, "gvmm/internal/e2e/httpc"), Guest: "/bin/httpc", Executable: true}}
	files = append(files, qemuFiles(b, dir, qemu)...)

	for i := 0; i < b.N; i++ {
		res := rigtest.Run(b, rig.Config{
			GVMM: rigtest.GVMM(b), L2Kernel: k.BzImage, L2Initrd: initrd,
			Files: files, Command: netScript,
			AttemptTimeout: 40 * time.Minute,
			CPUs:           1, // as TestVirtioConsoleAndNet: L1 panicked in 2 of 3 runs with two

		})
		out := res.OutputText()
		if !strings.Contains(out, "both-ready:") {
			b.Fatalf("the VMs did not both come up:\n%s", out)
		}
		samples, err := parseNetResults(out)
		require.NoError(b, err, "%s", out)
		report := summariseNet(samples)
		b.Log("\n" + report.Markdown())
		for _, r := range report.Rows {
			b.ReportMetric(r.MBps, r.VMM+"-"+r.Dir+"-MB/s")
			b.ReportMetric(r.VMMCPUPerGB, r.VMM+"-"+r.Dir+"-vmm-cpu-s/GB")
		}
		if p := os.Getenv("GVMM_BENCH_NET_OUT"); p != "" {
			require.NoError(b, os.WriteFile(p, []byte(report.Markdown()), 0o644))
		}
	}
}

// buildStatic builds a Go main package without cgo, so it runs in L1.
func buildStatic(t testing.TB, dir, pkg string) string {
	out := filepath.Join(dir, filepath.Base(pkg))
	cmd := exec.Command("go", "build", "-o", out, pkg)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	b, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", b)
	return out
}

// qemuFiles is the rig's QEMU, stripped, with its shared libraries and
// the qboot firmware.
func qemuFiles(t testing.TB, dir, qemu string) []rig.File {
	files, err := rig.DynamicExecutable(qemu, qemuDir+"/qemu-system-x86_64", dir)
	require.NoError(t, err)
	return append(files, rig.File{Host: "/usr/share/qemu/qboot.rom", Guest: qemuDir + "/qboot.rom"})
}

// netSample is one transfer.
type netSample struct {
	VMM, Dir      string
	Wall          time.Duration
	CPU, GuestCPU time.Duration // the VMM process's, and the guest's share of it
	Bytes         int64
	Intact        bool
}

// clockTick is USER_HZ, the unit of /proc/PID/stat times (100 on x86).
const clockTick = 10 * time.Millisecond

var resultLine = regexp.MustCompile(`(?m)^result: vmm=(\S+) dir=(\S+) wall=([0-9.]+)\.\.([0-9.]+) cpu=(\d+)\.\.(\d+) guest=(\d+)\.\.(\d+) out=(.*)$`)

// parseNetResults reads the script's result lines. A transfer whose
// output is not "N SHA" (guest to host) or "N SHA N SHA" with matching
// halves (host to guest) is an error: the data did not arrive intact.
func parseNetResults(out string) ([]netSample, error) {
	var samples []netSample
	for _, m := range resultLine.FindAllStringSubmatch(out, -1) {
		s := netSample{VMM: m[1], Dir: m[2]}
		t0, _ := strconv.ParseFloat(m[3], 64)
		t1, _ := strconv.ParseFloat(m[4], 64)
		s.Wall = time.Duration((t1 - t0) * float64(time.Second))
		s.CPU = ticks(m[5], m[6])
		s.GuestCPU = ticks(m[7], m[8])
		f := strings.Fields(m[9])
		switch {
		case m[2] == "guest-to-host" && len(f) == 2:
			s.Bytes, _ = strconv.ParseInt(f[0], 10, 64)
			s.Intact = s.Bytes == netBytes && len(f[1]) == 64
		case m[2] == "host-to-guest" && len(f) == 4:
			s.Bytes, _ = strconv.ParseInt(f[2], 10, 64)
			s.Intact = f[0] == f[2] && f[1] == f[3] && s.Bytes == netBytes
		}
		if !s.Intact {
			return nil, fmt.Errorf("%s %s: transfer failed or corrupt: %q", s.VMM, s.Dir, m[9])
		}
		if s.Wall <= 0 {
			return nil, fmt.Errorf("%s %s: no wall time measured (%s..%s)", s.VMM, s.Dir, m[3], m[4])
		}
		samples = append(samples, s)
	}
	if len(samples) == 0 {
		return nil, fmt.Errorf("no result lines")
	}
	return samples, nil
}

func ticks(a, b string) time.Duration {
	x, _ := strconv.ParseInt(a, 10, 64)
	y, _ := strconv.ParseInt(b, 10, 64)
	return time.Duration(y-x) * clockTick
}

// netRow is the median of one VMM's transfers in one direction.
type netRow struct {
	VMM, Dir    string
	N           int
	MBps        float64 // median throughput, MB/s (10^6 bytes)
	MinMBps     float64
	MaxMBps     float64
	VMMCPUPerGB float64 // median VMM CPU (total minus guest) per GB, seconds
	AllCPUPerGB float64 // median process CPU incl. guest per GB, seconds
}

type netReport struct{ Rows []netRow }

func summariseNet(samples []netSample) netReport {
	groups := map[[2]string][]netSample{}
	for _, s := range samples {
		k := [2]string{s.VMM, s.Dir}
		groups[k] = append(groups[k], s)
	}
	var rep netReport
	for k, g := range groups {
		var mbps, vmmCPU, allCPU []float64
		for _, s := range g {
			gb := float64(s.Bytes) / 1e9
			mbps = append(mbps, float64(s.Bytes)/1e6/s.Wall.Seconds())
			vmmCPU = append(vmmCPU, (s.CPU-s.GuestCPU).Seconds()/gb)
			allCPU = append(allCPU, s.CPU.Seconds()/gb)
		}
		sort.Float64s(mbps)
		rep.Rows = append(rep.Rows, netRow{
			VMM: k[0], Dir: k[1], N: len(g),
			MBps: report.MedianFloat(mbps), MinMBps: mbps[0], MaxMBps: mbps[len(mbps)-1],
			VMMCPUPerGB: report.MedianFloat(vmmCPU), AllCPUPerGB: report.MedianFloat(allCPU),
		})
	}
	sort.Slice(rep.Rows, func(i, j int) bool {
		if rep.Rows[i].Dir != rep.Rows[j].Dir {
			return rep.Rows[i].Dir < rep.Rows[j].Dir // guest-to-host first
		}
		return rep.Rows[i].VMM < rep.Rows[j].VMM
	})
	return rep
}

// Markdown renders the table and the gvmm/QEMU ratios per direction.
func (r netReport) Markdown() string {
	var s strings.Builder
	fmt.Fprintf(&s, "virtio-net on a TAP, %d MiB per transfer, medians of %d (rig: kvm-amd in QEMU TCG; emulator time, compare within the run only)\n\n", netBytes>>20, netRounds)
	s.WriteString("| VMM | direction | MB/s (min–max) | VMM CPU s/GB | process CPU s/GB (incl. guest) |\n|---|---|---|---|---|\n")
	byKey := map[string]netRow{}
	for _, row := range r.Rows {
		byKey[row.VMM+" "+row.Dir] = row
		fmt.Fprintf(&s, "| %s | %s | %.2f (%.2f–%.2f) | %.1f | %.1f |\n", row.VMM, row.Dir, row.MBps, row.MinMBps, row.MaxMBps, row.VMMCPUPerGB, row.AllCPUPerGB)
	}
	s.WriteString("\n")
	for _, dir := range []string{"guest-to-host", "host-to-guest"} {
		g, okG := byKey["gvmm "+dir]
		q, okQ := byKey["qemu "+dir]
		if okG && okQ && q.MBps > 0 && q.VMMCPUPerGB > 0 {
			fmt.Fprintf(&s, "- %s: gvmm/QEMU throughput %.2f×, VMM CPU per GB %.2f×\n", dir, g.MBps/q.MBps, g.VMMCPUPerGB/q.VMMCPUPerGB)
		}
	}
	return s.String()
}
