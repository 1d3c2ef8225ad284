package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"gvmm/bench/harness"
	"gvmm/bench/report"
	"gvmm/internal/rig"
)

// innerRun is a run as the bench inside L1 writes it.
func innerRun() *report.Run {
	r := &report.Run{SchemaVersion: report.SchemaVersion,
		StartedAt: time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC), FinishedAt: time.Date(2026, 11, 27, 12, 9, 0, 0, time.UTC),
		Host: report.Host{KVMFlavour: report.FlavourAMD, CPUModel: "AMD EPYC", CPUs: 1},
		Subjects: []report.Subject{
			{Name: harness.SubjectGvmmLinux, Kind: report.KindVM, Workload: report.WorkloadReady, Where: report.WhereHost,
				Status: report.StatusMeasured, Samples: []report.Sample{{ReadyNS: 6e9, ExitNS: 7e9}}},
			{Name: report.SubjectCrun, Kind: report.KindContainer, Workload: report.WorkloadReady, Where: report.WhereHost,
				Status: report.StatusSkipped, Reason: "not selected"},
		}}
	r.ComputeStats()
	return r
}

// consoleOf turns text into console lines, with a kernel message in
// between as happens on a serial console.
func consoleOf(text string) []rig.Line {
	var lines []rig.Line
	for i, t := range strings.Split(strings.TrimSpace(text), "\n") {
		lines = append(lines, rig.Line{Text: t})
		if i == 1 {
			lines = append(lines, rig.Line{Text: "[   12.345] random: crng init done"})
		}
	}
	return lines
}

func TestResultsCrossTheConsole(t *testing.T) {
	path := filepath.Join(t.TempDir(), "results.json")
	require.NoError(t, report.Save(path, innerRun()))
	var out bytes.Buffer
	require.NoError(t, emitResults(&out, path))
	assert.Greater(t, strings.Count(out.String(), resultsLinePrefix), 3, "the JSON spans several short lines")

	got, err := decodeResults(consoleOf(out.String()))
	require.NoError(t, err)
	assert.Equal(t, report.FlavourAMD, got.Host.KVMFlavour)

	rows := rigRows(got, []harness.Subject{
		{Name: harness.SubjectGvmmLinux, Kind: report.KindVM, Workload: report.WorkloadReady},
		{Name: "gokvm-linux-minimal", Kind: report.KindVM, Workload: report.WorkloadReady},
	})
	require.Len(t, rows, 2, "only the asked-for rows, not the inner run's not-selected ones")
	assert.Equal(t, report.WhereRig, rows[0].Where)
	assert.Equal(t, report.StatusMeasured, rows[0].Status)
	assert.Equal(t, report.StatusFailed, rows[1].Status, "a row the inner bench did not report is a failure")

	// A line lost or garbled on the console is caught by the checksum.
	lines := consoleOf(out.String())
	lines[2].Text = resultsLinePrefix + "AAAA"
	_, err = decodeResults(lines)
	assert.ErrorIs(t, err, ErrRigResults)
	_, err = decodeResults(consoleOf("Kernel panic - not syncing"))
	assert.ErrorIs(t, err, ErrRigResults)
}

func TestSplitRig(t *testing.T) {
	all := harness.Catalogue()
	c := config{rig: rigAuto}
	onHost, inRig := splitRig(c, report.FlavourPVM, all)
	require.NotEmpty(t, inRig)
	for _, s := range inRig {
		assert.True(t, s.Linux, s.Name)
	}
	assert.Len(t, onHost, len(all)-len(inRig))

	_, inRig = splitRig(c, report.FlavourIntel, all)
	assert.Empty(t, inRig, "hardware KVM boots Linux itself")
	_, inRig = splitRig(config{rig: rigNever}, report.FlavourPVM, all)
	assert.Empty(t, inRig)
	_, inRig = splitRig(config{rig: rigAlways}, report.FlavourIntel, all)
	assert.NotEmpty(t, inRig)
	_, inRig = splitRig(config{rig: rigAlways, inRig: true}, report.FlavourAMD, all)
	assert.Empty(t, inRig, "the bench inside L1 measures, it does not nest another rig")
}

func TestInCatalogueOrder(t *testing.T) {
	cat := harness.Catalogue()
	rows := []report.Subject{{Name: "zzz-extra"}, {Name: cat[3].Name}, {Name: cat[0].Name}}
	got := inCatalogueOrder(rows)
	assert.Equal(t, []string{cat[0].Name, cat[3].Name, "zzz-extra"}, []string{got[0].Name, got[1].Name, got[2].Name})
}

func TestInnerCommand(t *testing.T) {
	c := config{rigN: 3, probes: 5, rigStartTimeout: 5 * time.Minute}
	cmd := innerCommand(c, []harness.Subject{{Name: "a"}, {Name: "b"}}, "abc123")
	assert.Equal(t, "/bench/bin/gvmm-bench -in-rig -prebuilt /bench/bin -build /bench/build -out /tmp/bench-out -only a,b -n 3 -probes 2 -timeout 5m0s -git-revision abc123", cmd)
}

func TestRigFilesCopyWhatExists(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "bin")
	build := filepath.Join(dir, "build")
	require.NoError(t, os.MkdirAll(bin, 0o755))
	require.NoError(t, os.MkdirAll(filepath.Join(build, "kernel"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(bin, "gvmm"), []byte("x"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(build, "kernel", "bzImage"), []byte("k"), 0o644))
	files, err := rigFiles(dir, bin, build)
	require.NoError(t, err)
	guests := map[string]bool{}
	for _, f := range files {
		guests[f.Guest] = true
	}
	assert.True(t, guests["/bench/bin/gvmm"])
	assert.True(t, guests["/bench/build/kernel/bzImage"])
	assert.False(t, guests["/bench/build/kernel/vmlinux"], "missing artefacts are left out; their rows skip in L1")
}

func TestRender(t *testing.T) {
	in := filepath.Join(t.TempDir(), "results.json")
	require.NoError(t, report.Save(in, innerRun()))
	out := t.TempDir()
	require.NoError(t, run([]string{"-render", in, "-out", out}))
	md, err := os.ReadFile(filepath.Join(out, "report.md"))
	require.NoError(t, err)
	assert.Contains(t, string(md), "# Castles vs Villages")
	assert.Contains(t, string(md), harness.SubjectGvmmLinux)
	for _, f := range []string{"results.json", "startup.svg", "memory.svg"} {
		assert.FileExists(t, filepath.Join(out, f))
	}
	assert.Error(t, run([]string{"-render", filepath.Join(out, "missing.json"), "-out", out}))
}
