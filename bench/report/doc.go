// Package report is the results side of `gvmm bench` ("Castles vs
// Villages"): the JSON schema a run is stored in, the statistics, the
// ratios within one run, the comparison against a CI baseline, and the
// Markdown report and SVG charts a person reads.
//
// It measures nothing itself: the harness (package bench) fills a Run and
// hands it to Save, WriteMarkdown and WriteCharts. Course chapter 8
// (docs/08-measuring.md) explains what every number means.
//
// # JSON schema, version 1
//
// One file, results.json, holds one Run. Units are in the field names:
// _ns is nanoseconds, _kib is KiB (1024 bytes). Times of day are RFC 3339.
//
//	schema_version   int      always 1 (SchemaVersion); Load refuses others
//	started_at       string   RFC 3339: when the first subject started
//	finished_at      string   RFC 3339: when the last one ended
//	baseline         string   optional: the subject ratios are taken against
//	host             object   the machine:
//	  kvm_flavour    string   "kvm_intel" | "kvm_amd" | "kvm_pvm" | "none"
//	  nested         bool     the KVM module's "nested" parameter (Y/1)
//	  in_vm          bool     /proc/cpuinfo has the "hypervisor" flag: this
//	                          host is a guest, its KVM is nested
//	  cpu_model      string   /proc/cpuinfo "model name"
//	  kernel         string   uname -r
//	  cpus           int      logical CPUs
//	  load_start     object   /proc/loadavg at the start: {"1m","5m","15m"}
//	  load_end       object   the same at the end
//	  go_version     string   runtime.Version() of the bench binary
//	  git_revision   string   optional: gvmm's commit
//	  runner_class   string   optional: CI machine class of the baseline
//	rig              object   optional, present when rows ran in the nested rig:
//	  host           object   L1 as its own bench saw it (fields as above)
//	  emulator       string   the QEMU binary that ran L1 with TCG
//	  cpus           int      L1's CPUs
//	  memory_mib     int      L1's memory
//	  wall_ns        int      the host's wall time for the whole rig run
//	subjects         array    in the order they ran, each:
//	  name           string   unique, e.g. "gvmm-vm-bzimage-minimal", "crun"
//	  kind           string   "vm" | "container" | "process"
//	  workload       string   "ready" (the READY agent) | "nginx"
//	  where          string   "host" | "rig" (inside the nested rig: emulator time)
//	  guest          string   optional, VMs: what they boot ("pvh-tiny",
//	                          "linux-minimal", "linux-debian"); VMs are
//	                          compared only when it is the same
//	  status         string   "measured" | "skipped" | "failed"
//	  reason         string   why skipped or failed (required for those)
//	  samples        array    one object per start, warm-up excluded; a
//	                          field that is zero or absent does not apply:
//	    ready_ns             exec to READY
//	    exit_ns              exec to exit
//	    cpu_user_ns          VMM/runtime user CPU time
//	    cpu_sys_ns           VMM/runtime system CPU time
//	    peak_rss_kib         VMM/runtime peak resident set (ru_maxrss)
//	    steady_rss_kib       VMM/runtime resident set once READY
//	    guest_touched_kib    resident part of the guest-memory mapping
//	    cgroup_memory_kib    the container's memory cgroup once READY
//	    guest_clock_ready_ns the guest's own clock at READY
//	  stats          object   per metric present in samples (same names):
//	    n, median, min, max, p95   integers in the metric's unit
//
// Statistics skip zero values. The median of an even number of samples is
// the mean of the two middle ones, rounded down. The 95th percentile uses
// the nearest-rank method: the value at rank ceil(0.95·n) of the sorted
// samples (so for n < 20 it is the maximum). Load checks that stored
// stats match the samples, so a hand-edited number is caught.
//
// Adding an optional field keeps version 1; renaming, removing or
// changing the meaning or unit of a field makes version 2.
//
// # Comparing runs
//
// Ratios divides medians within one Run: two subjects measured minutes
// apart on the same machine share its load and its KVM. Compare, for CI,
// sets a new Run against a stored baseline and reports every subject whose
// median time to READY or peak RSS got worse by more than a threshold; it
// refuses (ErrFlavourMismatch) runs made under different KVM flavours or
// nesting, whose differences would be the machine's and not the code's.
package report
