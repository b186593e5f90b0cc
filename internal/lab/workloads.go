package lab

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/util/retry"

	"github.com/ckslab/ckslab/internal/images"
	"github.com/ckslab/ckslab/internal/wait"
	"github.com/ckslab/ckslab/manifests"
	"github.com/ckslab/ckslab/scenarios"
)

// ScenarioID is the scenario a lab runs when none is chosen (and the one of labs made before scenarios could
// be chosen).
const ScenarioID = "falco-runtime"

// Instance returns the scenario instance of a lab: its scenario, its seed's names, on the lab's nodes.
func Instance(s *State) (*scenarios.Instance, error) {
	return InstanceOf(s.ScenarioID(), s.Name, s.Seed)
}

// HasFalco says whether the lab's scenario runs Falco (false also when the scenario cannot be read).
func HasFalco(s *State) bool {
	in, err := Instance(s)
	return err == nil && in.UsesFalco()
}

// InstanceOf returns the instance of scenario for a lab called name made with seed.
func InstanceOf(scenario, name string, seed int64) (*scenarios.Instance, error) {
	sc, err := scenarios.Load(scenario)
	if err != nil {
		return nil, err
	}
	return sc.Instantiate(seed, scenarios.WithCluster(name))
}

// Client returns a Kubernetes client for a lab, from the kubeconfig kind
// wrote for it.
func Client(cacheDir, name string) (kubernetes.Interface, error) {
	cfg, err := clientcmd.BuildConfigFromFlags("", kindKubeconfig(cacheDir, name))
	if err != nil {
		return nil, fmt.Errorf("reading lab %q's kubeconfig: %w", name, err)
	}
	return kubernetes.NewForConfig(cfg)
}

// ApplyWorkloads creates the instance's namespaces and Deployments, or puts
// back their spec when they exist (a converging up, a reset).
func ApplyWorkloads(ctx context.Context, c kubernetes.Interface, in *scenarios.Instance, set *images.Set) (*manifests.Objects, error) {
	if set == nil {
		return nil, fmt.Errorf("deploying the lab's workloads: no image set")
	}
	objs, err := manifests.Render(in, manifests.Images{Nginx: set.Nginx, Httpd: set.Httpd})
	if err != nil {
		return nil, err
	}
	for _, ns := range objs.Namespaces {
		if _, err := c.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			return nil, fmt.Errorf("creating namespace %s: %w", ns.Name, err)
		}
	}
	for _, d := range objs.Deployments {
		_, err := c.AppsV1().Deployments(d.Namespace).Create(ctx, d, metav1.CreateOptions{})
		if apierrors.IsAlreadyExists(err) {
			// The Deployment controller writes the object's status all the while (a reset's scale back, the
			// learner's scale): an update of the version just read can conflict, and is tried again on the newer.
			err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
				cur, gerr := c.AppsV1().Deployments(d.Namespace).Get(ctx, d.Name, metav1.GetOptions{})
				if gerr != nil {
					return fmt.Errorf("reading deployment %s/%s: %w", d.Namespace, d.Name, gerr)
				}
				cur.Spec = d.Spec
				cur.Labels = d.Labels
				_, uerr := c.AppsV1().Deployments(d.Namespace).Update(ctx, cur, metav1.UpdateOptions{})
				return uerr
			})
		}
		if err != nil {
			return nil, fmt.Errorf("creating deployment %s/%s: %w", d.Namespace, d.Name, err)
		}
	}
	return objs, nil
}

// WaitAvailable waits until every Deployment has all its replicas available,
// and on timeout says which did not and what they showed. Each look is one
// list of ckslab's Deployments (a lab that is starting has both cores busy;
// a request per Deployment every quarter second was a good part of the API
// server's work); why the Pods of the ones still waiting are not ready is
// read only every few seconds, for the message.
func WaitAvailable(ctx context.Context, c kubernetes.Interface, deployments []*appsv1.Deployment, timeout time.Duration) error {
	var detailsAt time.Time
	details := map[string]string{}
	return wait.Poll(ctx, 250*time.Millisecond, timeout, "the workloads", func(ctx context.Context) (bool, string, error) {
		list, err := c.AppsV1().Deployments(metav1.NamespaceAll).List(ctx, metav1.ListOptions{
			LabelSelector: manifests.LabelManagedBy + "=" + manifests.ManagedBy,
		})
		if err != nil {
			return false, "listing the Deployments: " + err.Error(), nil
		}
		have := map[string]*appsv1.Deployment{}
		for i := range list.Items {
			have[list.Items[i].Namespace+"/"+list.Items[i].Name] = &list.Items[i]
		}
		explain := time.Since(detailsAt) >= detailsEvery
		if explain {
			detailsAt = time.Now()
		}
		var waiting []string
		for _, want := range deployments {
			key := want.Namespace + "/" + want.Name
			d, ok := have[key]
			switch {
			case !ok:
				waiting = append(waiting, key+": not found")
			case d.Status.ObservedGeneration < d.Generation || d.Status.AvailableReplicas < *d.Spec.Replicas || d.Status.UpdatedReplicas < *d.Spec.Replicas:
				if explain {
					details[key] = podProblems(ctx, c, d)
				}
				waiting = append(waiting, fmt.Sprintf("%s: %d of %d available%s", key, d.Status.AvailableReplicas, *d.Spec.Replicas, details[key]))
			}
		}
		sort.Strings(waiting)
		return len(waiting) == 0, "still waiting for " + strings.Join(waiting, "; "), nil
	})
}

// detailsEvery is how often WaitAvailable reads why Pods are not ready.
const detailsEvery = 3 * time.Second

// podProblems summarises why a Deployment's Pods are not ready.
func podProblems(ctx context.Context, c kubernetes.Interface, d *appsv1.Deployment) string {
	pods, err := c.CoreV1().Pods(d.Namespace).List(ctx, metav1.ListOptions{LabelSelector: metav1.FormatLabelSelector(d.Spec.Selector)})
	if err != nil || len(pods.Items) == 0 {
		return ""
	}
	var out []string
	for _, p := range pods.Items {
		for _, cs := range p.Status.ContainerStatuses {
			if w := cs.State.Waiting; w != nil {
				out = append(out, fmt.Sprintf("pod %s: %s %s", p.Name, w.Reason, w.Message))
			}
		}
		if len(p.Status.ContainerStatuses) == 0 {
			for _, cond := range p.Status.Conditions {
				if cond.Message != "" {
					out = append(out, fmt.Sprintf("pod %s: %s", p.Name, cond.Message))
				}
			}
		}
	}
	if len(out) == 0 {
		return ""
	}
	return " (" + strings.Join(out, ", ") + ")"
}
