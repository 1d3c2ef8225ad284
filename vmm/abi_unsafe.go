package vmm

import "unsafe"

// This file holds the few places where Go memory is laid out as a kernel
// structure with a variable-length tail (struct kvm_cpuid2, kvm_msrs).

// cpuidBuffer builds struct kvm_cpuid2 with its entries.
func cpuidBuffer(entries []CPUIDEntry) []byte {
	hdr := int(unsafe.Sizeof(kvmCPUID2{}))
	buf := make([]byte, hdr+len(entries)*int(unsafe.Sizeof(CPUIDEntry{})))
	(*kvmCPUID2)(unsafe.Pointer(&buf[0])).Nent = uint32(len(entries))
	if len(entries) > 0 {
		copy(unsafe.Slice((*CPUIDEntry)(unsafe.Pointer(&buf[hdr])), len(entries)), entries)
	}
	return buf
}

// getCPUID issues a kvm_cpuid2-returning ioctl with room for n entries.
func getCPUID(fd int, req uintptr, n int) ([]CPUIDEntry, error) {
	buf := cpuidBuffer(make([]CPUIDEntry, n))
	if err := ioctlPtr(fd, req, &buf[0]); err != nil {
		return nil, err
	}
	got := min(int((*kvmCPUID2)(unsafe.Pointer(&buf[0])).Nent), n)
	hdr := int(unsafe.Sizeof(kvmCPUID2{}))
	out := make([]CPUIDEntry, got)
	copy(out, unsafe.Slice((*CPUIDEntry)(unsafe.Pointer(&buf[hdr])), got))
	return out, nil
}

// msrBuffer builds struct kvm_msrs with its entries.
func msrBuffer(msrs []MSR) []byte {
	hdr := int(unsafe.Sizeof(kvmMSRs{}))
	buf := make([]byte, hdr+len(msrs)*int(unsafe.Sizeof(kvmMSREntry{})))
	(*kvmMSRs)(unsafe.Pointer(&buf[0])).NMSRs = uint32(len(msrs))
	entries := unsafe.Slice((*kvmMSREntry)(unsafe.Pointer(&buf[hdr])), len(msrs))
	for i, m := range msrs {
		entries[i] = kvmMSREntry{Index: m.Index, Data: m.Data}
	}
	return buf
}
