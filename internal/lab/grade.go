package lab

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"path"
	"path/filepath"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/ckslab/ckslab/falco"
	"github.com/ckslab/ckslab/grader"
	"github.com/ckslab/ckslab/grader/answerfile"
	gradercluster "github.com/ckslab/ckslab/grader/cluster"
	"github.com/ckslab/ckslab/internal/exec"
	"github.com/ckslab/ckslab/internal/version"
	"github.com/ckslab/ckslab/manifests"
	"github.com/ckslab/ckslab/scenarios"
)

// IDFalcoRunning is the health check of Falco on the worker.
const IDFalcoRunning = "falco-running"

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

// grade grades the Falco task: the answer file against the recorded truth and Falco's alerts, the cluster's
// Deployments, and the health of the node and of Falco.
func (falcoLab) grade(ctx context.Context, cacheDir string, s *State, in *scenarios.Instance, report *grader.Report) error {
	name := s.Name
	withhold := report.Disclosure.Withheld
	node := NodeContainer(WorkerContainer(name))
	c, clientErr := Client(cacheDir, name)

	truth := s.Truth
	if clientErr == nil {
		if t, err := Truth(ctx, node, c, in, s.Truth); err == nil {
			truth = t
		}
	}
	case1, _ := in.Offender(1)
	opts := answerfile.Options{
		ContainerIDs:     append([]string{}, truth[1]...),
		ContainerName:    case1.Container,
		Interval:         case1.Interval,
		MinSpan:          in.MinSpan,
		MissingIsFailure: true,
		DisplayPath:      in.AnswerFile,
		Known:            known(ctx, c, in, truth),
		Withhold:         withhold,
	}
	var res answerfile.Result
	if len(opts.ContainerIDs) == 0 {
		for _, id := range []string{answerfile.IDFile, answerfile.IDFormat, answerfile.IDCase1, answerfile.IDSpan} {
			res.Checks = append(res.Checks, grader.Result{ID: id, Status: grader.Error,
				Message:     "ckslab recorded no container id of the case-1 offender, so the answer file cannot be judged.",
				Remediation: "Re-arm the lab with `ckslab reset` (the truth is recorded again) and redo the task."})
		}
	} else {
		var err error
		if res, err = answerfile.Check(AnswerPath(s, in), opts); err != nil {
			return err
		}
	}
	results := res.Checks
	results = append(results, answerfile.CheckReal(res, falcoRecord(ctx, s, node), 0, 0))
	if clientErr != nil {
		for _, w := range in.Offenders {
			results = append(results, grader.Result{ID: gradercluster.OffenderCheckID(w.Case), Status: grader.Error,
				Message: "Cannot reach the lab's cluster: " + clientErr.Error(), Remediation: "Check that the lab is up: ckslab status."})
		}
	} else {
		results = append(results, gradercluster.Check(ctx, c, in, gradercluster.Withhold(withhold))...)
		report.Health = append(report.Health, gradercluster.Health(ctx, c, in)...)
	}
	report.Health = append(report.Health, falcoHealth(ctx, s, in, node))
	// Titles and points come from the scenario.
	for i := range results {
		if def, ok := in.Check(results[i].ID); ok {
			results[i].Title, results[i].Points = def.Title, def.Points
		}
	}
	report.Results = results
	return nil
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

// known describes the containers whose lines do not belong in the answer
// file: case 2's offender and the decoys.
func known(ctx context.Context, c kubernetes.Interface, in *scenarios.Instance, truth map[int][]string) map[string]string {
	out := map[string]string{}
	for _, w := range in.Offenders {
		if w.Case == 1 {
			continue
		}
		for _, id := range truth[w.Case] {
			out[id] = fmt.Sprintf("the %s offender of case %d (%s)", w.Image, w.Case, w.Key())
		}
	}
	if c == nil {
		return out
	}
	for _, w := range in.Decoys {
		pods, err := c.CoreV1().Pods(w.Namespace).List(ctx, metav1.ListOptions{LabelSelector: manifests.LabelApp + "=" + w.Deployment})
		if err != nil {
			continue
		}
		for _, p := range pods.Items {
			for _, cs := range p.Status.ContainerStatuses {
				if id, err := falco.NormalizeContainerID(cs.ContainerID); err == nil {
					out[id] = fmt.Sprintf("a decoy (%s)", w.Key())
				}
			}
		}
	}
	return out
}

// falcoRecord reads the alerts Falco recorded, or says why there are none.
func falcoRecord(ctx context.Context, s *State, node falco.Node) answerfile.Record {
	if !s.Falco.Installed {
		// Why is said once, by the falco-running check.
		return answerfile.Record{Missing: "this lab has no Falco (" + IDFalcoRunning + " under Environment says why)."}
	}
	alerts, err := ReadAlerts(ctx, node)
	if err != nil {
		return answerfile.Record{Missing: err.Error()}
	}
	return answerfile.Record{Alerts: alerts, Source: node.String() + ":/var/log/syslog"}
}

func falcoHealth(ctx context.Context, s *State, in *scenarios.Instance, node falco.Node) grader.Result {
	r := grader.Result{ID: IDFalcoRunning, Title: "Falco runs on node " + in.WorkerNode}
	if def, ok := in.Check(IDFalcoRunning); ok {
		r.Title = def.Title
	}
	start := time.Now()
	defer func() { r.Duration = time.Since(start) }()
	if !s.Falco.Installed {
		r.Status, r.Message = grader.Skip, "This lab has no Falco: "+s.Falco.Missing
		return r
	}
	out, _ := node.Exec(ctx, nil, "systemctl", "is-active", falco.Service)
	state := string(bytes.TrimSpace(out))
	r.Expected, r.Actual = "service falco active", "service falco "+state
	if state == "active" {
		r.Status, r.Message = grader.Pass, "The falco service is active."
		return r
	}
	r.Status = grader.Fail
	r.Message = "The falco service is " + state + "."
	r.Remediation = fmt.Sprintf("Start it again on the node: ssh %s, then service falco start (after a foreground falco, stop that one first).", in.WorkerNode)
	return r
}
