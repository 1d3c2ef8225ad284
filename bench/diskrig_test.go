package bench

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"gvmm/internal/rig"
	"gvmm/internal/rig/rigtest"
)

// The disk benchmark (issue "The castle gets a disk"): the Debian VM of
// `make image-debian`, booted from its own disk by gvmm and by QEMU's
// microvm, alternating, in one L1 of the nested rig. Both boot the same
// kernel, the same initramfs and the same command line, from identical
// copies of the same disk image, with 2 vCPUs and 512 MiB, and get the
// same data disk for fio. Each is measured on its own bare command line:
//
//   - gvmm boot vmlinuz --initrd initrd.img --mem 512M --cpus 2 --acpi
//     --disk ROOT --disk DATA,serial=gvmm-data --cmdline CMD
//   - qemu-system-x86_64 -enable-kvm -cpu host -smp 2 -m 512M
//     -M microvm,x-option-roms=off,rtc=on,isa-serial=on -bios qboot.rom
//     -nodefaults -no-user-config -nographic -serial stdio -kernel vmlinuz
//     -initrd initrd.img -append CMD -drive …,if=none -device
//     virtio-blk-device,… (ROOT and DATA, DATA with serial=gvmm-data)
//
// microvm with its ACPI is QEMU's fastest machine for this kernel;
// virtio-blk-device is virtio over MMIO, gvmm's is virtio over PCI.
//
// Per boot: READY (the gvmm-ready unit's console line, after nginx),
// the login prompt, the VMM's RSS at READY split into guest RAM touched
// (the guest RAM mapping's resident pages, from smaps) and the rest, then,
// logged in on the serial console, fio on the data disk: 4 KiB sequential
// and random reads and writes, O_DIRECT, one job, queue depth 1 (psync),
// 5 s each. The rig's clocks are emulator time: compare the ratios.

// diskRuns is how many times each VMM boots.
const diskRuns = 3

// fioTests are the fio --rw modes, each 4 KiB.
var fioTests = []string{"read", "write", "randread", "randwrite"}

// diskScript is the L1 command.
func diskScript() string {
	var b strings.Builder
	b.WriteString(`set -u
chmod +x ` + qemuDir + `/qemu-system-x86_64
for d in vda vdb vdc; do i=0; while [ ! -b /dev/$d ] && [ $i -lt 30 ]; do sleep 1; i=$((i+1)); done; done
CMD="$(sed 's|root=/dev/vda|root=LABEL=gvmm-root|' /l2/cmdline)"
up() { read -r u _ </proc/uptime; echo "$u"; }
wait_for() { # PATTERN SECONDS
  i=0
  while ! grep -q "$1" /tmp/out 2>/dev/null; do
    sleep 0.05; i=$((i+1))
    [ $i -lt $(($2*20)) ] || return 1
  done
}
# mem PID: RSS in KiB, and of it the guest RAM (the one mapping of 500 MiB
# or more: the 512 MiB the guest was given).
mem() {
  total=$(awk '/^VmRSS:/{print $2}' /proc/$1/status)
  guest=$(awk '/^[0-9a-f]+-[0-9a-f]+ /{split($1,a,"-"); big=0} /^Size:/{big=($2>=512000)} /^Rss:/{if(big) g+=$2} END{print g+0}' /proc/$1/smaps)
  echo "rss_kib=$total guest_kib=$guest"
}
one() { # VMM RUN
  rm -f /tmp/in /tmp/out; mkfifo /tmp/in
  t0=$(up)
  if [ "$1" = gvmm ]; then
    gvmm boot /l2/vmlinuz --initrd /l2/initrd.img --mem 512M --cpus 2 --acpi \
      --disk /dev/vda --disk /dev/vdc,serial=gvmm-data --cmdline "$CMD" </tmp/in >/tmp/out 2>&1 &
  else
    ` + qemuDir + `/qemu-system-x86_64 -enable-kvm -cpu host -smp 2 -m 512M \
      -M microvm,x-option-roms=off,rtc=on,isa-serial=on -bios ` + qemuDir + `/qboot.rom \
      -nodefaults -no-user-config -nographic -serial stdio \
      -kernel /l2/vmlinuz -initrd /l2/initrd.img -append "$CMD" \
      -drive id=root,file=/dev/vdb,format=raw,if=none -device virtio-blk-device,drive=root \
      -drive id=data,file=/dev/vdc,format=raw,if=none -device virtio-blk-device,drive=data,serial=gvmm-data \
      </tmp/in >/tmp/out 2>&1 &
  fi
  pid=$!
  exec 3>/tmp/in
  if ! wait_for 'gvmm-ready: READY' 900; then
    echo "disk: vmm=$1 run=$2 failed"; cat /tmp/out; kill $pid; wait $pid; exec 3>&-; return
  fi
  t1=$(up); m=$(mem $pid)
  wait_for 'login:' 300; t2=$(up)
  sleep 1; echo root >&3
  wait_for 'root@gvmm-debian' 120
  echo 'for rw in ` + strings.Join(fioTests, " ") + `; do echo "fio""-result $rw $(fio --name=$rw --filename=/dev/disk/by-id/virtio-gvmm-data --direct=1 --rw=$rw --bs=4k --ioengine=psync --iodepth=1 --size=64M --runtime=5 --time_based 2>&1 | grep -o "IOPS=[0-9.]*k*" | head -n1)"; done; echo "fio""-done"' >&3
  wait_for '^fio-done' 300
  # Not anchored: the first line after a typed command starts with the
  # shell's bracketed-paste escape.
  fio=$(sed -n 's/.*fio-result \([a-z]*\) IOPS=\([0-9.k]*\).*/\1=\2/p' /tmp/out | tr -d '\r' | tr '\n' ' ')
  kill $pid; wait $pid 2>/dev/null; exec 3>&-
  echo "disk: vmm=$1 run=$2 ready=$t0..$t1 login=$t0..$t2 $m $fio"
}
`)
	for r := 1; r <= diskRuns; r++ {
		for _, vmm := range []string{"gvmm", "qemu"} {
			fmt.Fprintf(&b, "one %s %d\n", vmm, r)
		}
	}
	return b.String()
}

// diskSample is one boot's line.
type diskSample struct {
	VMM          string
	Ready, Login time.Duration
	RSS, Guest   int64              // KiB
	IOPS         map[string]float64 // fio test -> IOPS
}

var diskLine = regexp.MustCompile(`(?m)^disk: vmm=(\S+) run=\d+ (.*)$`)

// parseDisk reads the "disk:" lines; a failed boot is an error.
func parseDisk(out string) ([]diskSample, error) {
	var samples []diskSample
	for _, m := range diskLine.FindAllStringSubmatch(out, -1) {
		rest := strings.TrimSpace(m[2])
		if rest == "failed" {
			return nil, fmt.Errorf("%s never reached READY", m[1])
		}
		s := diskSample{VMM: m[1], IOPS: map[string]float64{}}
		for _, kv := range strings.Fields(rest) {
			k, v, ok := strings.Cut(kv, "=")
			if !ok {
				return nil, fmt.Errorf("bad field %q", kv)
			}
			var err error
			switch k {
			case "ready", "login":
				var d time.Duration
				if d, err = interval(v); k == "ready" {
					s.Ready = d
				} else {
					s.Login = d
				}
			case "rss_kib":
				s.RSS, err = strconv.ParseInt(v, 10, 64)
			case "guest_kib":
				s.Guest, err = strconv.ParseInt(v, 10, 64)
			default:
				s.IOPS[k], err = parseIOPS(v)
			}
			if err != nil {
				return nil, fmt.Errorf("field %s=%q: %w", k, v, err)
			}
		}
		for _, t := range fioTests {
			if _, ok := s.IOPS[t]; !ok {
				return nil, fmt.Errorf("%s: no fio %s result in %q", s.VMM, t, rest)
			}
		}
		samples = append(samples, s)
	}
	if len(samples) == 0 {
		return nil, fmt.Errorf("no disk: lines in the output")
	}
	return samples, nil
}

// interval parses "T0..T1" (seconds of L1 uptime) as T1-T0.
func interval(v string) (time.Duration, error) {
	a, b, ok := strings.Cut(v, "..")
	t0, err0 := strconv.ParseFloat(a, 64)
	t1, err1 := strconv.ParseFloat(b, 64)
	if !ok || err0 != nil || err1 != nil || t1 < t0 {
		return 0, fmt.Errorf("bad interval %q", v)
	}
	return time.Duration((t1 - t0) * float64(time.Second)), nil
}

// parseIOPS reads fio's IOPS figure: "812", "1234" or "12.3k".
func parseIOPS(v string) (float64, error) {
	mul := 1.0
	if s, ok := strings.CutSuffix(v, "k"); ok {
		v, mul = s, 1000
	}
	f, err := strconv.ParseFloat(v, 64)
	return f * mul, err
}

// diskTable is the Markdown report: medians per VMM and gvmm's ratio.
func diskTable(samples []diskSample) (string, error) {
	type metric struct {
		name, format string
		get          func(diskSample) float64
	}
	metrics := []metric{
		{"READY (nginx up), rig s", "%.1f", func(s diskSample) float64 { return s.Ready.Seconds() }},
		{"login prompt, rig s", "%.1f", func(s diskSample) float64 { return s.Login.Seconds() }},
		{"RSS at READY, MiB", "%.0f", func(s diskSample) float64 { return float64(s.RSS) / 1024 }},
		{"of it guest RAM touched, MiB", "%.0f", func(s diskSample) float64 { return float64(s.Guest) / 1024 }},
		{"of it the VMM's own, MiB", "%.1f", func(s diskSample) float64 { return float64(s.RSS-s.Guest) / 1024 }},
	}
	for _, t := range fioTests {
		metrics = append(metrics, metric{"fio 4 KiB " + t + ", IOPS", "%.0f", func(s diskSample) float64 { return s.IOPS[t] }})
	}
	var b strings.Builder
	fmt.Fprintf(&b, "| metric (rig) | gvmm | QEMU microvm | gvmm / QEMU |\n|---|--:|--:|--:|\n")
	for _, m := range metrics {
		med := map[string]float64{}
		for _, vmm := range []string{"gvmm", "qemu"} {
			var vals []float64
			for _, s := range samples {
				if s.VMM == vmm {
					vals = append(vals, m.get(s))
				}
			}
			if len(vals) == 0 {
				return "", fmt.Errorf("no %s samples", vmm)
			}
			med[vmm] = medianOf(vals)
		}
		ratio := "–"
		if med["qemu"] > 0 {
			ratio = fmt.Sprintf("%.2f×", med["gvmm"]/med["qemu"])
		}
		fmt.Fprintf(&b, "| %s | "+m.format+" | "+m.format+" | %s |\n", m.name, med["gvmm"], med["qemu"], ratio)
	}
	return b.String(), nil
}

// BenchmarkDiskRig boots the Debian disk VM with gvmm and with QEMU
// microvm, diskRuns times each, alternating, in one L1 (`make
// bench-disk`), and reports the medians. It needs GVMM_E2E=1, `make
// image-debian kernel-debian rig-qemu`. GVMM_BENCH_DISK_OUT names the
// Markdown file to write.
func BenchmarkDiskRig(b *testing.B) {
	rigtest.RequireE2E(b)
	root, err := rig.RepoRoot()
	require.NoError(b, err)
	build := func(name string) string {
		p := filepath.Join(root, "build", name)
		require.FileExists(b, p, "run make image-debian rig-qemu")
		return p
	}
	dir := b.TempDir()
	// Two identical copies of the image, one per VMM, and a data disk.
	var disks []rig.Disk
	for _, name := range []string{"root-gvmm.img", "root-qemu.img"} {
		p := filepath.Join(dir, name)
		out, err := exec.Command("cp", "--sparse=always", build("debian-image/image.ext4"), p).CombinedOutput()
		require.NoError(b, err, "%s", out)
		disks = append(disks, rig.Disk{Path: p})
	}
	data := filepath.Join(dir, "data.img")
	require.NoError(b, os.WriteFile(data, nil, 0o644))
	require.NoError(b, os.Truncate(data, 256<<20))
	disks = append(disks, rig.Disk{Path: data})
	files := append(qemuFiles(b, dir, build("rig-qemu/qemu-system-x86_64")),
		rig.File{Host: build("debian-image/vmlinuz"), Guest: "/l2/vmlinuz"},
		rig.File{Host: build("debian-image/initrd.img"), Guest: "/l2/initrd.img"},
		rig.File{Host: build("debian-image/cmdline"), Guest: "/l2/cmdline"})
	for i := 0; i < b.N; i++ {
		res := rigtest.Run(b, rig.Config{
			GVMM: rigtest.GVMM(b), Files: files, Disks: disks, MemoryMiB: 3072,
			Command: diskScript(), AttemptTimeout: 90 * time.Minute, Attempts: 1,
			// One L1 CPU: with two, L1 reset once two minutes into the
			// first Debian boot (a TCG SVM race, rig.Config.CPUModel).
			CPUs: 1,
		})
		samples, err := parseDisk(res.OutputText())
		require.NoError(b, err, "%s", res.OutputText())
		for _, l := range diskLine.FindAllString(res.OutputText(), -1) {
			b.Log(l)
		}
		table, err := diskTable(samples)
		require.NoError(b, err)
		b.Log("\n" + table)
		if p := os.Getenv("GVMM_BENCH_DISK_OUT"); p != "" {
			require.NoError(b, os.WriteFile(p, []byte(table), 0o644))
		}
	}
}
