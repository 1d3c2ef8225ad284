package container

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// specSamples are configurations as users write them: gvmm's own default,
// what `runc spec` and `crun spec` print (when installed), and a bundle
// with resources, rlimits and a seccomp profile.
func specSamples(t testing.TB) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	def, err := json.Marshal(DefaultSpec("/rootfs", []string{"/bin/ready"}))
	require.NoError(t, err)
	out["gvmm DefaultSpec"] = def
	for _, tool := range []string{"runc", "crun"} {
		if _, err := exec.LookPath(tool); err != nil {
			continue
		}
		dir := t.TempDir()
		cmd := exec.Command(tool, "spec")
		cmd.Dir = dir
		if err := cmd.Run(); err == nil {
			data, err := os.ReadFile(filepath.Join(dir, ConfigFile))
			require.NoError(t, err)
			out[tool+" spec"] = data
		}
	}
	out["resources, rlimits, seccomp"] = []byte(`{"ociVersion":"1.0.2","process":{"user":{"uid":1000,"gid":1000,"umask":18,"additionalGids":[5,6]},
		"args":["sh"],"env":[],"cwd":"/w","rlimits":[{"type":"RLIMIT_NOFILE","hard":1024,"soft":512}],"consoleSize":{"height":24,"width":80}},
		"root":{"path":"rootfs","readonly":true},"hostname":"h","annotations":{"a":"b"},
		"linux":{"sysctl":{"net.ipv4.ip_forward":"1"},"cgroupsPath":"/x","rootfsPropagation":"rslave",
		"resources":{"devices":[{"allow":false,"access":"rwm"},{"allow":true,"type":"c","major":1,"minor":3,"access":"rw"}],
		"memory":{"limit":67108864},"cpu":{"shares":512,"quota":50000,"period":100000},"pids":{"limit":64}},
		"namespaces":[{"type":"pid"},{"type":"network","path":"/proc/1/ns/net"}],
		"seccomp":{"defaultAction":"SCMP_ACT_ALLOW","defaultErrnoRet":1,"architectures":["SCMP_ARCH_X86_64"],
		"syscalls":[{"names":["clone"],"action":"SCMP_ACT_ERRNO","errnoRet":1,"args":[{"index":0,"value":2080505856,"valueTwo":0,"op":"SCMP_CMP_MASKED_EQ"}]}]}}}`)
	return out
}

// unmarshalSpec is the reference: encoding/json into a specs.Spec.
func unmarshalSpec(data []byte) (*specs.Spec, error) {
	var s specs.Spec
	if err := json.Unmarshal(data, &s); err != nil {
		return nil, err
	}
	return &s, nil
}

// TestDecodeSpecMatchesUnmarshal: for the configurations users write, the
// hand-reader is taken (no reflection on the start path) and gives
// exactly what json.Unmarshal gives.
func TestDecodeSpecMatchesUnmarshal(t *testing.T) {
	for name, data := range specSamples(t) {
		t.Run(name, func(t *testing.T) {
			fast, ok := fastSpec(data)
			require.True(t, ok, "the hand-reader gave up on a common configuration")
			want, err := unmarshalSpec(data)
			require.NoError(t, err)
			assert.Equal(t, want, fast)
		})
	}
}

// TestDecodeSpecFallsBack: what the hand-reader does not handle still
// decodes (or fails) exactly as json.Unmarshal does it.
func TestDecodeSpecFallsBack(t *testing.T) {
	for name, doc := range map[string]string{
		"unknown key":          `{"ociVersion":"1","hooks":{"prestart":[{"path":"/x"}]}}`,
		"key in another case":  `{"OCIVERSION":"1"}`,
		"duplicate key merges": `{"root":{"path":"a"},"root":{"readonly":true}}`,
		"null":                 `{"process":null}`,
		"uid out of range":     `{"process":{"user":{"uid":-1}}}`,
		"trailing data":        `{"ociVersion":"1"} x`,
		"not json":             `{"ociVersion":`,
	} {
		t.Run(name, func(t *testing.T) {
			_, ok := fastSpec([]byte(doc))
			assert.False(t, ok, "the hand-reader should have given up")
			got, gotErr := decodeSpec([]byte(doc))
			want, wantErr := unmarshalSpec([]byte(doc))
			assert.Equal(t, wantErr, gotErr)
			assert.Equal(t, want, got)
		})
	}
}

// FuzzDecodeSpec: whatever the document, decodeSpec agrees with
// json.Unmarshal: the same spec, or an error where it errs.
//
//	go test -fuzz FuzzDecodeSpec ./container/
func FuzzDecodeSpec(f *testing.F) {
	for _, data := range specSamples(f) {
		f.Add(data)
	}
	f.Add([]byte(`{"root":{"path":"a"},"root":{"readonly":true}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		got, gotErr := decodeSpec(data)
		want, wantErr := unmarshalSpec(data)
		if wantErr != nil {
			require.Error(t, gotErr)
			return
		}
		require.NoError(t, gotErr)
		require.Equal(t, want, got)
	})
}
