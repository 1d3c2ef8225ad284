package console

import (
	"strings"
	"testing"
	"time"

	"gvmm/devices/virtio/virtiotest"
	"gvmm/internal/testenv"
)

// FuzzConsole runs a hostile driver program (virtiotest.RunOps) against
// a virtio-console, then resets it and checks it still prints. Seeds are
// in testdata/fuzz/FuzzConsole.
func FuzzConsole(f *testing.F) {
	f.Add([]byte{virtiotest.OpStart, virtiotest.OpAdd, 1, 5, 0, 0, 0, virtiotest.OpKick, 1})
	f.Add([]byte{virtiotest.OpStart, virtiotest.OpDesc, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 1, 0, 0, 0, virtiotest.OpAvailIdx, 1, 1, 0, virtiotest.OpKick, 1})
	f.Add([]byte{virtiotest.OpStatus, 3, virtiotest.OpCommonWrite, 0x1c, 1, 1, 0, 0, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, ops []byte) {
		m, err := virtiotest.NewMachine()
		if err != nil {
			t.Fatal(err)
		}
		defer m.Close()
		var out testenv.SyncBuffer
		c := New(&out, nil)
		defer c.Close()
		tr, d, err := m.Attach("virtio-console", c)
		if err != nil {
			t.Fatal(err)
		}
		defer tr.Close()
		d.RunOps(2, ops)

		// Whatever the driver did, a reset brings the device back. (What
		// the program printed may still be on its way: the output
		// goroutine writes it in order, before "ok".)
		_, qs, err := d.Start(^uint64(0), 16, 16) // ReceiveQueue, TransmitQueue
		if err != nil {
			t.Fatalf("after reset: %v", err)
		}
		if _, err := qs[TransmitQueue].Add(virtiotest.Readable([]byte("ok"))); err != nil {
			t.Skip("test memory used up by the program")
		}
		qs[TransmitQueue].Kick()
		for deadline := time.Now().Add(5 * time.Second); !strings.HasSuffix(out.String(), "ok") && time.Now().Before(deadline); {
			time.Sleep(time.Millisecond)
		}
		if tr.NeedsReset() || !strings.HasSuffix(out.String(), "ok") {
			t.Fatalf("device broken after reset: needs reset %v, output %q", tr.NeedsReset(), out.String())
		}
	})
}
