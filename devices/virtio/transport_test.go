package virtio_test

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"gvmm/devices/pci"
	"gvmm/devices/virtio"
	"gvmm/devices/virtio/console"
	"gvmm/devices/virtio/virtiotest"
	"gvmm/internal/testenv"
)

type consoleRig struct {
	m   *virtiotest.Machine
	t   *virtio.Transport
	d   *virtiotest.Driver
	out *testenv.SyncBuffer
}

// newConsoleRig attaches a real virtio-console (no input) to a test
// machine; the transport tests drive it.
func newConsoleRig(t *testing.T) *consoleRig {
	t.Helper()
	m, err := virtiotest.NewMachine()
	require.NoError(t, err)
	t.Cleanup(func() { m.Close() })
	out := &testenv.SyncBuffer{}
	c := console.New(out, nil)
	t.Cleanup(c.Close)
	tr, d, err := m.Attach("virtio-console", c)
	require.NoError(t, err)
	t.Cleanup(tr.Close)
	return &consoleRig{m: m, t: tr, d: d, out: out}
}

func TestTransportPCIIdentity(t *testing.T) {
	r := newConsoleRig(t)
	fn := r.t.Function()
	b := make([]byte, 2)
	fn.ReadConfig(pci.VendorIDOffset, b)
	assert.Equal(t, []byte{0xf4, 0x1a}, b)
	fn.ReadConfig(pci.DeviceIDOffset, b)
	assert.Equal(t, []byte{0x43, 0x10}, b, "0x1040 + type 3")
	one := make([]byte, 1)
	fn.ReadConfig(pci.RevisionIDOffset, one)
	assert.Equal(t, byte(1), one[0])
	fn.ReadConfig(pci.InterruptPinOffset, one)
	assert.Equal(t, byte(1), one[0], "INTA#")
	fn.ReadConfig(pci.InterruptLineOffset, one)
	assert.Equal(t, byte(virtiotest.TestIRQ), one[0])
	assert.Equal(t, uint64(2), r.d.Read(r.d.Common+virtiotest.NumQueues, 2))
}

func TestTransportFeatureNegotiation(t *testing.T) {
	r := newConsoleRig(t)
	offered := r.d.DeviceFeatures()
	assert.NotZero(t, offered&virtio.FeatureVersion1)
	assert.NotZero(t, offered&virtio.FeatureIndirectDesc)

	// A legacy driver (no VERSION_1) is refused: FEATURES_OK stays clear.
	_, err := r.d.Negotiate(console.FeatureEmergWrite)
	assert.ErrorIs(t, err, virtiotest.ErrFeaturesRefused)
	assert.False(t, r.t.NeedsReset(), "a refused feature set is not a broken device")

	// Features the device never offered are refused too.
	r.d.SetStatus(0)
	r.d.SetStatus(virtio.StatusAcknowledge | virtio.StatusDriver)
	r.d.WriteFeatures(virtio.FeatureVersion1 | 1<<40)
	r.d.SetStatus(virtio.StatusAcknowledge | virtio.StatusDriver | virtio.StatusFeaturesOK)
	assert.Zero(t, r.d.Status()&virtio.StatusFeaturesOK)

	f, err := r.d.Negotiate(^uint64(0))
	require.NoError(t, err)
	assert.Equal(t, offered, f)
	// After FEATURES_OK the driver's features are frozen.
	r.d.WriteFeatures(virtio.FeatureVersion1)
	r.d.Write(r.d.Common+virtiotest.DriverFeatureSelect, 4, 0)
	assert.Equal(t, offered&0xffff_ffff, r.d.Read(r.d.Common+virtiotest.DriverFeature, 4))
}

// TestTransportHostileDriver is the transport half of the hostile-guest
// list. Each case must end in DEVICE_NEEDS_RESET with a configuration
// interrupt, the host carrying on, and a reset bringing the device back.
func TestTransportHostileDriver(t *testing.T) {
	const tx = console.TransmitQueue
	for _, tc := range []struct {
		name string
		run  func(t *testing.T, r *consoleRig)
	}{
		{"queue enable before features are negotiated", func(t *testing.T, r *consoleRig) {
			r.d.SetStatus(virtio.StatusAcknowledge | virtio.StatusDriver)
			_, err := r.d.SetupQueue(0, 16)
			require.NoError(t, err)
		}},
		{"zero-sized queue", func(t *testing.T, r *consoleRig) {
			negotiate(t, r)
			q, err := r.d.NewQueueLayout(0, 16)
			require.NoError(t, err)
			q.Program()
			r.d.Write(r.d.Common+virtiotest.QueueSize, 2, 0)
			r.d.Write(r.d.Common+virtiotest.QueueEnable, 2, 1)
		}},
		{"queue size not a power of two", func(t *testing.T, r *consoleRig) {
			negotiate(t, r)
			q, err := r.d.NewQueueLayout(0, 16)
			require.NoError(t, err)
			q.Program()
			r.d.Write(r.d.Common+virtiotest.QueueSize, 2, 15)
			r.d.Write(r.d.Common+virtiotest.QueueEnable, 2, 1)
		}},
		{"rings outside RAM", func(t *testing.T, r *consoleRig) {
			negotiate(t, r)
			r.d.Write(r.d.Common+virtiotest.QueueSelect, 2, 0)
			r.d.Write(r.d.Common+virtiotest.QueueDesc, 8, 1<<40)
			r.d.Write(r.d.Common+virtiotest.QueueEnable, 2, 1)
		}},
		{"enable of a queue that does not exist", func(t *testing.T, r *consoleRig) {
			negotiate(t, r)
			r.d.Write(r.d.Common+virtiotest.QueueSelect, 2, 7)
			r.d.Write(r.d.Common+virtiotest.QueueEnable, 2, 1)
		}},
		{"DRIVER_OK without FEATURES_OK", func(t *testing.T, r *consoleRig) {
			r.d.SetStatus(virtio.StatusAcknowledge | virtio.StatusDriver | virtio.StatusDriverOK)
		}},
		{"DRIVER_OK with a queue missing", func(t *testing.T, r *consoleRig) {
			negotiate(t, r)
			_, err := r.d.SetupQueue(0, 16)
			require.NoError(t, err)
			r.d.DriverOK()
		}},
		{"descriptor outside RAM", func(t *testing.T, r *consoleRig) {
			q := start(t, r)[tx]
			q.WriteDesc(0, virtio.Desc{Addr: virtiotest.MemSize + 4096, Len: 64})
			q.PutAvail(0)
			q.Kick()
		}},
		{"descriptor length overflows", func(t *testing.T, r *consoleRig) {
			q := start(t, r)[tx]
			q.WriteDesc(0, virtio.Desc{Addr: virtiotest.MemSize - 16, Len: 0xffff_ffff})
			q.PutAvail(0)
			q.Kick()
		}},
		{"cyclic chain", func(t *testing.T, r *consoleRig) {
			q := start(t, r)[tx]
			q.WriteDesc(0, virtio.Desc{Addr: 0x2000, Len: 1, Flags: virtio.DescFlagNext, Next: 1})
			q.WriteDesc(1, virtio.Desc{Addr: 0x2000, Len: 1, Flags: virtio.DescFlagNext, Next: 0})
			q.PutAvail(0)
			q.Kick()
		}},
		{"next out of range", func(t *testing.T, r *consoleRig) {
			q := start(t, r)[tx]
			q.WriteDesc(0, virtio.Desc{Addr: 0x2000, Len: 1, Flags: virtio.DescFlagNext, Next: 16})
			q.PutAvail(0)
			q.Kick()
		}},
		{"writable before readable", func(t *testing.T, r *consoleRig) {
			q := start(t, r)[tx]
			q.WriteDesc(0, virtio.Desc{Addr: 0x2000, Len: 1, Flags: virtio.DescFlagWrite | virtio.DescFlagNext, Next: 1})
			q.WriteDesc(1, virtio.Desc{Addr: 0x2000, Len: 1})
			q.PutAvail(0)
			q.Kick()
		}},
		{"avail idx jumps ahead", func(t *testing.T, r *consoleRig) {
			q := start(t, r)[tx]
			q.SetAvailIdx(17)
			q.Kick()
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newConsoleRig(t)
			tc.run(t, r)
			assert.True(t, r.t.NeedsReset(), "device is broken")
			assert.NotZero(t, r.d.Status()&virtio.StatusDeviceNeedsReset, "driver sees DEVICE_NEEDS_RESET")
			assert.True(t, r.m.Line.Level(), "configuration interrupt raised")
			assert.Equal(t, uint8(virtio.ISRConfig), r.d.ReadISR()&virtio.ISRConfig)
			assert.Empty(t, r.out.String(), "nothing reached the terminal")

			// Kicks on a broken device are ignored, not processed.
			r.d.Write(r.d.Notify+4*tx, 2, tx)
			// A reset recovers, and the device works again.
			r.d.SetStatus(0)
			assert.False(t, r.t.NeedsReset())
			assert.Zero(t, r.d.Status())
			q := start(t, r)[tx]
			_, err := q.Add(virtiotest.Readable([]byte("alive")))
			require.NoError(t, err)
			q.Kick()
			r.waitOut(t, "alive")
		})
	}
}

// waitOut waits for the console's output goroutine to have written want.
func (r *consoleRig) waitOut(t *testing.T, want string) {
	t.Helper()
	require.Eventually(t, func() bool { return r.out.String() == want }, 5*time.Second, time.Millisecond,
		"console output %q, want %q", r.out.String(), want)
}

func negotiate(t *testing.T, r *consoleRig) {
	t.Helper()
	_, err := r.d.Negotiate(virtio.FeatureVersion1)
	require.NoError(t, err)
}

// start brings the console up and returns its driver queues.
func start(t *testing.T, r *consoleRig) []*virtiotest.Queue {
	t.Helper()
	_, qs, err := r.d.Start(virtio.FeatureVersion1, 16, 16) // ReceiveQueue, TransmitQueue
	require.NoError(t, err)
	require.False(t, r.t.NeedsReset())
	return qs
}

func TestTransportPCICfgCapability(t *testing.T) {
	r := newConsoleRig(t)
	fn := r.t.Function()
	// Find the VIRTIO_PCI_CAP_PCI_CFG capability (cfg_type 5).
	one := make([]byte, 1)
	cap := 0
	for p := 0x34; ; {
		fn.ReadConfig(p, one)
		if one[0] == 0 {
			break
		}
		p = int(one[0])
		fn.ReadConfig(p+3, one)
		if one[0] == 5 {
			cap = p
			break
		}
		p++
	}
	require.NotZero(t, cap, "PCI configuration access capability present")
	// Read num_queues (common cfg 0x12, 2 bytes) through the window.
	fn.WriteConfig(cap+4, []byte{0})             // bar
	fn.WriteConfig(cap+8, []byte{0x12, 0, 0, 0}) // offset
	fn.WriteConfig(cap+12, []byte{2, 0, 0, 0})   // length
	data := make([]byte, 4)
	fn.ReadConfig(cap+16, data)
	assert.Equal(t, []byte{2, 0, 0, 0}, data)
	// Write device_status = ACKNOWLEDGE through it.
	fn.WriteConfig(cap+8, []byte{0x14, 0, 0, 0})
	fn.WriteConfig(cap+12, []byte{1, 0, 0, 0})
	fn.WriteConfig(cap+16, []byte{virtio.StatusAcknowledge, 0, 0, 0})
	assert.Equal(t, uint8(virtio.StatusAcknowledge), r.d.Status())
}

func TestTransportINTxDisable(t *testing.T) {
	r := newConsoleRig(t)
	q := start(t, r)[console.TransmitQueue]
	fn := r.t.Function()
	fn.WriteConfig(pci.CommandOffset, []byte{pci.CommandMemorySpace, pci.CommandINTxDisable >> 8})
	_, err := q.Add(virtiotest.Readable([]byte("x")))
	require.NoError(t, err)
	q.Kick()
	assert.False(t, r.m.Line.Level(), "masked by Interrupt Disable")
	st := make([]byte, 2)
	fn.ReadConfig(pci.StatusOffset, st)
	assert.NotZero(t, st[0]&pci.StatusInterrupt, "status still shows the request")
	fn.WriteConfig(pci.CommandOffset, []byte{pci.CommandMemorySpace, 0})
	assert.True(t, r.m.Line.Level(), "unmasking asserts the pending interrupt")
	r.d.ReadISR()
	assert.False(t, r.m.Line.Level())
}

// TestRefusedFeaturesLogIsRateLimited is the regression test for a driver
// that asks for FEATURES_OK with a refused set in a loop: each attempt was
// a host log line.
func TestRefusedFeaturesLogIsRateLimited(t *testing.T) {
	var buf bytes.Buffer
	old := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(&buf, nil)))
	defer slog.SetDefault(old)

	r := newConsoleRig(t)
	for i := 0; i < 10000; i++ {
		r.d.SetStatus(0)
		r.d.SetStatus(virtio.StatusAcknowledge | virtio.StatusDriver)
		r.d.WriteFeatures(1 << 40) // never offered, and no VERSION_1
		r.d.SetStatus(virtio.StatusAcknowledge | virtio.StatusDriver | virtio.StatusFeaturesOK)
	}
	assert.Zero(t, r.d.Status()&virtio.StatusFeaturesOK, "still refused")
	n := strings.Count(buf.String(), "features refused")
	assert.Positive(t, n, "the refusal is logged")
	assert.LessOrEqual(t, n, 10, "but not 10,000 times")
	_, err := r.d.Negotiate(^uint64(0))
	require.NoError(t, err, "a good driver still gets in")
}
