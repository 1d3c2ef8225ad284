package report

import (
	"os"
	"runtime"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

const cpuinfo = `processor	: 0
vendor_id	: GenuineIntel
model name	: Intel(R) Xeon(R) Platinum 8370C CPU @ 2.80GHz
flags		: fpu vme de pse vmx hypervisor lahf_lm

processor	: 1
model name	: Intel(R) Xeon(R) Platinum 8370C CPU @ 2.80GHz
flags		: fpu vme de pse vmx hypervisor lahf_lm
`

func hostFS(files map[string]string) fstest.MapFS {
	fsys := fstest.MapFS{
		"proc/cpuinfo":              {Data: []byte(cpuinfo)},
		"proc/sys/kernel/osrelease": {Data: []byte("6.8.0-1017-azure\n")},
		"proc/loadavg":              {Data: []byte("0.52 0.58 0.59 1/467 12345\n")},
	}
	for k, v := range files {
		fsys[k] = &fstest.MapFile{Data: []byte(v)}
	}
	return fsys
}

func TestProbeHost(t *testing.T) {
	for _, tc := range []struct {
		name    string
		files   map[string]string
		flavour Flavour
		nested  bool
	}{
		{"intel nested", map[string]string{"sys/module/kvm_intel/parameters/nested": "Y\n"}, FlavourIntel, true},
		{"amd nested off", map[string]string{"sys/module/kvm_amd/parameters/nested": "0\n"}, FlavourAMD, false},
		{"amd nested on", map[string]string{"sys/module/kvm_amd/parameters/nested": "1\n"}, FlavourAMD, true},
		{"pvm", map[string]string{"sys/module/kvm_pvm/parameters/verbose": "N\n"}, FlavourPVM, false},
		{"none", nil, FlavourNone, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, err := ProbeHost(hostFS(tc.files))
			require.NoError(t, err)
			assert.Equal(t, tc.flavour, h.KVMFlavour)
			assert.Equal(t, tc.nested, h.Nested)
			assert.True(t, h.InVM)
			assert.Equal(t, "Intel(R) Xeon(R) Platinum 8370C CPU @ 2.80GHz", h.CPUModel)
			assert.Equal(t, 2, h.CPUs)
			assert.Equal(t, "6.8.0-1017-azure", h.Kernel)
			assert.Equal(t, LoadAvg{0.52, 0.58, 0.59}, h.LoadStart)
			assert.Equal(t, runtime.Version(), h.GoVersion)
		})
	}
	bare := hostFS(nil)
	bare["proc/cpuinfo"] = &fstest.MapFile{Data: []byte(strings.ReplaceAll(cpuinfo, " hypervisor", ""))}
	h, err := ProbeHost(bare)
	require.NoError(t, err)
	assert.False(t, h.InVM, "no hypervisor flag: bare metal")
}

func TestProbeHostMissingFiles(t *testing.T) {
	for _, f := range []string{"proc/cpuinfo", "proc/sys/kernel/osrelease", "proc/loadavg"} {
		fsys := hostFS(nil)
		delete(fsys, f)
		_, err := ProbeHost(fsys)
		assert.ErrorContains(t, err, f)
	}
}

func TestReadLoadAvg(t *testing.T) {
	for _, bad := range []string{"", "0.5 0.6", "0.5 x 0.7 1/2 3", "-1 0 0 1/2 3"} {
		_, err := ReadLoadAvg(fstest.MapFS{"proc/loadavg": {Data: []byte(bad)}})
		assert.ErrorIs(t, err, ErrLoadAvg, "%q", bad)
	}
}

// TestProbeThisHost reads the real /proc and /sys of the machine the test
// runs on and checks what can be checked another way.
func TestProbeThisHost(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("reads Linux /proc")
	}
	h, err := ProbeHost(os.DirFS("/"))
	require.NoError(t, err)
	var u unix.Utsname
	require.NoError(t, unix.Uname(&u))
	assert.Equal(t, unix.ByteSliceToString(u.Release[:]), h.Kernel)
	assert.GreaterOrEqual(t, h.CPUs, runtime.NumCPU())
	_, err = os.Stat("/sys/module/" + string(h.KVMFlavour))
	assert.Equal(t, h.KVMFlavour == FlavourNone, err != nil, "flavour %s", h.KVMFlavour)
}
