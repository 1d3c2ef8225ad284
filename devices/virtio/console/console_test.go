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
	waitOut(t, r, "hello, hvc0\nsecond\n")
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
	waitOut(t, r, "X")
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
	waitOut(t, r, "again")
}

// waitOut waits for the output goroutine to have written want.
func waitOut(t *testing.T, r *rig, want string) {
	t.Helper()
	require.Eventually(t, func() bool { return r.out.String() == want }, 5*time.Second, time.Millisecond,
		"console output %q, want %q", r.out.String(), want)
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

// gate is a terminal that takes nothing until opened.
type gate struct {
	open chan struct{}
	out  testenv.SyncBuffer
}

func (g *gate) Write(p []byte) (int, error) {
	<-g.open
	return g.out.Write(p)
}

// TestConsoleTransmitNobodyReads: a terminal that takes no output does
// not stall the vCPU that notifies (issue 16): the notify returns, the
// device holds at most maxOutput bytes, and the chains past that stay the
// guest's. When the terminal reads again, everything arrives in order.
func TestConsoleTransmitNobodyReads(t *testing.T) {
	m, err := virtiotest.NewMachine()
	require.NoError(t, err)
	defer m.Close()
	g := &gate{open: make(chan struct{})}
	c := New(g, nil)
	defer c.Close()
	tr, d, err := m.Attach("virtio-console", c)
	require.NoError(t, err)
	defer tr.Close()
	_, qs, err := d.Start(virtio.FeatureVersion1, 16, 16)
	require.NoError(t, err)
	tx := qs[TransmitQueue]

	const chunk = 16 << 10 // 16 chains: 4 times maxOutput
	var want []byte
	for i := range 16 {
		b := make([]byte, chunk)
		for j := range b {
			b[j] = byte('a' + i)
		}
		want = append(want, b...)
		_, err := tx.Add(virtiotest.Readable(b))
		require.NoError(t, err)
	}
	kicked := make(chan struct{})
	go func() { tx.Kick(); close(kicked) }()
	select {
	case <-kicked:
	case <-time.After(5 * time.Second):
		t.Fatal("the notify waited for a terminal that does not read")
	}
	used := tx.TakeUsed()
	assert.LessOrEqual(t, len(used)*chunk, maxOutput+chunk, "the device took more than its buffer")
	assert.Less(t, len(used), 16, "chains beyond the buffer stay in the ring")

	close(g.open)
	for deadline := time.Now().Add(5 * time.Second); len(used) < 16 && time.Now().Before(deadline); {
		used = append(used, tx.TakeUsed()...)
		time.Sleep(time.Millisecond)
	}
	require.Len(t, used, 16, "every chain used once the terminal reads")
	require.Eventually(t, func() bool { return len(g.out.String()) == len(want) }, 5*time.Second, time.Millisecond)
	assert.Equal(t, string(want), g.out.String(), "in order, nothing lost")
	assert.False(t, tr.NeedsReset())
}

// TestConsoleCloseFlushes: output the guest wrote just before the VM
// stopped is written at Close; a terminal that takes nothing delays
// Close by flushWait only.
func TestConsoleCloseFlushes(t *testing.T) {
	r := newRig(t)
	r.start(t)
	_, err := r.tx.Add(virtiotest.Readable([]byte("reboot: Power down\n")))
	require.NoError(t, err)
	r.tx.Kick()
	r.c.Close()
	assert.Equal(t, "reboot: Power down\n", r.out.String(), "written by the time Close returns")

	m, err := virtiotest.NewMachine()
	require.NoError(t, err)
	defer m.Close()
	g := &gate{open: make(chan struct{})}
	defer close(g.open)
	c := New(g, nil)
	tr, d, err := m.Attach("virtio-console", c)
	require.NoError(t, err)
	defer tr.Close()
	_, qs, err := d.Start(virtio.FeatureVersion1, 16, 16)
	require.NoError(t, err)
	_, err = qs[TransmitQueue].Add(virtiotest.Readable([]byte("lost")))
	require.NoError(t, err)
	qs[TransmitQueue].Kick()
	t0 := time.Now()
	c.Close()
	assert.Less(t, time.Since(t0), flushWait+time.Second, "Close gives up on a stuck terminal")
}
