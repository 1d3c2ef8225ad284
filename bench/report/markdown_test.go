package report

import (
	"bytes"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func render(t *testing.T, run *Run) string {
	t.Helper()
	var buf bytes.Buffer
	require.NoError(t, WriteMarkdown(&buf, run))
	return buf.String()
}

// section returns the text of the "## name" section.
func section(t *testing.T, md, name string) string {
	t.Helper()
	_, rest, ok := strings.Cut(md, "\n## "+name+"\n")
	require.True(t, ok, "section %q missing", name)
	body, _, _ := strings.Cut(rest, "\n## ")
	return body
}

func TestMarkdownFixture(t *testing.T) {
	md := render(t, fixtureRun())
	assert.True(t, strings.HasPrefix(md, "# Castles vs Villages\n"))

	host := section(t, md, "Host")
	assert.Contains(t, host, "| KVM flavour | kvm_pvm |")
	assert.Contains(t, host, "| CPU | AMD EPYC × 2 |")
	assert.Contains(t, host, "| kernel | 6.18.44 |")
	assert.Contains(t, host, "| load average at start (1/5/15 min) | 0.50 / 0.60 / 0.70 |")
	assert.Contains(t, host, "| load average at end | 1.20 / 0.90 / 0.80 |")
	assert.Contains(t, host, "**These are not hardware numbers.** /dev/kvm on this host is kvm_pvm")
	assert.NotContains(t, host, "busy", "load 1.2 on 2 CPUs is not busy")

	rig := section(t, md, "The nested rig")
	assert.Contains(t, rig, "QEMU's TCG emulator (build/rig-qemu/qemu-system-x86_64, 1 CPUs, 2048 MiB, 20m0s of host wall time")
	assert.Contains(t, rig, "whose own KVM is kvm_amd on an emulated AMD EPYC (emulated), kernel 6.1.0-41-cloud-amd64")

	start := section(t, md, "Start-up: time to READY")
	assert.Contains(t, start, "| subject | kind | workload | where | n | median | min | max | p95 | × crun |")
	assert.Contains(t, start, "| gvmm-container | container | ready | host | 5 | 6.90 ms | 6.80 ms | 7.00 ms | 7.00 ms | 0.69× |")
	assert.Contains(t, start, "| gvmm-vm-bzimage-minimal (rig) | vm | ready | rig | 3 | 800.00 ms |")
	assert.Contains(t, start, "| — (other clock) |")
	assert.NotContains(t, start, "gokvm", "skipped subjects have no row")

	mem := section(t, md, "Memory")
	assert.Contains(t, mem, "| gvmm-vm-pvh-tiny | vm | host | 5 | 4.2 MiB | — | — | — | 2.15× |")
	assert.Contains(t, section(t, md, "Exit and CPU"), "| crun | 11.00 ms | 2.50 ms | 5.00 ms | — |")

	notRun := section(t, md, "Skipped and failed")
	assert.Contains(t, notRun, "- **gokvm** (vm, skipped): gokvm not built: go build github.com/bobuhiro11/gokvm failed")
	assert.Contains(t, notRun, "- **qemu-pc (rig)** (vm, failed): no READY within 60s")

	find := section(t, md, "Findings")
	assert.Contains(t, find, "3 of the issue's 4 targets met in this run.")
	assert.Contains(t, find, "- gvmm's tiny-guest floor is 1.8× the raw KVM program (target ≤ 2×): met\n")
	assert.Contains(t, find, "- gvmm container to READY is 0.69× crun (target ≤ 0.5×): not met\n")
	assert.Contains(t, find, "- gvmm-container loses to crun on peak RSS")
	assert.Contains(t, md, "](startup.svg)")
	assert.Contains(t, md, "](memory.svg)")
}

func TestMarkdownHostNotes(t *testing.T) {
	for _, tc := range []struct {
		name string
		host Host
		want []string
		not  []string
	}{
		{"bare metal", Host{KVMFlavour: FlavourIntel, CPUs: 8}, nil, []string{"not hardware numbers", "busy", "No KVM"}},
		{"nested on a cloud VM", Host{KVMFlavour: FlavourIntel, Nested: true, InVM: true, CPUs: 4},
			[]string{"**These are nested numbers, not hardware numbers.**", "its kvm_intel is nested"}, nil},
		{"no KVM", Host{KVMFlavour: FlavourNone, CPUs: 2}, []string{"**No KVM on this host.**"}, []string{"hardware"}},
		{"busy", Host{KVMFlavour: FlavourAMD, CPUs: 2, LoadEnd: LoadAvg{One: 3.5}},
			[]string{"The machine was busy", "above its 2 CPUs"}, []string{"hardware numbers"}},
		{"pipes in a CPU name stay in their cell", Host{KVMFlavour: FlavourAMD, CPUs: 1, CPUModel: "a|b"},
			[]string{`| CPU | a\|b × 1 |`}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			run := fixtureRun()
			run.Host = tc.host
			host := section(t, render(t, run), "Host")
			for _, w := range tc.want {
				assert.Contains(t, host, w)
			}
			for _, n := range tc.not {
				assert.NotContains(t, host, n)
			}
		})
	}
}

func TestMarkdownAllMeasuredNoBaseline(t *testing.T) {
	run := fixtureRun()
	run.Baseline = ""
	var kept []Subject
	for _, s := range run.Subjects {
		if s.Status == StatusMeasured {
			kept = append(kept, s)
		}
	}
	run.Subjects = kept
	md := render(t, run)
	assert.Contains(t, section(t, md, "Skipped and failed"), "Every subject was measured.")
	assert.Contains(t, section(t, md, "Start-up: time to READY"), "| ratio (no baseline) |")
}

func TestMarkdownTargetsNotMeasured(t *testing.T) {
	run := fixtureRun()
	run.Subjects = run.Subjects[3:] // no raw-kvm, tiny guest or QEMU microvm
	find := section(t, render(t, run), "Findings")
	assert.Contains(t, find, "0 of the issue's 4 targets met in this run; 3 could not be judged")
	assert.Contains(t, find, `- gvmm's tiny-guest floor: no subject "gvmm-vm-pvh-tiny" in this run`)
	assert.Contains(t, find, "- gvmm container to READY is 0.69× crun (target ≤ 0.5×): not met")
}
