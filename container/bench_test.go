package container

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// BenchmarkStartToReady measures, per start, the time from asking for a
// container to its workload's READY byte, for gvmm (in process, five
// namespaces and a cgroup) and, when installed, runc and crun running the
// same rootfs and workload. It reports the median. Run with:
//
//	go test -run '^$' -bench StartToReady -benchtime 20x ./container/
func BenchmarkStartToReady(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("needs root")
	}
	root := testRootfsB(b)
	b.Run("gvmm", func(b *testing.B) {
		dir := b.TempDir()
		var samples []time.Duration
		for i := 0; i < b.N; i++ {
			spec := DefaultSpec(root, []string{"/bin/ready"})
			t0 := time.Now()
			c, err := Start(Options{Spec: spec, RunDir: dir, Remove: true})
			if err != nil {
				b.Fatal(err)
			}
			if _, err := c.WaitReady(testTimeout); err != nil {
				b.Fatal(err)
			}
			samples = append(samples, time.Since(t0))
			_, _ = c.Wait()
		}
		reportMedian(b, samples)
	})
	for _, tool := range []string{"runc", "crun"} {
		b.Run(tool, func(b *testing.B) {
			if _, err := exec.LookPath(tool); err != nil {
				b.Skipf("%s not installed", tool)
			}
			bundle := ociBundle(b, root)
			var samples []time.Duration
			for i := 0; i < b.N; i++ {
				samples = append(samples, runOther(b, tool, bundle, i))
			}
			reportMedian(b, samples)
		})
	}
}

func testRootfsB(b *testing.B) string {
	rootfsOnce.Do(func() {
		dir, err := os.MkdirTemp("", "gvmm-rootfs-")
		if err != nil {
			rootfsOnce.err = err
			return
		}
		rootfsOnce.dir = dir
		rootfsOnce.err = buildRootfs(dir)
	})
	if rootfsOnce.err != nil {
		b.Fatal(rootfsOnce.err)
	}
	return rootfsOnce.dir
}

// ociBundle writes the same configuration gvmm uses, as a bundle the other
// runtimes read, with the READY pipe as fd 3 (--preserve-fds 1).
func ociBundle(b *testing.B, root string) string {
	bundle := b.TempDir()
	spec := DefaultSpec(root, []string{"/bin/ready"})
	spec.Process.Env = append(spec.Process.Env, ReadyEnv+"=3")
	spec.Linux.Resources = &specs.LinuxResources{}
	spec.Version = "1.0.2-dev" // what runc 1.1 and crun 1.8 write and accept
	data, err := json.Marshal(spec)
	if err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(bundle, ConfigFile), data, 0o644); err != nil {
		b.Fatal(err)
	}
	return bundle
}

// runOther starts tool on bundle and times exec to READY. crun 1.8 refuses
// a hybrid cgroup host ("cgroups in hybrid mode not supported") unless it
// cannot see /sys/fs/cgroup/unified/cgroup.controllers, so on such a host
// it runs in a private mount namespace with a tmpfs over the unified
// hierarchy (unshare -m), which makes it take its v1 path.
func runOther(b *testing.B, tool, bundle string, i int) time.Duration {
	r, w, err := os.Pipe()
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	id := "gvmm-bench-" + tool + "-" + strconv.Itoa(i)
	args := []string{tool, "run", "--preserve-fds", "1", "--bundle", bundle, id}
	if tool == "crun" && CgroupMode() != "v2" {
		script := `mount -t tmpfs none /sys/fs/cgroup/unified && exec "$@"`
		args = append([]string{"unshare", "-m", "--propagation", "private", "sh", "-c", script, "sh"}, args...)
	}
	cmd := exec.Command(args[0], args[1:]...)
	cmd.ExtraFiles = []*os.File{w}
	cmd.Stderr = os.Stderr
	t0 := time.Now()
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	w.Close()
	var buf [1]byte
	n, _ := r.Read(buf[:])
	d := time.Since(t0)
	_ = cmd.Wait()
	if n != 1 || buf[0] != ReadyMagic {
		b.Fatalf("%s: no READY", tool)
	}
	return d
}

func reportMedian(b *testing.B, samples []time.Duration) {
	sort.Slice(samples, func(i, j int) bool { return samples[i] < samples[j] })
	med := samples[len(samples)/2]
	b.ReportMetric(float64(med.Microseconds())/1000, "ms-median")
}
