// Package rtc emulates the PC's CMOS real-time clock, the Motorola
// MC146818A (and its register-compatible successors), well enough for
// Linux's mc146818 code (drivers/rtc/rtc-mc146818-lib.c) and the rtc-cmos
// driver: time and date read from the host's clock, status registers A to
// D, and the 114 bytes of battery-backed CMOS RAM.
//
// Why a VMM needs one: without it, every read of port 0x71 answers 0xff, so
// register A always shows UIP ("update in progress") and the kernel polls it
// until it gives up, 10,000 times, twice: 40,000 exits per boot, more than
// all of the serial console's. With UIP clear the kernel reads the time in a
// few dozen exits, and the guest starts with the right wall-clock time.
//
// The chip sits behind two ports: writing a register number to the index
// port (0x70; bit 7 is the NMI mask on PCs, which this model ignores) selects what the data port (0x71) reads and writes.
//
// What the model leaves out: interrupts (periodic, alarm, update-ended:
// the enable bits in register B are stored, register C never shows a flag,
// IRQ 8 is never raised), the square-wave output, and daylight saving.
// Register A's divider and rate bits are stored; the clock runs from the
// host whatever they say.
//
// Reference: Motorola MC146818A datasheet, "Address Map" (registers 0-13)
// and "Registers A-D"; Linux include/linux/mc146818rtc.h names the bits.
package rtc
