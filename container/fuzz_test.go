package container

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"gvmm/container/nsinit"
)

// FuzzBundleConfig feeds arbitrary config.json files through what the
// runtime does with a bundle before anything is created: LoadBundle's
// decoding, Validate, and for a valid spec buildPlan (mounts, capability
// names, the seccomp profile compiled to BPF) and the plan's encoding,
// which init must decode to the same plan. Invariants: no panic; every
// refusal wraps one of the package's sentinel errors, so the command line
// can print its one line; a valid spec gives a plan that round-trips.
func FuzzBundleConfig(f *testing.F) {
	root := f.TempDir()
	seed, err := json.Marshal(DefaultSpec(root, []string{"/bin/sh", "-c", "echo hi"}))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(seed)
	f.Add([]byte(`{"ociVersion":"1.0.2","process":{"args":["/bin/true"]},"root":{"path":"rootfs"},"linux":{"sysctl":{"net/../kernel/core_pattern":"|/x"}}}`))
	f.Add([]byte(`{"ociVersion":"1.0.2","process":{"args":["x"]},"root":{"path":"rootfs"},"mounts":[{"destination":"/sys/fs/cgroup","type":"cgroup"}],"linux":{"namespaces":[{"type":"cgroup"}],"seccomp":{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["clone"],"action":"SCMP_ACT_ERRNO","errnoRet":38,"args":[{"index":0,"value":268435456,"valueTwo":268435456,"op":"SCMP_CMP_MASKED_EQ"}]}]}}}`))
	f.Add([]byte(`{"ociVersion":"1.0.2","process":{"args":["x"]},"root":{"path":"rootfs"},"linux":{"resources":{"devices":[{"allow":true,"type":"q"}]}}}`))
	bundle := f.TempDir()
	if err := os.Mkdir(filepath.Join(bundle, "rootfs"), 0o755); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, config []byte) {
		if err := os.WriteFile(filepath.Join(bundle, ConfigFile), config, 0o644); err != nil {
			t.Fatal(err)
		}
		spec, err := LoadBundle(bundle)
		if err == nil {
			err = Validate(spec)
		}
		if err != nil {
			if !errors.Is(err, ErrBadSpec) && !errors.Is(err, ErrUnsupported) && !errors.Is(err, ErrNoRootfs) {
				t.Fatalf("refusal without a sentinel error: %v", err)
			}
			return
		}
		plan, err := buildPlan(spec, cgroupView{v2: "/sys/fs/cgroup/gvmm/fuzz"}, true)
		if err != nil {
			return // e.g. a bind source that does not exist
		}
		back, err := nsinit.Decode(plan.Encode())
		if err != nil {
			t.Fatalf("init cannot decode the runtime's plan: %v", err)
		}
		if !reflect.DeepEqual(normalize(plan), normalize(back)) {
			t.Fatalf("plan changed in transit:\n%+v\n%+v", plan, back)
		}
	})
}

// normalize makes empty and nil slices equal for the comparison, by
// encoding both plans the same way.
func normalize(p *nsinit.Plan) string {
	b, _ := json.Marshal(p)
	var m any
	_ = json.Unmarshal(b, &m)
	return stripEmpty(m)
}

// stripEmpty prints v with null and empty values left out.
func stripEmpty(v any) string {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			if e == nil || reflect.DeepEqual(e, []any{}) || e == "" || e == false || e == float64(0) {
				delete(x, k)
			} else {
				x[k] = json.RawMessage(stripEmpty(e))
			}
		}
	case []any:
		for i, e := range x {
			x[i] = json.RawMessage(stripEmpty(e))
		}
	}
	b, _ := json.Marshal(v)
	return string(b)
}
