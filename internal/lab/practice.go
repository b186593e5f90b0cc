package lab

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/ckslab/ckslab/falco"
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
	in, err := Instance(name, s.Seed)
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
	s, err := Load(cacheDir, name)
	if err != nil {
		return nil, err
	}
	in, err := Instance(name, s.Seed)
	if err != nil {
		return nil, err
	}
	if st == nil {
		st = status.New(io.Discard, false)
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
			c := exec.Command("docker", "exec", "--interactive", s.Terminal, "bash", "-l")
			c.Stdin = []byte(step.Run)
			b, err := c.Output(sctx)
			r.Output = string(b)
			return err
		})
		r.Err = err
		results = append(results, r)
		if err != nil {
			return results, fmt.Errorf("step %q of the reference solution failed: %w", step.Title, err)
		}
	}
	return results, nil
}

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
// Falco's rules restored, the truth recorded again, the hints from the first.
func Reset(ctx context.Context, cacheDir, name string, st *status.Status, out io.Writer) error {
	s, err := Load(cacheDir, name)
	if err != nil {
		return err
	}
	if s.ReadyAt.IsZero() {
		return fmt.Errorf("lab %q is not up (its up did not finish): run ckslab up --name %s", name, name)
	}
	in, err := Instance(name, s.Seed)
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
	node := NodeContainer(WorkerContainer(name))
	set := &images.Set{Mode: images.Mode(s.Images.Mode), Node: s.Images.Node, Nginx: s.Images.Nginx, Httpd: s.Images.Httpd, Terminal: s.Images.Terminal}
	if err := st.Step("Putting the workloads and decoys back", func() error {
		objs, err := ApplyWorkloads(ctx, c, in, set)
		if err != nil {
			return err
		}
		return WaitAvailable(ctx, c, objs.Deployments, 3*time.Minute)
	}); err != nil {
		return err
	}
	answer := AnswerPath(s, in)
	if _, err := os.Stat(answer); err == nil {
		kept := fmt.Sprintf("%s.%s", answer, time.Now().Format("20060102-150405"))
		if err := os.Rename(answer, kept); err != nil {
			return fmt.Errorf("moving the answer file aside: %w", err)
		}
		fmt.Fprintf(out, "Your answer file was moved to %s (in the terminal: %s.%s).\n", kept, in.AnswerFile, kept[len(answer)+1:])
	}
	if s.Falco.Installed {
		if err := st.Step("Restoring Falco's rules", func() error {
			if err := falco.RestoreRules(ctx, node); err != nil {
				return err
			}
			if _, err := node.Exec(ctx, nil, "systemctl", "restart", falco.Service); err != nil {
				return err
			}
			return falco.WaitHealthy(ctx, node, time.Minute)
		}); err != nil {
			return err
		}
	}
	if err := st.Step("Recording the offenders' container ids again", func() error {
		if err := ClearTruth(ctx, node); err != nil {
			return err
		}
		if err := StartTruthRecorder(ctx, node, in); err != nil {
			return err
		}
		truth, err := Truth(ctx, node, c, in, nil)
		if err != nil {
			return err
		}
		s.Truth = truth
		return nil
	}); err != nil {
		return err
	}
	s.HintsShown = 0
	s.TaskStartedAt = time.Now().UTC() // the task starts again; attempts and Revealed are kept
	return s.Save(cacheDir)
}
