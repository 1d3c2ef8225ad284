package main

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"gvmm/bench/report"
)

func TestParse(t *testing.T) {
	t.Setenv("BENCH_ONLY", "container")
	t.Setenv("BENCH_RUNNER_CLASS", "github-ubuntu-latest")
	c, err := parse(nil)
	require.NoError(t, err)
	assert.Equal(t, 20, c.n)
	assert.Equal(t, 5, c.probes)
	assert.Equal(t, "build/bench", c.out)
	assert.Equal(t, "container", c.only, "BENCH_ONLY is -only's default")
	assert.Equal(t, "github-ubuntu-latest", c.runnerClass)
	assert.Equal(t, 30*time.Second, c.timeout)

	c, err = parse([]string{"-n", "3", "-only", "vm", "-timeout", "5s"})
	require.NoError(t, err)
	assert.Equal(t, 3, c.n)
	assert.Equal(t, 3, c.probes, "never more probes than rounds")
	assert.Equal(t, "vm", c.only, "the flag wins over BENCH_ONLY")

	assert.Equal(t, rigAuto, c.rig)
	assert.Equal(t, 3, c.rigN)

	for _, bad := range [][]string{{"-n", "0"}, {"-timeout", "0s"}, {"-probes", "-1"}, {"extra"}, {"-bogus"},
		{"-rig", "sometimes"}, {"-rig-n", "0"}} {
		_, err := parse(bad)
		assert.Error(t, err, "%v", bad)
	}
}

func TestPickBaseline(t *testing.T) {
	measured := report.Run{Subjects: []report.Subject{{Name: report.SubjectCrun, Status: report.StatusMeasured}}}
	skipped := report.Run{Subjects: []report.Subject{{Name: report.SubjectCrun, Status: report.StatusSkipped}}}
	assert.Equal(t, "crun", pickBaseline(&measured, ""))
	assert.Equal(t, "", pickBaseline(&skipped, ""), "no baseline rather than an unmeasured one")
	assert.Equal(t, "raw-kvm", pickBaseline(&skipped, "raw-kvm"), "-baseline wins")
}
