package vmm

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"gvmm/internal/testenv"
)

// abiValues lists every ioctl number and structure size this package
// hard-codes, with the C expression that computes it from the kernel's
// own headers.
var abiValues = []struct {
	c       string
	goValue uint64
}{
	{"KVM_GET_API_VERSION", uint64(KVM_GET_API_VERSION)},
	{"KVM_CREATE_VM", uint64(KVM_CREATE_VM)},
	{"KVM_CHECK_EXTENSION", uint64(KVM_CHECK_EXTENSION)},
	{"KVM_GET_VCPU_MMAP_SIZE", uint64(KVM_GET_VCPU_MMAP_SIZE)},
	{"KVM_GET_SUPPORTED_CPUID", uint64(KVM_GET_SUPPORTED_CPUID)},
	{"KVM_CREATE_VCPU", uint64(KVM_CREATE_VCPU)},
	{"KVM_SET_USER_MEMORY_REGION", uint64(KVM_SET_USER_MEMORY_REGION)},
	{"KVM_SET_TSS_ADDR", uint64(KVM_SET_TSS_ADDR)},
	{"KVM_SET_IDENTITY_MAP_ADDR", uint64(KVM_SET_IDENTITY_MAP_ADDR)},
	{"KVM_CREATE_IRQCHIP", uint64(KVM_CREATE_IRQCHIP)},
	{"KVM_IRQ_LINE", uint64(KVM_IRQ_LINE)},
	{"KVM_IRQFD", uint64(KVM_IRQFD)},
	{"KVM_CREATE_PIT2", uint64(KVM_CREATE_PIT2)},
	{"KVM_IOEVENTFD", uint64(KVM_IOEVENTFD)},
	{"KVM_SIGNAL_MSI", uint64(KVM_SIGNAL_MSI)},
	{"KVM_CAP_SIGNAL_MSI", uint64(KVM_CAP_SIGNAL_MSI)},
	{"sizeof(struct kvm_msi)", uint64(unsafe.Sizeof(kvmMSI{}))},
	{"KVM_GET_STATS_FD", uint64(KVM_GET_STATS_FD)},
	{"KVM_CAP_BINARY_STATS_FD", uint64(KVM_CAP_BINARY_STATS_FD)},
	{"sizeof(struct kvm_stats_header)", statsHeaderSize},
	{"sizeof(struct kvm_stats_desc)", statsDescSize},
	{"KVM_STATS_TYPE_MASK", StatsTypeMask},
	{"KVM_STATS_TYPE_CUMULATIVE", StatsCumulative},
	{"KVM_RUN", uint64(KVM_RUN)},
	{"KVM_GET_REGS", uint64(KVM_GET_REGS)},
	{"KVM_SET_REGS", uint64(KVM_SET_REGS)},
	{"KVM_GET_SREGS", uint64(KVM_GET_SREGS)},
	{"KVM_SET_SREGS", uint64(KVM_SET_SREGS)},
	{"KVM_GET_MSRS", uint64(KVM_GET_MSRS)},
	{"KVM_SET_MSRS", uint64(KVM_SET_MSRS)},
	{"KVM_GET_FPU", uint64(KVM_GET_FPU)},
	{"KVM_SET_FPU", uint64(KVM_SET_FPU)},
	{"KVM_GET_LAPIC", uint64(KVM_GET_LAPIC)},
	{"KVM_SET_LAPIC", uint64(KVM_SET_LAPIC)},
	{"KVM_SET_CPUID2", uint64(KVM_SET_CPUID2)},
	{"KVM_CAP_IRQCHIP", uint64(KVM_CAP_IRQCHIP)},
	{"KVM_CAP_USER_MEMORY", uint64(KVM_CAP_USER_MEMORY)},
	{"KVM_CAP_SET_TSS_ADDR", uint64(KVM_CAP_SET_TSS_ADDR)},
	{"KVM_CAP_EXT_CPUID", uint64(KVM_CAP_EXT_CPUID)},
	{"KVM_CAP_NR_VCPUS", uint64(KVM_CAP_NR_VCPUS)},
	{"KVM_CAP_NR_MEMSLOTS", uint64(KVM_CAP_NR_MEMSLOTS)},
	{"KVM_CAP_PIT2", uint64(KVM_CAP_PIT2)},
	{"KVM_CAP_IRQFD", uint64(KVM_CAP_IRQFD)},
	{"KVM_CAP_IOEVENTFD", uint64(KVM_CAP_IOEVENTFD)},
	{"KVM_CAP_SET_IDENTITY_MAP_ADDR", uint64(KVM_CAP_SET_IDENTITY_MAP_ADDR)},
	{"KVM_CAP_ADJUST_CLOCK", uint64(KVM_CAP_ADJUST_CLOCK)},
	{"KVM_CAP_MAX_VCPUS", uint64(KVM_CAP_MAX_VCPUS)},
	{"KVM_CAP_TSC_DEADLINE_TIMER", uint64(KVM_CAP_TSC_DEADLINE_TIMER)},
	{"KVM_CAP_IMMEDIATE_EXIT", uint64(KVM_CAP_IMMEDIATE_EXIT)},
	{"KVM_EXIT_IO", uint64(KVM_EXIT_IO)},
	{"KVM_EXIT_HLT", uint64(KVM_EXIT_HLT)},
	{"KVM_EXIT_MMIO", uint64(KVM_EXIT_MMIO)},
	{"KVM_EXIT_SHUTDOWN", uint64(KVM_EXIT_SHUTDOWN)},
	{"KVM_EXIT_FAIL_ENTRY", uint64(KVM_EXIT_FAIL_ENTRY)},
	{"KVM_EXIT_INTR", uint64(KVM_EXIT_INTR)},
	{"KVM_EXIT_INTERNAL_ERROR", uint64(KVM_EXIT_INTERNAL_ERROR)},
	{"KVM_EXIT_SYSTEM_EVENT", uint64(KVM_EXIT_SYSTEM_EVENT)},
	{"KVM_SYSTEM_EVENT_CRASH", uint64(KVM_SYSTEM_EVENT_CRASH)},
	{"KVM_PIT_SPEAKER_DUMMY", uint64(KVM_PIT_SPEAKER_DUMMY)},
	{"KVM_IOEVENTFD_FLAG_PIO", uint64(KVM_IOEVENTFD_FLAG_PIO)},
	{"KVM_CPUID_FLAG_SIGNIFCANT_INDEX", uint64(KVM_CPUID_FLAG_SIGNIFCANT_INDEX)},
	{"sizeof(struct kvm_regs)", uint64(unsafe.Sizeof(Regs{}))},
	{"sizeof(struct kvm_sregs)", uint64(unsafe.Sizeof(Sregs{}))},
	{"sizeof(struct kvm_segment)", uint64(unsafe.Sizeof(Segment{}))},
	{"sizeof(struct kvm_fpu)", uint64(unsafe.Sizeof(FPU{}))},
	{"sizeof(struct kvm_cpuid_entry2)", uint64(unsafe.Sizeof(CPUIDEntry{}))},
	{"sizeof(struct kvm_msr_entry)", uint64(unsafe.Sizeof(kvmMSREntry{}))},
	{"sizeof(struct kvm_userspace_memory_region)", uint64(unsafe.Sizeof(kvmUserspaceMemoryRegion{}))},
	{"sizeof(struct kvm_irqfd)", uint64(unsafe.Sizeof(kvmIRQFD{}))},
	{"sizeof(struct kvm_ioeventfd)", uint64(unsafe.Sizeof(kvmIOEventFD{}))},
	{"offsetof(struct kvm_run, immediate_exit)", uint64(runImmediateExit)},
	{"offsetof(struct kvm_run, exit_reason)", uint64(runExitReason)},
	{"offsetof(struct kvm_run, io)", uint64(runUnion)},
	{"offsetof(struct kvm_run, io.data_offset) - offsetof(struct kvm_run, io)", uint64(ioDataOffset)},
	{"offsetof(struct kvm_run, mmio.len) - offsetof(struct kvm_run, mmio)", uint64(mmioLen)},
	{"offsetof(struct kvm_run, mmio.is_write) - offsetof(struct kvm_run, mmio)", uint64(mmioIsWrite)},
	{"offsetof(struct kvm_run, internal.data) - offsetof(struct kvm_run, internal)", uint64(internalData)},
}

// TestABIMatchesKernelHeaders compiles a C program against
// <linux/kvm.h> and compares every value with ours. It needs gcc and the
// kernel headers (linux-libc-dev), which CI installs.
func TestABIMatchesKernelHeaders(t *testing.T) {
	testenv.NeedTool(t, "gcc", "gcc") // with linux-libc-dev, to read <linux/kvm.h>
	testenv.NeedFile(t, "/usr/include/linux/kvm.h", "apt-get install linux-libc-dev")
	var src strings.Builder
	src.WriteString("#include <stdio.h>\n#include <stddef.h>\n#include <linux/kvm.h>\nint main(void) {\n")
	for _, v := range abiValues {
		src.WriteString("\tprintf(\"%llu\\n\", (unsigned long long)(" + v.c + "));\n")
	}
	src.WriteString("\treturn 0;\n}\n")
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "abi.c"), []byte(src.String()), 0o644))
	out, err := exec.Command("gcc", "-o", filepath.Join(dir, "abi"), filepath.Join(dir, "abi.c")).CombinedOutput()
	require.NoError(t, err, "%s", out)
	out, err = exec.Command(filepath.Join(dir, "abi")).Output()
	require.NoError(t, err)
	lines := strings.Fields(string(out))
	require.Len(t, lines, len(abiValues))
	for i, v := range abiValues {
		want, err := strconv.ParseUint(lines[i], 10, 64)
		require.NoError(t, err)
		assert.Equal(t, want, v.goValue, "%s: kernel %#x, gvmm %#x", v.c, want, v.goValue)
	}
}

// TestIoctlNumbersLiteral pins a few numbers to the values quoted in
// api.rst and other VMMs, so a broken encoding shows even without gcc.
func TestIoctlNumbersLiteral(t *testing.T) {
	assert.EqualValues(t, 0xae80, KVM_RUN)
	assert.EqualValues(t, 0xae01, KVM_CREATE_VM)
	assert.EqualValues(t, 0x4020ae46, KVM_SET_USER_MEMORY_REGION)
	assert.EqualValues(t, 0x8090ae81, KVM_GET_REGS)
	assert.EqualValues(t, 0x4138ae84, KVM_SET_SREGS)
	assert.EqualValues(t, 0xc008ae05, KVM_GET_SUPPORTED_CPUID)
}
