package main

// cpuid executes the CPUID instruction with EAX=leaf and ECX=subleaf
// (cpuid_amd64.s). golang.org/x/sys/cpu decodes feature bits but does not
// expose raw leaves, and `gvmm check` needs the hypervisor leaves
// (0x40000000) as they are. gvmm is amd64-only (vmm/kvm_abi_amd64.go), so
// there is no other implementation.
func cpuid(leaf, subleaf uint32) (eax, ebx, ecx, edx uint32)
