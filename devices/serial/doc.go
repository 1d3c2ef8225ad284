// Package serial emulates a 16550A UART, the PC's serial port, well enough
// for Linux's 8250 driver and for firmware-style polled output.
//
// The UART is a pure register state machine: the guest's port accesses come
// in through Read and Write (offsets 0-7 from the port base), transmitted
// bytes go to an io.Writer, received bytes are queued with Receive, and the
// interrupt line is driven through devices.Interrupt. Nothing here knows
// about KVM or terminals, so the whole device is unit-tested in memory.
//
// Reference: the National Semiconductor/TI PC16550D data sheet, sections
// "Registers" (table 2) and "Interrupt Identification Register" (table 4).
package serial
