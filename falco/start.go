package falco

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/ckslab/ckslab/internal/wait"
)

// StartError is a Falco that installed but does not run: its service failed at start-up, or never became
// healthy. It is a normal outcome on kernels or machines this Falco does not support, not a broken lab.
type StartError struct {
	Version string
	// Reason is what ckslab saw: "its service failed (exit-code)", "it did not become healthy within 2m0s".
	Reason string
	// Meaning says what Falco's own lines mean and what to try, when ckslab recognises them ("" otherwise).
	Meaning string
	// Lines are Falco's last lines in the node's journal.
	Lines []string
}

func (e *StartError) Error() string {
	msg := fmt.Sprintf("Falco %s is installed but does not run: %s", e.Version, e.Reason)
	if e.Meaning != "" {
		msg += ". " + e.Meaning
	}
	return msg
}

// Summary is the error in one paragraph with the last of Falco's lines that explains it.
func (e *StartError) Summary() string {
	msg := e.Error()
	if l := e.keyLine(); l != "" {
		msg += fmt.Sprintf(" (Falco said: %q)", l)
	}
	return msg
}

// keyLine is the line of Falco's that the meaning was read from, else its last line.
func (e *StartError) keyLine() string {
	for i := len(e.Lines) - 1; i >= 0; i-- {
		for _, k := range startFailures {
			if strings.Contains(e.Lines[i], k.text) {
				return e.Lines[i]
			}
		}
	}
	// else Falco's last line, not systemd's ("falco-modern-bpf.service: Failed with result 'exit-code'.")
	for i := len(e.Lines) - 1; i >= 0; i-- {
		if !strings.Contains(e.Lines[i], ".service: ") {
			return e.Lines[i]
		}
	}
	if len(e.Lines) > 0 {
		return e.Lines[len(e.Lines)-1]
	}
	return ""
}

// startFailures are the ways Falco's modern eBPF engine stops at start-up that ckslab knows, by a text of
// Falco's own line, and what each means. Seen on a machine of this kind (kernel 6.18, node containers without
// CAP_SYS_RESOURCE) with Falco 0.40.0; see the README, "Falco".
var startFailures = []struct{ text, meaning string }{
	{"RLIMIT_MEMLOCK", "Falco's libraries stopped because raising the locked-memory limit (RLIMIT_MEMLOCK) was refused: " +
		"the lab's node lacks CAP_SYS_RESOURCE, which this machine does not grant. On kernels 5.11 and later BPF memory " +
		"is charged to the memory cgroup instead, so a Falco build that tolerates the refusal can run here"},
	{"CO-RE relocat", "Falco's eBPF probe does not match this kernel (a CO-RE relocation failed: the kernel's structures " +
		"differ from what this Falco was built for). A newer Falco may support this kernel: --falco-package"},
	{"invalid mem access", "the kernel's BPF verifier rejected Falco's eBPF probe (this kernel is newer or stricter " +
		"than this Falco supports). A newer Falco may support it: --falco-package"},
	{"BPF program load failed", "the kernel refused to load Falco's eBPF probe. A newer Falco may support this kernel: --falco-package"},
	{"Error loading rules", "Falco could not load its rules: a rules file under /etc/falco has an error (its line is quoted below)"},
}

// explain returns the meaning of the first known failure in lines, or "".
func explain(lines []string) string {
	for _, k := range startFailures {
		for _, l := range lines {
			if strings.Contains(l, k.text) {
				return k.meaning
			}
		}
	}
	return ""
}

// unitState is what systemd says about the Falco service.
type unitState struct {
	ID, Active, Sub, Result string
}

func (u unitState) failed() bool {
	return u.Active == "failed" || u.Sub == "auto-restart" || (u.Result != "" && u.Result != "success")
}

func (u unitState) String() string {
	s := u.Active
	if u.Sub != "" {
		s += " (" + u.Sub + ")"
	}
	if u.Result != "" && u.Result != "success" {
		s += ", result " + u.Result
	}
	return s
}

func serviceState(ctx context.Context, n Node) (unitState, error) {
	out, err := n.Exec(ctx, nil, "systemctl", "show", "--property=Id,ActiveState,SubState,Result", Service)
	if err != nil {
		return unitState{}, fmt.Errorf("asking systemd about the falco service: %w", err)
	}
	var u unitState
	for _, line := range strings.Split(string(out), "\n") {
		k, v, _ := strings.Cut(strings.TrimSpace(line), "=")
		switch k {
		case "Id":
			u.ID = v
		case "ActiveState":
			u.Active = v
		case "SubState":
			u.Sub = v
		case "Result":
			u.Result = v
		}
	}
	return u, nil
}

// JournalLines returns the last n lines the Falco service wrote to the node's journal.
func JournalLines(ctx context.Context, node Node, unit string, n int) []string {
	if unit == "" {
		unit = "falco-modern-bpf.service"
	}
	// The unit's lines, or Falco's by its name: the lines of a process that exits at once can reach the journal
	// without the unit's name (journald cannot look it up any more), and `journalctl --unit` alone misses them.
	out, err := node.Exec(ctx, nil, "journalctl", "--lines", fmt.Sprint(n), "--no-pager", "--output", "cat",
		"_SYSTEMD_UNIT="+unit, "+", "UNIT="+unit, "+", "SYSLOG_IDENTIFIER=falco")
	if err != nil {
		return nil
	}
	var lines []string
	for _, l := range strings.Split(string(out), "\n") {
		if l = strings.TrimSpace(l); l != "" && l != "-- No entries --" {
			lines = append(lines, l)
		}
	}
	return lines
}

// WaitRunning waits until the Falco service is active and its health endpoint answers ok. When the service
// fails (at once, as a Falco that cannot load its probe does) it returns a *StartError within a poll or two,
// with Falco's last journal lines and what they mean; so it does when Falco is not healthy after timeout.
func WaitRunning(ctx context.Context, n Node, version string, timeout time.Duration) error {
	var u unitState
	var hard error // a command that could not run: not Falco's failure
	err := wait.Poll(ctx, 500*time.Millisecond, timeout, "Falco to run and answer on its health endpoint", func(ctx context.Context) (bool, string, error) {
		var err error
		if u, err = serviceState(ctx, n); err != nil {
			hard = err
			return false, "", err
		}
		if u.failed() {
			return false, "", errServiceFailed
		}
		if u.Active != "active" {
			return false, "service falco is " + u.String(), nil
		}
		out, err := n.Exec(ctx, nil, "curl", "-fsS", "--max-time", "2", HealthURL)
		if err != nil {
			seen := firstLine(err.Error())
			var ee *ExecError
			if errors.As(err, &ee) && strings.TrimSpace(ee.Output) != "" {
				seen = firstLine(strings.TrimSpace(ee.Output))
			}
			return false, "health endpoint: " + seen, nil
		}
		if !strings.Contains(string(out), "ok") {
			return false, "health endpoint answered " + strings.TrimSpace(string(out)), nil
		}
		return true, "", nil
	})
	switch {
	case err == nil:
		return nil
	case ctx.Err() != nil, hard != nil:
		return err
	case errors.Is(err, errServiceFailed):
		lines := JournalLines(context.WithoutCancel(ctx), n, u.ID, 30)
		if explain(lines) == "" {
			lines = append(lines, foregroundLines(context.WithoutCancel(ctx), n)...)
		}
		return &StartError{Version: version, Reason: "its service stopped at start-up (" + u.String() + ")", Meaning: explain(lines), Lines: lines}
	}
	lines := JournalLines(context.WithoutCancel(ctx), n, u.ID, 30)
	return &StartError{Version: version, Reason: "it did not become healthy: " + err.Error(), Meaning: explain(lines), Lines: lines}
}

var errServiceFailed = errors.New("the falco service failed")

// foregroundLines runs Falco once in the foreground, as the service does (modern eBPF), for a few seconds at
// most, and returns what it printed. The package's unit sends Falco's standard output to null, and with it
// standard error (StandardError= inherits it), so what libpman writes there before Falco's logger is up never
// reaches the journal; this is how ckslab learns it after the service failed.
func foregroundLines(ctx context.Context, n Node) []string {
	out, _ := n.Exec(ctx, nil, "sh", "-c", "timeout 20 falco -o engine.kind=modern_ebpf -o webserver.enabled=false -M 3 2>&1 | tail -n 30")
	var lines []string
	for _, l := range strings.Split(string(out), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			lines = append(lines, l)
		}
	}
	return lines
}

// StopService stops and disables a Falco that does not run, so that it does not restart in a loop (and fill
// syslog) while the lab runs without it; the next install enables it again.
func StopService(ctx context.Context, n Node, unit string) error {
	if unit == "" {
		unit = "falco-modern-bpf.service"
	}
	if _, err := n.Exec(ctx, nil, "systemctl", "disable", "--now", unit); err != nil {
		return fmt.Errorf("stopping the Falco service that does not run: %w", err)
	}
	return nil
}
