package agentcfg

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// roundTripConfigs are configurations the encoder must carry unchanged.
var roundTripConfigs = []Config{
	{Mode: ModeShell},
	{Mode: ModePoweroff},
	{Mode: ModeStay, ReadyConsoleOnly: true},
	{Mode: ModeReboot, Modules: []string{"virtio_net", "virtio_console"}},
	{
		Mode:      ModeShell,
		IP:        netip.MustParsePrefix("192.168.100.2/24"),
		Gateway:   netip.MustParseAddr("192.168.100.1"),
		Interface: "eth0",
		HTTPAddr:  ":80",
	},
	{Mode: ModePoweroff, IP: netip.MustParsePrefix("10.202.0.2/30"), Exec: []string{"/usr/sbin/nginx"}},
	{Mode: ModeStay, Exec: []string{"/usr/sbin/nginx", "-p", "/tmp"}},
	{Mode: ModeStay, Exec: []string{"/bin/prog", "-v", "x"}, FetchURL: "http://10.0.2.2:8000/blob"},
}

func TestCmdlineRoundTrip(t *testing.T) {
	for _, want := range roundTripConfigs {
		line, err := want.Cmdline()
		require.NoError(t, err, "%+v", want)
		got := DefaultConfig()
		require.NoError(t, got.ParseCmdline("console=ttyS0 reboot=k "+line+" panic=-1"), line)
		assert.Equal(t, want, got, line)
		assert.Empty(t, got.Unknown, "the encoder writes only keys the parser knows")
	}
}

func TestCmdlineWords(t *testing.T) {
	c := Config{Mode: ModePoweroff, IP: netip.MustParsePrefix("10.202.0.2/30"), Exec: []string{"/usr/sbin/nginx", "-t"}}
	line, err := c.Cmdline()
	require.NoError(t, err)
	assert.Equal(t, `gvmm.mode=poweroff gvmm.ip=10.202.0.2/30 "gvmm.exec=/usr/sbin/nginx -t"`, line)
	line, err = Config{}.Cmdline()
	require.NoError(t, err)
	assert.Empty(t, line, "the zero Config sets nothing")
}

func TestEnvironRoundTrip(t *testing.T) {
	for _, want := range roundTripConfigs {
		if want.FetchURL != "" || want.ReadyConsoleOnly {
			continue // VM-only settings, refused below
		}
		vars, err := want.Environ()
		require.NoError(t, err, "%+v", want)
		env := map[string]string{}
		for _, v := range vars {
			k, val, ok := strings.Cut(v, "=")
			require.True(t, ok, v)
			env[k] = val
		}
		got := DefaultConfig()
		require.NoError(t, got.ApplyEnv(func(k string) string { return env[k] }))
		assert.Equal(t, want, got, "%q", vars)
	}
	vars, err := Config{Mode: ModeStay}.Environ()
	require.NoError(t, err)
	assert.Equal(t, []string{"GVMM_MODE=stay"}, vars)
}

func TestEncodeRefuses(t *testing.T) {
	tests := []struct {
		name        string
		c           Config
		cmdlineOnly bool // the environment can carry it
	}{
		{"unknown mode", Config{Mode: "halt"}, false},
		{"IPv6 address", Config{IP: netip.MustParsePrefix("fd00::2/64")}, false},
		{"gateway outside the subnet", Config{IP: netip.MustParsePrefix("10.0.2.15/24"), Gateway: netip.MustParseAddr("10.0.3.1")}, false},
		{"http without a port", Config{HTTPAddr: "localhost"}, false},
		{"exec and http", Config{Exec: []string{"/bin/a"}, HTTPAddr: ":80"}, false},
		{"relative program", Config{Exec: []string{"nginx"}}, false},
		{"argument with a space", Config{Exec: []string{"/bin/sh", "-c", "echo hi"}}, false},
		{"empty argument", Config{Exec: []string{"/bin/a", ""}}, false},
		{"quote in a value", Config{Interface: `eth"0`}, false},
		{"space in a value", Config{Interface: "eth 0"}, true},
		{"line break in a value", Config{FetchURL: "http://x/\nquiet"}, false},
		{"module with the separator", Config{Modules: []string{"a,b"}}, false},
		{"empty module name", Config{Modules: []string{""}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.c.Cmdline()
			assert.ErrorIs(t, err, ErrBadConfig)
			_, err = tt.c.Environ()
			if tt.cmdlineOnly {
				assert.NoError(t, err)
			} else {
				assert.ErrorIs(t, err, ErrBadConfig)
			}
		})
	}
	_, err := Config{ReadyConsoleOnly: true}.Environ()
	assert.ErrorIs(t, err, ErrBadConfig, "gvmm.ready has no environment variable")
}

// FuzzCmdlineRoundTrip: whatever a command line parses to, if the encoder
// accepts it, encoding and parsing again gives the same Config.
func FuzzCmdlineRoundTrip(f *testing.F) {
	f.Add("gvmm.mode=stay gvmm.ip=10.0.2.15/24 gvmm.gw=10.0.2.2")
	f.Add(`"gvmm.exec=/bin/prog -v" gvmm.modules=a,b`)
	f.Add("gvmm.ready=console gvmm.http=:80 gvmm.if=eth0 gvmm.fetch=http://h/x")
	f.Fuzz(func(t *testing.T, line string) {
		c := DefaultConfig()
		if c.ParseCmdline(line) != nil {
			return
		}
		c.Unknown = nil
		enc, err := c.Cmdline()
		if err != nil {
			return
		}
		got := DefaultConfig()
		require.NoError(t, got.ParseCmdline(enc), "%q encoded as %q", line, enc)
		assert.Equal(t, c, got, "%q encoded as %q", line, enc)
	})
}
