package lab

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/ckslab/ckslab/falco"
	"github.com/ckslab/ckslab/internal/cluster"
	"github.com/ckslab/ckslab/internal/kubeconfig"
	"github.com/ckslab/ckslab/internal/wait"
	falcoruntime "github.com/ckslab/ckslab/scenarios/falco-runtime"
)

// nodeServices are the worker's services a lab needs, besides Falco: the syslog Falco writes to, the sshd the
// terminal reaches, and the recorder of the offenders' container ids.
var nodeServices = []string{"rsyslog", "ssh", falcoruntime.TruthUnit}

// checkParts is the part of a repair after the containers run: the worker's services, the kubeconfig context,
// the API and the nodes through that context, and the exam terminal's kubectl and ssh. It fixes what it can,
// adding what it fixed to the state's Repaired, and fails naming the part it cannot fix.
func (l *Lab) checkParts(ctx context.Context, s *State, n falco.Node, restarted bool) error {
	o, st := l.opts, l.opts.Status
	nodeServices := nodeServices
	if !HasFalco(s) {
		nodeServices = nodeServices[:2] // the truth recorder is the Falco scenario's
	}
	if err := st.Step("Checking the worker's host name and services ("+strings.Join(nodeServices, ", ")+")", func() error {
		inactive := func(ctx context.Context) []string {
			var down []string
			for _, svc := range nodeServices {
				if _, err := n.Exec(ctx, nil, "systemctl", "is-active", "--quiet", svc); err != nil {
					down = append(down, svc)
				}
			}
			return down
		}
		// A node that has just started (by up, or by the engine's restart policy after the engine restarted)
		// is still booting: its services come up with systemd; wait for that before judging them.
		if err := waitBooted(ctx, WorkerContainer(o.Name)); err != nil {
			return err
		}
		// its host name, which the engine resets to the container's name at each start (a unit of the node
		// names it again at boot; labs made before that unit get it here)
		node := cluster.WorkerNodeName(o.Name)
		if out, err := n.Exec(ctx, nil, "hostname"); err != nil || strings.TrimSpace(string(out)) != node {
			if err := nameNode(ctx, n, node); err != nil {
				return err
			}
			s.Repaired = append(s.Repaired, fmt.Sprintf("named the worker %s again (its host name was %q)", node, strings.TrimSpace(string(out))))
		}
		if restarted {
			_ = wait.Poll(ctx, time.Second, time.Minute, "the worker's services", func(ctx context.Context) (bool, string, error) {
				return len(inactive(ctx)) == 0, "", nil
			})
		}
		for _, svc := range inactive(ctx) {
			if out, err := n.Exec(ctx, nil, "systemctl", "restart", svc); err != nil {
				return fmt.Errorf("%s on %s is not running and does not start: %s", svc, cluster.WorkerNodeName(o.Name), strings.TrimSpace(string(out)+" "+err.Error()))
			}
			if _, err := n.Exec(ctx, nil, "systemctl", "is-active", "--quiet", svc); err != nil {
				return fmt.Errorf("%s on %s does not stay up after a restart: see `ckslab ssh %s -- journalctl -u %s`", svc, cluster.WorkerNodeName(o.Name), cluster.WorkerNodeName(o.Name), svc)
			}
			if !restarted {
				s.Repaired = append(s.Repaired, "started "+svc+" on "+cluster.WorkerNodeName(o.Name)+" again (it was not running)")
			}
		}
		return nil
	}); err != nil {
		return err
	}
	if err := st.Step("Checking the kubeconfig context "+s.Context, func() error {
		present, err := kubeconfig.HasContext(s.Kubeconfig, s.Context, o.Name)
		if err != nil {
			return err
		}
		if present {
			return nil
		}
		kc, err := os.ReadFile(kindKubeconfig(o.CacheDir, o.Name))
		if err != nil {
			return fmt.Errorf("the context %s is gone from %s and the lab's own kubeconfig cannot be read to add it again: %w", s.Context, s.Kubeconfig, err)
		}
		if err := kubeconfig.AddContext(s.Kubeconfig, s.Context, o.Name, kc); err != nil {
			return err
		}
		s.Repaired = append(s.Repaired, "added the context "+s.Context+" to "+s.Kubeconfig+" again")
		return nil
	}); err != nil {
		return err
	}
	if err := st.Step("Checking the API and the nodes through "+s.Context, func() error {
		c, err := contextClient(s.Kubeconfig, s.Context)
		if err != nil {
			return err
		}
		return wait.Poll(ctx, time.Second, 3*time.Minute, "both nodes Ready through "+s.Context, func(ctx context.Context) (bool, string, error) {
			return nodesReady(ctx, c)
		})
	}); err != nil {
		return err
	}
	in, err := Instance(s)
	if err != nil {
		return err
	}
	// the control plane's host name (the engine resets it at each start; the node's unit names it again at boot;
	// labs whose kubelet takes its name from the host name keep kind's)
	if err := st.Step("Checking the control plane's host name", func() error {
		cp := NodeContainer(ControlPlaneContainer(o.Name))
		out, err := cp.Exec(ctx, nil, "hostname")
		if err == nil && strings.TrimSpace(string(out)) == in.ControlPlaneNode {
			return nil
		}
		named, err := nameNodeIfPinned(ctx, cp, in.ControlPlaneNode)
		if err != nil {
			return err
		}
		if named {
			s.Repaired = append(s.Repaired, fmt.Sprintf("named %s again (its host name was %q)", in.ControlPlaneNode, strings.TrimSpace(string(out))))
		}
		return nil
	}); err != nil {
		return err
	}
	return st.Step("Checking the exam terminal's kubectl and ssh "+strings.Join(SSHNodes(in), ", "), func() error {
		for _, node := range SSHNodes(in) {
			if node == in.WorkerNode {
				continue // its services were checked above
			}
			// a node the task is done on: its sshd too
			n := NodeContainer(nodeContainer(in, node))
			if _, err := n.Exec(ctx, nil, "systemctl", "is-active", "--quiet", "ssh"); err != nil {
				if out, err := n.Exec(ctx, nil, "systemctl", "restart", "ssh"); err != nil {
					return fmt.Errorf("ssh on %s is not running and does not start: %s", node, strings.TrimSpace(string(out)+" "+err.Error()))
				}
				s.Repaired = append(s.Repaired, "started ssh on "+node+" again (it was not running)")
			}
		}
		if err := terminalWorks(ctx, o.Name, SSHNodes(in)); err == nil {
			return nil
		}
		// Its kubeconfig and ssh set-up again, as up made them; then it must work.
		if err := newPreparation(l, in, false).finishTerminal(ctx); err != nil {
			return fmt.Errorf("the exam terminal does not work, and setting it up again failed: %w", err)
		}
		if err := terminalWorks(ctx, o.Name, SSHNodes(in)); err != nil {
			return fmt.Errorf("the exam terminal does not work after setting it up again: %w", err)
		}
		s.Repaired = append(s.Repaired, "set up the exam terminal's kubectl and ssh again")
		return nil
	})
}

// contextClient is a client through the user's kubeconfig and the lab's context, as the learner's kubectl.
func contextClient(path, context string) (kubernetes.Interface, error) {
	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(
		&clientcmd.ClientConfigLoadingRules{ExplicitPath: path}, &clientcmd.ConfigOverrides{CurrentContext: context}).ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("the context %s in %s: %w", context, path, err)
	}
	cfg.Timeout = 10 * time.Second
	return kubernetes.NewForConfig(cfg)
}

// nodesReady: all nodes Ready, else what was seen.
func nodesReady(ctx context.Context, c kubernetes.Interface) (bool, string, error) {
	nodes, err := c.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return false, "the API does not answer: " + err.Error(), nil
	}
	var notReady []string
	for _, nd := range nodes.Items {
		ready := false
		for _, cond := range nd.Status.Conditions {
			if cond.Type == corev1.NodeReady && cond.Status == corev1.ConditionTrue {
				ready = true
			}
		}
		if !ready {
			notReady = append(notReady, nd.Name)
		}
	}
	if len(nodes.Items) == 0 {
		return false, "no nodes", nil
	}
	if len(notReady) > 0 {
		return false, "not Ready: " + strings.Join(notReady, ", "), nil
	}
	return true, "", nil
}

// terminalWorks runs the exam terminal's kubectl and ssh to each of nodes, as a learner's first commands.
func terminalWorks(ctx context.Context, name string, nodes []string) error {
	t := NodeContainer(TerminalName(name))
	if out, err := t.Exec(ctx, nil, "kubectl", "get", "nodes", "--request-timeout=10s"); err != nil {
		return fmt.Errorf("kubectl get nodes in the terminal: %s", strings.TrimSpace(string(out)+" "+err.Error()))
	}
	for _, node := range nodes {
		if out, err := t.Exec(ctx, nil, "ssh", "-o", "BatchMode=yes", "-o", "ConnectTimeout=10", node, "true"); err != nil {
			return fmt.Errorf("ssh %s in the terminal: %s", node, strings.TrimSpace(string(out)+" "+err.Error()))
		}
	}
	return nil
}
