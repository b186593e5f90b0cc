package lab

import (
	"context"
	"fmt"
	"io"
	"time"

	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/kind/pkg/cluster/nodes"

	"github.com/ckslab/ckslab/falco"
	"github.com/ckslab/ckslab/grader"
	"github.com/ckslab/ckslab/grader/audit"
	"github.com/ckslab/ckslab/internal/status"
	"github.com/ckslab/ckslab/scenarios"
	auditlogging "github.com/ckslab/ckslab/scenarios/audit-logging"
)

// auditLab is the auditing task's side of scenarioLab: its lab side is scenarios/audit-logging's, its checks grader/audit's.
type auditLab struct{}

// prepareNodes runs the control plane's sshd: the task is done there.
func (auditLab) prepareNodes(ctx context.Context, p *preparation, _ falco.Node) error {
	if err := startNodeServices(ctx, NodeContainer(ControlPlaneContainer(p.l.opts.Name))); err != nil {
		return fmt.Errorf("the control plane: %w", err)
	}
	return nil
}

// beforeWorkloads: nothing; this task has no Falco.
func (auditLab) beforeWorkloads(context.Context, *Lab, *preparation, nodes.Node) error { return nil }

// arm writes the basic policy, keeps the original manifest for reset and makes the ConfigMaps and Secrets.
func (auditLab) arm(ctx context.Context, l *Lab, p *preparation, _ nodes.Node) error {
	in := p.in
	return l.opts.Status.Step("Writing the basic audit policy to "+in.Audit.PolicyFile+" on "+in.ControlPlaneNode, func() error {
		return auditlogging.Prepare(ctx, NodeContainer(ControlPlaneContainer(l.opts.Name)), p.client, in)
	})
}

// APIServerWait is how long grading an auditing lab waits for an API server that does not run or answer: just
// after the manifest's edit the kubelet restarts it, which takes from seconds to a minute.
const APIServerWait = 45 * time.Second

// grade judges the auditing task by what the running API server does (grader/audit). What the default grade
// withholds is the flags the task needs.
func (auditLab) grade(ctx context.Context, cacheDir string, s *State, in *scenarios.Instance, report *grader.Report) error {
	report.Disclosure.What = "The flags the task needs"
	c, err := Client(cacheDir, s.Name)
	var obs audit.Observed
	if err != nil {
		// not the API server's fault, but nothing can be asked of it
		obs.NotRunning = "ckslab cannot reach it: " + err.Error()
	} else {
		obs = auditlogging.Observe(ctx, NodeContainer(ControlPlaneContainer(s.Name)), c, in, APIServerWait)
	}
	report.Results, report.Health = audit.Check(in, obs, audit.Options{Remote: "ssh " + in.ControlPlaneNode, Withhold: report.Disclosure.Withheld})
	return nil
}

// reset re-arms the auditing task: the API server's original manifest and the basic policy back (the learner's
// files moved aside on the control plane, never deleted), the audit log removed, the workloads, ConfigMaps and
// Secrets as at the start, the hints from the first.
func (auditLab) reset(ctx context.Context, cacheDir string, s *State, in *scenarios.Instance, c kubernetes.Interface, st *status.Status, out io.Writer) error {
	if err := st.Step("Putting the API server's manifest and the basic policy back, removing the audit log", func() error {
		return auditlogging.Reset(ctx, NodeContainer(ControlPlaneContainer(s.Name)), c, in, out)
	}); err != nil {
		return err
	}
	if err := putWorkloadsBack(ctx, s, in, c, st, "Putting the workloads back"); err != nil {
		return err
	}
	s.HintsShown = 0
	s.TaskStartedAt = time.Now().UTC()
	return s.Save(cacheDir)
}
