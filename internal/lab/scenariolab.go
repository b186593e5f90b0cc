package lab

import (
	"context"
	"io"

	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/kind/pkg/cluster/nodes"

	"github.com/ckslab/ckslab/falco"
	"github.com/ckslab/ckslab/grader"
	"github.com/ckslab/ckslab/internal/status"
	"github.com/ckslab/ckslab/scenarios"
)

// scenarioLab is what differs between the kinds of scenario in a lab's life. Everything else is one code for
// all: the cluster and its nodes' services, the exam terminal and its ssh, the workloads, task, hint, solve,
// status, down, the lock, the repair's checks. scenarioLabOf picks the kind from the instance's setup.
type scenarioLab interface {
	// prepareNodes runs while up makes the cluster, once the worker's services run (worker is that node).
	prepareNodes(ctx context.Context, p *preparation, worker falco.Node) error
	// beforeWorkloads runs once the cluster exists, before up waits for the workloads to run.
	beforeWorkloads(ctx context.Context, l *Lab, p *preparation, worker nodes.Node) error
	// arm runs once the workloads run: what the task starts from.
	arm(ctx context.Context, l *Lab, p *preparation, worker nodes.Node) error
	// grade fills report's results and health from the live lab.
	grade(ctx context.Context, cacheDir string, s *State, in *scenarios.Instance, report *grader.Report) error
	// reset re-arms the task on the lab's cluster (c), saving the state.
	reset(ctx context.Context, cacheDir string, s *State, in *scenarios.Instance, c kubernetes.Interface, st *status.Status, out io.Writer) error
}

// scenarioLabOf is the kind of in's scenario: the auditing task's, or the Falco task's.
func scenarioLabOf(in *scenarios.Instance) scenarioLab {
	if in.Audit != nil {
		return auditLab{}
	}
	return falcoLab{}
}
