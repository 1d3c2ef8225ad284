package console

import (
	"io"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"gvmm/devices/virtio"
	"gvmm/devices/virtio/virtiotest"
	"gvmm/internal/testenv"
)

type rig struct {
	m      *virtiotest.Machine
	t      *virtio.Transport
	d      *virtiotest.Driver
	c      *Console
	out    *testenv.SyncBuffer
	in     *io.PipeWriter
	rx, tx *virtiotest.Queue
}

func newRig(t *testing.T) *rig {
	t.Helper()
	m, err := virtiotest.NewMachine()
	require.NoError(t, err)
	t.Cleanup(func() { m.Close() })
	pr, pw := io.Pipe()
	out := &testenv.SyncBuffer{}
	c := New(out, pr)
	t.Cleanup(func() { pw.Close(); c.Close() })
	tr, d, err := m.Attach("virtio-console", c)
	require.NoError(t, err)
	t.Cleanup(tr.Close)
	return &rig{m: m, t: tr, d: d, c: c, out: out, in: pw}
}

// start brings the device up the way Linux does: negotiate, both queues,
// DRIVER_OK.
func (r *rig) start(t *testing.T) {
	t.Helper()
	f, qs, err := r.d.Start(virtio.FeatureVersion1|FeatureEmergWrite, 16, 16)
	require.NoError(t, err)
	require.Equal(t, uint64(virtio.FeatureVersion1|FeatureEmergWrite), f)
	r.rx, r.tx = qs[ReceiveQueue], qs[TransmitQueue]
	require.Equal(t, uint8(virtio.StatusAcknowledge|virtio.StatusDriver|virtio.StatusFeaturesOK|virtio.StatusDriverOK), r.d.Status())
}

func TestConsoleTransmit(t *testing.T) {
	r := newRig(t)
	r.start(t)
	_, err := r.tx.Add(virtiotest.Readable([]byte("hello, ")), virtiotest.Readable([]byte("hvc0\n")))
	require.NoError(t, err)
	_, err = r.tx.Add(virtiotest.Readable([]byte("second\n")))
	require.NoError(t, err)
	r.tx.Kick()
	assert.Equal(t, "hello, hvc0\nsecond\n", r.out.String())
	used := r.tx.TakeUsed()
	require.Len(t, used, 2)
	assert.Equal(t, uint32(0), used[0].Len)
	assert.True(t, r.m.Line.Level(), "INTx asserted after used buffers")
	assert.Equal(t, uint8(virtio.ISRQueue), r.d.ReadISR())
	assert.False(t, r.m.Line.Level(), "reading the ISR deasserts INTx")
	assert.Equal(t, uint8(0), r.d.ReadISR(), "ISR is clear-on-read")
}

func TestConsoleReceive(t *testing.T) {
	r := newRig(t)
	r.start(t)
	// Input typed before the guest posts buffers waits in the device.
	_, err := r.in.Write([]byte("typed early"))
	require.NoError(t, err)
	_, err = r.rx.Add(virtiotest.Writable(4))
	require.NoError(t, err)
	_, err = r.rx.Add(virtiotest.Writable(64))
	require.NoError(t, err)
	r.rx.Kick()
	used := waitUsed(t, r, r.rx, 2)
	assert.Equal(t, "type", string(used[0].Data))
	assert.Equal(t, "d early", string(used[1].Data))

	// Input arriving while buffers are posted is delivered at once and
	// interrupts.
	_, err = r.rx.Add(virtiotest.Writable(64))
	require.NoError(t, err)
	r.rx.Kick()
	r.d.ReadISR()
	_, err = r.in.Write([]byte("ls\n"))
	require.NoError(t, err)
	used = waitUsed(t, r, r.rx, 1)
	assert.Equal(t, "ls\n", string(used[0].Data))
}

func TestConsoleEmergWriteAndConfig(t *testing.T) {
	r := newRig(t)
	r.start(t)
	r.d.Write(r.d.DeviceCfg+configEmergWr, 4, 'X')
	assert.Equal(t, "X", r.out.String())
	assert.Equal(t, uint64(1), r.d.Read(r.d.DeviceCfg+configMaxNrPorts, 4))
}

func TestConsoleResetAndRestart(t *testing.T) {
	r := newRig(t)
	r.start(t)
	r.d.SetStatus(0)
	assert.Equal(t, uint8(0), r.d.Status())
	r.start(t)
	_, err := r.tx.Add(virtiotest.Readable([]byte("again")))
	require.NoError(t, err)
	r.tx.Kick()
	assert.Equal(t, "again", r.out.String())
}

// waitUsed collects n used entries, waiting on the interrupt line for
// the ones the input goroutine delivers asynchronously.
func waitUsed(t *testing.T, r *rig, q *virtiotest.Queue, n int) []virtiotest.Used {
	t.Helper()
	var used []virtiotest.Used
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		used = append(used, q.TakeUsed()...)
		if len(used) >= n {
			return used
		}
		r.d.ReadISR()
		r.m.Line.WaitRaised(100 * time.Millisecond)
	}
	require.Len(t, used, n)
	return used
}
