package devices

// Interrupt is one interrupt line from a device into the guest's interrupt
// controller. The VMM implements it with KVM_IRQ_LINE (or an irqfd); device
// models only see this interface, so they can be tested without KVM.
type Interrupt interface {
	// SetLevel drives the line high (asserted) or low.
	SetLevel(high bool) error
}

// Pulse signals an edge-triggered interrupt: the line goes high, then low.
// The in-kernel PIC and IO-APIC latch the rising edge.
func Pulse(irq Interrupt) error {
	if err := irq.SetLevel(true); err != nil {
		return err
	}
	return irq.SetLevel(false)
}
