// Package power emulates the three byte-wide registers through which a
// hardware-reduced ACPI platform is powered off and reset (ACPI 6.5
// §4.8.3.7, "Sleep Control and Status Registers", and §4.8.3.6, "Reset
// Register"). The FADT (boot/acpi) names their ports; in gvmm they sit at
// vmm.ACPIPMPort, one after the other:
//
//	+0  sleep control  write SLP_TYP (bits 2-4) with SLP_EN (bit 5) to
//	                   enter that sleep state
//	+1  sleep status   WAK_STS (bit 7): "the system has woken"; write 1
//	                   to clear
//	+2  reset          write RESET_VALUE to reset the machine
//
// gvmm supports one sleep state, soft-off: the DSDT's \_S5 says its
// SLP_TYP is acpi.SleepTypeS5, and writing it with SLP_EN powers the VM
// off (Linux's poweroff: acpi_power_off → acpi_hw_extended_sleep). Every
// other value is logged and ignored, and the guest then finds itself
// awake, as a real platform that refused to sleep would leave it. Any
// value but RESET_VALUE written to the reset register is ignored the same
// way.
package power
