package vmm_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"gvmm/internal/kvmtest"
	"gvmm/vmm"
)

// recorder is an ExitHandler that records port writes and can stop the
// vCPU on a chosen port.
type recorder struct {
	out      []byte
	stopPort uint16
	stop     func()
}

func (r *recorder) PortIO(port uint16, data []byte, write bool) error {
	if write && port == r.stopPort {
		r.stop()
		return nil
	}
	if write {
		r.out = append(r.out, data...)
	} else {
		for i := range data {
			data[i] = 0x5a
		}
	}
	return nil
}

func (r *recorder) MMIO(uint64, []byte, bool) error { return errors.New("unexpected MMIO") }

// newRealModeVM builds a VM with one vCPU in real mode at 0x1000 running
// code, the smallest possible KVM program.
func newRealModeVM(t *testing.T, code []byte, irqchip bool) (*vmm.VCPU, func()) {
	kvmtest.Require(t)
	sys, err := vmm.OpenSystem(vmm.DevKVM)
	require.NoError(t, err)
	mem, err := vmm.NewGuestMemory(4 << 20)
	require.NoError(t, err)
	vm, err := sys.CreateVM()
	require.NoError(t, err)
	require.NoError(t, vm.SetTSSAddr(vmm.TSSAddr))
	if irqchip {
		require.NoError(t, vm.CreateIRQChip())
	}
	require.NoError(t, vm.SetMemory(mem))
	_, err = mem.WriteAt(code, 0x1000)
	require.NoError(t, err)
	c, err := vm.CreateVCPU(0)
	require.NoError(t, err)
	sregs, err := c.Sregs()
	require.NoError(t, err)
	sregs.CS.Base, sregs.CS.Selector = 0, 0
	require.NoError(t, c.SetSregs(sregs))
	require.NoError(t, c.SetRegs(vmm.Regs{RIP: 0x1000, RFLAGS: 2}))
	return c, func() {
		c.Close()
		vm.Close()
		mem.Close()
		sys.Close()
	}
}

func TestRunRealModePortIOThenHalt(t *testing.T) {
	// mov $0x3f8,%dx; mov $'K',%al; out %al,(%dx); in (%dx),%al;
	// out %al,(%dx); hlt
	code := []byte{0xba, 0xf8, 0x03, 0xb0, 'K', 0xee, 0xec, 0xee, 0xf4}
	c, done := newRealModeVM(t, code, false)
	defer done()
	r := &recorder{}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := c.Run(ctx, r)
	assert.ErrorIs(t, err, vmm.ErrHalted, "without an irqchip, HLT exits to userspace")
	assert.Equal(t, []byte{'K', 0x5a}, r.out, "the OUT, then the IN's result written back out")

	// Each instruction that reached userspace was counted, where it went.
	n := c.ExitCounts()
	assert.Equal(t, uint64(2), n.Ports[vmm.PortKey{Port: 0x3f8, Write: true}])
	assert.Equal(t, uint64(1), n.Ports[vmm.PortKey{Port: 0x3f8, Write: false}])
	assert.Equal(t, uint64(3), n.Reasons[vmm.KVM_EXIT_IO])
	assert.Equal(t, uint64(1), n.Reasons[vmm.KVM_EXIT_HLT])

	// KVM counted them too, with every exit it handled itself.
	st, err := c.Stats()
	require.NoError(t, err)
	assert.Contains(t, st.ID, "vcpu-0")
	io, ok := st.Counter("io_exits")
	require.True(t, ok, "x86 KVM counts io_exits")
	assert.GreaterOrEqual(t, io, uint64(3))
	exits, ok := st.Counter("exits")
	require.True(t, ok)
	assert.GreaterOrEqual(t, exits, io)
}

// TestStopInterruptsSpinningVCPU: a cancel stops a vCPU that is inside
// the guest. The guest writes a port once and then spins; the test cancels
// only after that exit has reached the handler, so the vCPU has certainly
// entered the guest (and re-entered it to spin) before the cancel.
func TestStopInterruptsSpinningVCPU(t *testing.T) {
	// mov $0x80,%dx; out %al,(%dx); jmp .
	code := []byte{0xba, 0x80, 0x00, 0xee, 0xeb, 0xfe}
	c, done := newRealModeVM(t, code, true)
	defer done()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	entered := make(chan struct{})
	h := &signalOnPort{port: 0x80, seen: entered}
	errc := make(chan error, 1)
	go func() { errc <- c.Run(ctx, h) }()
	select {
	case <-entered:
	case err := <-errc:
		t.Fatalf("Run ended before the guest's first exit: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("the guest's port write did not arrive within 10 s")
	}
	cancel()
	select {
	case err := <-errc:
		assert.NoError(t, err, "a cancelled run ends cleanly")
	case <-time.After(10 * time.Second):
		t.Fatal("vCPU did not stop within 10 s of cancel")
	}
}

// signalOnPort closes seen at the first write to port.
type signalOnPort struct {
	port uint16
	seen chan struct{}
	once sync.Once
}

func (s *signalOnPort) PortIO(port uint16, data []byte, write bool) error {
	if write && port == s.port {
		s.once.Do(func() { close(s.seen) })
	}
	return nil
}

func (s *signalOnPort) MMIO(uint64, []byte, bool) error { return errors.New("unexpected MMIO") }

func TestStopBeforeRun(t *testing.T) {
	c, done := newRealModeVM(t, []byte{0xeb, 0xfe}, true)
	defer done()
	c.Stop()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	start := time.Now()
	assert.NoError(t, c.Run(ctx, &recorder{}))
	assert.Less(t, time.Since(start), 5*time.Second, "a stopped vCPU must not enter the guest")
}

func TestSystemQueries(t *testing.T) {
	kvmtest.Require(t)
	sys, err := vmm.OpenSystem(vmm.DevKVM)
	require.NoError(t, err)
	defer sys.Close()
	v, err := sys.APIVersion()
	require.NoError(t, err)
	assert.Equal(t, vmm.KVM_API_VERSION, v)
	assert.GreaterOrEqual(t, sys.MaxVCPUs(), 1)
	cpuid, err := sys.SupportedCPUID()
	require.NoError(t, err)
	assert.NotEmpty(t, cpuid)
}

func TestOpenSystemErrors(t *testing.T) {
	_, err := vmm.OpenSystem("/nonexistent/kvm")
	assert.ErrorIs(t, err, vmm.ErrNoKVM)
}
