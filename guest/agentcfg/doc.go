// Package agentcfg is the guest agent's configuration, spelled once: the
// gvmm.* words of the kernel command line and the GVMM_* environment
// variables that carry it, their parser ([Config.ParseCmdline],
// [Config.ApplyEnv]) and their encoder ([Config.Cmdline],
// [Config.Environ]).
//
// The agent (guest/agent) parses; the VMM's default command line
// (cmd/gvmm) and bench's subjects (bench/harness) encode. Each side
// imports this package instead of typing "gvmm.ip=" by hand, and a
// round-trip test holds the two directions together: whatever Cmdline
// writes, ParseCmdline reads back as the same Config.
//
// The package is small on purpose. It imports only the standard library's
// strings, errors, fmt, path and net/netip, so the VMM can encode a command
// line without linking the agent's HTTP server and network code.
package agentcfg
