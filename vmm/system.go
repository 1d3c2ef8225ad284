package vmm

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// DevKVM is the KVM device node.
const DevKVM = "/dev/kvm"

// Sentinel errors for a host that cannot run VMs; cmd/gvmm turns each into
// advice.
var (
	ErrNoKVM          = errors.New("/dev/kvm does not exist")
	ErrKVMPermission  = errors.New("no permission to open /dev/kvm")
	ErrAPIVersion     = errors.New("unsupported KVM API version")
	ErrMissingCap     = errors.New("KVM lacks a required capability")
	ErrTooManyVCPUs   = errors.New("more vCPUs than KVM supports")
	ErrNoVCPUs        = errors.New("a VM needs at least one vCPU")
	ErrBadMemorySlots = errors.New("guest memory needs more slots than KVM has")
)

// System is an open /dev/kvm: the handle for questions about the host's KVM
// and for creating VMs.
type System struct {
	fd       int
	mmapSize int
}

// requiredCaps are the capabilities gvmm cannot run without.
var requiredCaps = []struct {
	cap  uintptr
	name string
}{
	{KVM_CAP_USER_MEMORY, "KVM_CAP_USER_MEMORY"},
	{KVM_CAP_IRQCHIP, "KVM_CAP_IRQCHIP"},
	{KVM_CAP_PIT2, "KVM_CAP_PIT2"},
	{KVM_CAP_EXT_CPUID, "KVM_CAP_EXT_CPUID"},
	{KVM_CAP_SET_TSS_ADDR, "KVM_CAP_SET_TSS_ADDR"},
	{KVM_CAP_IMMEDIATE_EXIT, "KVM_CAP_IMMEDIATE_EXIT"},
}

// OpenSystem opens path (normally DevKVM), checks the API version and the
// capabilities gvmm depends on.
func OpenSystem(path string) (*System, error) {
	fd, err := unix.Open(path, unix.O_RDWR|unix.O_CLOEXEC, 0)
	switch {
	case errors.Is(err, unix.ENOENT):
		return nil, fmt.Errorf("open %s: %w", path, ErrNoKVM)
	case errors.Is(err, unix.EACCES), errors.Is(err, unix.EPERM):
		return nil, fmt.Errorf("open %s: %w", path, ErrKVMPermission)
	case err != nil:
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	s := &System{fd: fd}
	if err := s.check(); err != nil {
		unix.Close(fd)
		return nil, err
	}
	return s, nil
}

func (s *System) check() error {
	v, err := s.APIVersion()
	if err != nil {
		return err
	}
	if v != KVM_API_VERSION {
		return fmt.Errorf("%w: %d, want %d", ErrAPIVersion, v, KVM_API_VERSION)
	}
	for _, c := range requiredCaps {
		if n, _ := s.CheckExtension(c.cap); n <= 0 {
			return fmt.Errorf("%w: %s", ErrMissingCap, c.name)
		}
	}
	size, err := ioctl(s.fd, KVM_GET_VCPU_MMAP_SIZE, 0)
	if err != nil {
		return ioctlError("KVM_GET_VCPU_MMAP_SIZE", err)
	}
	s.mmapSize = int(size)
	return nil
}

// APIVersion returns KVM_GET_API_VERSION.
func (s *System) APIVersion() (int, error) {
	v, err := ioctl(s.fd, KVM_GET_API_VERSION, 0)
	if err != nil {
		return 0, ioctlError("KVM_GET_API_VERSION", err)
	}
	return int(v), nil
}

// CheckExtension returns KVM_CHECK_EXTENSION for capability c: 0 when
// absent, 1 or a capability-specific number when present.
func (s *System) CheckExtension(c uintptr) (int, error) {
	v, err := ioctl(s.fd, KVM_CHECK_EXTENSION, c)
	if err != nil {
		return 0, ioctlError("KVM_CHECK_EXTENSION", err)
	}
	return int(v), nil
}

// MaxVCPUs returns how many vCPUs one VM may have. api.rst: use
// KVM_CAP_MAX_VCPUS, and if that is zero, KVM_CAP_NR_VCPUS; if both are
// zero, assume 4.
func (s *System) MaxVCPUs() int {
	if n, _ := s.CheckExtension(KVM_CAP_MAX_VCPUS); n > 0 {
		return n
	}
	if n, _ := s.CheckExtension(KVM_CAP_NR_VCPUS); n > 0 {
		return n
	}
	return 4
}

// SupportedCPUID returns KVM_GET_SUPPORTED_CPUID: every leaf the host and
// KVM can offer a guest. The entry count is unknown in advance, so grow the
// buffer on E2BIG as api.rst describes.
func (s *System) SupportedCPUID() ([]CPUIDEntry, error) {
	for n := 64; n <= 4096; n *= 2 {
		entries, err := getCPUID(s.fd, KVM_GET_SUPPORTED_CPUID, n)
		if errors.Is(err, unix.E2BIG) {
			continue
		}
		if err != nil {
			return nil, ioctlError("KVM_GET_SUPPORTED_CPUID", err)
		}
		return entries, nil
	}
	return nil, errors.New("KVM_GET_SUPPORTED_CPUID: more than 4096 entries")
}

// Close closes /dev/kvm. VMs created from it stay valid.
func (s *System) Close() error { return unix.Close(s.fd) }

// Flavour names the kernel module providing /dev/kvm on this host:
// "kvm_intel", "kvm_amd", "kvm_pvm" (software nested, as on some cloud
// VMs), or "" when none is loaded. It reads /sys/module.
func Flavour() string {
	for _, m := range []string{"kvm_intel", "kvm_amd", "kvm_pvm"} {
		if _, err := os.Stat("/sys/module/" + m); err == nil {
			return m
		}
	}
	return ""
}
