package machine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"gvmm/boot"
	"gvmm/boot/acpi"
	"gvmm/devices"
	"gvmm/devices/power"
	"gvmm/devices/rtc"
	"gvmm/devices/serial"
	"gvmm/guest/ready"
	"gvmm/internal/sandbox"
	"gvmm/vmm"
)

// Machine is a built VM, ready to run once.
type Machine struct {
	cfg   Config
	sys   *vmm.System
	vm    *vmm.VM
	mem   *vmm.GuestMemory
	vcpus []*vmm.VCPU
	pio   *devices.Bus
	mmio  *devices.Bus
	uart  *serial.UART

	// pciIRQs are the PCI interrupt routes for the MP table.
	pciIRQs []boot.PCIInterrupt
	// closers release devices and host resources (TAPs) in reverse order.
	closers []func() error

	stopOnce sync.Once
	stopped  chan struct{}
	result   Result
	readyAt  atomic.Int64
	// firstOutputAt is the time of the guest's first console byte.
	firstOutputAt atomic.Int64
}

// New builds a VM from cfg. On error, everything created so far is
// released again.
func New(cfg Config) (_ *Machine, err error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.KVMPath == "" {
		cfg.KVMPath = vmm.DevKVM
	}
	if cfg.ConsoleOut == nil {
		cfg.ConsoleOut = io.Discard
	}
	m := &Machine{
		cfg:     cfg,
		pio:     devices.NewBus("pio"),
		mmio:    devices.NewBus("mmio"),
		stopped: make(chan struct{}),
	}
	m.readyAt.Store(-1)
	m.firstOutputAt.Store(-1)
	cfg.ConsoleOut = firstWriteTimer{w: cfg.ConsoleOut, at: &m.firstOutputAt}
	m.cfg.ConsoleOut = cfg.ConsoleOut
	defer func() {
		if err != nil {
			m.Close()
		}
	}()
	if err := m.createVM(); err != nil {
		return nil, err
	}
	if err := m.attachDevices(); err != nil {
		return nil, err
	}
	if err := m.attachPCI(); err != nil {
		return nil, err
	}
	entry, err := m.loadKernel()
	if err != nil {
		return nil, err
	}
	if err := m.createVCPUs(entry); err != nil {
		return nil, err
	}
	return m, nil
}

// createVM opens KVM, maps guest memory and creates the VM with its
// in-kernel interrupt controllers. api.rst orders it: the TSS and identity
// map addresses and the irqchip come before the first vCPU.
func (m *Machine) createVM() error {
	sys, err := vmm.OpenSystem(m.cfg.KVMPath)
	if err != nil {
		return err
	}
	m.sys = sys
	if max := sys.MaxVCPUs(); m.cfg.CPUs > max {
		return fmt.Errorf("%w: %d asked, KVM allows %d", vmm.ErrTooManyVCPUs, m.cfg.CPUs, max)
	}
	newMemory := vmm.NewGuestMemory
	if m.cfg.HugeTLB {
		newMemory = vmm.NewHugeTLBGuestMemory
	}
	if m.mem, err = newMemory(m.cfg.MemSize); err != nil {
		return err
	}
	if m.vm, err = sys.CreateVM(); err != nil {
		return err
	}
	// Memory first, as Firecracker does: each later step that registers
	// in-kernel devices waits for an SRCU grace period, and measured here
	// the memory slot is cheapest while the VM is still empty.
	steps := []func() error{
		func() error { return m.vm.SetMemory(m.mem) },
		func() error { return m.vm.SetTSSAddr(vmm.TSSAddr) },
		func() error { return m.vm.SetIdentityMapAddr(vmm.IdentityMapAddr) },
		m.vm.CreateIRQChip,
		m.vm.CreatePIT2,
	}
	for _, step := range steps {
		if err := step(); err != nil {
			return err
		}
	}
	return nil
}

// attachDevices puts the legacy devices on the port bus.
func (m *Machine) attachDevices() error {
	m.uart = serial.New(m.cfg.ConsoleOut, m.vm.IRQLine(vmm.COM1IRQ))
	kbd := devices.NewI8042(func() { m.requestStop(Result{Reason: Reset}) })
	// The ACPI power registers: \_S5 and RESET_REG (boot/acpi). They
	// stay on the bus without --acpi; nothing then tells the guest.
	pm := &power.Device{
		OffType:      acpi.SleepTypeS5,
		ResetValue:   acpi.ResetValue,
		PowerOff:     func() { m.requestStop(Result{Reason: Poweroff}) },
		ResetMachine: func() { m.requestStop(Result{Reason: Reset}) },
	}
	debug := &devices.DebugDevice{
		Start: ready.Start(),
		Ready: m.ready,
		Exit: func(status uint8) {
			m.requestStop(Result{Reason: GuestExit, ExitCode: int(status)})
		},
	}
	regs := []struct {
		name       string
		base, size uint64
		dev        devices.Device
	}{
		{"com1", vmm.COM1Port, serial.NumRegisters, m.uart},
		{"i8042-data", vmm.I8042DataPort, 1, kbd.DataPort()},
		{"i8042-command", vmm.I8042CommandPort, 1, kbd.CommandPort()},
		{"cmos-rtc", vmm.CMOSPort, vmm.CMOSPortSize, rtc.New(time.Now)},
		{"acpi-power", vmm.ACPIPMPort, vmm.ACPIPMPortSize, pm},
		{"gvmm-debug", vmm.DebugPort, vmm.DebugPortSize, debug},
	}
	for _, r := range regs {
		if err := m.pio.Register(r.name, r.base, r.size, r.dev); err != nil {
			return err
		}
	}
	return nil
}

// ready records the READY event (once) and tells the caller.
func (m *Machine) ready(us int64) {
	if !m.readyAt.CompareAndSwap(-1, us) {
		return
	}
	if m.cfg.OnReady != nil {
		m.cfg.OnReady(us)
	}
}

// loadKernel opens the kernel and initrd and hands them to the loader.
func (m *Machine) loadKernel() (*boot.Entry, error) {
	bf, err := openBootFiles(&m.cfg)
	if err != nil {
		return nil, err
	}
	defer bf.Close()
	var tables *acpi.Tables
	if m.cfg.ACPI {
		routes := make([]acpi.PCIRoute, 0, len(m.pciIRQs))
		for _, p := range m.pciIRQs {
			routes = append(routes, acpi.PCIRoute{Device: p.Device, Pin: p.Pin, GSI: p.IRQ})
		}
		if tables, err = acpi.Build(acpi.Platform{CPUs: m.cfg.CPUs, PCI: routes}); err != nil {
			return nil, err
		}
		bf.cfg.RSDP = tables.RSDP()
	}
	entry, err := boot.Load(m.mem, bf.cfg)
	if err != nil {
		return nil, fmt.Errorf("load kernel %s: %w", m.cfg.Kernel, err)
	}
	// Both descriptions: the MP table for kernels without ACPI (the
	// minimal kernel), ACPI for the rest. A kernel with both prefers ACPI.
	if err := boot.WriteMPTable(m.mem, m.cfg.CPUs, m.pciIRQs...); err != nil {
		return nil, err
	}
	if tables != nil {
		if err := tables.Write(m.mem); err != nil {
			return nil, err
		}
	}
	return entry, nil
}

// createVCPUs creates and initialises every vCPU; vCPU 0 gets the boot
// state, the others wait in the kernel for the guest's INIT/SIPI.
func (m *Machine) createVCPUs(entry *boot.Entry) error {
	supported, err := m.sys.SupportedCPUID()
	if err != nil {
		return err
	}
	for i := 0; i < m.cfg.CPUs; i++ {
		c, err := m.vm.CreateVCPU(i)
		if err != nil {
			return err
		}
		m.vcpus = append(m.vcpus, c)
		if err := initVCPU(c, supported); err != nil {
			return fmt.Errorf("vCPU %d: %w", i, err)
		}
	}
	return setupBootCPU(m.vcpus[0], entry)
}

// Memory returns the guest memory (for tests and for measuring it).
func (m *Machine) Memory() *vmm.GuestMemory { return m.mem }

// Run runs the VM until it stops and returns why. Cancelling ctx stops it
// with Reason Stopped.
func (m *Machine) Run(ctx context.Context) Result {
	if m.cfg.Input != nil && m.cfg.Console != ConsoleVirtio {
		go m.pumpInput()
	}
	if m.cfg.Sandbox {
		// From here on gvmm reads what the guest writes. An existing
		// TAP's host address is taken back at exit over netlink,
		// which needs CAP_NET_ADMIN.
		netAdmin := m.cfg.Net != nil && m.cfg.Net.HostAddr.IsValid()
		if err := sandbox.Enter(sandbox.Options{NetAdmin: netAdmin, Log: m.cfg.SandboxLog}); err != nil {
			return Result{Reason: Failure, Err: err}
		}
	}
	var wg sync.WaitGroup
	handler := exitHandler{pio: m.pio, mmio: m.mmio}
	setupDone := ready.Since().Microseconds()
	for _, c := range m.vcpus {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := c.Run(ctx, handler)
			r := resultFromVCPU(err)
			if r.Reason == Shutdown {
				r.CPUState = cpuState(c)
			}
			m.requestStop(r)
		}()
	}
	select {
	case <-ctx.Done():
		m.requestStop(Result{Reason: Stopped})
	case <-m.stopped:
	}
	for _, c := range m.vcpus {
		c.Stop()
	}
	wg.Wait()
	if m.uart != nil {
		m.uart.Close()
	}
	r := m.result
	r.ReadyAt = m.readyAt.Load()
	r.SetupDoneAt = setupDone
	r.FirstOutputAt = m.firstOutputAt.Load()
	for _, c := range m.vcpus {
		r.Exits.Add(c.ExitCounts()) // the vCPUs have returned from Run
	}
	r.KVM, r.KVMErr = m.kvmCounters()
	r.GuestResident, _ = m.mem.Resident() // 0 if mincore fails: a report, not a stop reason
	r.HugePages = m.mem.HugePages()
	r.HugeTLB = m.mem.HugeTLB()
	return r
}

// kvmCounters sums KVM's cumulative per-vCPU counters over the vCPUs.
func (m *Machine) kvmCounters() (map[string]uint64, error) {
	sum := map[string]uint64{}
	for _, c := range m.vcpus {
		st, err := c.Stats()
		if err != nil {
			return nil, err
		}
		for _, s := range st.Stats {
			if s.Type == vmm.StatsCumulative && len(s.Values) == 1 {
				sum[s.Name] += s.Values[0]
			}
		}
	}
	return sum, nil
}

// requestStop records the first reason to stop; later ones are ignored.
func (m *Machine) requestStop(r Result) {
	m.stopOnce.Do(func() {
		m.result = r
		close(m.stopped)
	})
}

// pumpInput copies the input stream to the UART until it ends or the VM
// stops.
func (m *Machine) pumpInput() {
	buf := make([]byte, 256)
	for {
		n, err := m.cfg.Input.Read(buf)
		if n > 0 {
			select {
			case <-m.stopped:
				return
			default:
			}
			m.uart.Receive(buf[:n])
		}
		if err != nil {
			if !errors.Is(err, io.EOF) {
				slog.Debug("console input", "err", err)
			}
			return
		}
	}
}

// firstWriteTimer records when the first byte reaches the console.
type firstWriteTimer struct {
	w  io.Writer
	at *atomic.Int64
}

func (f firstWriteTimer) Write(p []byte) (int, error) {
	if f.at.Load() < 0 {
		f.at.CompareAndSwap(-1, ready.Since().Microseconds())
	}
	return f.w.Write(p)
}

// Close releases the vCPUs, the VM, guest memory and /dev/kvm.
func (m *Machine) Close() error {
	var errs []error
	for i := len(m.closers) - 1; i >= 0; i-- {
		errs = append(errs, m.closers[i]())
	}
	m.closers = nil
	for _, c := range m.vcpus {
		errs = append(errs, c.Close())
	}
	m.vcpus = nil
	if m.vm != nil {
		errs = append(errs, m.vm.Close())
		m.vm = nil
	}
	if m.mem != nil {
		errs = append(errs, m.mem.Close())
		m.mem = nil
	}
	if m.sys != nil {
		errs = append(errs, m.sys.Close())
		m.sys = nil
	}
	return errors.Join(errs...)
}

// Run builds a VM from cfg, runs it and releases it.
func Run(ctx context.Context, cfg Config) (Result, error) {
	m, err := New(cfg)
	if err != nil {
		return Result{}, err
	}
	defer m.Close()
	return m.Run(ctx), nil
}
