package e2e

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"gvmm/internal/rig"
	"gvmm/internal/rig/rigtest"
)

// debianDiskScript boots the Debian VM of `make image-debian` from its own
// disk twice in one L1, and drives it through its serial console as a
// person would: log in as root, type commands, read the answers.
//
// L1 sees the host's image files as /dev/vda (the root disk, a copy of the
// image) and /dev/vdb (a small data disk); gvmm gives them to L2 as vda,
// and vdb read-only.
//
// Boot 1: READY (the gvmm-ready unit, after nginx), the host fetches
// nginx's page over the TAP, then at the login prompt: CPUs online, the
// read-only disk as the guest sees it and a write to it, systemd-analyze,
// and a file written and synced; then gvmm is killed with SIGKILL.
// Boot 2: the file is there; poweroff ends gvmm.
//
// The typed commands print their markers through shell arithmetic or
// quotes ("SYN""CED") so that the console's echo of the command line
// cannot match them. A boot that does not reach its login prompt is
// tried once more and says so ("=== retry"), as the other rig tests do
// for the TCG SVM races of NESTED.md: in 4 runs while this test was
// written, the second boot (after the SIGKILL) reached its prompt late,
// after about 120 rig seconds instead of 35, twice, and triple-faulted
// once; the first boot never failed. The cause is not known yet.
const debianDiskScript = `
set -u
code=-1
chmod +x /bin/httpc
L2='gvmm boot /l2/vmlinuz --initrd /l2/initrd.img --mem 512M --cpus 2 --acpi --stats'
CMDLINE="$(cat /l2/cmdline) gvmm.ip=192.168.100.2/24"
i=0; while [ ! -b /dev/vdb ] && [ $i -lt 30 ]; do sleep 1; i=$((i+1)); done
wait_for() { # FILE PATTERN SECONDS
  i=0
  while ! grep -q "$2" "$1"; do
    sleep 1; i=$((i+1))
    if [ $i -ge "$3" ]; then echo "timeout waiting for $2 in $1"; return 1; fi
  done
}
up() { read -r u _ </proc/uptime; echo "$u"; }
# boot NAME: start gvmm in the background, its console on a FIFO we type into.
boot() {
  rm -f /tmp/$1.in; mkfifo /tmp/$1.in
  echo "boot-start $1: $(up)"
  $L2 --disk /dev/vda --disk /dev/vdb,ro --net tap=gvmmtap0 \
    --cmdline "$CMDLINE" </tmp/$1.in >/tmp/$1.out 2>/tmp/$1.err &
  pid=$!
  exec 3>/tmp/$1.in
}
# login: wait for the prompt and log in as root (no password).
login() {
  wait_for /tmp/$1.out 'login:' 400 || return 1
  echo "login-prompt $1: $(up)"
  sleep 1
  echo root >&3
  wait_for /tmp/$1.out 'root@gvmm-debian' 120
}
# stop SECONDS: wait that long for gvmm to end by itself, then stop it
# (SIGTERM: gvmm says "terminating on signal" and exits 0, which the test
# tells from a poweroff by the stop reason).
stop() {
  i=0
  while kill -0 $pid 2>/dev/null && [ $i -lt $1 ]; do sleep 1; i=$((i+1)); done
  kill $pid 2>/dev/null
  wait $pid
}
show() { # NAME: its console and gvmm's stderr, between markers
  echo "=== begin $1"
  cat /tmp/$1.out
  echo
  cat /tmp/$1.err
  echo "=== end $1 exit $2"
}

# failed NAME: a boot that never reached its prompt: stop it, show its
# last lines, and let the caller try once more.
failed() {
  kill -9 $pid 2>/dev/null; wait $pid; exec 3>&-
  echo "=== retry $1: no login prompt (the rig's TCG SVM races, NESTED.md); its last lines:"
  tail -n 20 /tmp/$1.out; tail -n 8 /tmp/$1.err
}
first() {
  boot debian-disk-1
  if wait_for /tmp/debian-disk-1.err 'gvmm: READY' 300; then
    echo "ready $(up)"
    echo "nginx-page: $(httpc get http://192.168.100.2/ | grep -o 'Welcome to nginx' | head -n1)"
  fi
  login debian-disk-1 || { failed debian-disk-1; return 1; }
  echo 'echo "cpus=$(nproc)"; echo "vdb-ro=$(cat /sys/block/vdb/ro)"; echo "vdb-write: $(dd if=/dev/zero of=/dev/vdb bs=512 count=1 2>&1 | head -n1)"' >&3
  echo 'systemd-analyze | head -n1 | sed "s/^/analyze: /"; echo "persisted-$((6*7))" >/root/gvmm-persist; sync; echo "SYN""CED"' >&3
  wait_for /tmp/debian-disk-1.out '^SYNCED' 120
  kill -9 $pid
  wait $pid
  code=$?
  exec 3>&-
}
second() {
  boot debian-disk-2
  login debian-disk-2 || { failed debian-disk-2; return 1; }
  echo 'echo "persist: $(cat /root/gvmm-persist)"; systemd-analyze | head -n1 | sed "s/^/analyze2: /"; systemd-analyze blame | head -n5 | sed "s/^/blame2: /"; poweroff' >&3
  stop 300
  code=$?
  exec 3>&-
}
first || first
show debian-disk-1 $code
second || second
show debian-disk-2 $code
ip link show gvmmtap0 >/dev/null 2>&1 && echo "tap-left: yes" || echo "tap-left: no"
`

// TestDebianDisk is the disk issue's end-to-end check: Debian's cloud
// kernel and Debian's own initramfs, root on virtio-blk, systemd as PID 1.
func TestDebianDisk(t *testing.T) {
	rigtest.RequireE2E(t)
	dir := t.TempDir()
	img := buildFile(t, "debian-image/image.ext4", "image-debian")
	root := filepath.Join(dir, "root.img")
	cp := exec.Command("cp", "--sparse=always", img, root)
	out, err := cp.CombinedOutput()
	require.NoError(t, err, "%s", out)
	data := filepath.Join(dir, "data.img")
	payload := []byte(strings.Repeat("gvmm read-only disk\n", 1<<14)) // 320 KiB
	require.NoError(t, os.WriteFile(data, payload, 0o644))
	before := fileSum(t, data)

	res := rigtest.Run(t, rig.Config{
		GVMM: gvmm(t),
		Files: []rig.File{
			{Host: buildHTTPC(t), Guest: "/bin/httpc"},
			{Host: buildFile(t, "debian-image/vmlinuz", "image-debian"), Guest: "/l2/vmlinuz"},
			{Host: buildFile(t, "debian-image/initrd.img", "image-debian"), Guest: "/l2/initrd.img"},
			{Host: buildFile(t, "debian-image/cmdline", "image-debian"), Guest: "/l2/cmdline"},
		},
		Disks:          []rig.Disk{{Path: root}, {Path: data}},
		MemoryMiB:      3072,
		Command:        debianDiskScript,
		AttemptTimeout: 1800 * time.Second,
		Attempts:       1,
		// One L1 CPU, as TestVirtioConsoleAndNet: L2's two vCPUs share
		// it. With two, L2 disk traffic met the TCG SVM races
		// (rig.Config.CPUModel): an L2 triple fault, and an L1 reset in
		// the disk benchmark.
		CPUs: 1,
	})
	text := res.OutputText()
	for _, r := range retries(text) {
		t.Log(r)
	}
	cases := splitCases(text)
	field := func(key string) string {
		m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(key) + `: ?(.*?)\r?$`).FindStringSubmatch(text)
		if m == nil {
			t.Errorf("no %q line", key)
			return ""
		}
		return m[1]
	}
	one, ok := cases["debian-disk-1"]
	require.True(t, ok, "no result for the first boot:\n%s", text)
	for _, m := range statsLine.FindAllString(one.text, -1) {
		t.Logf("rig (kvm-amd in QEMU TCG) Debian from disk: %s", m)
	}
	assert.Regexp(t, `gvmm: READY at [0-9]+ us`, one.text, "the gvmm-ready unit ran after nginx")
	assert.Equal(t, "Welcome to nginx", field("nginx-page"), "nginx answered on the TAP")
	assert.Contains(t, one.text, "cpus=2", "both vCPUs, through the MADT")
	assert.Contains(t, one.text, "vdb-ro=1", "the guest sees the read-only disk as read-only")
	assert.Regexp(t, `vdb-write: .*(Read-only|Operation not permitted)`, one.text, "and cannot write it")
	assert.Regexp(t, `(?m)^SYNCED`, one.text, "the file was written and synced")
	for _, m := range regexp.MustCompile(`(analyze2?: Startup|blame2: +[0-9]).*`).FindAllString(text, -1) {
		t.Logf("rig systemd-%s", strings.TrimRight(m, "\r"))
	}

	two, ok := cases["debian-disk-2"]
	require.True(t, ok, "no result for the second boot:\n%s", text)
	assert.Contains(t, two.text, "persist: persisted-42", "what boot 1 synced survived its SIGKILL")
	assert.Equal(t, 0, two.exit, "poweroff in the guest ends gvmm with 0:\n%s", two.text)
	assert.Contains(t, two.text, "reason=poweroff")
	assert.Equal(t, "no", field("tap-left"), "gvmm removed its TAP both times")
	assert.Equal(t, before, fileSum(t, data), "the read-only disk is unchanged")
}

func fileSum(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}
