package container

import (
	"os"
	"strconv"
	"syscall"
	"testing"
	"time"

	"gvmm/internal/testenv"
)

// BenchmarkRuntimeRSS reports the resident memory (VmRSS, KiB) of the
// runtime process while the workload runs (GVMM_MODE=stay): the gvmm CLI
// with and without gvmm-init beside it, and runc and crun, which also stay
// the container's parent in `run`. The median of b.N containers each.
//
//	go test -run '^$' -bench RuntimeRSS -benchtime 5x ./container/
func BenchmarkRuntimeRSS(b *testing.B) {
	testenv.NeedRoot(b, "containers")
	root := testRootfs(b)
	type sampler struct {
		name string
		rss  func(i int) int
	}
	var ss []sampler
	if with, without := gvmmBinaries(b); with != "" {
		for _, g := range []struct{ name, bin string }{{"gvmm-cli", with}, {"gvmm-cli-self", without}} {
			dir := b.TempDir()
			ss = append(ss, sampler{g.name, func(int) int {
				cmd, ready := startCLI(b, g.bin, dir, root, "GVMM_MODE=stay")
				if <-ready == 0 {
					b.Fatal("no READY")
				}
				kib := rssOf(b, cmd.Process.Pid)
				_ = cmd.Process.Signal(syscall.SIGTERM) // forwarded; ready exits
				_ = cmd.Wait()
				return kib
			}})
		}
	}
	for _, tool := range []string{"runc", "crun"} {
		if _, err := os.Stat("/usr/bin/" + tool); err != nil {
			if _, err := os.Stat("/usr/sbin/" + tool); err != nil {
				continue
			}
		}
		bundle := ociBundle(b, root, "stay")
		ss = append(ss, sampler{tool, func(i int) int {
			r, w, err := os.Pipe()
			if err != nil {
				b.Fatal(err)
			}
			defer r.Close()
			id := "gvmm-rss-" + tool + "-" + strconv.Itoa(i)
			cmd := otherCmd(tool, bundle, id)
			cmd.ExtraFiles = []*os.File{w}
			if err := cmd.Start(); err != nil {
				b.Fatal(err)
			}
			w.Close()
			var buf [1]byte
			if n, _ := r.Read(buf[:]); n != 1 {
				b.Fatalf("%s: no READY", tool)
			}
			// unshare and sh exec crun in their place: the pid is crun's.
			kib := rssOf(b, cmd.Process.Pid)
			_ = cmd.Process.Signal(syscall.SIGTERM) // forwarded; ready exits
			_ = cmd.Wait()
			return kib
		}})
	}
	samples := make([][]time.Duration, len(ss))
	for i := 0; i < b.N; i++ {
		for j, s := range ss {
			// Stored as durations only to share median(); 1 "ms" = 1 KiB.
			samples[j] = append(samples[j], time.Duration(s.rss(i))*time.Millisecond)
		}
	}
	for j, s := range ss {
		b.ReportMetric(median(samples[j]), s.name+"-KiB")
	}
}

// rssOf reads VmRSS once the runtime has settled after READY.
func rssOf(b *testing.B, pid int) int {
	time.Sleep(100 * time.Millisecond)
	kib, err := ResidentKiB(pid)
	if err != nil {
		b.Fatal(err)
	}
	return kib
}
