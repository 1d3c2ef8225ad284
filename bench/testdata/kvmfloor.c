/* kvmfloor: the raw cost of a KVM guest, the floor under any VMM.
 * Opens /dev/kvm, creates a VM with 4 KiB of memory and one vCPU, runs 12
 * bytes of real-mode code that write to a port and halt, and exits.
 * Built and run by bench/floor_test.go beside gvmm and QEMU. */
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

int main(void) {
	/* mov $0x440,%dx; mov $123,%al; out %al,(%dx); hlt; then padding. */
	const uint8_t code[12] = {0xba, 0x40, 0x04, 0xb0, 0x7b, 0xee, 0xf4, 0xf4, 0xf4, 0xf4, 0xf4, 0xf4};
	int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm < 0) { perror("/dev/kvm"); return 1; }
	int vm = ioctl(kvm, KVM_CREATE_VM, 0);
	uint8_t *mem = mmap(NULL, 0x1000, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	memcpy(mem, code, sizeof code);
	struct kvm_userspace_memory_region region = {
		.slot = 0, .guest_phys_addr = 0x1000, .memory_size = 0x1000, .userspace_addr = (uint64_t)mem,
	};
	if (ioctl(vm, KVM_SET_USER_MEMORY_REGION, &region) < 0) { perror("memory"); return 1; }
	int vcpu = ioctl(vm, KVM_CREATE_VCPU, 0);
	int size = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
	struct kvm_run *run = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0);
	struct kvm_sregs sregs;
	ioctl(vcpu, KVM_GET_SREGS, &sregs);
	sregs.cs.base = 0; sregs.cs.selector = 0;
	ioctl(vcpu, KVM_SET_SREGS, &sregs);
	struct kvm_regs regs = {.rip = 0x1000, .rflags = 0x2};
	ioctl(vcpu, KVM_SET_REGS, &regs);
	for (;;) {
		if (ioctl(vcpu, KVM_RUN, 0) < 0) { perror("KVM_RUN"); return 1; }
		switch (run->exit_reason) {
		case KVM_EXIT_IO:
			fprintf(stderr, "READY\n");
			break;
		case KVM_EXIT_HLT:
			return 0;
		default:
			fprintf(stderr, "exit reason %d\n", run->exit_reason);
			return 1;
		}
	}
}
