package lab

import (
	"context"
	"fmt"
	osexec "os/exec"
	"strings"
	"time"

	"github.com/ckslab/ckslab/grader"
	"github.com/ckslab/ckslab/internal/exec"
)

// NodeStatus is one node container as the engine and the node see it.
type NodeStatus struct {
	Container string
	State     string // docker's: running, exited, ...
}

// Report is the lab at a glance.
type Report struct {
	State    *State
	Nodes    []NodeStatus
	Terminal string // docker's state of the exam terminal
	// Falco is the falco service's state on the worker ("active", "inactive",
	// ...), or why there is none.
	Falco string
	Since time.Duration
	// Task is the time spent on the task against its budget (nil before up
	// finished); Attempts the kept grades, oldest first.
	Task     *grader.TaskTime
	Attempts []Attempt
	// AttemptsErr says why the kept grades could not be read.
	AttemptsErr error
	// Busy says which command is changing the lab now (see Busy); "" when none is.
	Busy string
}

// Inspect reports the lab's state without changing anything.
func Inspect(ctx context.Context, cacheDir, name string) (*Report, error) {
	s, err := Load(cacheDir, name)
	if err != nil {
		return nil, err
	}
	r := &Report{State: s, Busy: Busy(cacheDir, name)}
	if !s.ReadyAt.IsZero() {
		r.Since = time.Since(s.ReadyAt).Round(time.Second)
	}
	if in, err := Instance(s); err == nil {
		r.Task = s.TaskTime(time.Now(), in.TimeBudget)
	}
	r.Attempts, r.AttemptsErr = Attempts(cacheDir, name)
	for _, c := range []string{ControlPlaneContainer(name), WorkerContainer(name)} {
		r.Nodes = append(r.Nodes, NodeStatus{Container: c, State: containerState(ctx, c)})
	}
	r.Terminal = containerState(ctx, TerminalName(name))
	switch {
	case !HasFalco(s):
		r.Falco = "none (scenario " + s.ScenarioID() + " has no Falco)"
	case !s.Falco.Installed && s.Falco.Version != "":
		r.Falco = "does not run: " + s.Falco.Missing
	case !s.Falco.Installed:
		r.Falco = "not installed: " + s.Falco.Missing
	default:
		out, _ := exec.Output(ctx, "docker", "exec", WorkerContainer(name), "systemctl", "is-active", "falco")
		r.Falco = strings.TrimSpace(string(out))
		if r.Falco == "" {
			r.Falco = "unknown (the node does not answer)"
		}
		if len(s.Falco.PreflightWarnings) > 0 {
			r.Falco += " (installed with --falco-preflight=warn despite: " + strings.Join(s.Falco.PreflightWarnings, " ") + ")"
		}
	}
	return r, nil
}

// Damaged says which of the lab's containers is not running, and that up repairs it; nil when all run. The
// commands that work in the lab (grade, solve) call it first, so that a stopped node gives this, not Docker's
// "container is not running".
func Damaged(ctx context.Context, name string) error {
	names := []string{ControlPlaneContainer(name), WorkerContainer(name), TerminalName(name)}
	// one docker inspect for all three (it prints those it finds, and fails when one is missing)
	out, _ := osexec.CommandContext(ctx, "docker", append([]string{"inspect", "--format", "{{.Name}} {{.State.Status}}"}, names...)...).Output()
	states := map[string]string{}
	for _, line := range strings.Split(string(out), "\n") {
		if n, st, ok := strings.Cut(strings.TrimSpace(line), " "); ok {
			states[strings.TrimPrefix(n, "/")] = st
		}
	}
	var bad []string
	missing := false
	for _, c := range names {
		st, ok := states[c]
		if !ok {
			st, missing = "missing", true
		}
		if st != "running" {
			bad = append(bad, c+" is "+st)
		}
	}
	if len(bad) == 0 {
		return nil
	}
	if missing {
		// a container removed (docker rm, a prune): up cannot make one part of a cluster again on its own
		return fmt.Errorf("lab %q has lost part of itself (%s): ckslab down%s (your work is kept aside) and ckslab up%s make it again",
			name, strings.Join(bad, ", "), nameFlag(name), nameFlag(name))
	}
	return fmt.Errorf("lab %q is damaged (%s; after a restart of the Docker engine, for example): ckslab up%s repairs it",
		name, strings.Join(bad, ", "), nameFlag(name))
}

func containerState(ctx context.Context, name string) string {
	out, err := exec.Output(ctx, "docker", "inspect", "--format", "{{.State.Status}}", name)
	if err != nil {
		return "missing"
	}
	return strings.TrimSpace(string(out))
}

func nodeStates(ns []NodeStatus) []string {
	var out []string
	for _, n := range ns {
		out = append(out, n.State)
	}
	return out
}

// String renders the report for a terminal.
func (r *Report) String() string {
	var b strings.Builder
	s := r.State
	up := "up since " + s.ReadyAt.Local().Format(time.DateTime) + fmt.Sprintf(" (%s ago)", r.Since)
	if s.ReadyAt.IsZero() {
		up = "not ready: `ckslab up` did not finish; run it again to converge"
	}
	fmt.Fprintf(&b, "Lab %q: %s\n", s.Name, up)
	if r.Busy != "" {
		fmt.Fprintf(&b, "  busy:     %s; what follows may change\n", strings.Replace(r.Busy, " was ", " is ", 1))
	}
	fmt.Fprintf(&b, "  scenario: %s (ckslab task)\n", s.ScenarioID())
	fmt.Fprintf(&b, "  images:   %s (node %s)\n", s.Images.Mode, s.Images.Node)
	for _, n := range r.Nodes {
		fmt.Fprintf(&b, "  node:     %-28s %s\n", n.Container, n.State)
	}
	fmt.Fprintf(&b, "  terminal: %-28s %s (ckslab shell)\n", s.Terminal, r.Terminal)
	if !s.ReadyAt.IsZero() {
		for _, st := range append([]string{r.Terminal}, nodeStates(r.Nodes)...) {
			if st != "running" {
				fmt.Fprintf(&b, "  repair:   a container is not running: ckslab up%s repairs the lab\n", nameFlag(s.Name))
				break
			}
		}
	}
	fmt.Fprintf(&b, "  context:  %s in %s\n", s.Context, s.Kubeconfig)
	fmt.Fprintf(&b, "  falco:    %s\n", r.Falco)
	fmt.Fprintf(&b, "  course:   %s (/opt/course in the terminal)\n", s.CourseDir)
	if r.Task != nil {
		fmt.Fprintf(&b, "  task:     %s spent (since %s; no hard stop)\n", r.Task, r.Task.StartedAt.Local().Format(time.DateTime))
	}
	switch {
	case r.AttemptsErr != nil:
		fmt.Fprintf(&b, "  grades:   %v\n", r.AttemptsErr)
	case len(r.Attempts) == 0:
		fmt.Fprintf(&b, "  grades:   none yet (ckslab grade)\n")
	default:
		last := r.Attempts[len(r.Attempts)-1]
		flag := ""
		if s.Name != DefaultName {
			flag = " --name " + s.Name
		}
		fmt.Fprintf(&b, "  grades:   %d, the last %d/%d at %s (ckslab grade%s --history)\n",
			len(r.Attempts), last.Score, last.MaxScore, last.GradedAt.Local().Format(time.DateTime), flag)
	}
	return b.String()
}
