package rig

import (
	"context"
	"errors"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestConsoleSplitsLines(t *testing.T) {
	c := newConsole(time.Now())
	_, _ = c.Write([]byte("first\r\nsec"))
	_, _ = c.Write([]byte("ond\r\n\r\nunterminated"))
	require.Equal(t, "first\nsecond\n\n", c.String())
	c.close()
	require.Equal(t, "first\nsecond\n\nunterminated\n", c.String())
}

func TestConsoleExpect(t *testing.T) {
	ready := regexp.MustCompile(`^READY`)
	t.Run("line arrives later", func(t *testing.T) {
		c := newConsole(time.Now())
		go func() {
			time.Sleep(20 * time.Millisecond)
			_, _ = c.Write([]byte("noise\nREADY 1\n"))
		}()
		l, err := c.Expect(context.Background(), ready, 5*time.Second)
		require.NoError(t, err)
		require.Equal(t, "READY 1", l.Text)
		require.Positive(t, l.At)
	})
	t.Run("deadline", func(t *testing.T) {
		c := newConsole(time.Now())
		_, _ = c.Write([]byte("noise\n"))
		_, err := c.Expect(context.Background(), ready, 30*time.Millisecond)
		require.ErrorIs(t, err, ErrNotSeen)
	})
	t.Run("console ends", func(t *testing.T) {
		c := newConsole(time.Now())
		go c.close()
		_, err := c.Expect(context.Background(), ready, 5*time.Second)
		require.ErrorIs(t, err, ErrNotSeen)
		require.Contains(t, err.Error(), "console ended")
	})
	t.Run("context", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := newConsole(time.Now()).Expect(ctx, ready, 5*time.Second)
		require.True(t, errors.Is(err, context.Canceled) && errors.Is(err, ErrNotSeen), "%v", err)
	})
}

func TestParseMarkers(t *testing.T) {
	const nonce = "0123456789ab"
	m := func(s string) string { return markerPrefix + nonce + ": " + s }
	for _, tc := range []struct {
		name    string
		console string
		status  int
		output  []string
		err     error
	}{
		{
			name:    "exit status and output",
			console: "Booting..." + m("boot uptime=1.50") + "\n" + m("start uptime=2") + "\nhello\nworld\n" + m("exit 3 uptime=2.25") + "\n",
			status:  3, output: []string{"hello", "world"},
		},
		{
			name:    "unterminated last output line",
			console: m("start uptime=2") + "\npartial" + m("exit 0 uptime=3") + "\n",
			status:  0, output: []string{"partial"},
		},
		{
			name:    "forged marker with another nonce is output",
			console: m("start uptime=2") + "\n" + markerPrefix + "ffffffffffff: exit 0\n" + m("exit 1 uptime=3") + "\n",
			status:  1, output: []string{markerPrefix + "ffffffffffff: exit 0"},
		},
		{
			name:    "setup failure",
			console: m("boot uptime=1") + "\n" + m("failure insmod kvm failed") + "\n",
			status:  -1, err: ErrSetup,
		},
		{
			name:    "no exit marker",
			console: m("start uptime=2") + "\nKernel panic - not syncing\n",
			status:  -1, output: []string{"Kernel panic - not syncing"}, err: ErrNoExit,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mc := &Machine{nonce: nonce, Console: newConsole(time.Now())}
			_, _ = mc.Console.Write([]byte(tc.console))
			res := &Result{ExitStatus: -1, Uptime: map[string]time.Duration{}}
			err := mc.parse(res)
			if tc.err != nil {
				require.ErrorIs(t, err, tc.err)
			} else {
				require.NoError(t, err)
			}
			require.Equal(t, tc.status, res.ExitStatus)
			var got []string
			for _, l := range res.Output {
				got = append(got, l.Text)
			}
			require.Equal(t, tc.output, got)
		})
	}
	t.Run("uptimes", func(t *testing.T) {
		mc := &Machine{nonce: nonce, Console: newConsole(time.Now())}
		_, _ = mc.Console.Write([]byte(m("boot uptime=1.50") + "\n" + m("start uptime=2") + "\n" + m("exit 0 uptime=2.25") + "\n"))
		res := &Result{Uptime: map[string]time.Duration{}}
		require.NoError(t, mc.parse(res))
		require.Equal(t, map[string]time.Duration{"boot": 1500 * time.Millisecond, "start": 2 * time.Second, "exit": 2250 * time.Millisecond}, res.Uptime)
	})
}

func TestResultExpectDeadline(t *testing.T) {
	res := &Result{Output: []Line{{At: time.Second, Text: "early"}, {At: 10 * time.Second, Text: "late READY"}}}
	_, err := res.Expect(regexp.MustCompile(`early`), 2*time.Second)
	require.NoError(t, err)
	_, err = res.Expect(regexp.MustCompile(`READY`), 2*time.Second)
	require.ErrorIs(t, err, ErrNotSeen)
	require.Contains(t, err.Error(), "came after")
	_, err = res.Expect(regexp.MustCompile(`absent`), time.Hour)
	require.ErrorIs(t, err, ErrNotSeen)
}

func TestInitScriptSyntax(t *testing.T) {
	for _, withoutKVM := range []bool{false, true} {
		script := initScript(&Config{WithoutKVM: withoutKVM}, "0123456789ab")
		require.Contains(t, script, markerPrefix+"0123456789ab:")
		// busybox sh -n parses without running; /bin/sh (dash) is a fine stand-in.
		cmd := execCommand(t, "sh", "-n")
		cmd.Stdin = stringsReader(script)
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "%s", out)
	}
}
