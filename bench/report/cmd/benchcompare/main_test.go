package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"gvmm/bench/report"
)

const ms = int64(time.Millisecond)

func runWith(ready int64, flavour report.Flavour) *report.Run {
	r := &report.Run{
		SchemaVersion: report.SchemaVersion,
		StartedAt:     time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
		FinishedAt:    time.Date(2026, 1, 1, 0, 1, 0, 0, time.UTC),
		Host:          report.Host{KVMFlavour: flavour, CPUModel: "cpu", CPUs: 2},
		Subjects: []report.Subject{
			{Name: "gvmm-container", Kind: report.KindContainer, Workload: report.WorkloadReady, Where: report.WhereHost,
				Status: report.StatusMeasured, Samples: []report.Sample{{ReadyNS: ready, PeakRSSKiB: 2000}}},
			{Name: "crun", Kind: report.KindContainer, Workload: report.WorkloadReady, Where: report.WhereHost,
				Status: report.StatusMeasured, Samples: []report.Sample{{ReadyNS: 10 * ms, PeakRSSKiB: 2000}}},
		},
	}
	return r
}

func save(t *testing.T, dir, name string, r *report.Run) string {
	t.Helper()
	p := filepath.Join(dir, name)
	require.NoError(t, report.Save(p, r))
	return p
}

func TestBenchcompare(t *testing.T) {
	dir := t.TempDir()
	base := save(t, dir, "base.json", runWith(10*ms, report.FlavourIntel))
	same := save(t, dir, "same.json", runWith(12*ms, report.FlavourIntel))
	worse := save(t, dir, "worse.json", runWith(13*ms, report.FlavourIntel))
	amd := save(t, dir, "amd.json", runWith(50*ms, report.FlavourAMD))
	crunGone := runWith(10*ms, report.FlavourIntel)
	crunGone.Subjects[1] = report.Subject{Name: "crun", Kind: report.KindContainer, Workload: report.WorkloadReady,
		Where: report.WhereHost, Status: report.StatusSkipped, Reason: "not installed"}
	gone := save(t, dir, "gone.json", crunGone)
	bad := filepath.Join(dir, "bad.json")
	require.NoError(t, os.WriteFile(bad, []byte(`{"schema_version": 9}`), 0o644))
	garbage := filepath.Join(dir, "garbage.json")
	require.NoError(t, os.WriteFile(garbage, []byte(`{"schema_version": 1, "host": 3}`), 0o644))

	for _, tc := range []struct {
		name   string
		args   []string
		github bool
		code   int
		out    string
	}{
		{"within threshold", []string{"-baseline", base, "-current", same}, false, exitOK, "no regression beyond 25%"},
		{"regression", []string{"-baseline", base, "-current", worse}, false, exitRegression,
			"regression beyond 25%: gvmm-container (host) ready_ns: 10000000 -> 13000000 (+30.0%)"},
		{"looser threshold", []string{"-baseline", base, "-current", worse, "-threshold", "0.5"}, false, exitOK, "no regression beyond 50%"},
		{"regression as annotation", []string{"-baseline", base, "-current", worse}, true, exitRegression,
			"::error title=bench::regression beyond 25%"},
		{"no baseline yet", []string{"-baseline", filepath.Join(dir, "none.json"), "-current", same}, false, exitOK,
			"no baseline at " + filepath.Join(dir, "none.json") + " yet"},
		{"other flavour", []string{"-baseline", base, "-current", amd}, true, exitOK,
			"::notice title=bench::baseline not compared: runs made under different KVM flavours: baseline kvm_intel"},
		{"old schema baseline", []string{"-baseline", bad, "-current", same}, false, exitOK, "file has schema_version 9"},
		{"subject no longer measured", []string{"-baseline", base, "-current", gone}, false, exitOK, "crun was measured in the baseline but not now"},
		{"broken baseline", []string{"-baseline", garbage, "-current", same}, false, exitUsage, "baseline unusable"},
		{"no current", []string{"-baseline", base, "-current", filepath.Join(dir, "nope.json")}, false, exitUsage, "run `make bench` first"},
		{"bad threshold", []string{"-baseline", base, "-current", same, "-threshold", "-1"}, false, exitUsage, "bad threshold"},
		{"no flags", nil, false, exitUsage, "usage: benchcompare"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(tc.args, &stdout, &stderr, tc.github)
			assert.Equal(t, tc.code, code, "stdout: %s\nstderr: %s", stdout.String(), stderr.String())
			assert.Contains(t, stdout.String()+stderr.String(), tc.out)
		})
	}
}
