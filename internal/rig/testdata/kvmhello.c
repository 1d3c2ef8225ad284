/*
 * kvmhello: the smallest useful KVM program, run inside the rig's L1 to prove
 * that /dev/kvm there is a working hardware-virtualization KVM (kvm-amd on
 * QEMU's emulated SVM), before any VMM is involved.
 *
 * It follows Documentation/virt/kvm/api.rst: KVM_GET_API_VERSION, KVM_CREATE_VM,
 * KVM_SET_USER_MEMORY_REGION, KVM_CREATE_VCPU, mmap of struct kvm_run,
 * KVM_SET_SREGS/KVM_SET_REGS, then KVM_RUN until KVM_EXIT_HLT.
 *
 * The guest is 16-bit real-mode code at guest-physical 0x1000 that adds two
 * registers the host set (RAX=2, RBX=3), writes the sum as an ASCII digit and
 * a newline to port 0x3f8 (COM1), and halts. The host prints every exit, so
 * the test asserts both the guest's computation ("5") and the exit sequence.
 *
 * Built by the rig's test with `gcc -static -O2`; L1 has no libc.
 */
#include <err.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define GUEST_MEM_SIZE 0x2000 /* two pages: 0x0000-0x1fff */
#define GUEST_CODE_ADDR 0x1000
#define COM1_PORT 0x3f8
#define MAX_EXITS 16

static const uint8_t guest_code[] = {
	0xba, 0xf8, 0x03, /* mov dx, 0x3f8 */
	0x00, 0xd8,       /* add al, bl */
	0x04, '0',        /* add al, '0' */
	0xee,             /* out dx, al */
	0xb0, '\n',       /* mov al, '\n' */
	0xee,             /* out dx, al */
	0xf4,             /* hlt */
};

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(void)
{
	double t0 = now();
	int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm < 0)
		err(1, "open /dev/kvm");
	int api = ioctl(kvm, KVM_GET_API_VERSION, 0);
	if (api != KVM_API_VERSION)
		errx(1, "KVM_GET_API_VERSION = %d, want %d", api, KVM_API_VERSION);
	printf("kvmhello: api version %d\n", api);

	int vm = ioctl(kvm, KVM_CREATE_VM, 0UL);
	if (vm < 0)
		err(1, "KVM_CREATE_VM");

	uint8_t *mem = mmap(NULL, GUEST_MEM_SIZE, PROT_READ | PROT_WRITE,
			    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED)
		err(1, "mmap guest memory");
	memcpy(mem + GUEST_CODE_ADDR, guest_code, sizeof(guest_code));
	struct kvm_userspace_memory_region region = {
		.slot = 0,
		.guest_phys_addr = 0,
		.memory_size = GUEST_MEM_SIZE,
		.userspace_addr = (uint64_t)mem,
	};
	if (ioctl(vm, KVM_SET_USER_MEMORY_REGION, &region) < 0)
		err(1, "KVM_SET_USER_MEMORY_REGION");

	int vcpu = ioctl(vm, KVM_CREATE_VCPU, 0UL);
	if (vcpu < 0)
		err(1, "KVM_CREATE_VCPU");
	int run_size = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, NULL);
	if (run_size < (int)sizeof(struct kvm_run))
		errx(1, "KVM_GET_VCPU_MMAP_SIZE = %d", run_size);
	struct kvm_run *run = mmap(NULL, run_size, PROT_READ | PROT_WRITE,
				   MAP_SHARED, vcpu, 0);
	if (run == MAP_FAILED)
		err(1, "mmap kvm_run");

	/* Real mode with CS base 0, so CS:IP = 0:0x1000 is GPA 0x1000. */
	struct kvm_sregs sregs;
	if (ioctl(vcpu, KVM_GET_SREGS, &sregs) < 0)
		err(1, "KVM_GET_SREGS");
	sregs.cs.base = 0;
	sregs.cs.selector = 0;
	if (ioctl(vcpu, KVM_SET_SREGS, &sregs) < 0)
		err(1, "KVM_SET_SREGS");
	struct kvm_regs regs = {
		.rip = GUEST_CODE_ADDR,
		.rax = 2,
		.rbx = 3,
		.rflags = 0x2, /* bit 1 is reserved and must be 1 */
	};
	if (ioctl(vcpu, KVM_SET_REGS, &regs) < 0)
		err(1, "KVM_SET_REGS");

	for (int exits = 0; exits < MAX_EXITS; exits++) {
		if (ioctl(vcpu, KVM_RUN, NULL) < 0)
			err(1, "KVM_RUN");
		switch (run->exit_reason) {
		case KVM_EXIT_IO:
			if (run->io.direction != KVM_EXIT_IO_OUT || run->io.size != 1 ||
			    run->io.port != COM1_PORT || run->io.count != 1)
				errx(1, "unexpected I/O exit: port 0x%x size %d dir %d",
				     run->io.port, run->io.size, run->io.direction);
			uint8_t byte = *((uint8_t *)run + run->io.data_offset);
			printf("kvmhello: out 0x%x 0x%02x\n", run->io.port, byte);
			break;
		case KVM_EXIT_HLT:
			printf("kvmhello: hlt after %d exits, %.3f ms in all\n",
			       exits + 1, (now() - t0) * 1e3);
			return 0;
		default:
			errx(1, "unexpected exit reason %d", run->exit_reason);
		}
	}
	errx(1, "no HLT after %d exits", MAX_EXITS);
}
