package acpi

import "encoding/binary"

// Fixed ACPI Description Table (ACPI 6.5 §5.2.9, Table 5.9), signature
// "FACP", revision 6, minor version 5: 276 bytes. A hardware-reduced
// platform leaves the whole PM1/PM2/GPE/PM timer block zero (§5.2.9:
// "If the HW_REDUCED_ACPI flag is set, OSPM will ignore fields related to
// the ACPI HW register interface"), and with it FIRMWARE_CTRL: the FACS
// holds the global lock and waking vector, neither of which a
// hardware-reduced platform uses.
const (
	fadtSignature    = "FACP"
	fadtRevision     = 6
	fadtMinorVersion = 5
	fadtSize         = 276

	fadtSCIIntOff        = 46  // SCI_INT: the SCI's interrupt (a GSI on APIC systems)
	fadtIAPCBootArchOff  = 109 // IAPC_BOOT_ARCH, 2 bytes
	fadtFlagsOff         = 112 // Flags, 4 bytes
	fadtResetRegOff      = 116 // RESET_REG, a GAS
	fadtResetValueOff    = 128 // RESET_VALUE
	fadtMinorVersionOff  = 131 // FADT Minor Version
	fadtXDSDTOff         = 140 // X_DSDT, 8 bytes
	fadtSleepControlOff  = 244 // SLEEP_CONTROL_REG, a GAS
	fadtSleepStatusOff   = 256 // SLEEP_STATUS_REG, a GAS
	fadtHypervisorIDOff  = 268 // Hypervisor Vendor Identity, 8 bytes
	fadtHypervisorVendor = "GVMM"
)

// IAPC_BOOT_ARCH flags (§5.2.9.3, Table 5.11).
const (
	// iapcLegacyDevices: "the motherboard supports user-visible devices
	// on the LPC or ISA bus": COM1 and the CMOS RTC.
	iapcLegacyDevices = 1 << 0
	// iapc8042 (bit 1) is left clear: no 8042 for the OS to probe. Linux
	// then marks it X86_LEGACY_I8042_FIRMWARE_ABSENT and its i8042 driver
	// stops before touching a port. gvmm's i8042 model stays, for the
	// reset line.
	iapc8042 = 1 << 1
	// iapcVGANotPresent: "the OSPM must not blindly probe the VGA
	// hardware".
	iapcVGANotPresent = 1 << 2
	// iapcNoCMOSRTC (bit 5), "CMOS RTC Not Present", is left clear:
	// devices/rtc emulates one.
	iapcNoCMOSRTC = 1 << 5
)

// FADT Flags (Table 5.10).
const (
	// fadtWBINVD: the processor implements WBINVD correctly.
	fadtWBINVD = 1 << 0
	// fadtPowerButton and fadtSleepButton set mean "the button, if
	// present, is a control method device": there is no fixed one.
	fadtPowerButton = 1 << 4
	fadtSleepButton = 1 << 5
	// fadtResetRegSup: RESET_REG and RESET_VALUE are valid; Linux's
	// reboot tries them first (acpi_reboot, reboot=a).
	fadtResetRegSup = 1 << 10
	// fadtHWReducedACPI: the platform implements no ACPI fixed hardware
	// (§4.1).
	fadtHWReducedACPI = 1 << 20
)

// fadtIAPCBootArch and fadtFlags are what gvmm's FADT says.
const (
	fadtIAPCBootArch = iapcLegacyDevices | iapcVGANotPresent
	fadtFlags        = fadtWBINVD | fadtPowerButton | fadtSleepButton | fadtResetRegSup | fadtHWReducedACPI
)

// fadtConfig is what varies in the FADT.
type fadtConfig struct {
	dsdt                                uint64
	sciIRQ                              uint16
	sleepControl, sleepStatus, resetReg uint16
	resetValue                          uint8
}

// fadt builds the FADT.
func fadt(c fadtConfig) []byte {
	le := binary.LittleEndian
	b := make([]byte, fadtSize-sdtHeaderSize)
	at := func(off int) []byte { return b[off-sdtHeaderSize:] }
	le.PutUint16(at(fadtSCIIntOff), c.sciIRQ)
	le.PutUint16(at(fadtIAPCBootArchOff), fadtIAPCBootArch)
	le.PutUint32(at(fadtFlagsOff), fadtFlags)
	copy(at(fadtResetRegOff), ioRegister(c.resetReg))
	at(fadtResetValueOff)[0] = c.resetValue
	at(fadtMinorVersionOff)[0] = fadtMinorVersion
	// X_DSDT only: the 32-bit DSDT field "must be ignored" when X_DSDT
	// is usable, and ACPICA warns when both are set.
	le.PutUint64(at(fadtXDSDTOff), c.dsdt)
	copy(at(fadtSleepControlOff), ioRegister(c.sleepControl))
	copy(at(fadtSleepStatusOff), ioRegister(c.sleepStatus))
	copy(at(fadtHypervisorIDOff), fadtHypervisorVendor)
	return table(fadtSignature, fadtRevision, b)
}
