package report

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// Decode reads a Run from JSON and validates it. Unknown fields are
// refused: a misspelt field would otherwise read as "not measured".
func Decode(r io.Reader) (*Run, error) {
	var probe struct {
		SchemaVersion *int `json:"schema_version"`
	}
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(data, &probe); err != nil {
		return nil, fmt.Errorf("decode bench run: %w", err)
	}
	if probe.SchemaVersion == nil {
		return nil, fmt.Errorf("%w: no schema_version field (is this a gvmm bench results.json?)", ErrSchemaVersion)
	}
	if *probe.SchemaVersion != SchemaVersion {
		return nil, fmt.Errorf("%w: file has schema_version %d, this gvmm reads %d (re-record it with this gvmm's `make bench`)",
			ErrSchemaVersion, *probe.SchemaVersion, SchemaVersion)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var run Run
	if err := dec.Decode(&run); err != nil {
		return nil, fmt.Errorf("decode bench run: %w", err)
	}
	if err := run.Validate(); err != nil {
		return nil, err
	}
	return &run, nil
}

// Encode computes the stats of run, validates it and writes it as
// indented JSON.
func Encode(w io.Writer, run *Run) error {
	run.ComputeStats()
	if err := run.Validate(); err != nil {
		return err
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(run)
}

// Load reads and validates the Run in the file at path.
func Load(path string) (*Run, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	run, err := Decode(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return run, nil
}

// Save writes run to path atomically (a temporary file renamed over it),
// so a crash leaves either the old file or the new one, never half.
func Save(path string, run *Run) error {
	var buf bytes.Buffer
	if err := Encode(&buf, run); err != nil {
		return fmt.Errorf("save %s: %w", path, err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".results-*.json")
	if err != nil {
		return fmt.Errorf("save %s: %w", path, err)
	}
	// results.json is for reading by anyone: CI uploads it.
	werr := tmp.Chmod(0o644)
	if werr == nil {
		_, werr = tmp.Write(buf.Bytes())
	}
	cerr := tmp.Close()
	if werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = os.Rename(tmp.Name(), path)
	}
	if werr != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("save %s: %w", path, werr)
	}
	return nil
}
