package report

import (
	"encoding/xml"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// svgDoc is what a chart test needs from an SVG file.
type svgDoc struct {
	root  string
	texts []string
	paths int
}

// parseSVG reads file with encoding/xml: it must be well-formed SVG.
func parseSVG(t *testing.T, file string) svgDoc {
	t.Helper()
	f, err := os.Open(file)
	require.NoError(t, err)
	defer f.Close()
	var doc svgDoc
	dec := xml.NewDecoder(f)
	inText := false
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err, "%s is not well-formed XML", file)
		switch el := tok.(type) {
		case xml.StartElement:
			if doc.root == "" {
				doc.root = el.Name.Space + " " + el.Name.Local
			}
			inText = el.Name.Local == "text"
			if el.Name.Local == "path" {
				doc.paths++
			}
		case xml.CharData:
			if inText {
				doc.texts = append(doc.texts, strings.TrimSpace(string(el)))
			}
		case xml.EndElement:
			inText = false
		}
	}
	return doc
}

func (d svgDoc) has(s string) bool {
	for _, t := range d.texts {
		if strings.Contains(t, s) {
			return true
		}
	}
	return false
}

func TestWriteCharts(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "bench") // created by WriteCharts
	run := fixtureRun()
	require.NoError(t, WriteCharts(dir, run))

	startup := parseSVG(t, filepath.Join(dir, StartupChart))
	assert.Equal(t, "http://www.w3.org/2000/svg svg", startup.root)
	for _, s := range run.Subjects {
		assert.Equal(t, s.Status == StatusMeasured, startup.has(s.Name), "%s in startup.svg", s.Name)
	}
	assert.True(t, startup.has("Time to READY, on the host"), "%q", startup.texts)
	assert.True(t, startup.has("Time to READY, in the nested rig: EMULATOR TIME"))
	assert.False(t, startup.has("log scale"), "1 to 27 ms fits a linear axis")
	// Each measured subject: a box (several paths) and a dot per start.
	assert.Greater(t, startup.paths, 8*5)

	memory := parseSVG(t, filepath.Join(dir, MemoryChart))
	assert.Equal(t, "http://www.w3.org/2000/svg svg", memory.root)
	assert.True(t, memory.has("4.2 MiB"), "bar labels: %q", memory.texts)
	assert.True(t, memory.has("39.1 MiB"))
	assert.True(t, memory.has("in the nested rig"))
	assert.True(t, memory.has(SubjectCrun))
}

func TestWriteChartsHostOnlyLogScale(t *testing.T) {
	run := fixtureRun()
	var host []Subject
	for _, s := range run.Subjects {
		if s.Where == WhereHost {
			host = append(host, s)
		}
	}
	run.Subjects = host
	setReady(run, SubjectQEMUMicrovmTiny, 900*ms) // 900 ms against 1 ms
	dir := t.TempDir()
	require.NoError(t, WriteCharts(dir, run))
	doc := parseSVG(t, filepath.Join(dir, StartupChart))
	assert.True(t, doc.has("log scale"))
	assert.False(t, doc.has("rig"), "no rig panel without rig subjects")
}

func TestWriteChartsNothingMeasured(t *testing.T) {
	run := fixtureRun()
	for i := range run.Subjects {
		run.Subjects[i].Status, run.Subjects[i].Reason, run.Subjects[i].Samples = StatusSkipped, "no KVM", nil
	}
	run.ComputeStats()
	dir := t.TempDir()
	require.NoError(t, WriteCharts(dir, run))
	for _, f := range []string{StartupChart, MemoryChart} {
		assert.True(t, parseSVG(t, filepath.Join(dir, f)).has("no subject was measured"), f)
	}
}

func TestWriteChartsBadDir(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	require.NoError(t, os.WriteFile(file, nil, 0o644))
	assert.Error(t, WriteCharts(filepath.Join(file, "sub"), fixtureRun()))
}
