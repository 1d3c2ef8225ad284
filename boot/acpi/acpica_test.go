package acpi

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"gvmm/internal/testenv"
)

// These tests hand the tables to ACPICA, the reference implementation
// that Linux's ACPI core is built from (drivers/acpi/acpica), in its
// user-space form: iasl disassembles every table, acpiexec loads them as a
// kernel would and evaluates the objects Linux reads. An independent
// decoder catches what tests written from the same reading of the spec
// would miss.

// writeTables builds a two-CPU platform and writes each table to dir as
// SIG.dat.
func writeTables(t *testing.T, dir string) {
	t.Helper()
	tb, err := Build(Platform{CPUs: 2, PCI: []PCIRoute{{Device: 2, Pin: 1, GSI: 10}}})
	require.NoError(t, err)
	for sig, b := range guestView(t, tb) {
		require.NoError(t, os.WriteFile(filepath.Join(dir, sig+".dat"), b, 0o644))
	}
}

func TestIASLDisassemblesEveryTable(t *testing.T) {
	iasl := testenv.NeedTool(t, "iasl", "acpica-tools")
	dir := t.TempDir()
	writeTables(t, dir)
	want := map[string][]string{
		"FACP": {"Hardware Reduced (V5) : 1", "8042 Present on ports 60/64 (V2) : 0",
			"Reset Register Supported (V2) : 1", "Address : 0000000000000600", "Value to cause reset : 01"},
		"APIC": {"Local Apic ID : 01", "I/O Apic ID : 02", "Source : 09"},
		"DSDT": {`Name (\_S5, Package (0x02)`, `EisaId ("PNP0A03")`, `EisaId ("PNP0501")`,
			"IRQNoFlags ()\n                    {4}", "0x0002FFFF", "0xDFFFFFFF"},
		"XSDT": {"ACPI Table Address   0"},
	}
	for sig, lines := range want {
		out, err := exec.Command(iasl, "-d", filepath.Join(dir, sig+".dat")).CombinedOutput()
		require.NoError(t, err, "iasl -d %s: %s", sig, out)
		assert.NotContains(t, strings.ToLower(string(out)), "error", "iasl on %s", sig)
		dsl, err := os.ReadFile(filepath.Join(dir, sig+".dsl"))
		require.NoError(t, err)
		for _, l := range lines {
			assert.Contains(t, squeeze(string(dsl)), squeeze(l), "%s disassembly", sig)
		}
	}
}

func TestACPIExecEvaluates(t *testing.T) {
	acpiexec := testenv.NeedTool(t, "acpiexec", "acpica-tools")
	dir := t.TempDir()
	writeTables(t, dir)
	cmd := exec.Command(acpiexec, "-b", `evaluate \_S5_; evaluate \_SB.PCI0._PRT; evaluate \_SB.COM1._HID`,
		"-di", "DSDT.dat", "FACP.dat", "APIC.dat")
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	s := squeeze(string(out))
	assert.Contains(t, s, squeeze("[Package] Contains 2 Elements: [Integer] = 0000000000000005 [Integer] = 0000000000000005"), "\\_S5: SLP_TYP 5")
	assert.Contains(t, s, squeeze("[Integer] = 000000000002FFFF [Integer] = 0000000000000000 [Integer] = 0000000000000000 [Integer] = 000000000000000A"), "_PRT: slot 2 INTA → GSI 10")
	assert.Contains(t, s, "[Integer] = 000000000105D041", "COM1's _HID")
	assert.NotContains(t, strings.ToLower(s), "error", "acpiexec found a problem")
}

// squeeze collapses runs of white space, so that the comparison ignores
// the tools' column alignment.
func squeeze(s string) string { return strings.Join(strings.Fields(s), " ") }
