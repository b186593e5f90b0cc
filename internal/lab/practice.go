package lab

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"k8s.io/client-go/kubernetes"

	"github.com/ckslab/ckslab/internal/exec"
	"github.com/ckslab/ckslab/internal/images"
	"github.com/ckslab/ckslab/internal/status"
	"github.com/ckslab/ckslab/scenarios"
)

// NextHint returns the next hint of the ladder, its number and the ladder's
// length, and remembers that it was shown. After the last hint it returns
// the last one again.
func NextHint(cacheDir, name string) (hint string, n, total int, err error) {
	s, err := Load(cacheDir, name)
	if err != nil {
		return "", 0, 0, err
	}
	in, err := Instance(s)
	if err != nil {
		return "", 0, 0, err
	}
	total = len(in.Hints)
	if total == 0 {
		return "", 0, 0, errors.New("this scenario has no hints")
	}
	i := min(s.HintsShown, total-1)
	if s.HintsShown < total {
		s.HintsShown++
		if s.HintsShown == total && s.Revealed == "" {
			// The last hint names the offenders: grades need not hide them any more.
			s.Revealed = RevealedByLastHint
		}
		if err := s.Save(cacheDir); err != nil {
			return "", 0, 0, err
		}
	}
	return in.Hints[i], i + 1, total, nil
}

// StepResult is the outcome of one step of the reference solution.
type StepResult struct {
	Step    scenarios.Step
	Skipped string // why the step was not run
	Output  string
	Err     error
}

// Solve performs the reference solution in the exam terminal, the way a
// learner would. Steps that need Falco are skipped, saying why, when the lab
// has none; the others still run.
func Solve(ctx context.Context, cacheDir, name string, st *status.Status, out io.Writer) ([]StepResult, error) {
	if _, err := Load(cacheDir, name); err != nil {
		return nil, err
	}
	release, err := hold(ctx, cacheDir, name, "solve", out)
	if err != nil {
		return nil, err
	}
	defer release()
	s, err := Load(cacheDir, name) // again: a command it waited for may have changed the lab
	if err != nil {
		return nil, err
	}
	in, err := Instance(s)
	if err != nil {
		return nil, err
	}
	if st == nil {
		st = status.New(io.Discard, false)
	}
	if err := Damaged(ctx, name); err != nil {
		return nil, err
	}
	if err := CheckCourseDir(cacheDir, name); err != nil {
		return nil, err
	}
	var results []StepResult
	for _, step := range in.Solution {
		r := StepResult{Step: step}
		if needsFalco(step) && !s.Falco.Installed {
			r.Skipped = "this lab has no Falco, so this part of the task cannot be done here: " + s.Falco.Missing
			fmt.Fprintf(out, " - skipped %q: %s\n", step.Title, r.Skipped)
			results = append(results, r)
			continue
		}
		err := st.Step(step.Title, func() error {
			sctx, cancel := context.WithTimeout(ctx, step.Timeout)
			defer cancel()
			inTerminal := []string{"docker", "exec", s.Terminal}
			out, err := runScript(sctx, inTerminal, step.Run)
			r.Output = string(out)
			if err != nil {
				return err
			}
			// What must be true after the step: a step that exits 0 having done nothing fails here.
			if out, err := runScript(sctx, inTerminal, step.Verify); err != nil {
				r.Output += string(out)
				var se *ScriptError
				saw := ""
				if errors.As(err, &se) {
					saw = se.Output
				}
				return &NotDoneError{Saw: saw, Err: err}
			}
			return nil
		})
		r.Err = err
		results = append(results, r)
		if err != nil {
			return results, fmt.Errorf("step %q of the reference solution failed: %w", step.Title, err)
		}
	}
	return results, nil
}

// runScript runs one script of a step (its run or its verify) through prefix (docker exec into the exam
// terminal; nothing in tests) as scenarios.StepShell has it: as bash's argument, with no standard input, so no
// command in it can read the rest of the script.
func runScript(ctx context.Context, prefix []string, script string) ([]byte, error) {
	argv := append(slices.Clone(prefix), scenarios.StepShell(script)...)
	out, err := exec.Command(argv[0], argv[1:]...).Output(ctx)
	var ee *exec.Error
	if errors.As(err, &ee) {
		// the script is in the scenario; say what it printed, not the whole command line
		err = &ScriptError{Output: strings.TrimSpace(string(ee.Output)), Err: ee.Err}
	}
	return out, err
}

// ScriptError is a step's script that failed: how, and what it printed on stderr.
type ScriptError struct {
	Output string
	Err    error
}

func (e *ScriptError) Error() string {
	if e.Output == "" {
		return e.Err.Error()
	}
	return e.Err.Error() + ": " + e.Output
}

func (e *ScriptError) Unwrap() error { return e.Err }

// NotDoneError is a step that ran without error but whose verify found its work not done.
type NotDoneError struct {
	Saw string // what the verify printed
	Err error
}

func (e *NotDoneError) Error() string {
	if e.Saw == "" {
		return "it ran, but what it is for is not true afterwards (its verify failed: " + e.Err.Error() + ")"
	}
	return "it ran, but what it is for is not true afterwards: " + e.Saw
}

func (e *NotDoneError) Unwrap() error { return e.Err }

func needsFalco(step scenarios.Step) bool {
	for _, n := range step.Needs {
		if n == "falco" {
			return true
		}
	}
	return false
}

// Reset re-arms the scenario on the existing cluster: the workloads and
// decoys as at the start, the answer file moved aside (never deleted),
// all of /etc/falco as the lab made it (its rules, falco.yaml, config.d, the
// learner's own files removed), the truth recorded again, the hints from the first.
func Reset(ctx context.Context, cacheDir, name string, st *status.Status, out io.Writer) error {
	if _, err := Load(cacheDir, name); err != nil {
		return err
	}
	release, err := hold(ctx, cacheDir, name, "reset", out)
	if err != nil {
		return err
	}
	defer release()
	s, err := Load(cacheDir, name) // again: a command it waited for may have changed the lab
	if err != nil {
		return err
	}
	if err := CheckCourseDir(cacheDir, name); err != nil {
		return err
	}
	if s.ReadyAt.IsZero() {
		return fmt.Errorf("lab %q is not up (its up did not finish): run ckslab up --name %s", name, name)
	}
	in, err := Instance(s)
	if err != nil {
		return err
	}
	if st == nil {
		st = status.New(io.Discard, false)
	}
	c, err := Client(cacheDir, name)
	if err != nil {
		return err
	}
	return scenarioLabOf(in).reset(ctx, cacheDir, s, in, c, st, out)
}

// putWorkloadsBack is reset's step that puts the instance's Deployments back as up made them, on the lab's image
// set, and waits for them to be available.
func putWorkloadsBack(ctx context.Context, s *State, in *scenarios.Instance, c kubernetes.Interface, st *status.Status, title string) error {
	set := &images.Set{Mode: images.Mode(s.Images.Mode), Node: s.Images.Node, Nginx: s.Images.Nginx, Httpd: s.Images.Httpd, Terminal: s.Images.Terminal}
	return st.Step(title, func() error {
		objs, err := ApplyWorkloads(ctx, c, in, set)
		if err != nil {
			return err
		}
		return WaitAvailable(ctx, c, objs.Deployments, 3*time.Minute)
	})
}
