package testguests

import (
	"debug/elf"
	"encoding/binary"
	"regexp"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"gvmm/boot/acpi"
	"gvmm/guest/ready"
	"gvmm/internal/testenv"
	"gvmm/vmm"
)

// setLine is one ".set NAME, VALUE" of common.inc with a plain number.
var setLine = regexp.MustCompile(`(?m)^\s*\.set\s+(\w+),\s*(0x[0-9a-fA-F]+|[0-9]+)\b`)

// setValues reads the plain-number .set lines of one embedded source.
func setValues(t *testing.T, file string) map[string]uint64 {
	t.Helper()
	src, err := sources.ReadFile(file)
	require.NoError(t, err)
	got := map[string]uint64{}
	for _, m := range setLine.FindAllStringSubmatch(string(src), -1) {
		v, err := strconv.ParseUint(m[2], 0, 64)
		require.NoError(t, err, m[0])
		got[m[1]] = v
	}
	return got
}

// The assembly cannot import Go: common.inc repeats vmm's layout and the
// READY byte, and this test holds the copies equal.
func TestCommonIncMatchesGo(t *testing.T) {
	got := setValues(t, "common.inc")
	for name, want := range map[string]uint64{
		"COM1":          vmm.COM1Port,
		"DEBUG_READY":   vmm.DebugPort,
		"DEBUG_EXIT":    vmm.DebugPort + 1,
		"READY_MAGIC":   ready.Magic,
		"BOOT_STACK":    vmm.BootStackAddr,
		"SLEEP_TYPE_S5": acpi.SleepTypeS5,
	} {
		assert.Equal(t, want, got[name], "common.inc %s", name)
	}
}

// xenPhys32Entry is XEN_ELFNOTE_PHYS32_ENTRY (xen/include/public/elfnote.h).
const xenPhys32Entry = 18

// Every guest built from the shared prologue carries the PVH note, and
// the note names the ELF's entry point.
func TestGuestsCarryThePVHNote(t *testing.T) {
	testenv.NeedTool(t, "gcc", "gcc binutils")
	guests, err := Build(t.TempDir())
	require.NoError(t, err)
	for _, name := range Names {
		f, err := elf.Open(guests[name])
		require.NoError(t, err, name)
		var entry uint32
		found := false
		for _, p := range f.Progs {
			if p.Type != elf.PT_NOTE {
				continue
			}
			b := make([]byte, p.Filesz)
			_, err := p.ReadAt(b, 0)
			require.NoError(t, err)
			// Elf32_Nhdr: namesz, descsz, type; "Xen\0"; the 4-byte entry.
			if len(b) >= 20 && binary.LittleEndian.Uint32(b[8:]) == xenPhys32Entry && string(b[12:15]) == "Xen" {
				entry, found = binary.LittleEndian.Uint32(b[16:]), true
			}
		}
		f.Close()
		require.True(t, found, "%s: no PVH note", name)
		assert.Equal(t, uint64(entry), f.Entry, "%s: the note names _start", name)
	}
}

// TestScriptOpsMatchAssembly: hostile.S's OP_* numbers are script.go's,
// and its exit statuses too.
func TestScriptOpsMatchAssembly(t *testing.T) {
	got := setValues(t, "hostile.S")
	names := []string{"EXIT", "OUT", "IN", "WRITE", "READ", "BWRITE", "BREAD", "CFGWRITE", "CFGREAD", "FIND",
		"EXPECT", "WAIT", "BWAIT", "REPEAT", "RDMSR", "WRMSR", "CPUID", "CLIHLT", "MARK", "SWEEP"}
	for i, n := range names {
		assert.Equal(t, uint64(i), got["OP_"+n], "OP_%s", n)
	}
	assert.Equal(t, uint64(len(names)), got["OP_COUNT"])
	assert.Equal(t, uint64(RecordSize), got["RECORD_SIZE"])
	assert.Equal(t, Op(len(names)-1), OpSweep)
	for name, want := range map[string]int{
		"STATUS_NO_SCRIPT": StatusNoScript, "STATUS_NOT_FOUND": StatusNotFound,
		"STATUS_WAIT_OUT": StatusWaitOut, "STATUS_BAD_OP": StatusBadOp, "STATUS_FAULT": StatusFault,
	} {
		assert.Equal(t, uint64(want), got[name], name)
	}
}
