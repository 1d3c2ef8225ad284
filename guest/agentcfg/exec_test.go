package agentcfg

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseExec(t *testing.T) {
	tests := []struct {
		name    string
		cmdline string
		want    []string
		wantErr bool
	}{
		{name: "program alone", cmdline: "gvmm.exec=/usr/sbin/nginx", want: []string{"/usr/sbin/nginx"}},
		{name: "quoted word keeps arguments", cmdline: `"gvmm.exec=/bin/prog -v  x" gvmm.mode=stay`, want: []string{"/bin/prog", "-v", "x"}},
		{name: "quoted value", cmdline: `gvmm.exec="/bin/prog -v"`, want: []string{"/bin/prog", "-v"}},
		{name: "empty clears", cmdline: "gvmm.exec=/bin/prog gvmm.exec=", want: nil},
		{name: "relative path", cmdline: "gvmm.exec=nginx", wantErr: true},
		{name: "relative path with arguments", cmdline: `"gvmm.exec=./nginx -t"`, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := DefaultConfig()
			err := c.ParseCmdline(tt.cmdline)
			if tt.wantErr {
				require.ErrorIs(t, err, ErrBadConfig)
				assert.ErrorContains(t, err, "absolute path")
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, c.Exec)
		})
	}
}

func TestExecFromEnvironment(t *testing.T) {
	c := DefaultConfig()
	require.NoError(t, c.ParseCmdline("gvmm.exec=/bin/a"))
	require.NoError(t, c.ApplyEnv(func(k string) string { return map[string]string{EnvExec: "/bin/b -x"}[k] }))
	assert.Equal(t, []string{"/bin/b", "-x"}, c.Exec)
	err := c.ApplyEnv(func(k string) string { return map[string]string{EnvExec: "b"}[k] })
	require.ErrorIs(t, err, ErrBadConfig)
	assert.ErrorContains(t, err, EnvExec)
}

func TestExecWithHTTPIsRefused(t *testing.T) {
	c := DefaultConfig()
	require.NoError(t, c.ParseCmdline("gvmm.exec=/usr/sbin/nginx gvmm.http=:80"))
	require.ErrorIs(t, c.Validate(), ErrBadConfig)
}
