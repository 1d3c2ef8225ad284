// Package testguests holds gvmm's tiny test guests: a few hundred bytes of
// 32-bit assembly each, linked as PVH-bootable ELF files (pvh.ld). They let
// the VMM be tested on any /dev/kvm in milliseconds, without a Linux kernel.
//
//	hello32      the demo: prints, checks hvm_start_info, prints the command
//	             line, signals READY, exits 0 through the debug port
//	long64       switches to 64-bit long mode by itself, prints, exits 0
//	echo         echoes serial input until it reads 'q', exits 0
//	triplefault  loads an empty IDT and faults: KVM_EXIT_SHUTDOWN
//	spin         prints, signals READY, then loops until the VMM stops it
//	exit42       exits with status 42 through the debug port
//	hostile      plays the script it is given as its initrd (script.go):
//	             the attacker's half of the hostile-guest suite
//	             (cmd/gvmm/hostile_test.go), port, MMIO, PCI configuration
//	             and guest-memory writes, MSRs, CPUID, hlt with IF=0
//
// The Makefile builds them into build/testguests with the system assembler;
// Build does the same for tests, from the sources embedded here.
package testguests
