package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"gvmm/bench/harness"
	"gvmm/bench/report"
	"gvmm/internal/rig"
)

// The Linux rows on a kvm_pvm host run in the nested rig (internal/rig):
// this gvmm-bench builds a static copy of itself, gvmm, the launcher and
// gokvm, puts them with the kernels, the initramfs images and QEMU into
// the L1 initramfs, and runs `gvmm-bench -in-rig` there on the Linux
// subjects. That inner bench measures with L1's clocks and prints its
// results.json on the console, base64 line by line under a checksum; the
// outer one decodes it and merges the rows, marked "rig", into its own run.

// Paths inside L1.
const (
	rigBin   = "/bench/bin"
	rigBuild = "/bench/build"
	rigOut   = "/tmp/bench-out"
	rigQEMU  = "/bin/qemu-system-x86_64" // L1's PATH is /bin
	qbootROM = "/usr/share/qemu/qboot.rom"
)

// rigArtefacts are the make artefacts the Linux rows may use, relative to
// the build directory; those that exist are copied into L1.
var rigArtefacts = []string{
	"kernel/bzImage", "kernel/vmlinux", "debian-kernel/vmlinuz",
	"initramfs.cpio", "initramfs-debian.cpio", "initramfs-nginx.cpio",
}

// The console lines that carry the inner run's results.json.
const (
	resultsLinePrefix = "gvmm-bench-results: "
	resultsSumPrefix  = "gvmm-bench-results-sha256: "
	resultsLineLen    = 76 // base64 characters per console line
)

// ErrRigResults: the rig ran but its results could not be read back.
var ErrRigResults = errors.New("no results from the rig")

// rigConsoleLog is where the rig's whole console goes, beside the report.
const rigConsoleLog = "rig-console.log"

// runRig measures subjects in the nested rig and returns their rows and
// the description of the rig's L1.
func runRig(ctx context.Context, c config, ws *harness.Workspace, subjects []harness.Subject, log *slog.Logger) ([]report.Subject, *report.RigHost, error) {
	dir := filepath.Join(ws.Dir, "rig")
	bin := filepath.Join(dir, "bin")
	log.Info("rig: building the static executables for L1")
	missing, err := ws.BuildPrebuilt(bin)
	if err != nil {
		return nil, nil, err
	}
	for name, why := range missing {
		log.Warn("rig: not in L1", "executable", name, "reason", why)
	}
	if _, err := rig.BuildStatic(ctx, "./bench/cmd/gvmm-bench", filepath.Join(bin, "gvmm-bench")); err != nil {
		return nil, nil, err
	}
	files, err := rigFiles(dir, bin, ws.Build)
	if err != nil {
		return nil, nil, err
	}
	logFile, err := os.Create(filepath.Join(c.out, rigConsoleLog))
	if err != nil {
		return nil, nil, err
	}
	defer logFile.Close()
	var console io.Writer = logFile
	if c.verbose {
		console = io.MultiWriter(logFile, os.Stderr)
	}
	cfg, err := rig.Config{
		Command: innerCommand(c, subjects, gitRevision(ws.Repo)), Files: files,
		CPUs: c.rigCPUs, AttemptTimeout: c.rigTimeout, Attempts: 1,
		Console: console, Logger: log, TempDir: dir,
	}.Resolve()
	if err != nil {
		return nil, nil, err
	}
	log.Info("rig: booting L1 under QEMU TCG and running the Linux rows there", "subjects", len(subjects),
		"n", c.rigN, "console", logFile.Name(), "bound", c.rigTimeout)
	res, err := rig.Run(ctx, cfg)
	if err != nil {
		return nil, nil, fmt.Errorf("rig: %w (console in %s)", err, logFile.Name())
	}
	inner, err := decodeResults(res.Output)
	if err != nil {
		return nil, nil, fmt.Errorf("%w (L1 command exit status %d; console in %s)", err, res.ExitStatus, logFile.Name())
	}
	rh := &report.RigHost{Host: inner.Host, Emulator: cfg.QEMU, CPUs: cfg.CPUs, MemoryMiB: cfg.MemoryMiB,
		WallNS: res.Wall.Nanoseconds()}
	return rigRows(inner, subjects), rh, nil
}

// rigRows takes the asked-for subjects' rows from the inner run (which
// also lists every other subject as not selected) and marks them as
// measured in the rig: L1's clocks, not the host's.
func rigRows(inner *report.Run, subjects []harness.Subject) []report.Subject {
	var out []report.Subject
	for _, s := range subjects {
		row := inner.Subject(s.Name)
		if row == nil {
			row = &report.Subject{Name: s.Name, Kind: s.Kind, Workload: s.Workload, Guest: s.Guest,
				Status: report.StatusFailed, Reason: "the bench in the rig did not report this subject"}
		}
		r := *row
		r.Where = report.WhereRig
		out = append(out, r)
	}
	return out
}

// rigFiles lists what goes into L1: the executables, the artefacts that
// exist, and QEMU with its libraries and firmware.
func rigFiles(dir, bin, build string) ([]rig.File, error) {
	var files []rig.File
	entries, err := os.ReadDir(bin)
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		files = append(files, rig.File{Host: filepath.Join(bin, e.Name()), Guest: rigBin + "/" + e.Name(), Executable: true})
	}
	for _, rel := range rigArtefacts {
		if _, err := os.Stat(filepath.Join(build, rel)); err == nil {
			files = append(files, rig.File{Host: filepath.Join(build, rel), Guest: rigBuild + "/" + rel})
		}
	}
	if q := rigQEMUBinary(build); q != "" {
		qf, err := rig.DynamicExecutable(q, rigQEMU, dir)
		if err != nil {
			return nil, err
		}
		files = append(files, qf...)
		if _, err := os.Stat(qbootROM); err == nil {
			files = append(files, rig.File{Host: qbootROM, Guest: qbootROM})
		}
	}
	return files, nil
}

// rigQEMUBinary is the QEMU for the QEMU row in L1: the rig's own build
// (Debian's 7.2 with the TCG fix, KVM and TCG only: ten libraries), else
// the distribution's, else none (the row then skips in L1).
func rigQEMUBinary(build string) string {
	if p := filepath.Join(build, "rig-qemu", "qemu-system-x86_64"); isFile(p) {
		return p
	}
	p, _ := exec.LookPath("qemu-system-x86_64")
	return p
}

func isFile(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular()
}

// innerCommand is the L1 shell command: the bench on the Linux rows.
func innerCommand(c config, subjects []harness.Subject, rev string) string {
	names := make([]string, len(subjects))
	for i, s := range subjects {
		names[i] = s.Name
	}
	args := []string{rigBin + "/gvmm-bench", "-in-rig", "-prebuilt", rigBin, "-build", rigBuild, "-out", rigOut,
		"-only", strings.Join(names, ","), "-n", fmt.Sprint(c.rigN), "-probes", fmt.Sprint(min(c.probes, c.rigN, 2)),
		"-timeout", c.rigStartTimeout.String()}
	if rev != "" {
		args = append(args, "-git-revision", rev)
	}
	if c.verbose {
		args = append(args, "-v")
	}
	return strings.Join(args, " ")
}

// emitResults prints results.json on stdout for the outer bench: base64
// lines, then the SHA-256 of the JSON, so that a kernel message that
// lands inside the stream is detected, not decoded into nonsense.
func emitResults(w io.Writer, path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	enc := base64.StdEncoding.EncodeToString(data)
	for len(enc) > 0 {
		n := min(resultsLineLen, len(enc))
		if _, err := fmt.Fprintf(w, "%s%s\n", resultsLinePrefix, enc[:n]); err != nil {
			return err
		}
		enc = enc[n:]
	}
	sum := sha256.Sum256(data)
	_, err = fmt.Fprintf(w, "%s%s\n", resultsSumPrefix, hex.EncodeToString(sum[:]))
	return err
}

// decodeResults reassembles and checks the inner run from console lines.
func decodeResults(lines []rig.Line) (*report.Run, error) {
	var enc strings.Builder
	var sum string
	for _, l := range lines {
		text := strings.TrimSpace(l.Text)
		if rest, ok := strings.CutPrefix(text, resultsLinePrefix); ok {
			enc.WriteString(rest)
		} else if rest, ok := strings.CutPrefix(text, resultsSumPrefix); ok {
			sum = rest
		}
	}
	if sum == "" {
		return nil, fmt.Errorf("%w: no %q line on the console", ErrRigResults, strings.TrimSpace(resultsSumPrefix))
	}
	data, err := base64.StdEncoding.DecodeString(enc.String())
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrRigResults, err)
	}
	got := sha256.Sum256(data)
	if hex.EncodeToString(got[:]) != sum {
		return nil, fmt.Errorf("%w: the results on the console do not match their checksum (console output mixed in?)", ErrRigResults)
	}
	run, err := report.Decode(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrRigResults, err)
	}
	return run, nil
}

// rigFailed marks every subject failed (or skipped, when the rig's own
// prerequisites are missing) with the rig's error.
func rigFailed(subjects []harness.Subject, err error) []report.Subject {
	status := report.StatusFailed
	if errors.Is(err, rig.ErrMissing) {
		status = report.StatusSkipped
	}
	out := make([]report.Subject, len(subjects))
	for i, s := range subjects {
		out[i] = report.Subject{Name: s.Name, Kind: s.Kind, Workload: s.Workload, Where: report.WhereRig, Guest: s.Guest,
			Status: status, Reason: "nested rig: " + err.Error()}
	}
	return out
}

// defaultRigTimeout bounds the whole rig run: L1's boot and the Linux
// rows' starts, each a few seconds to a minute of emulated time.
const defaultRigTimeout = 90 * time.Minute
