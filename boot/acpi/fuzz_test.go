package acpi

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"
)

// FuzzBuild gives Build arbitrary platforms: a CPU count and INTx routes,
// three bytes each (device, pin, GSI). Build either refuses the platform
// with ErrBadPlatform or returns tables an OS can walk: every checksum
// zero, every pointer inside the area, a MADT with one LAPIC per CPU.
func FuzzBuild(f *testing.F) {
	f.Add(uint16(1), []byte{})
	f.Add(uint16(2), []byte{1, 1, 10, 2, 1, 11})
	f.Add(uint16(255), []byte{31, 4, 23})
	f.Add(uint16(0), []byte{32, 5, 24})
	f.Fuzz(func(t *testing.T, cpus uint16, routes []byte) {
		p := Platform{CPUs: int(cpus)}
		for len(routes) >= 3 {
			p.PCI = append(p.PCI, PCIRoute{Device: routes[0], Pin: routes[1], GSI: routes[2]})
			routes = routes[3:]
		}
		tb, err := Build(p)
		if err != nil {
			if !errors.Is(err, ErrBadPlatform) {
				t.Fatalf("Build(%+v): %v, not ErrBadPlatform", p, err)
			}
			return
		}
		tables := guestView(t, tb)
		require.Contains(t, tables, "APIC")
		require.Contains(t, tables, "DSDT")
	})
}
