package guest

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/u-root/mkuimage/cpio"
)

// FuzzCPIO writes an archive of fuzzer-made entries with the cpio writer
// (writeCPIOFile), reads it back (ReadCPIO) and unpacks it (UnpackCPIO)
// next to a directory it must not touch. Each entry is four fields: kind
// (directory, file, symlink, fifo), name length, name, data length, data
// (a file's content or a symlink's target). Names and targets are
// arbitrary: "..", absolute, through symlinks. Invariants: no panic; the
// writer refuses what it cannot write faithfully (a NUL in a name, an
// empty name), and its archive reads back with the same names; outside the
// target nothing appears or changes, whatever unpacking refused.
func FuzzCPIO(f *testing.F) {
	entry := func(kind byte, name, data string) []byte {
		return append(append(append([]byte{kind, byte(len(name))}, name...), byte(len(data))), data...)
	}
	f.Add(append(entry(0, "etc", ""), entry(1, "etc/motd", "hi")...))
	f.Add(append(entry(2, "up", "../outside"), entry(1, "up/owned", "x")...))
	f.Add(entry(1, "../outside/owned", "x"))
	f.Add(append(entry(2, "abs", "/"), entry(1, "abs/tmp/owned", "x")...))
	f.Add(append(entry(3, "fifo", ""), entry(1, "fifo/x", "x")...))
	f.Fuzz(func(t *testing.T, spec []byte) {
		var records []cpio.Record
		for len(spec) >= 2 {
			kind, n := spec[0]%4, int(spec[1])
			spec = spec[2:]
			if n > len(spec) {
				break
			}
			name := string(spec[:n])
			spec = spec[n:]
			data := ""
			if len(spec) > 0 {
				m := min(int(spec[0]), len(spec)-1)
				data, spec = string(spec[1:1+m]), spec[1+m:]
			}
			switch kind {
			case 0:
				records = append(records, cpio.Directory(name, 0o755))
			case 1:
				records = append(records, cpio.StaticFile(name, data, 0o644))
			case 2:
				records = append(records, cpio.Symlink(name, data))
			case 3:
				records = append(records, cpio.Record{Info: cpio.Info{Name: name, Mode: cpio.S_IFIFO | 0o644}})
			}
		}
		base := t.TempDir()
		outside := filepath.Join(base, "outside")
		if err := os.Mkdir(outside, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(outside, "marker"), []byte("m"), 0o644); err != nil {
			t.Fatal(err)
		}
		file := filepath.Join(base, "a.cpio")
		if err := writeCPIOFile(file, records); err != nil {
			return // a name the writer refuses (NUL, too long): nothing to read
		}
		back, err := ReadCPIO(file)
		if err != nil {
			t.Fatalf("the writer's archive does not read back: %v", err)
		}
		// The newc writer normalizes names (cpio.Normalize: no leading
		// "/", path.Clean) and keeps the first record of a name
		// (mkuimage/cpio's DedupWriter): every name once, in order.
		var names []string
		seen := map[string]bool{}
		for _, r := range records {
			if n := cpio.Normalize(r.Name); !seen[n] {
				seen[n] = true
				names = append(names, n)
			}
		}
		if len(back) != len(names) {
			t.Fatalf("%d names written, %d records read", len(names), len(back))
		}
		for i, r := range back {
			if r.Name != names[i] {
				t.Fatalf("record %d: wrote %q, read %q", i, names[i], r.Name)
			}
		}
		// Refusals (ErrUnsafePath, a directory not replaced, ...) are
		// fine: what matters is the check below.
		_ = UnpackCPIO(file, filepath.Join(base, "root"))
		entries, err := os.ReadDir(base)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			if n := e.Name(); n != "outside" && n != "root" && n != "a.cpio" {
				t.Fatalf("%s appeared beside the target", n)
			}
		}
		inside, err := os.ReadDir(outside)
		if err != nil || len(inside) != 1 {
			t.Fatalf("the directory beside the target changed: %v %v", inside, err)
		}
		if b, err := os.ReadFile(filepath.Join(outside, "marker")); err != nil || string(b) != "m" {
			t.Fatalf("the marker beside the target changed: %q %v", b, err)
		}
	})
}
