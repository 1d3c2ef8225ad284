package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"gvmm/container"
)

// containerVerbs are the `gvmm container` subcommands.
var containerVerbs = map[string]func(args []string) int{
	"run": containerRun, "ps": containerPs, "stop": containerStop,
	"rm": containerRm, "state": containerState, "kill": containerKill,
}

func containerUsage() {
	fmt.Fprintln(os.Stderr, `usage: gvmm container <verb> [arguments]

verbs:
  run [-it] [--name N] [--memory M] [--pids N] [--cpus C] [--net [--ip A]] [--rm]
      [--preserve-fds N] [--timings] ROOTFS|BUNDLE [-- CMD...]
  ps [-a]               list running (all) containers
  stop [-t SECS] NAME   SIGTERM, then SIGKILL after the grace period
  rm [-f] NAME          remove a stopped container (-f: kill it first)
  state NAME            print the OCI state as JSON
  kill NAME [SIGNAL]    send a signal (default TERM)`)
}

// runContainer dispatches `gvmm container ...`.
func runContainer(args []string) int {
	if container.IsInit(append([]string{"container"}, args...)) {
		return container.Init()
	}
	if container.IsFinish(append([]string{"container"}, args...)) {
		return containerFinish(args[1:])
	}
	if len(args) == 0 {
		containerUsage()
		return 2
	}
	verb, ok := containerVerbs[args[0]]
	if !ok {
		if args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
			containerUsage()
			return 0
		}
		fmt.Fprintf(os.Stderr, "gvmm container: unknown verb %q\n", args[0])
		containerUsage()
		return 2
	}
	return verb(args[1:])
}

// containerFail prints a one-line error and returns the exit code for it.
func containerFail(err error) int {
	fmt.Fprintf(os.Stderr, "gvmm container: %v\n", err)
	if errors.Is(err, container.ErrNotFound) {
		return 127 // the shell's "command not found"
	}
	return 125 // docker's "the runtime failed"
}

// splitCombined turns "-it" into "-i -t", as docker accepts it.
func splitCombined(args []string) []string {
	var out []string
	for i, a := range args {
		if a == "--" {
			return append(out, args[i:]...)
		}
		if a == "-it" || a == "-ti" {
			out = append(out, "-i", "-t")
			continue
		}
		out = append(out, a)
	}
	return out
}

type envList []string

func (e *envList) String() string     { return strings.Join(*e, ",") }
func (e *envList) Set(v string) error { *e = append(*e, v); return nil }

func containerRun(args []string) int {
	fs := flag.NewFlagSet("gvmm container run", flag.ContinueOnError)
	interactive := fs.Bool("i", false, "keep stdin open (with -t: an interactive shell)")
	tty := fs.Bool("t", false, "give the container a terminal")
	name := fs.String("name", "", "container name (default: its ID)")
	memory := fs.String("memory", "", "memory limit, e.g. 64m")
	pids := fs.Int64("pids", 0, "maximum number of processes (0: no limit)")
	cpus := fs.Float64("cpus", 0, "CPU limit in CPUs, e.g. 0.5 (0: no limit)")
	network := fs.Bool("net", false, "give the container a veth link to the host")
	ip := fs.String("ip", "", "with --net: the container's address, 10.201.A.B with B = 2 mod 4 (default: the first free link)")
	remove := fs.Bool("rm", false, "remove the container when it exits")
	hostname := fs.String("hostname", "", "host name inside the container")
	runDir := fs.String("run-dir", container.DefaultRunDir, "state directory")
	timings := fs.Bool("timings", false, "print where the start's time goes, phase by phase, on stderr")
	preserve := fs.Int("preserve-fds", 0, "pass descriptors 3 to 3+N-1 to the workload instead of the READY pipe (as runc and crun do)")
	var env envList
	fs.Var(&env, "e", "set an environment variable KEY=VALUE (repeatable)")
	if err := fs.Parse(splitCombined(args)); err != nil {
		return 2
	}
	if *timings || os.Getenv("GVMM_TRACE") != "" {
		container.EnableTimings()
	}
	rest := fs.Args()
	if len(rest) == 0 {
		fmt.Fprintln(os.Stderr, "gvmm container run: give a root file system or bundle directory")
		return 2
	}
	dir, cmd := rest[0], rest[1:]
	if len(cmd) > 0 && cmd[0] == "--" {
		cmd = cmd[1:]
	}
	opts := container.RunOptions{
		Dir: dir, Args: cmd, Terminal: *tty, Env: env, Hostname: *hostname,
		Memory: *memory, Pids: *pids, CPUs: *cpus,
	}
	tSpec := time.Now()
	spec, err := opts.Spec()
	if err != nil {
		return containerFail(err)
	}
	container.TraceStep("spec", tSpec)
	var netIP net.IP
	if *ip != "" {
		if netIP = net.ParseIP(*ip); netIP == nil {
			return containerFail(fmt.Errorf("--ip %q: %w", *ip, container.ErrBadAddress))
		}
	}
	// Handoff: once the workload runs, gvmm-init's small waiter replaces
	// this process; containerFinish then gets dir and memory back.
	o := container.Options{Spec: spec, Name: *name, Net: *network, NetIP: netIP, RunDir: *runDir,
		Remove: *remove, Stdout: os.Stdout, Stderr: os.Stderr, ReadyLog: os.Stderr,
		Handoff: []string{dir, *memory}, PreserveFDs: *preserve}
	if *interactive {
		o.Stdin = os.Stdin
	}
	st, err := container.Run(o)
	if err != nil {
		return containerFail(err)
	}
	return exitReport(st, dir, *memory)
}

// exitReport says when the OOM killer ended the container and returns
// the exit code, which is the command's.
func exitReport(st container.ExitStatus, dir, memory string) int {
	if st.OOMKilled {
		fmt.Fprintf(os.Stderr, "gvmm container: %s was killed by the OOM killer (memory limit %s)\n", dir, memory)
	}
	return st.Code
}

// containerFinish is the run of gvmm that gvmm-init's waiter starts when
// the container has exited (container.Finish).
func containerFinish(args []string) int {
	st, extra, err := container.Finish(args)
	if err != nil {
		fmt.Fprintf(os.Stderr, "gvmm container: %v\n", err)
	}
	if len(extra) == 2 {
		return exitReport(st, extra[0], extra[1])
	}
	return st.Code
}

func containerPs(args []string) int {
	fs := flag.NewFlagSet("gvmm container ps", flag.ContinueOnError)
	all := fs.Bool("a", false, "show stopped containers too")
	runDir := fs.String("run-dir", container.DefaultRunDir, "state directory")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	list, err := (&container.Store{Dir: *runDir}).List()
	if err != nil {
		return containerFail(err)
	}
	w := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "ID\tNAME\tSTATUS\tPID\tIP\tCREATED\tCOMMAND")
	for _, st := range list {
		if !*all && st.Status != container.StatusRunning {
			continue
		}
		status := st.Status
		if st.Status == container.StatusStopped {
			status = "exited"
			if st.ExitCode != nil {
				status = fmt.Sprintf("exited (%d)", *st.ExitCode)
			}
			if st.OOMKilled {
				status += " oom-killed"
			}
		}
		ip := "-"
		if st.Net != nil {
			ip = st.Net.ContainerIP.String()
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%d\t%s\t%s\t%s\n", st.ID, st.Name, status, st.Pid, ip,
			st.Created.Format(time.DateTime), strings.Join(st.Command, " "))
	}
	w.Flush()
	return 0
}

// oneName parses flags and exactly one container reference.
func oneName(fs *flag.FlagSet, args []string, min, max int) ([]string, bool) {
	if err := fs.Parse(args); err != nil {
		return nil, false
	}
	if fs.NArg() < min || fs.NArg() > max {
		fmt.Fprintf(os.Stderr, "%s: give a container name or ID\n", fs.Name())
		return nil, false
	}
	return fs.Args(), true
}

func containerStop(args []string) int {
	fs := flag.NewFlagSet("gvmm container stop", flag.ContinueOnError)
	grace := fs.Int("t", 10, "seconds to wait before SIGKILL")
	runDir := fs.String("run-dir", container.DefaultRunDir, "state directory")
	names, ok := oneName(fs, args, 1, 1<<10)
	if !ok {
		return 2
	}
	for _, n := range names {
		if err := (&container.Store{Dir: *runDir}).Stop(n, time.Duration(*grace)*time.Second); err != nil {
			return containerFail(err)
		}
	}
	return 0
}

func containerRm(args []string) int {
	fs := flag.NewFlagSet("gvmm container rm", flag.ContinueOnError)
	force := fs.Bool("f", false, "kill a running container first")
	runDir := fs.String("run-dir", container.DefaultRunDir, "state directory")
	names, ok := oneName(fs, args, 1, 1<<10)
	if !ok {
		return 2
	}
	for _, n := range names {
		if err := (&container.Store{Dir: *runDir}).Remove(n, *force); err != nil {
			return containerFail(err)
		}
	}
	return 0
}

func containerState(args []string) int {
	fs := flag.NewFlagSet("gvmm container state", flag.ContinueOnError)
	runDir := fs.String("run-dir", container.DefaultRunDir, "state directory")
	names, ok := oneName(fs, args, 1, 1)
	if !ok {
		return 2
	}
	st, err := (&container.Store{Dir: *runDir}).OCIState(names[0])
	if err != nil {
		return containerFail(err)
	}
	out, _ := json.MarshalIndent(st, "", "  ")
	fmt.Println(string(out))
	return 0
}

func containerKill(args []string) int {
	fs := flag.NewFlagSet("gvmm container kill", flag.ContinueOnError)
	runDir := fs.String("run-dir", container.DefaultRunDir, "state directory")
	names, ok := oneName(fs, args, 1, 2)
	if !ok {
		return 2
	}
	sigName := "TERM"
	if len(names) == 2 {
		sigName = names[1]
	}
	sig, err := container.SignalByName(sigName)
	if err != nil {
		return containerFail(err)
	}
	if err := (&container.Store{Dir: *runDir}).Kill(names[0], sig); err != nil {
		return containerFail(err)
	}
	return 0
}
