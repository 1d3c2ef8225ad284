package report

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSaveLoadRoundTrip(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "results.json")
	run := fixtureRun()
	require.NoError(t, Save(path, run))
	got, err := Load(path)
	require.NoError(t, err)
	assert.Equal(t, run, got)

	fi, err := os.Stat(path)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o644), fi.Mode().Perm())
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	assert.Len(t, entries, 1, "no temporary file left behind")

	// The field names are the schema: check a few literally.
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	for _, field := range []string{`"schema_version": 1`, `"kvm_flavour": "kvm_pvm"`, `"in_vm": true`,
		`"load_start": {`, `"1m": 0.5`, `"ready_ns": 1800000`, `"peak_rss_kib": 4300`, `"p95": 5000000`,
		`"started_at": "2026-11-27T12:00:00Z"`, `"reason": "no READY within 60s"`} {
		assert.Contains(t, string(raw), field)
	}
	assert.NotContains(t, string(raw), "guest_clock_ready_ns", "zero fields are omitted")
}

func TestSaveComputesStats(t *testing.T) {
	run := fixtureRun()
	for i := range run.Subjects {
		run.Subjects[i].Stats = nil
	}
	var buf bytes.Buffer
	require.NoError(t, Encode(&buf, run))
	got, err := Decode(&buf)
	require.NoError(t, err)
	assert.Equal(t, int64(10*ms), got.Subject(SubjectCrun).Stats[MetricReadyNS].Median)
}

func TestSaveRefusesInvalid(t *testing.T) {
	dir := t.TempDir()
	run := fixtureRun()
	run.Subjects[1].Kind = "unikernel"
	err := Save(filepath.Join(dir, "results.json"), run)
	assert.ErrorIs(t, err, ErrInvalid)
	entries, _ := os.ReadDir(dir)
	assert.Empty(t, entries, "nothing written")
}

// mutate encodes the fixture, lets f edit it as generic JSON, and decodes.
func mutate(t *testing.T, f func(m map[string]any)) error {
	t.Helper()
	var buf bytes.Buffer
	require.NoError(t, Encode(&buf, fixtureRun()))
	var m map[string]any
	require.NoError(t, json.Unmarshal(buf.Bytes(), &m))
	f(m)
	b, err := json.Marshal(m)
	require.NoError(t, err)
	_, err = Decode(bytes.NewReader(b))
	return err
}

func subject(m map[string]any, i int) map[string]any {
	return m["subjects"].([]any)[i].(map[string]any)
}

func TestDecodeRejects(t *testing.T) {
	for _, tc := range []struct {
		name    string
		edit    func(m map[string]any)
		want    error
		message string
	}{
		{"future schema", func(m map[string]any) { m["schema_version"] = 2 }, ErrSchemaVersion, "file has schema_version 2, this gvmm reads 1"},
		{"no schema", func(m map[string]any) { delete(m, "schema_version") }, ErrSchemaVersion, "no schema_version"},
		{"unknown field", func(m map[string]any) { m["ready_ms"] = 3 }, nil, `unknown field "ready_ms"`},
		{"bad flavour", func(m map[string]any) { m["host"].(map[string]any)["kvm_flavour"] = "hyperv" }, ErrInvalid, "kvm_flavour"},
		{"bad kind", func(m map[string]any) { subject(m, 0)["kind"] = "unikernel" }, ErrInvalid, "kind"},
		{"bad where", func(m map[string]any) { subject(m, 0)["where"] = "cloud" }, ErrInvalid, "where"},
		{"bad workload", func(m map[string]any) { subject(m, 0)["workload"] = "redis" }, ErrInvalid, "workload"},
		{"bad status", func(m map[string]any) { subject(m, 0)["status"] = "ok" }, ErrInvalid, "status"},
		{"duplicate name", func(m map[string]any) { subject(m, 1)["name"] = SubjectRawKVM }, ErrInvalid, "appears twice"},
		{"measured, no samples", func(m map[string]any) {
			delete(subject(m, 0), "samples")
			delete(subject(m, 0), "stats")
		}, ErrInvalid, "no samples"},
		{"skipped, no reason", func(m map[string]any) { delete(subject(m, 8), "reason") }, ErrInvalid, "needs a reason"},
		{"negative time", func(m map[string]any) {
			subject(m, 0)["samples"].([]any)[0].(map[string]any)["ready_ns"] = -1
		}, ErrInvalid, "negative"},
		{"edited median", func(m map[string]any) {
			subject(m, 0)["stats"].(map[string]any)["ready_ns"].(map[string]any)["median"] = 1
		}, ErrInvalid, "do not match the samples"},
		{"unknown baseline", func(m map[string]any) { m["baseline"] = "podman" }, ErrInvalid, "baseline"},
		{"rig rows without the rig", func(m map[string]any) { delete(m, "rig") }, ErrInvalid, "no rig description"},
		{"no start time", func(m map[string]any) { delete(m, "started_at") }, ErrInvalid, "started_at"},
		{"time runs backwards", func(m map[string]any) { m["finished_at"] = "2020-01-01T00:00:00Z" }, ErrInvalid, "before"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := mutate(t, tc.edit)
			require.Error(t, err)
			if tc.want != nil {
				assert.ErrorIs(t, err, tc.want)
			}
			assert.ErrorContains(t, err, tc.message)
		})
	}
}

func TestLoadNamesTheFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "old.json")
	require.NoError(t, os.WriteFile(path, []byte(`{"schema_version": 0, "subjects": []}`), 0o644))
	_, err := Load(path)
	assert.ErrorIs(t, err, ErrSchemaVersion)
	assert.True(t, strings.HasPrefix(err.Error(), path+": "), err.Error())
	_, err = Load(filepath.Join(t.TempDir(), "missing.json"))
	assert.ErrorIs(t, err, os.ErrNotExist)
}
