package main

import (
	"errors"
	"fmt"
	"os"

	"gvmm/vmm"
)

// advice turns the errors a user can fix into one line that says how.
func advice(err error) string {
	switch {
	case errors.Is(err, vmm.ErrNoKVM):
		return fmt.Sprintf("%v: load KVM (modprobe kvm_intel or kvm_amd) and enable "+
			"virtualization (VT-x/AMD-V) in the firmware; inside a VM, enable nested "+
			"virtualization on its host (kvm_intel nested=1, kvm_amd nested=1) or use a "+
			"runner with nested virtualization", err)
	case errors.Is(err, vmm.ErrKVMPermission):
		return fmt.Sprintf("%v: add your user to the kvm group (sudo usermod -aG kvm $USER, "+
			"then log in again) or run as root", err)
	}
	return err.Error()
}

// fail prints one error line and returns the failure exit code.
func fail(err error) int {
	fmt.Fprintln(os.Stderr, "gvmm: "+advice(err))
	return 1
}
