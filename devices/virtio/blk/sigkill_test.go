package blk

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"gvmm/devices/virtio/virtiotest"
)

// envChild makes the test binary the child of TestFlushedWriteSurvivesSIGKILL.
const envChild = "GVMM_BLK_SIGKILL_CHILD"

// TestFlushedWriteSurvivesSIGKILL: a write the device completed and a
// FLUSH after it are in the image when the process that ran the device
// is killed with SIGKILL right after: nothing waits in gvmm's memory. The
// child process (this test binary again) runs the device, writes a
// sector, flushes, says so and waits to be killed.
func TestFlushedWriteSurvivesSIGKILL(t *testing.T) {
	if path := os.Getenv(envChild); path != "" {
		sigkillChild(t, path)
		return
	}
	path := newImage(t)
	cmd := exec.Command(os.Args[0], "-test.run=^TestFlushedWriteSurvivesSIGKILL$")
	cmd.Env = append(os.Environ(), envChild+"="+path)
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	defer cmd.Process.Kill()
	done := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), "flushed") {
				done <- sc.Text()
				return
			}
		}
		done <- ""
	}()
	select {
	case line := <-done:
		require.Equal(t, "flushed", line, "the child wrote and flushed")
	case <-time.After(30 * time.Second):
		t.Fatal("the child did not flush within 30 s")
	}
	require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
	err = cmd.Wait()
	var ee *exec.ExitError
	require.ErrorAs(t, err, &ee)
	assert.Equal(t, syscall.SIGKILL, ee.Sys().(syscall.WaitStatus).Signal())
	img, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.True(t, bytes.Equal(pattern(4*SectorSize, 42), img[64*SectorSize:68*SectorSize]), "the flushed write is in the image")
}

// sigkillChild runs a device on path, writes and flushes, reports and
// waits for its SIGKILL.
func sigkillChild(t *testing.T, path string) {
	r := newRig(t, path, false)
	if s := r.write(t, 64, pattern(4*SectorSize, 42)); s != StatusOK {
		t.Fatalf("write status %d", s)
	}
	u := r.do(t, virtiotest.Readable(header(TypeFlush, 0)), virtiotest.Writable(1))
	if status(t, u) != StatusOK {
		t.Fatal("flush failed")
	}
	os.Stdout.WriteString("flushed\n")
	time.Sleep(time.Minute) // killed before this ends
}
