package suite

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"gvmm/internal/kvmtest"
	"gvmm/internal/rig"
)

// Where a run goes.
const (
	WhereAuto = "auto" // the host when its /dev/kvm is usable, else the rig
	WhereHost = "host"
	WhereRig  = "rig"
)

// Options configure Run.
type Options struct {
	// Where is WhereAuto, WhereHost or WhereRig.
	Where string
	// Bench runs the packages' KVM benchmarks (-test.bench) instead of
	// their tests, BenchTime (e.g. "20x") each.
	Bench     bool
	BenchTime string
	// Timeout bounds each test binary (-test.timeout).
	Timeout time.Duration
	// RigTimeout bounds one boot of L1 with every binary in it. An L1
	// that freezes (QEMU's TCG SVM emulation, NESTED.md) is retried once
	// after it, so keep it near the run's real length: the tests take
	// under a minute of rig time, the floor benchmark about six.
	RigTimeout time.Duration
	// Out receives the tests' output and the summary lines.
	Out io.Writer
	// Env is more NAME=value settings for the test binaries, on the host
	// and in L1 alike (kvm-tests -env; make soak sets the VM soak's
	// cycles with it).
	Env []string
}

// Report is the outcome of a run.
type Report struct {
	// Where is where the binaries ran: WhereHost or WhereRig.
	Where   string
	Results []Result
	Total   Counts
}

// OK reports whether every package passed.
func (r *Report) OK() bool {
	for _, res := range r.Results {
		if !res.OK() {
			return false
		}
	}
	return len(r.Results) > 0
}

// guestDir is where the bundle goes in L1.
const guestDir = "/kvm-tests"

// ResolveWhere turns WhereAuto into the host when /dev/kvm is usable
// there, else the rig.
func ResolveWhere(where string) (string, error) {
	switch where {
	case WhereHost, WhereRig:
		return where, nil
	case WhereAuto, "":
		if kvmtest.Usable() == nil {
			return WhereHost, nil
		}
		return WhereRig, nil
	}
	return "", fmt.Errorf("kvm-tests: -where %q: use auto, host or rig", where)
}

// args are the test binary's flags for one package.
func (o Options) args(p Package) []string {
	a := []string{"-test.v", "-test.count=1", "-test.timeout=" + o.Timeout.String()}
	if o.Bench {
		return append(a, "-test.run=^$", "-test.bench="+p.BenchPattern(), "-test.benchtime="+o.BenchTime)
	}
	return append(a, "-test.run="+p.RunPattern())
}

// selected returns the packages that have something to run.
func (o Options) selected(b *Bundle) []Package {
	var out []Package
	for _, p := range b.Packages {
		if (o.Bench && len(p.Benchmarks) > 0) || (!o.Bench && len(p.Tests) > 0) {
			out = append(out, p)
		}
	}
	return out
}

// Run runs the bundle's binaries where opts say and returns the report.
// The error is for a run that could not happen (the rig failed to boot);
// failing tests are in the report.
func Run(ctx context.Context, root string, b *Bundle, opts Options) (*Report, error) {
	where, err := ResolveWhere(opts.Where)
	if err != nil {
		return nil, err
	}
	rep := &Report{Where: where}
	if where == WhereHost {
		for _, p := range opts.selected(b) {
			rep.add(p, runOnHost(ctx, root, b, p, opts))
		}
		return rep, nil
	}
	outputs, err := runInRig(ctx, b, opts)
	for _, p := range opts.selected(b) {
		out, ok := outputs[p.Dir]
		if !ok {
			out = packageOutput{status: -1}
		}
		rep.add(p, out)
	}
	return rep, err
}

// packageOutput is one binary's -test.v output and exit status.
type packageOutput struct {
	text   []byte
	status int
}

func (rep *Report) add(p Package, out packageOutput) {
	res := Result{Package: p.ImportPath(), Status: out.status}
	res.Counts, res.Failed, res.Skipped, _ = ParseOutput(bytes.NewReader(out.text))
	rep.Results = append(rep.Results, res)
	rep.Total = rep.Total.Add(res.Counts)
}

// environment is what every test binary gets: KVM tests may not skip, and
// the artefacts are prebuilt.
func environment(artefacts string) []string {
	return []string{"GVMM_REQUIRE_KVM=1", kvmtest.EnvArtefacts + "=" + artefacts}
}

// runOnHost runs one package's binary in its source directory (where its
// testdata is), copying the output to opts.Out as it comes.
func runOnHost(ctx context.Context, root string, b *Bundle, p Package, opts Options) packageOutput {
	var buf bytes.Buffer
	fmt.Fprintf(opts.Out, "=== kvm-tests: %s (host)\n", p.ImportPath())
	cmd := exec.CommandContext(ctx, b.Binaries[p.Dir], opts.args(p)...)
	cmd.Dir = filepath.Join(root, p.Dir)
	cmd.Env = append(append(os.Environ(), environment(b.Artefacts)...), opts.Env...)
	cmd.Stdout = io.MultiWriter(&buf, opts.Out)
	cmd.Stderr = cmd.Stdout
	status := 0
	if err := cmd.Run(); err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			status = ee.ExitCode()
		} else {
			fmt.Fprintf(opts.Out, "kvm-tests: %s: %v\n", p.ImportPath(), err)
			status = -1
		}
	}
	return packageOutput{text: buf.Bytes(), status: status}
}

// rigQEMU is where QEMU goes in L1 (its PATH is /bin), for the floor's
// QEMU microvm subject; qbootROM is microvm's firmware, at the path the
// QEMU build looks for it.
const (
	rigQEMU  = "/bin/qemu-system-x86_64"
	qbootROM = "/usr/share/qemu/qboot.rom"
)

// runInRig boots one L1 and runs every selected binary in it, one after
// the other. Each binary's output is framed by marker lines that carry a
// random nonce, so test output cannot forge another package's status.
func runInRig(ctx context.Context, b *Bundle, opts Options) (map[string]packageOutput, error) {
	files, err := b.files(guestDir)
	if err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp("", "gvmm-kvm-tests-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	// QEMU (the rig's patched build when there is one, as the bench's rig
	// rows use) with its libraries, for the floor's QEMU microvm peer.
	if q := hostQEMU(); q != "" {
		qf, err := rig.DynamicExecutable(q, rigQEMU, tmp)
		if err != nil {
			return nil, err
		}
		files = append(files, qf...)
		if _, err := os.Stat(qbootROM); err == nil {
			files = append(files, rig.File{Host: qbootROM, Guest: qbootROM})
		}
	}
	nonce := make([]byte, 8)
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	marker := "kvm-tests-" + hex.EncodeToString(nonce)
	var script strings.Builder
	fmt.Fprintf(&script, "export %s\n", shellQuote(append(environment(guestDir+"/artefacts"), opts.Env...)))
	for _, p := range opts.selected(b) {
		src := guestDir + "/src/" + filepath.ToSlash(p.Dir)
		fmt.Fprintf(&script, "echo '%s begin %s'\nmkdir -p %s && cd %s\n", marker, p.Dir, src, src)
		fmt.Fprintf(&script, "%s/%s %s 2>&1\n", guestDir, binaryName(p), shellQuote(opts.args(p)))
		fmt.Fprintf(&script, "echo \"%s end %s $?\"\n", marker, p.Dir)
	}
	cfg := rig.Config{
		Command:        script.String(),
		Files:          files,
		TempDir:        tmp,
		AttemptTimeout: opts.RigTimeout,
	}
	if os.Getenv("GVMM_RIG_VERBOSE") == "1" {
		cfg.Console = opts.Out
	}
	fmt.Fprintf(opts.Out, "=== kvm-tests: booting the nested rig's L1 (QEMU TCG with kvm-amd): the host has no usable /dev/kvm\n")
	res, err := rig.Run(ctx, cfg)
	if res == nil {
		return nil, err
	}
	outputs := splitOutputs(res.Output, marker)
	for _, p := range opts.selected(b) {
		fmt.Fprintf(opts.Out, "=== kvm-tests: %s (rig)\n%s", p.ImportPath(), outputs[p.Dir].text)
	}
	if err != nil {
		fmt.Fprintf(opts.Out, "kvm-tests: the rig failed: %v; the last lines of L1's console:\n", err)
		lines := res.Console.Lines()
		for _, l := range lines[max(0, len(lines)-30):] {
			fmt.Fprintf(opts.Out, "[%8.3fs] %s\n", l.At.Seconds(), l.Text)
		}
	}
	return outputs, err
}

// splitOutputs cuts the command's output into each package's, by the
// begin and end markers.
func splitOutputs(lines []rig.Line, marker string) map[string]packageOutput {
	out := map[string]packageOutput{}
	var cur string
	var buf bytes.Buffer
	for _, l := range lines {
		rest, ok := strings.CutPrefix(l.Text, marker+" ")
		if !ok {
			if cur != "" {
				buf.WriteString(l.Text)
				buf.WriteByte('\n')
			}
			continue
		}
		f := strings.Fields(rest)
		switch {
		case len(f) == 2 && f[0] == "begin":
			cur = f[1]
			buf.Reset()
		case len(f) == 3 && f[0] == "end" && f[1] == cur:
			status, err := strconv.Atoi(f[2])
			if err != nil {
				status = -1
			}
			out[cur] = packageOutput{text: append([]byte(nil), buf.Bytes()...), status: status}
			cur = ""
		}
	}
	return out
}

// hostQEMU is the QEMU to copy into L1: the rig's patched build, else the
// distribution's, else none.
func hostQEMU() string {
	if root, err := rig.RepoRoot(); err == nil {
		if p := filepath.Join(root, "build", "rig-qemu", "qemu-system-x86_64"); isExecutable(p) {
			return p
		}
	}
	p, _ := exec.LookPath("qemu-system-x86_64")
	return p
}

func isExecutable(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0
}

// shellQuote quotes each argument for busybox sh.
func shellQuote(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		q[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
	}
	return strings.Join(q, " ")
}
