package virtio_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"gvmm/devices/virtio"
	"gvmm/devices/virtio/console"
	"gvmm/devices/virtio/virtiotest"
)

// startMSIX brings the console up the way Linux's vp_find_vqs_msix does:
// MSI-X enabled and vectors mapped before DRIVER_OK.
func startMSIX(t *testing.T, r *consoleRig) []*virtiotest.Queue {
	t.Helper()
	negotiate(t, r)
	rx, err := r.d.SetupQueue(console.ReceiveQueue, 16)
	require.NoError(t, err)
	tx, err := r.d.SetupQueue(console.TransmitQueue, 16)
	require.NoError(t, err)
	require.NoError(t, r.d.EnableMSIX(2))
	r.d.DriverOK()
	return []*virtiotest.Queue{rx, tx}
}

func TestMSIXQueueInterrupt(t *testing.T) {
	r := newConsoleRig(t)
	q := startMSIX(t, r)[console.TransmitQueue]
	_, err := q.Add(virtiotest.Readable([]byte("msi")))
	require.NoError(t, err)
	q.Kick()
	assert.Equal(t, []virtiotest.MSIMessage{{Address: virtiotest.MSIAddress, Data: virtiotest.MSIDataBase + 2}}, r.m.MSI.Take(),
		"transmitq (queue 1) interrupts on vector 2")
	assert.False(t, r.m.Line.Level(), "no INTx while MSI-X is enabled")
	assert.Zero(t, r.d.ReadISR()&virtio.ISRQueue, "no ISR queue bit with MSI-X")
}

func TestMSIXMaskAndPending(t *testing.T) {
	r := newConsoleRig(t)
	q := startMSIX(t, r)[console.TransmitQueue]
	table := r.d.MSIXTable()
	vecCtl := table + 2*16 + 12
	r.d.Write(vecCtl, 4, 1) // mask vector 2
	_, err := q.Add(virtiotest.Readable([]byte("x")))
	require.NoError(t, err)
	q.Kick()
	assert.Empty(t, r.m.MSI.Take(), "masked vector does not fire")
	pba := table + (virtio.MSIXPBAOffset - virtio.MSIXTableOffset)
	assert.Equal(t, uint64(1<<2), r.d.Read(pba, 8), "pending bit set")
	r.d.Write(vecCtl, 4, 0) // unmask: the pending message goes out
	assert.Len(t, r.m.MSI.Take(), 1)
	assert.Zero(t, r.d.Read(pba, 8))
}

func TestMSIXVectorMapping(t *testing.T) {
	r := newConsoleRig(t)
	q := startMSIX(t, r)[console.TransmitQueue]
	// A vector the table does not have reads back as NO_VECTOR.
	r.d.Write(r.d.Common+virtiotest.QueueSelect, 2, console.TransmitQueue)
	r.d.Write(r.d.Common+virtiotest.QueueMSIXVector, 2, 99)
	assert.Equal(t, uint64(0xffff), r.d.Read(r.d.Common+virtiotest.QueueMSIXVector, 2))
	// NO_VECTOR: the queue does not interrupt at all.
	_, err := q.Add(virtiotest.Readable([]byte("quiet")))
	require.NoError(t, err)
	q.Kick()
	assert.Empty(t, r.m.MSI.Take())
	r.waitOut(t, "quiet")

	// A broken queue raises the configuration vector (0).
	q.SetAvailIdx(100)
	q.Kick()
	assert.True(t, r.t.NeedsReset())
	assert.Equal(t, []virtiotest.MSIMessage{{Address: virtiotest.MSIAddress, Data: virtiotest.MSIDataBase}}, r.m.MSI.Take())
	assert.NotZero(t, r.d.ReadISR()&virtio.ISRConfig)

	// Reset unmaps the vectors (§4.1.4.3).
	r.d.SetStatus(0)
	assert.Equal(t, uint64(0xffff), r.d.Read(r.d.Common+virtiotest.ConfigMSIXVector, 2))
}
