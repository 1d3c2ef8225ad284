package virtio

import (
	"fmt"
	"log/slog"
)

// writeStatus runs the device status state machine (§2.1, §3.1.1). The
// driver only adds bits, in the order ACKNOWLEDGE, DRIVER, FEATURES_OK,
// DRIVER_OK; writing 0 resets the device. At FEATURES_OK the device
// checks the driver's features and leaves the bit clear if it cannot
// accept them (§2.1.2); at DRIVER_OK it activates.
//
// Precondition: t.mu held.
func (t *Transport) writeStatus(v uint8) {
	c := &t.cc
	if v == 0 {
		t.resetLocked()
		return
	}
	v &^= StatusDeviceNeedsReset // set by the device only
	old := c.status
	if old&^v != 0 {
		slog.Debug("virtio: driver tried to clear status bits without a reset", "device", t.name, "old", old, "new", v)
		return
	}
	added := v &^ old
	if added&StatusFeaturesOK != 0 {
		if err := t.checkFeatures(); err != nil {
			t.log.Warn("virtio: features refused", "device", t.name, "err", err)
			v &^= StatusFeaturesOK
		}
	}
	c.status = v
	if added&StatusDriverOK != 0 {
		t.activate()
	}
}

// checkFeatures validates the driver's features before FEATURES_OK:
// a subset of what we offered, and VIRTIO_F_VERSION_1 (this is a modern
// device only; §6.1: a device without legacy support MAY fail
// FEATURES_OK when the driver does not accept VERSION_1).
//
// Precondition: t.mu held.
func (t *Transport) checkFeatures() error {
	f := t.cc.driverFeatures
	if extra := f &^ t.offered; extra != 0 {
		return fmt.Errorf("driver accepted features %#x that were not offered", extra)
	}
	if f&FeatureVersion1 == 0 {
		return fmt.Errorf("driver did not accept VIRTIO_F_VERSION_1 (legacy drivers are not supported)")
	}
	return nil
}

// activate starts the device at DRIVER_OK with the enabled queues.
//
// Precondition: t.mu held.
func (t *Transport) activate() {
	c := &t.cc
	if c.status&StatusFeaturesOK == 0 {
		t.fail(fmt.Errorf("%w: DRIVER_OK without FEATURES_OK", ErrQueueConfig))
		return
	}
	if t.NeedsReset() {
		return // a queue was refused earlier; stay broken until reset
	}
	queues := make([]*Queue, len(c.queues))
	for i, q := range c.queues {
		queues[i] = q.q
	}
	err := t.dev.Activate(Activation{Mem: t.mem, Features: c.driverFeatures, Queues: queues, Signal: signal{t}})
	if err != nil {
		t.fail(fmt.Errorf("activate: %w", err))
		return
	}
	c.active = true
	t.irqMu.Lock()
	t.irqQueues = queues
	t.irqMu.Unlock()
	t.notifyActive.Store(true)
}

// resetLocked resets device and transport to their initial state (§2.4):
// the device stops, the registers, ISR and NEEDS_RESET clear, INTx drops.
//
// Precondition: t.mu held.
func (t *Transport) resetLocked() {
	t.notifyActive.Store(false)
	if t.cc.active {
		t.dev.Reset()
	}
	t.cc.reset(t.dev.QueueMaxSizes())
	t.resetVectors()
	t.irqMu.Lock()
	t.isr = 0
	t.needsReset = false
	t.fn.SetINTx(false)
	t.irqMu.Unlock()
}
