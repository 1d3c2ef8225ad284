package agentcfg

import (
	"net/netip"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseCmdline(t *testing.T) {
	tests := []struct {
		name    string
		cmdline string
		want    Config
		wantErr bool
	}{
		{name: "empty gives the default", cmdline: "", want: Config{Mode: ModeShell}},
		{name: "other words ignored", cmdline: "console=ttyS0 panic=-1 quiet", want: Config{Mode: ModeShell}},
		{name: "poweroff", cmdline: "console=ttyS0 gvmm.mode=poweroff", want: Config{Mode: ModePoweroff}},
		{name: "stay", cmdline: "gvmm.mode=stay", want: Config{Mode: ModeStay}},
		{name: "reboot", cmdline: "gvmm.mode=reboot", want: Config{Mode: ModeReboot}},
		{name: "last word wins", cmdline: "gvmm.mode=stay gvmm.mode=shell", want: Config{Mode: ModeShell}},
		{
			name:    "network",
			cmdline: "gvmm.ip=10.0.2.15/24 gvmm.gw=10.0.2.2 gvmm.if=eth1 gvmm.http=:8080",
			want: Config{
				Mode:      ModeShell,
				IP:        netip.MustParsePrefix("10.0.2.15/24"),
				Gateway:   netip.MustParseAddr("10.0.2.2"),
				Interface: "eth1",
				HTTPAddr:  ":8080",
			},
		},
		{
			name:    "modules list",
			cmdline: "gvmm.modules=virtio_pci,,virtio_net",
			want:    Config{Mode: ModeShell, Modules: []string{"virtio_pci", "virtio_net"}},
		},
		{
			name:    "quoted value keeps spaces",
			cmdline: `gvmm.if="my if" gvmm.mode=stay`,
			want:    Config{Mode: ModeStay, Interface: "my if"},
		},
		{
			name:    "unknown key is collected, not fatal",
			cmdline: "gvmm.future=1 gvmm.mode=poweroff",
			want:    Config{Mode: ModePoweroff, Unknown: []string{"gvmm.future"}},
		},
		{name: "READY on the console only", cmdline: "gvmm.ready=console gvmm.mode=stay", want: Config{Mode: ModeStay, ReadyConsoleOnly: true}},
		{name: "READY on the port again", cmdline: "gvmm.ready=console gvmm.ready=port", want: Config{Mode: ModeShell}},
		{name: "bad READY channel", cmdline: "gvmm.ready=serial", wantErr: true},
		{name: "bad mode", cmdline: "gvmm.mode=halt", wantErr: true},
		{name: "ip without prefix", cmdline: "gvmm.ip=10.0.2.15", wantErr: true},
		{name: "ipv6 ip", cmdline: "gvmm.ip=fd00::1/64", wantErr: true},
		{name: "bad gateway", cmdline: "gvmm.gw=gateway", wantErr: true},
		{name: "http without port", cmdline: "gvmm.http=8080x", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := DefaultConfig()
			err := c.ParseCmdline(tt.cmdline)
			if tt.wantErr {
				require.ErrorIs(t, err, ErrBadConfig)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, c)
		})
	}
}

func TestApplyEnvOverridesCmdline(t *testing.T) {
	c := DefaultConfig()
	require.NoError(t, c.ParseCmdline("gvmm.mode=stay gvmm.ip=10.0.2.15/24"))
	env := map[string]string{EnvMode: "poweroff", EnvIP: "192.168.7.2/30", EnvModules: "a,b"}
	require.NoError(t, c.ApplyEnv(func(k string) string { return env[k] }))
	assert.Equal(t, ModePoweroff, c.Mode)
	assert.Equal(t, netip.MustParsePrefix("192.168.7.2/30"), c.IP)
	assert.Equal(t, []string{"a", "b"}, c.Modules)

	env = map[string]string{EnvMode: "halt"}
	err := c.ApplyEnv(func(k string) string { return env[k] })
	require.ErrorIs(t, err, ErrBadConfig)
	assert.Contains(t, err.Error(), EnvMode)
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name    string
		cmdline string
		wantErr bool
	}{
		{name: "nothing", cmdline: ""},
		{name: "ip only", cmdline: "gvmm.ip=10.0.2.15/24"},
		{name: "ip and gateway in subnet", cmdline: "gvmm.ip=10.0.2.15/24 gvmm.gw=10.0.2.2"},
		{name: "gateway without ip", cmdline: "gvmm.gw=10.0.2.2", wantErr: true},
		{name: "gateway outside subnet", cmdline: "gvmm.ip=10.0.2.15/24 gvmm.gw=10.0.3.1", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := DefaultConfig()
			require.NoError(t, c.ParseCmdline(tt.cmdline))
			err := c.Validate()
			if tt.wantErr {
				assert.ErrorIs(t, err, ErrBadConfig)
			} else {
				assert.NoError(t, err)
			}
		})
	}
}

func TestSplitCmdline(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{in: "", want: nil},
		{in: "  a  b\tc\n", want: []string{"a", "b", "c"}},
		{in: `x="a b" y`, want: []string{"x=a b", "y"}},
		{in: `"unterminated a b`, want: []string{"unterminated a b"}},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, splitCmdline(tt.in), "input %q", tt.in)
	}
}
