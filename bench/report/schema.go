package report

import (
	"errors"
	"fmt"
	"slices"
	"time"
)

// SchemaVersion is the version of the JSON layout written by Save. It goes
// up by one whenever a field changes meaning or is removed; adding an
// optional field keeps it. Load refuses any other version.
const SchemaVersion = 1

// Flavour names the kernel module behind /dev/kvm.
type Flavour string

// The KVM flavours a host can have.
const (
	// FlavourIntel is hardware VMX through kvm_intel.
	FlavourIntel Flavour = "kvm_intel"
	// FlavourAMD is hardware SVM through kvm_amd.
	FlavourAMD Flavour = "kvm_amd"
	// FlavourPVM is kvm_pvm, a software nested KVM that runs guests
	// without hardware virtualization (NESTED.md). Its numbers are not
	// hardware numbers.
	FlavourPVM Flavour = "kvm_pvm"
	// FlavourNone means no KVM module is loaded: VM subjects are skipped.
	FlavourNone Flavour = "none"
)

// Kind is what a subject is.
type Kind string

// The kinds of subject.
const (
	// KindVM is a virtual machine monitor running a guest (the castle).
	KindVM Kind = "vm"
	// KindContainer is a namespace container runtime (the village).
	KindContainer Kind = "container"
	// KindProcess is a plain process: a floor to measure the others by
	// (plain exec, unshare+chroot, the raw KVM C program).
	KindProcess Kind = "process"
)

// Workload is what the subject runs until it reports READY.
type Workload string

// The workloads.
const (
	// WorkloadReady is the READY agent: start-up only.
	WorkloadReady Workload = "ready"
	// WorkloadNginx is NGINX; READY is the first HTTP 200 seen by the host.
	WorkloadNginx Workload = "nginx"
)

// Where says whose clock measured a subject.
type Where string

// The places a subject can run.
const (
	// WhereHost is measured directly on the host.
	WhereHost Where = "host"
	// WhereRig is measured inside the nested rig, a QEMU TCG L1: emulator
	// time, not comparable with host time.
	WhereRig Where = "rig"
)

// Status is the outcome of one subject.
type Status string

// The outcomes.
const (
	// StatusMeasured means Samples holds at least one start.
	StatusMeasured Status = "measured"
	// StatusSkipped means the subject could not run here (Reason says why).
	StatusSkipped Status = "skipped"
	// StatusFailed means the subject ran and failed (Reason says how).
	StatusFailed Status = "failed"
)

// Run is one invocation of the bench: every subject, side by side, on one
// host, under one load.
type Run struct {
	// SchemaVersion is SchemaVersion when written by this package.
	SchemaVersion int `json:"schema_version"`
	// StartedAt and FinishedAt bracket the whole run (RFC 3339, UTC).
	StartedAt  time.Time `json:"started_at"`
	FinishedAt time.Time `json:"finished_at"`
	// Host describes the machine and its KVM.
	Host Host `json:"host"`
	// Rig describes the nested rig's L1 (a QEMU TCG guest with kvm_amd)
	// when subjects were measured there (Where "rig"); absent otherwise.
	// Added in schema 1 as an optional field.
	Rig *RigHost `json:"rig,omitempty"`
	// Baseline names the subject the report's ratios are computed
	// against (for example "crun" or "raw-kvm"); empty for none.
	Baseline string `json:"baseline,omitempty"`
	// Subjects are in the order they were run.
	Subjects []Subject `json:"subjects"`
}

// Host is the machine a Run was measured on.
type Host struct {
	// KVMFlavour is the module behind /dev/kvm.
	KVMFlavour Flavour `json:"kvm_flavour"`
	// Nested is the KVM module's "nested" parameter: whether this host's
	// KVM lets its own guests use KVM.
	Nested bool `json:"nested"`
	// InVM is true when the CPU reports a hypervisor (the "hypervisor"
	// flag in /proc/cpuinfo): this host is itself a guest, so its KVM is
	// nested and its numbers are not hardware numbers.
	InVM bool `json:"in_vm"`
	// CPUModel is /proc/cpuinfo's first "model name".
	CPUModel string `json:"cpu_model"`
	// Kernel is `uname -r`.
	Kernel string `json:"kernel"`
	// CPUs is the number of online CPUs.
	CPUs int `json:"cpus"`
	// LoadStart and LoadEnd are /proc/loadavg at the start and the end.
	LoadStart LoadAvg `json:"load_start"`
	LoadEnd   LoadAvg `json:"load_end"`
	// GoVersion is the toolchain that built the bench.
	GoVersion string `json:"go_version"`
	// GitRevision is gvmm's commit, when known.
	GitRevision string `json:"git_revision,omitempty"`
	// RunnerClass names the class of machine (for CI baselines, e.g.
	// "github-ubuntu-latest"), when known.
	RunnerClass string `json:"runner_class,omitempty"`
}

// RigHost is the L1 of the nested rig, as its own bench saw it, and how
// the rig was run.
type RigHost struct {
	// Host is L1's view of itself: kvm_amd on an emulated CPU.
	Host Host `json:"host"`
	// Emulator is the QEMU binary that ran L1 with TCG.
	Emulator string `json:"emulator"`
	// CPUs and MemoryMiB size L1.
	CPUs      int `json:"cpus"`
	MemoryMiB int `json:"memory_mib"`
	// WallNS is the host's wall time for the whole rig run.
	WallNS int64 `json:"wall_ns"`
}

// LoadAvg is the kernel's run-queue load average (proc(5), /proc/loadavg).
type LoadAvg struct {
	// One, Five and Fifteen are the 1-, 5- and 15-minute averages.
	One     float64 `json:"1m"`
	Five    float64 `json:"5m"`
	Fifteen float64 `json:"15m"`
}

// Subject is one thing started N times.
type Subject struct {
	// Name is unique within a Run, e.g. "gvmm-vm-bzimage-minimal".
	Name string `json:"name"`
	// Kind, Workload and Where classify it.
	Kind     Kind     `json:"kind"`
	Workload Workload `json:"workload"`
	Where    Where    `json:"where"`
	// Guest names what a VM boots ("pvh-tiny", "linux-minimal",
	// "linux-debian"): VMs are compared with each other only when they
	// boot the same guest. Empty for containers and processes (they all
	// run the same root file system). Optional, added in schema 1.
	Guest string `json:"guest,omitempty"`
	// Timed is the command line the harness timed, exactly as it was
	// executed (ID standing for each start's name), with nothing around
	// it but the harness's launcher. Optional, added in schema 1.
	Timed string `json:"timed,omitempty"`
	// Status says whether Samples are real; Reason says why not.
	Status Status `json:"status"`
	Reason string `json:"reason,omitempty"`
	// Samples are the measured starts, warm-up excluded.
	Samples []Sample `json:"samples,omitempty"`
	// Stats are computed from Samples by ComputeStats, one entry per
	// metric that has at least one non-zero sample.
	Stats map[Metric]Stats `json:"stats,omitempty"`
}

// Sample is one start of one subject. A zero field means "not applicable
// or not measured" (a container has no guest clock) and is left out of
// the JSON and of the statistics.
type Sample struct {
	// ReadyNS is from just before exec to the READY event.
	ReadyNS int64 `json:"ready_ns,omitempty"`
	// ExitNS is from just before exec to the process's exit.
	ExitNS int64 `json:"exit_ns,omitempty"`
	// CPUUserNS and CPUSysNS are the VMM's or runtime's CPU time
	// (rusage of it and its waited-for children).
	CPUUserNS int64 `json:"cpu_user_ns,omitempty"`
	CPUSysNS  int64 `json:"cpu_sys_ns,omitempty"`
	// PeakRSSKiB is the VMM's or runtime's peak resident set (ru_maxrss).
	PeakRSSKiB int64 `json:"peak_rss_kib,omitempty"`
	// SteadyRSSKiB is its resident set once READY, after start-up.
	SteadyRSSKiB int64 `json:"steady_rss_kib,omitempty"`
	// GuestTouchedKiB is the resident part of the guest-memory mapping:
	// guest RAM actually touched.
	GuestTouchedKiB int64 `json:"guest_touched_kib,omitempty"`
	// CgroupMemoryKiB is the container cgroup's memory use once READY.
	CgroupMemoryKiB int64 `json:"cgroup_memory_kib,omitempty"`
	// GuestClockReadyNS is the guest's own clock at READY (time since its
	// kernel started counting).
	GuestClockReadyNS int64 `json:"guest_clock_ready_ns,omitempty"`
}

// Errors that callers test with errors.Is.
var (
	// ErrSchemaVersion: a file's schema_version is not SchemaVersion.
	ErrSchemaVersion = errors.New("unsupported schema version")
	// ErrInvalid: a Run breaks a rule of the schema.
	ErrInvalid = errors.New("invalid bench run")
)

// Validate checks a Run against the schema: the version, the enumerations,
// unique subject names, samples only for measured subjects, a reason for
// the others, and stored stats that match the samples.
func (r *Run) Validate() error {
	if r.SchemaVersion != SchemaVersion {
		return fmt.Errorf("%w: file has schema_version %d, this gvmm reads %d (re-record it with this gvmm's `make bench`)",
			ErrSchemaVersion, r.SchemaVersion, SchemaVersion)
	}
	if !oneOf(r.Host.KVMFlavour, FlavourIntel, FlavourAMD, FlavourPVM, FlavourNone) {
		return fmt.Errorf("%w: host.kvm_flavour %q is not one of kvm_intel, kvm_amd, kvm_pvm, none", ErrInvalid, r.Host.KVMFlavour)
	}
	rigRows := slices.ContainsFunc(r.Subjects, func(s Subject) bool { return s.Where == WhereRig && s.Status == StatusMeasured })
	if rigRows && r.Rig == nil {
		return fmt.Errorf("%w: subjects measured in the rig but no rig description", ErrInvalid)
	}
	if r.StartedAt.IsZero() {
		return fmt.Errorf("%w: started_at is not set", ErrInvalid)
	}
	if r.FinishedAt.Before(r.StartedAt) {
		return fmt.Errorf("%w: finished_at %s is before started_at %s", ErrInvalid, r.FinishedAt, r.StartedAt)
	}
	seen := map[string]bool{}
	for i := range r.Subjects {
		s := &r.Subjects[i]
		if s.Name == "" {
			return fmt.Errorf("%w: subject %d has no name", ErrInvalid, i)
		}
		if seen[s.Name] {
			return fmt.Errorf("%w: subject %q appears twice", ErrInvalid, s.Name)
		}
		seen[s.Name] = true
		if err := s.validate(); err != nil {
			return fmt.Errorf("%w: subject %q: %w", ErrInvalid, s.Name, err)
		}
	}
	if r.Baseline != "" && !seen[r.Baseline] {
		return fmt.Errorf("%w: baseline %q is not a subject", ErrInvalid, r.Baseline)
	}
	return nil
}

func (s *Subject) validate() error {
	switch {
	case !oneOf(s.Kind, KindVM, KindContainer, KindProcess):
		return fmt.Errorf("kind %q is not one of vm, container, process", s.Kind)
	case !oneOf(s.Workload, WorkloadReady, WorkloadNginx):
		return fmt.Errorf("workload %q is not one of ready, nginx", s.Workload)
	case !oneOf(s.Where, WhereHost, WhereRig):
		return fmt.Errorf("where %q is not one of host, rig", s.Where)
	case !oneOf(s.Status, StatusMeasured, StatusSkipped, StatusFailed):
		return fmt.Errorf("status %q is not one of measured, skipped, failed", s.Status)
	case s.Status == StatusMeasured && len(s.Samples) == 0:
		return errors.New("status measured but no samples")
	case s.Status != StatusMeasured && s.Reason == "":
		return fmt.Errorf("status %s needs a reason", s.Status)
	}
	for i, smp := range s.Samples {
		for _, m := range Metrics {
			if smp.Value(m) < 0 {
				return fmt.Errorf("sample %d: %s is negative", i, m)
			}
		}
	}
	want := summariseAll(s.Samples)
	if len(want) != len(s.Stats) {
		return fmt.Errorf("stats cover %d metrics, samples have %d (recompute with ComputeStats)", len(s.Stats), len(want))
	}
	for m, st := range want {
		if s.Stats[m] != st {
			return fmt.Errorf("stats for %s do not match the samples (recompute with ComputeStats)", m)
		}
	}
	return nil
}

// ComputeStats fills every subject's Stats from its Samples.
func (r *Run) ComputeStats() {
	for i := range r.Subjects {
		r.Subjects[i].Stats = summariseAll(r.Subjects[i].Samples)
	}
}

// Subject returns the subject called name, or nil.
func (r *Run) Subject(name string) *Subject {
	for i := range r.Subjects {
		if r.Subjects[i].Name == name {
			return &r.Subjects[i]
		}
	}
	return nil
}

// Median returns the subject's median for m and whether it has one: only
// a measured subject with at least one non-zero sample of m does.
func (s *Subject) Median(m Metric) (int64, bool) {
	if s == nil || s.Status != StatusMeasured {
		return 0, false
	}
	st, ok := s.Stats[m]
	if !ok || st.N == 0 {
		return 0, false
	}
	return st.Median, true
}

func oneOf[T comparable](v T, allowed ...T) bool { return slices.Contains(allowed, v) }
