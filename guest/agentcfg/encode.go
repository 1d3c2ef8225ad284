package agentcfg

import (
	"fmt"
	"strings"
)

// Cmdline encodes c as gvmm.* words for a kernel command line, to append
// to the kernel's own ("console=ttyS0 " + cmdline). The words come in a
// fixed order and only for settings that differ from the zero value;
// ParseCmdline on DefaultConfig reads them back as c (Unknown aside, which
// is never written).
//
// Validate's rules hold for the result, and every value must survive the
// kernel's word splitting (lib/cmdline.c, next_arg): a value cannot hold a
// double quote or a line break, and only gvmm.exec, quoted as one word, may
// hold spaces. Anything else is an error, not a command line the agent
// would misread.
func (c Config) Cmdline() (string, error) {
	if err := c.Validate(); err != nil {
		return "", err
	}
	if err := c.checkLists(); err != nil {
		return "", err
	}
	var words []string
	for _, s := range c.settings() {
		if s.value == "" {
			continue
		}
		if err := s.check(s.key == keyExec); err != nil {
			return "", err
		}
		word := s.key + "=" + s.value
		if strings.Contains(s.value, " ") {
			word = `"` + word + `"` // the whole word, as doc.go of the agent says
		}
		words = append(words, word)
	}
	return strings.Join(words, " "), nil
}

// Environ encodes c as GVMM_* variables ("GVMM_MODE=stay"), the form a
// container's workload reads (ApplyEnv). Settings that have no variable
// (gvmm.fetch, gvmm.ready: VM-only) are an error when set.
func (c Config) Environ() ([]string, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	if err := c.checkLists(); err != nil {
		return nil, err
	}
	env := make(map[string]string, len(envKeys))
	for _, p := range envKeys {
		env[p.key] = p.env
	}
	var vars []string
	for _, s := range c.settings() {
		if s.value == "" {
			continue
		}
		name, ok := env[s.key]
		if !ok {
			return nil, fmt.Errorf("%w: %s has no environment variable; it applies to a VM only", ErrBadConfig, s.key)
		}
		if err := s.check(true); err != nil {
			return nil, err
		}
		vars = append(vars, name+"="+s.value)
	}
	return vars, nil
}

// setting is one key and its encoded value ("" for "not set").
type setting struct{ key, value string }

// settings lists c's keys with their values in the order Cmdline writes
// them, each formatted the way set parses it.
func (c Config) settings() []setting {
	var ip, gw, ready string
	if c.IP.IsValid() {
		ip = c.IP.String()
	}
	if c.Gateway.IsValid() {
		gw = c.Gateway.String()
	}
	if c.ReadyConsoleOnly {
		ready = readyConsole
	}
	return []setting{
		{keyMode, string(c.Mode)},
		{keyReady, ready},
		{keyIP, ip},
		{keyGateway, gw},
		{keyInterface, c.Interface},
		{keyHTTP, c.HTTPAddr},
		{keyFetch, c.FetchURL},
		{keyModules, strings.Join(c.Modules, moduleListSeps)},
		{keyExec, strings.Join(c.Exec, " ")},
	}
}

// check refuses a value that the kernel's word splitting or the agent's
// parser would read differently: one the parser itself refuses (set, on a
// scratch Config: a mode it does not know, an IPv6 address, a relative
// program), and quotes, tabs, line breaks, or spaces unless spacesOK.
func (s setting) check(spacesOK bool) error {
	var scratch Config
	if err := scratch.set(s.key, s.value); err != nil {
		return err
	}
	if strings.ContainsAny(s.value, "\"\n\r\t") {
		return fmt.Errorf("%w: %s=%q: a value cannot hold a quote, a tab or a line break", ErrBadConfig, s.key, s.value)
	}
	if !spacesOK && strings.Contains(s.value, " ") {
		return fmt.Errorf("%w: %s=%q: only %s may hold spaces", ErrBadConfig, s.key, s.value, keyExec)
	}
	return nil
}

// checkLists refuses list elements that would not come back as
// themselves: the parser splits gvmm.modules at commas (dropping empty
// names and spaces) and gvmm.exec at spaces.
func (c Config) checkLists() error {
	for _, m := range c.Modules {
		if strings.TrimSpace(m) != m || m == "" || strings.Contains(m, moduleListSeps) {
			return fmt.Errorf("%w: %s: module name %q is empty or holds %q or spaces", ErrBadConfig, keyModules, m, moduleListSeps)
		}
	}
	for _, a := range c.Exec {
		if a == "" || strings.ContainsAny(a, " \t\n") {
			return fmt.Errorf("%w: %s: argument %q is empty or holds a space: put such a command in a script", ErrBadConfig, keyExec, a)
		}
	}
	return nil
}
