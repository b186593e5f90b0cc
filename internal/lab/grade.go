package lab

import (
	"context"
	"fmt"
	"io"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/ckslab/ckslab/falco"
	"github.com/ckslab/ckslab/grader"
	"github.com/ckslab/ckslab/internal/exec"
	"github.com/ckslab/ckslab/internal/version"
	"github.com/ckslab/ckslab/scenarios"
)

// containerNode runs commands in a node container with docker exec.
type containerNode struct{ name string }

// NodeContainer returns a falco.Node for a node's container.
func NodeContainer(container string) falco.Node { return containerNode{container} }

func (c containerNode) String() string { return c.name }

func (c containerNode) Exec(ctx context.Context, stdin io.Reader, argv ...string) ([]byte, error) {
	cmd := exec.Command("docker", append([]string{"exec", "--interactive", c.name}, argv...)...)
	if stdin != nil {
		b, err := io.ReadAll(stdin)
		if err != nil {
			return nil, err
		}
		cmd.Stdin = b
	} else {
		cmd.Stdin = []byte{}
	}
	out, err := cmd.Output(ctx)
	if err != nil {
		return out, &falco.ExecError{Node: c.name, Argv: argv, Output: strings.TrimSpace(exec.OutputOf(err)), Err: err}
	}
	return out, nil
}

// AnswerPath is where the answer file of in is on the host: the lab's
// course folder stands for /opt/course.
func AnswerPath(s *State, in *scenarios.Instance) string {
	rel := strings.TrimPrefix(path.Clean(in.AnswerFile), "/opt/course")
	return filepath.Join(s.CourseDir, filepath.FromSlash(rel))
}

// GradeOption tunes Grade.
type GradeOption func(*gradeSettings)

type gradeSettings struct{ reveal bool }

// WithReveal makes the report name everything, as `ckslab grade --reveal`:
// the offenders' namespaces, Deployments, Pods and container ids.
func WithReveal(reveal bool) GradeOption { return func(g *gradeSettings) { g.reveal = reveal } }

// Grade runs every check of the lab's scenario against the live lab and the
// truth recorded about it. It returns an error only when there is no lab to
// grade; everything else is a check's status. It changes nothing: keeping the
// grade is SaveAttempt's.
//
// The report withholds what the task asks the learner to find (see
// grader.Disclosure), unless WithReveal(true) or the lab's state says the
// answers were shown already (solve, the last hint).
func Grade(ctx context.Context, cacheDir, name string, options ...GradeOption) (*grader.Report, error) {
	var g gradeSettings
	for _, o := range options {
		o(&g)
	}
	s, err := Load(cacheDir, name)
	if err != nil {
		return nil, err
	}
	in, err := Instance(s)
	if err != nil {
		return nil, err
	}
	if err := Damaged(ctx, name); err != nil {
		return nil, fmt.Errorf("could not grade: %w", err)
	}
	if err := CheckCourseDir(cacheDir, name); err != nil {
		return nil, fmt.Errorf("could not grade: %w", err)
	}
	now := time.Now().UTC()
	report := &grader.Report{Tool: "ckslab", Version: version.Get(), Name: in.ScenarioID, Subject: "lab " + name,
		GradedAt: now, Task: s.TaskTime(now, in.TimeBudget), During: Busy(cacheDir, name)}
	report.Disclosure = disclosure(s, g.reveal)
	if err := scenarioLabOf(in).grade(ctx, cacheDir, s, in, report); err != nil {
		return nil, err
	}
	return report, nil
}

// disclosure decides what a grade of the lab may name: everything when asked
// (--reveal) or once the answers were shown (solve, the last hint); else the
// identifiers the task asks to find are withheld.
func disclosure(s *State, reveal bool) grader.Disclosure {
	var d grader.Disclosure
	switch {
	case reveal:
		d.Reason = "asked for with --reveal"
	case s.Revealed != "":
		d.Reason = s.Revealed
	default:
		d.Withheld = true
	}
	if s.Name != DefaultName {
		d.LabFlag = " --name " + s.Name
	}
	return d
}
