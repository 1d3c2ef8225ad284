package container

import (
	"bytes"
	"encoding/json"
	"io"
	"strconv"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// decodeSpec decodes a config.json. The result is always exactly what
// json.Unmarshal into a specs.Spec gives, but it is usually reached
// without it: encoding/json's first use of a struct type builds that
// type's field tables by reflection, and a spec has some thirty types, so
// the first Unmarshal of a config.json cost 1.8-2.4 ms on the course
// machine (the next one 0.05 ms). Every `gvmm container run` is a first
// use. decodeSpec therefore reads the document as a stream of tokens and
// fills the spec by hand for the fields a container's configuration
// usually has (readSpec). On anything else (a key it does not handle, a
// key given twice, a null, a number that does not fit, a syntax error)
// the hand-reader gives up and json.Unmarshal decodes the whole document
// again, with its own errors. TestDecodeSpecMatchesUnmarshal and
// FuzzDecodeSpec check that both roads give the same spec.
func decodeSpec(data []byte) (*specs.Spec, error) {
	if s, ok := fastSpec(data); ok {
		return s, nil
	}
	var s specs.Spec
	if err := json.Unmarshal(data, &s); err != nil {
		return nil, err
	}
	return &s, nil
}

// fastSpec is the hand-reader; ok is false when it gave up.
func fastSpec(data []byte) (s *specs.Spec, ok bool) {
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber()
	r := &tokens{d: d}
	s = &specs.Spec{}
	if !r.object(func(key string) bool { return r.specField(s, key) }) {
		return nil, false
	}
	if _, err := d.Token(); err != io.EOF { // json.Unmarshal refuses trailing data
		return nil, false
	}
	return s, true
}

// tokens reads JSON values for the hand-reader; every method returns
// false to give up.
type tokens struct{ d *json.Decoder }

func (r *tokens) delim(want json.Delim) bool {
	t, err := r.d.Token()
	return err == nil && t == want
}

// object reads {"key": value, ...}, calling field for each key to read
// its value. A key seen twice gives up: encoding/json would merge the two
// values into one struct, which the hand-reader does not copy.
func (r *tokens) object(field func(key string) bool) bool {
	if !r.delim('{') {
		return false
	}
	seen := map[string]bool{}
	for r.d.More() {
		t, err := r.d.Token()
		key, isString := t.(string)
		if err != nil || !isString || seen[key] || !field(key) {
			return false
		}
		seen[key] = true
	}
	return r.delim('}')
}

// array reads [value, ...], calling elem for each value.
func (r *tokens) array(elem func() bool) bool {
	if !r.delim('[') {
		return false
	}
	for r.d.More() {
		if !elem() {
			return false
		}
	}
	return r.delim(']')
}

func (r *tokens) str(dst *string) bool {
	t, err := r.d.Token()
	s, ok := t.(string)
	if err != nil || !ok {
		return false
	}
	*dst = s
	return true
}

func (r *tokens) boolean(dst *bool) bool {
	t, err := r.d.Token()
	b, ok := t.(bool)
	if err != nil || !ok {
		return false
	}
	*dst = b
	return true
}

// number reads a JSON number as an integer of bits bits, signed or not,
// as encoding/json accepts it for that Go type (no fraction, no exponent).
func (r *tokens) number(bits int, signed bool) (uint64, bool) {
	t, err := r.d.Token()
	n, ok := t.(json.Number)
	if err != nil || !ok {
		return 0, false
	}
	if signed {
		v, err := strconv.ParseInt(string(n), 10, bits)
		return uint64(v), err == nil
	}
	v, err := strconv.ParseUint(string(n), 10, bits)
	return v, err == nil
}

func (r *tokens) u32(dst *uint32) bool {
	v, ok := r.number(32, false)
	*dst = uint32(v)
	return ok
}

func (r *tokens) u64(dst *uint64) bool {
	v, ok := r.number(64, false)
	*dst = v
	return ok
}

func (r *tokens) i64(dst *int64) bool {
	v, ok := r.number(64, true)
	*dst = int64(v)
	return ok
}

func (r *tokens) uint(dst *uint) bool {
	v, ok := r.number(strconv.IntSize, false)
	*dst = uint(v)
	return ok
}

// strs reads an array of strings; [] gives an empty, non-nil slice, as
// encoding/json makes it.
func (r *tokens) strs(dst *[]string) bool {
	out := []string{}
	ok := r.array(func() bool {
		var s string
		out = append(out, s)
		return r.str(&out[len(out)-1])
	})
	*dst = out
	return ok
}

func (r *tokens) strMap(dst *map[string]string) bool {
	out := map[string]string{}
	*dst = out
	return r.object(func(key string) bool {
		var v string
		ok := r.str(&v)
		out[key] = v
		return ok
	})
}

func (r *tokens) specField(s *specs.Spec, key string) bool {
	switch key {
	case "ociVersion":
		return r.str(&s.Version)
	case "process":
		s.Process = &specs.Process{}
		return r.object(func(k string) bool { return r.processField(s.Process, k) })
	case "root":
		s.Root = &specs.Root{}
		return r.object(func(k string) bool {
			switch k {
			case "path":
				return r.str(&s.Root.Path)
			case "readonly":
				return r.boolean(&s.Root.Readonly)
			}
			return false
		})
	case "hostname":
		return r.str(&s.Hostname)
	case "domainname":
		return r.str(&s.Domainname)
	case "mounts":
		s.Mounts = []specs.Mount{}
		return r.array(func() bool {
			s.Mounts = append(s.Mounts, specs.Mount{})
			m := &s.Mounts[len(s.Mounts)-1]
			return r.object(func(k string) bool { return r.mountField(m, k) })
		})
	case "annotations":
		return r.strMap(&s.Annotations)
	case "linux":
		s.Linux = &specs.Linux{}
		return r.object(func(k string) bool { return r.linuxField(s.Linux, k) })
	}
	return false
}

func (r *tokens) processField(p *specs.Process, key string) bool {
	switch key {
	case "terminal":
		return r.boolean(&p.Terminal)
	case "consoleSize":
		p.ConsoleSize = &specs.Box{}
		return r.object(func(k string) bool {
			switch k {
			case "height":
				return r.uint(&p.ConsoleSize.Height)
			case "width":
				return r.uint(&p.ConsoleSize.Width)
			}
			return false
		})
	case "user":
		return r.object(func(k string) bool { return r.userField(&p.User, k) })
	case "args":
		return r.strs(&p.Args)
	case "env":
		return r.strs(&p.Env)
	case "cwd":
		return r.str(&p.Cwd)
	case "capabilities":
		c := &specs.LinuxCapabilities{}
		p.Capabilities = c
		return r.object(func(k string) bool {
			switch k {
			case "bounding":
				return r.strs(&c.Bounding)
			case "effective":
				return r.strs(&c.Effective)
			case "inheritable":
				return r.strs(&c.Inheritable)
			case "permitted":
				return r.strs(&c.Permitted)
			case "ambient":
				return r.strs(&c.Ambient)
			}
			return false
		})
	case "rlimits":
		p.Rlimits = []specs.POSIXRlimit{}
		return r.array(func() bool {
			p.Rlimits = append(p.Rlimits, specs.POSIXRlimit{})
			l := &p.Rlimits[len(p.Rlimits)-1]
			return r.object(func(k string) bool {
				switch k {
				case "type":
					return r.str(&l.Type)
				case "hard":
					return r.u64(&l.Hard)
				case "soft":
					return r.u64(&l.Soft)
				}
				return false
			})
		})
	case "noNewPrivileges":
		return r.boolean(&p.NoNewPrivileges)
	}
	return false
}

func (r *tokens) userField(u *specs.User, key string) bool {
	switch key {
	case "uid":
		return r.u32(&u.UID)
	case "gid":
		return r.u32(&u.GID)
	case "umask":
		u.Umask = new(uint32)
		return r.u32(u.Umask)
	case "additionalGids":
		u.AdditionalGids = []uint32{}
		return r.array(func() bool {
			var g uint32
			ok := r.u32(&g)
			u.AdditionalGids = append(u.AdditionalGids, g)
			return ok
		})
	}
	return false
}

func (r *tokens) mountField(m *specs.Mount, key string) bool {
	switch key {
	case "destination":
		return r.str(&m.Destination)
	case "type":
		return r.str(&m.Type)
	case "source":
		return r.str(&m.Source)
	case "options":
		return r.strs(&m.Options)
	}
	return false
}

func (r *tokens) linuxField(l *specs.Linux, key string) bool {
	switch key {
	case "sysctl":
		return r.strMap(&l.Sysctl)
	case "resources":
		l.Resources = &specs.LinuxResources{}
		return r.object(func(k string) bool { return r.resourcesField(l.Resources, k) })
	case "cgroupsPath":
		return r.str(&l.CgroupsPath)
	case "namespaces":
		l.Namespaces = []specs.LinuxNamespace{}
		return r.array(func() bool {
			l.Namespaces = append(l.Namespaces, specs.LinuxNamespace{})
			ns := &l.Namespaces[len(l.Namespaces)-1]
			return r.object(func(k string) bool {
				switch k {
				case "type":
					var t string
					ok := r.str(&t)
					ns.Type = specs.LinuxNamespaceType(t)
					return ok
				case "path":
					return r.str(&ns.Path)
				}
				return false
			})
		})
	case "seccomp":
		l.Seccomp = &specs.LinuxSeccomp{}
		return r.object(func(k string) bool { return r.seccompField(l.Seccomp, k) })
	case "rootfsPropagation":
		return r.str(&l.RootfsPropagation)
	case "maskedPaths":
		return r.strs(&l.MaskedPaths)
	case "readonlyPaths":
		return r.strs(&l.ReadonlyPaths)
	}
	return false
}

func (r *tokens) resourcesField(res *specs.LinuxResources, key string) bool {
	switch key {
	case "devices":
		res.Devices = []specs.LinuxDeviceCgroup{}
		return r.array(func() bool {
			res.Devices = append(res.Devices, specs.LinuxDeviceCgroup{})
			dev := &res.Devices[len(res.Devices)-1]
			return r.object(func(k string) bool {
				switch k {
				case "allow":
					return r.boolean(&dev.Allow)
				case "type":
					return r.str(&dev.Type)
				case "major":
					dev.Major = new(int64)
					return r.i64(dev.Major)
				case "minor":
					dev.Minor = new(int64)
					return r.i64(dev.Minor)
				case "access":
					return r.str(&dev.Access)
				}
				return false
			})
		})
	case "memory":
		res.Memory = &specs.LinuxMemory{}
		return r.object(func(k string) bool {
			if k != "limit" {
				return false
			}
			res.Memory.Limit = new(int64)
			return r.i64(res.Memory.Limit)
		})
	case "cpu":
		res.CPU = &specs.LinuxCPU{}
		return r.object(func(k string) bool {
			switch k {
			case "shares":
				res.CPU.Shares = new(uint64)
				return r.u64(res.CPU.Shares)
			case "quota":
				res.CPU.Quota = new(int64)
				return r.i64(res.CPU.Quota)
			case "period":
				res.CPU.Period = new(uint64)
				return r.u64(res.CPU.Period)
			}
			return false
		})
	case "pids":
		res.Pids = &specs.LinuxPids{}
		return r.object(func(k string) bool {
			if k != "limit" {
				return false
			}
			res.Pids.Limit = new(int64)
			return r.i64(res.Pids.Limit)
		})
	}
	return false
}

func (r *tokens) seccompField(sc *specs.LinuxSeccomp, key string) bool {
	switch key {
	case "defaultAction":
		var a string
		ok := r.str(&a)
		sc.DefaultAction = specs.LinuxSeccompAction(a)
		return ok
	case "defaultErrnoRet":
		sc.DefaultErrnoRet = new(uint)
		return r.uint(sc.DefaultErrnoRet)
	case "architectures":
		var archs []string
		ok := r.strs(&archs)
		sc.Architectures = make([]specs.Arch, len(archs))
		for i, a := range archs {
			sc.Architectures[i] = specs.Arch(a)
		}
		return ok
	case "syscalls":
		sc.Syscalls = []specs.LinuxSyscall{}
		return r.array(func() bool {
			sc.Syscalls = append(sc.Syscalls, specs.LinuxSyscall{})
			sys := &sc.Syscalls[len(sc.Syscalls)-1]
			return r.object(func(k string) bool { return r.syscallField(sys, k) })
		})
	}
	return false
}

func (r *tokens) syscallField(sys *specs.LinuxSyscall, key string) bool {
	switch key {
	case "names":
		return r.strs(&sys.Names)
	case "action":
		var a string
		ok := r.str(&a)
		sys.Action = specs.LinuxSeccompAction(a)
		return ok
	case "errnoRet":
		sys.ErrnoRet = new(uint)
		return r.uint(sys.ErrnoRet)
	case "args":
		sys.Args = []specs.LinuxSeccompArg{}
		return r.array(func() bool {
			sys.Args = append(sys.Args, specs.LinuxSeccompArg{})
			a := &sys.Args[len(sys.Args)-1]
			return r.object(func(k string) bool {
				switch k {
				case "index":
					return r.uint(&a.Index)
				case "value":
					return r.u64(&a.Value)
				case "valueTwo":
					return r.u64(&a.ValueTwo)
				case "op":
					var op string
					ok := r.str(&op)
					a.Op = specs.LinuxSeccompOperator(op)
					return ok
				}
				return false
			})
		})
	}
	return false
}
