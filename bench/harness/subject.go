package harness

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"gvmm/bench/report"
)

// ErrSkip marks a subject that cannot run on this host; the wrapping
// error's text is the reason the report shows.
var ErrSkip = errors.New("skipped")

// ErrSelect: an -only item names neither a kind nor a subject.
var ErrSelect = errors.New("unknown subject or kind")

// Skip returns an error wrapping ErrSkip with the reason given.
func Skip(format string, a ...any) error {
	return &skipError{fmt.Sprintf(format, a...)}
}

type skipError struct{ reason string }

func (e *skipError) Error() string { return e.reason }
func (e *skipError) Is(t error) bool {
	return t == ErrSkip
}

// Subject is one row of the report: something started N times.
type Subject struct {
	// Name is unique; the targets of package report look for some names
	// (report.SubjectRawKVM, report.SubjectGvmmTiny, ...).
	Name string
	// Kind, Workload and Where classify the subject as the report does.
	Kind     report.Kind
	Workload report.Workload
	Where    report.Where
	// Guest names what a VM boots (report.Subject.Guest): the report
	// compares VMs only when they boot the same guest.
	Guest string
	// Linux marks a subject that boots a Linux kernel: on a host whose
	// KVM cannot (kvm_pvm) it runs inside the nested rig instead (rig.go).
	Linux bool
	// Prepare builds what the subject needs in ws and says how to start
	// it, or returns an error wrapping ErrSkip with the reason it cannot
	// run here. Any other error makes the subject "failed".
	Prepare func(ws *Workspace) (*Plan, error)
}

// Cmd is one command line and the environment it adds.
type Cmd struct {
	// Argv is the command; the harness puts its launcher in front.
	Argv []string
	// Env is added to the bench's own environment.
	Env []string
}

// Plan says how to start a prepared subject.
type Plan struct {
	// Start returns the command for the start called id (unique in the
	// run: runtimes name containers after it).
	Start func(id string) Cmd
	// Hold, when set, returns a variant that stays up after READY until
	// SIGTERM, for the probe starts that read memory once READY.
	Hold func(id string) Cmd
	// ReadyPipe gives the subject a pipe as fd 3 whose first byte,
	// ready.Magic, is its READY event.
	ReadyPipe bool
	// ReadyConsole watches the subject's standard output, its console,
	// for the guest agent's "gvmm-agent: READY" line: the READY event of
	// a VMM without a READY device (gokvm). The line crosses the
	// emulated serial port, so it comes a little after the agent's
	// READY port write would have.
	ReadyConsole bool
	// ReadyHTTP, when set, is a URL the harness polls from just after
	// exec; the first 200 response is the READY event (a server's start-
	// up: the NGINX workload). Other READY events are ignored then.
	ReadyHTTP string
	// StopAfterReady marks a subject that does not end by itself (a
	// server): once READY the harness stops it (SIGTERM to its process
	// tree, SIGKILL after stopGrace), and its samples have no exit time.
	// Its probes start Start again when Hold is nil.
	StopAfterReady bool
	// WantCode is the exit status of a good start.
	WantCode int
	// GuestMemKiB is the guest RAM size: the probe reports the Rss of the
	// VMM mapping of exactly this size as guest RAM touched. 0: not a VM.
	GuestMemKiB int64
	// Cgroup asks the probe to read the memory cgroup of the workload
	// (a container).
	Cgroup bool
	// Cleanup removes what a killed start may have left behind (a
	// container's state and cgroup); nil when a killed process group is
	// all there is.
	Cleanup func(id string)
}

// Select returns the subjects named in only, a comma-separated list of
// kinds ("vm", "container", "process") and subject names, and the others
// with the reason they were left out. An empty list selects all.
func Select(all []Subject, only string) (chosen, left []Subject, err error) {
	if strings.TrimSpace(only) == "" {
		return all, nil, nil
	}
	want := map[string]bool{}
	for _, item := range strings.Split(only, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		known := slices.ContainsFunc(all, func(s Subject) bool { return s.Name == item || string(s.Kind) == item })
		if !known {
			return nil, nil, fmt.Errorf("%w %q in -only: give kinds (vm, container, process) or subject names (%s)",
				ErrSelect, item, strings.Join(names(all), ", "))
		}
		want[item] = true
	}
	for _, s := range all {
		if want[s.Name] || want[string(s.Kind)] {
			chosen = append(chosen, s)
		} else {
			left = append(left, s)
		}
	}
	return chosen, left, nil
}

func names(all []Subject) []string {
	out := make([]string, len(all))
	for i, s := range all {
		out[i] = s.Name
	}
	return out
}
