package vmm

// CPUID leaves and bits gvmm adjusts before handing KVM's supported CPUID
// to a vCPU (Intel SDM Vol. 2A "CPUID"; Documentation/virt/kvm/x86/cpuid.rst).
const (
	cpuidLeafFeatures       = 0x1
	cpuidLeafExtTopology    = 0xb
	cpuidLeafV2ExtTopology  = 0x1f
	cpuidHypervisorBit      = 1 << 31 // leaf 1 ECX: "running under a hypervisor"
	cpuidLeafKVMSignature   = 0x40000000
	cpuidLeafKVMFeatures    = 0x40000001
	cpuidKVMSignatureEBX    = 0x4b4d564b // "KVMK"
	cpuidKVMSignatureECX    = 0x564b4d56 // "VMKV"
	cpuidKVMSignatureEDX    = 0x0000004d // "M\0\0\0"
	cpuidInitialAPICIDShift = 24         // leaf 1 EBX[31:24]
	cpuidInitialAPICIDMask  = 0xff << cpuidInitialAPICIDShift
)

// GuestCPUID derives vCPU id's CPUID from KVM's supported leaves:
//
//   - leaf 1 ECX bit 31 (hypervisor present) is set, so the guest looks for
//     hypervisor leaves at all;
//   - leaves 0x40000000/0x40000001 carry the "KVMKVMKVM" signature and KVM's
//     paravirtual features. Without them Linux does not use kvm-clock and,
//     under nested virtualization, hangs calibrating the TSC
//     (../shared/NESTED.md);
//   - the APIC ID fields (leaf 1 EBX[31:24], leaves 0xB/0x1F EDX) are the
//     vCPU's own index, matching the MP table.
//
// supported is not modified.
func GuestCPUID(supported []CPUIDEntry, id int) []CPUIDEntry {
	out := make([]CPUIDEntry, 0, len(supported)+2)
	haveSig, haveFeatures := false, false
	for _, e := range supported {
		switch e.Function {
		case cpuidLeafFeatures:
			e.ECX |= cpuidHypervisorBit
			e.EBX = e.EBX&^cpuidInitialAPICIDMask | uint32(id)<<cpuidInitialAPICIDShift
		case cpuidLeafExtTopology, cpuidLeafV2ExtTopology:
			e.EDX = uint32(id)
		case cpuidLeafKVMSignature:
			e.EAX = max(e.EAX, cpuidLeafKVMFeatures)
			e.EBX, e.ECX, e.EDX = cpuidKVMSignatureEBX, cpuidKVMSignatureECX, cpuidKVMSignatureEDX
			haveSig = true
		case cpuidLeafKVMFeatures:
			haveFeatures = true
		}
		out = append(out, e)
	}
	if !haveSig {
		out = append(out, CPUIDEntry{
			Function: cpuidLeafKVMSignature, EAX: cpuidLeafKVMFeatures,
			EBX: cpuidKVMSignatureEBX, ECX: cpuidKVMSignatureECX, EDX: cpuidKVMSignatureEDX,
		})
	}
	if !haveFeatures {
		// KVM did not list its PV features; offer none rather than guess.
		out = append(out, CPUIDEntry{Function: cpuidLeafKVMFeatures})
	}
	return out
}
