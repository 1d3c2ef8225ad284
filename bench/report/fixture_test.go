package report

import (
	"time"
)

const ms = int64(time.Millisecond)

// starts makes one sample per ready time, each with the given peak RSS.
func starts(rssKiB int64, readyNS ...int64) []Sample {
	out := make([]Sample, len(readyNS))
	for i, r := range readyNS {
		out[i] = Sample{ReadyNS: r, ExitNS: r + ms, CPUUserNS: r / 4, CPUSysNS: r / 2, PeakRSSKiB: rssKiB}
	}
	return out
}

// fixtureRun is a run shaped like a real one on this machine: the tiny
// guest floor and the containers on the host, a Linux VM in the rig, a
// skipped and a failed peer. Medians: raw-kvm 1 ms, gvmm tiny 1.8 ms,
// QEMU microvm 25 ms, gvmm container 6.9 ms, crun 10 ms, runc 12 ms;
// in the rig gvmm 800 ms against QEMU 600 ms.
func fixtureRun() *Run {
	run := &Run{
		SchemaVersion: SchemaVersion,
		StartedAt:     time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC),
		FinishedAt:    time.Date(2026, 11, 27, 12, 7, 30, 0, time.UTC),
		Baseline:      SubjectCrun,
		Host: Host{KVMFlavour: FlavourPVM, InVM: true, CPUModel: "AMD EPYC", Kernel: "6.18.44", CPUs: 2,
			LoadStart: LoadAvg{0.5, 0.6, 0.7}, LoadEnd: LoadAvg{1.2, 0.9, 0.8}, GoVersion: "go1.26.0", GitRevision: "abc1234"},
		Rig: &RigHost{Host: Host{KVMFlavour: FlavourAMD, Nested: true, InVM: true, CPUModel: "AMD EPYC (emulated)", Kernel: "6.1.0-41-cloud-amd64", CPUs: 1},
			Emulator: "build/rig-qemu/qemu-system-x86_64", CPUs: 1, MemoryMiB: 2048, WallNS: int64(20 * time.Minute)},
		Subjects: []Subject{
			{Name: SubjectRawKVM, Kind: KindProcess, Workload: WorkloadReady, Where: WhereHost, Status: StatusMeasured,
				Samples: starts(1200, 1*ms, 1*ms, 1*ms, 2*ms, 1*ms)},
			{Name: SubjectGvmmTiny, Kind: KindVM, Workload: WorkloadReady, Where: WhereHost, Status: StatusMeasured,
				Samples: starts(4300, 1800_000, 1700_000, 1900_000, 1800_000, 5*ms)},
			{Name: SubjectQEMUMicrovmTiny, Kind: KindVM, Workload: WorkloadReady, Where: WhereHost, Status: StatusMeasured,
				Samples: starts(40_000, 25*ms, 24*ms, 26*ms, 25*ms, 27*ms)},
			{Name: SubjectGvmmContainer, Kind: KindContainer, Workload: WorkloadReady, Where: WhereHost, Status: StatusMeasured,
				Samples: starts(11_000, 6900_000, 7*ms, 6800_000, 6900_000, 6900_000)},
			{Name: SubjectCrun, Kind: KindContainer, Workload: WorkloadReady, Where: WhereHost, Status: StatusMeasured,
				Samples: starts(2_000, 10*ms, 10*ms, 11*ms, 9*ms, 10*ms)},
			{Name: "runc", Kind: KindContainer, Workload: WorkloadReady, Where: WhereHost, Status: StatusMeasured,
				Samples: starts(9_000, 12*ms, 12*ms, 12*ms, 13*ms, 11*ms)},
			{Name: "gvmm-vm-bzimage-minimal", Kind: KindVM, Workload: WorkloadReady, Where: WhereRig, Status: StatusMeasured,
				Samples: starts(70_000, 800*ms, 810*ms, 790*ms)},
			{Name: "qemu-microvm-bzimage-minimal", Kind: KindVM, Workload: WorkloadReady, Where: WhereRig, Status: StatusMeasured,
				Samples: starts(60_000, 600*ms, 610*ms, 590*ms)},
			{Name: "gokvm", Kind: KindVM, Workload: WorkloadReady, Where: WhereHost, Status: StatusSkipped,
				Reason: "gokvm not built: go build github.com/bobuhiro11/gokvm failed"},
			{Name: "qemu-pc", Kind: KindVM, Workload: WorkloadReady, Where: WhereRig, Status: StatusFailed,
				Reason: "no READY within 60s"},
		},
	}
	run.ComputeStats()
	return run
}
