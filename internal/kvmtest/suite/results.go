package suite

import (
	"bufio"
	"fmt"
	"io"
	"regexp"
	"strings"
)

// Counts are the results of one or more test binaries: every test and
// subtest that `-test.v` reported.
type Counts struct {
	Passed, Failed, Skipped int
}

// Add returns the sum of c and d.
func (c Counts) Add(d Counts) Counts {
	return Counts{c.Passed + d.Passed, c.Failed + d.Failed, c.Skipped + d.Skipped}
}

// OK reports whether nothing failed or skipped and something ran.
func (c Counts) OK() bool { return c.Failed == 0 && c.Skipped == 0 && c.Passed > 0 }

// String is the plain closing line's body: "N passed, N failed, N skipped".
func (c Counts) String() string {
	return fmt.Sprintf("%d passed, %d failed, %d skipped", c.Passed, c.Failed, c.Skipped)
}

// resultLine matches the testing package's verdict lines in -test.v
// output, indented by four spaces per subtest level:
// "--- PASS: TestX (0.01s)", "    --- SKIP: TestX/sub (0.00s)".
var resultLine = regexp.MustCompile(`^\s*--- (PASS|FAIL|SKIP): (\S+)`)

// Result is one package's run.
type Result struct {
	Package string
	Counts  Counts
	// Status is the test binary's exit status (-1 if it never reported).
	Status int
	// Skipped names the tests and subtests that skipped, Failed those
	// that failed: the lines a reader looks for first.
	Skipped, Failed []string
}

// OK reports whether the package passed: every test passed, none skipped,
// and the binary exited 0 (a panic or a timeout prints no FAIL line for
// the test that was running, but exits non-zero).
func (r Result) OK() bool { return r.Counts.OK() && r.Status == 0 }

// Summary is the result's line: "gvmm/vmm: 4 passed, 0 failed, 0 skipped (ok)".
func (r Result) Summary() string {
	verdict := "ok"
	switch {
	case r.Status != 0 && r.Counts.Failed == 0:
		verdict = fmt.Sprintf("FAILED: the test binary exited with %d (a panic or a timeout?)", r.Status)
	case r.Counts.Failed > 0:
		verdict = "FAILED: " + strings.Join(r.Failed, " ")
	case r.Counts.Skipped > 0:
		verdict = "SKIPPED, which kvm-tests does not allow: " + strings.Join(r.Skipped, " ")
	case r.Counts.Passed == 0:
		verdict = "FAILED: no test ran"
	}
	return fmt.Sprintf("%s: %s (%s)", r.Package, r.Counts, verdict)
}

// ParseOutput reads -test.v output and counts its verdict lines.
func ParseOutput(r io.Reader) (Counts, []string, []string, error) {
	var c Counts
	var failed, skipped []string
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		m := resultLine.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		switch m[1] {
		case "PASS":
			c.Passed++
		case "FAIL":
			c.Failed++
			failed = append(failed, m[2])
		case "SKIP":
			c.Skipped++
			skipped = append(skipped, m[2])
		}
	}
	return c, failed, skipped, sc.Err()
}
