package acpi

// Differentiated System Description Table (ACPI 6.5 §5.2.11.1),
// signature "DSDT", revision 2 (integers are 64 bits). Its body is AML.
// In ASL, what gvmm writes reads:
//
//	Name (\_S5, Package () { 5, 5 })           // soft-off: SLP_TYP 5
//	Scope (\_SB) {
//	    Device (COM1) {                           // the 16550A UART
//	        Name (_HID, EisaId ("PNP0501"))
//	        Name (_UID, 1)
//	        Name (_CRS, ResourceTemplate () { IO (Decode16, 0x3F8, 0x3F8, 1, 8)  IRQNoFlags () {4} })
//	    }
//	    Device (RTC) {                            // the CMOS clock, no IRQ
//	        Name (_HID, EisaId ("PNP0B00"))
//	        Name (_CRS, ResourceTemplate () { IO (Decode16, 0x70, 0x70, 1, 2) })
//	    }
//	    Device (RES0) {                           // ports gvmm's own devices use
//	        Name (_HID, EisaId ("PNP0C02"))
//	        Name (_CRS, ResourceTemplate () { IO (…0x600, 3)  IO (…0x440, 2) })
//	    }
//	    Device (PCI0) {                           // the PCI host bridge
//	        Name (_HID, EisaId ("PNP0A03"))
//	        Name (_SEG, 0)  Name (_BBN, 0)  Name (_UID, 0)
//	        Name (_CRS, ResourceTemplate () {
//	            WordBusNumber (…0, 0…)            // bus 0 only
//	            IO (Decode16, 0xCF8, 0xCF8, 1, 8)  // configuration mechanism #1
//	            WordIO (…0x0000, 0x0CF7…)         // I/O windows around it
//	            WordIO (…0x0D00, 0xFFFF…)
//	            DWordMemory (…0xD0000000, 0xDFFFFFFF…)  // the BAR window
//	        })
//	        Name (_PRT, Package () { Package () { 0x000NFFFF, pin, 0, GSI }, … })
//	    }
//	}
//
// _S5 (§7.4.2) gives the SLP_TYP value the OS writes to the sleep control
// register to enter soft-off; the second element is for the unused
// SLP_TYPb. _PRT (§6.2.13) routes each device's INTx pin straight to a GSI
// (Source 0: "the device is hard-wired to a global system interrupt").
// A PCI root needs the _CRS windows: Linux assigns and accepts BARs only
// inside them. There is no i8042 device, as the FADT says.
const (
	dsdtSignature = "DSDT"
	dsdtRevision  = 2

	// SleepTypeS5 is the SLP_TYP value of soft-off in \_S5.
	SleepTypeS5 = 5

	// PNP IDs (the PNP ID registry, as used in _HID).
	pnpUART       = "PNP0501" // 16550A-compatible COM port
	pnpRTC        = "PNP0B00" // AT real-time clock
	pnpMotherRes  = "PNP0C02" // motherboard resources: reserved ranges
	pnpPCIHostBus = "PNP0A03" // PCI host bridge

	// pciAnyFunction in a _PRT address: "the function number must be
	// 0xFFFF" (§6.2.13), the device number goes in the high word.
	pciAnyFunction = 0xffff

	// PCI configuration mechanism #1's ports and the I/O windows around
	// them.
	pciConfigPort     = 0xcf8
	pciConfigPortSize = 8
	pciIOLowEnd       = 0xcf7
	pciIOHighStart    = 0xd00
	pciIOHighEnd      = 0xffff
)

// dsdtConfig is what varies in the DSDT.
type dsdtConfig struct {
	com1Port    uint16
	com1IRQ     uint8
	rtcPort     uint16
	rtcPortSize uint8
	// reserved are the ports of gvmm's own devices: base and size.
	reserved []portRange
	// pciMMIO is the PCI memory window [lo, hi].
	pciMMIOLo, pciMMIOHi uint32
	pci                  []PCIRoute
}

type portRange struct {
	base uint16
	size uint8
}

// dsdt builds the DSDT.
func dsdt(c dsdtConfig) []byte {
	var res [][]byte
	for _, r := range c.reserved {
		res = append(res, ioPort(r.base, r.size))
	}
	var routes [][]byte
	for _, r := range c.pci {
		routes = append(routes, amlPackage(
			amlDWord(uint32(r.Device)<<16|pciAnyFunction),
			amlInteger(uint64(r.Pin-1)), // _PRT pins count from 0 = INTA
			amlInteger(0),               // Source: none, a GSI
			amlInteger(uint64(r.GSI)),
		))
	}
	pci0 := []byte{}
	pci0 = append(pci0, amlName("_HID", amlDWord(eisaID(pnpPCIHostBus)))...)
	pci0 = append(pci0, amlName("_SEG", amlInteger(0))...)
	pci0 = append(pci0, amlName("_BBN", amlInteger(0))...)
	pci0 = append(pci0, amlName("_UID", amlInteger(0))...)
	pci0 = append(pci0, amlName("_CRS", resourceTemplate(
		wordWindow(resTypeBus, 0, 0, 0),
		ioPort(pciConfigPort, pciConfigPortSize),
		wordWindow(resTypeIO, resIOEntireRange, 0, pciIOLowEnd),
		wordWindow(resTypeIO, resIOEntireRange, pciIOHighStart, pciIOHighEnd),
		dwordMemWindow(c.pciMMIOLo, c.pciMMIOHi),
	))...)
	if len(routes) > 0 {
		pci0 = append(pci0, amlName("_PRT", amlPackage(routes...))...)
	}
	body := concat(
		amlName(`\_S5`, amlPackage(amlInteger(SleepTypeS5), amlInteger(SleepTypeS5))),
		amlScope(`\_SB`,
			amlDevice("COM1",
				amlName("_HID", amlDWord(eisaID(pnpUART))),
				amlName("_UID", amlInteger(1)),
				amlName("_CRS", resourceTemplate(ioPort(c.com1Port, 8), irq(c.com1IRQ))),
			),
			amlDevice("RTC",
				amlName("_HID", amlDWord(eisaID(pnpRTC))),
				amlName("_CRS", resourceTemplate(ioPort(c.rtcPort, c.rtcPortSize))),
			),
			amlDevice("RES0",
				amlName("_HID", amlDWord(eisaID(pnpMotherRes))),
				amlName("_CRS", resourceTemplate(res...)),
			),
			amlDevice("PCI0", pci0),
		),
	)
	return table(dsdtSignature, dsdtRevision, body)
}
