// Package layers has no code of its own. Its test holds the tree to the
// dependency rules of the architecture, so that an arrow pointing back up
// fails `make test` instead of waiting for a reviewer:
//
//		cmd/gvmm ──► internal/machine ──► boot, devices, guest ──► vmm
//		bench ─────► bench/harness ─────► container, guest
//
//	  - vmm imports nothing of gvmm's, and so no device;
//	  - devices import vmm, each other and guest/ready (the READY byte), and
//	    no internal/* package;
//	  - boot imports vmm only;
//	  - guest/ready imports nothing of gvmm's, guest/agentcfg only
//	    guest/ready: the agent, the VMM and the container runtime share them;
//	  - container stays standalone: its own packages, guest/ready and
//	    internal/seccomp, the filter compiler it shares with the VMM's
//	    sandbox (which imports nothing of gvmm's);
//	  - only files named *_unsafe.go (and their tests) import "unsafe".
package layers
