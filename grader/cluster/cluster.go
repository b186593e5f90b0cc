// Package cluster grades what the learner did to the lab's cluster: checks 6-8 of the Falco scenario (both
// offending Deployments scaled to 0 with their Pods gone, not deleted; the decoys untouched) and the node's
// health. It reads the cluster through client-go and never changes it.
//
// A check that cannot decide (the API is unreachable, a request fails) returns status error with the reason:
// never a silent pass.
//
// With Withhold(true) the checks keep what the task asks the learner to find (the offenders' namespaces,
// Deployments and Pods, and which Deployments are decoys) out of their results, except where the learner's
// own work already shows it: a Deployment they scaled, deleted or recreated.
package cluster

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/ckslab/ckslab/grader"
	"github.com/ckslab/ckslab/manifests"
	"github.com/ckslab/ckslab/scenarios"
)

// Check ids, stable across versions: scenario files and reports use them.
const (
	// IDOffender1 and IDOffender2: the Deployment of case 1 (2) exists, is scaled to 0 and its Pods are gone.
	IDOffender1 = "offender-1-scaled"
	IDOffender2 = "offender-2-scaled"
	// IDDecoys: every decoy Deployment keeps its replicas and stays available.
	IDDecoys = "decoys-untouched"
	// IDNodeReady is the health check of the worker node.
	IDNodeReady = "node-ready"
)

// OffenderCheckID is the check id of case n's offender.
func OffenderCheckID(n int) string { return fmt.Sprintf("offender-%d-scaled", n) }

// remediation when the API cannot be read.
const fixUnreachable = "Check that the lab is up (`ckslab status`), then grade again."

// Option tunes the checks.
type Option func(*settings)

type settings struct{ withhold bool }

// Withhold keeps the identifiers the task asks the learner to find out of the results (see the package doc).
func Withhold(w bool) Option { return func(s *settings) { s.withhold = w } }

func apply(opts []Option) settings {
	var s settings
	for _, o := range opts {
		o(&s)
	}
	return s
}

// Check runs the scored cluster checks of in: each offender (in case order), then the decoys.
func Check(ctx context.Context, c kubernetes.Interface, in *scenarios.Instance, opts ...Option) []grader.Result {
	out := make([]grader.Result, 0, len(in.Offenders)+1)
	for _, w := range in.Offenders {
		out = append(out, Offender(ctx, c, in, w.Case, opts...))
	}
	return append(out, Decoys(ctx, c, in, opts...))
}

// Health runs the cluster's health checks (no points): the worker node is Ready.
func Health(ctx context.Context, c kubernetes.Interface, in *scenarios.Instance) []grader.Result {
	return []grader.Result{NodeReady(ctx, c, in)}
}

// header starts the result of check id with the instance's title and points.
func header(in *scenarios.Instance, id string) (grader.Result, bool) {
	def, ok := in.Check(id)
	r := grader.Result{ID: id, Title: def.Title, Points: def.Points}
	if !ok {
		r.Title = id
		r.Status = grader.Error
		r.Message = fmt.Sprintf("Scenario %s defines no check %s.", in.ScenarioID, id)
		r.Remediation = "This is a bug in ckslab: report it."
	}
	return r, ok
}

// Offender grades case n: its Deployment exists, is the lab's own, is scaled to 0 in spec and status, and no
// Pod of it is left (not even Terminating). Withheld, a Deployment the learner has not changed is named only
// as "case n's Deployment", its Pods by their states, and the fix says how to find it.
func Offender(ctx context.Context, c kubernetes.Interface, in *scenarios.Instance, n int, opts ...Option) grader.Result {
	set := apply(opts)
	r, ok := header(in, OffenderCheckID(n))
	if !ok {
		return r
	}
	w, ok := in.Offender(n)
	if !ok {
		r.Status, r.Message = grader.Error, fmt.Sprintf("Scenario %s has no case %d.", in.ScenarioID, n)
		return r
	}
	key := w.Key()
	scale := fmt.Sprintf("kubectl -n %s scale deploy %s --replicas 0", w.Namespace, w.Deployment)
	r.Expected = fmt.Sprintf("Deployment %s with 0 replicas in spec and status, and no Pods", key)
	// Until the learner's work shows the Deployment, it is "case n's Deployment".
	caseName := fmt.Sprintf("case %d's Deployment", n)
	secret := func(s string) string { return scrub(s, in) }
	if set.withhold {
		r.Expected = caseName + " with 0 replicas in spec and status, and no Pods"
	}

	d, err := c.AppsV1().Deployments(w.Namespace).Get(ctx, w.Deployment, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		// Deleted: the learner found it (or deleted its whole namespace, or everything).
		r.Expected = fmt.Sprintf("Deployment %s with 0 replicas in spec and status, and no Pods", key)
		r.Status = grader.Fail
		r.Actual = "no Deployment " + key
		where := ""
		if _, nsErr := c.CoreV1().Namespaces().Get(ctx, w.Namespace, metav1.GetOptions{}); apierrors.IsNotFound(nsErr) {
			where = fmt.Sprintf(" (its namespace %s is gone too)", w.Namespace)
			r.Actual += ", no namespace " + w.Namespace
		}
		r.Message = fmt.Sprintf("Deployment %s does not exist%s: it was deleted, not scaled. "+
			"Deleting a Deployment is not scaling it: the task asks for 0 replicas, with the Deployment kept.", key, where)
		r.Remediation = fmt.Sprintf("Restore the lab's workloads with `ckslab reset`, then scale instead of deleting: `%s`.", scale)
		return r
	}
	if err != nil {
		if set.withhold {
			return unreachable(r, caseName, errors.New(secret(err.Error())))
		}
		return unreachable(r, "Deployment "+key, err)
	}
	if d.Labels[manifests.LabelManagedBy] != manifests.ManagedBy || d.DeletionTimestamp != nil {
		// Being deleted, or recreated: the learner's own work.
		r.Expected = fmt.Sprintf("Deployment %s with 0 replicas in spec and status, and no Pods", key)
		r.Status = grader.Fail
		if d.DeletionTimestamp != nil {
			r.Actual = "Deployment " + key + " is being deleted"
			r.Message = fmt.Sprintf("Deployment %s is being deleted: deleting a Deployment is not scaling it.", key)
		} else {
			r.Actual = fmt.Sprintf("Deployment %s without the label %s=%s", key, manifests.LabelManagedBy, manifests.ManagedBy)
			r.Message = fmt.Sprintf("Deployment %s is not the one the lab created (it lacks the label %s=%s): "+
				"it was deleted and created again. Deleting a Deployment is not scaling it.", key, manifests.LabelManagedBy, manifests.ManagedBy)
		}
		r.Remediation = fmt.Sprintf("Restore the lab's workloads with `ckslab reset`, then `%s`.", scale)
		return r
	}
	spec := replicas(d.Spec.Replicas)
	// The learner's work shows the Deployment once its replicas differ from the lab's.
	hide := set.withhold && spec == w.Replicas
	if set.withhold && !hide {
		r.Expected = fmt.Sprintf("Deployment %s with 0 replicas in spec and status, and no Pods", key)
	}
	pods, err := podsOf(ctx, c, d)
	if err != nil {
		if hide {
			return unreachable(r, "the Pods of "+caseName, errors.New(secret(err.Error())))
		}
		return unreachable(r, "the Pods of Deployment "+key, err)
	}

	st := d.Status
	describe := describePods
	if hide {
		describe = countPods
	}
	var seen, problems []string
	seen = append(seen, fmt.Sprintf("spec.replicas %d", spec))
	if spec != 0 {
		problems = append(problems, fmt.Sprintf("spec.replicas is %d (expected 0)", spec))
	}
	seen = append(seen, fmt.Sprintf("status %d replicas, %d ready, %d available", st.Replicas, st.ReadyReplicas, st.AvailableReplicas))
	if spec == 0 && (st.Replicas != 0 || st.ReadyReplicas != 0 || st.AvailableReplicas != 0) {
		problems = append(problems, fmt.Sprintf("the status still counts %d replicas (%d ready): the controller has not caught up yet", st.Replicas, st.ReadyReplicas))
	}
	if len(pods) > 0 {
		seen = append(seen, "Pods: "+describe(pods))
		problems = append(problems, fmt.Sprintf("%s still %s: %s", plural(len(pods), "Pod", "Pods"), plural1(len(pods), "exists", "exist"), describe(pods)))
	} else {
		seen = append(seen, "no Pods")
	}
	r.Actual = strings.Join(seen, "; ")
	if len(problems) == 0 {
		r.Status = grader.Pass
		r.Message = fmt.Sprintf("Deployment %s is scaled to 0 and its Pods are gone.", key)
		return r
	}
	r.Status = grader.Fail
	if hide {
		r.Message = fmt.Sprintf("%s still runs %s (expected 0)", upperFirst(caseName), plural(int(spec), "replica", "replicas"))
		if len(pods) > 0 {
			r.Message += "; its Pods: " + countPods(pods)
		}
		r.Message += "."
		r.Remediation = fmt.Sprintf("Find the Pod running image %s whose container %s: Falco's alerts on node %s name its container, "+
			"and `crictl ps -id` and `crictl pods -id` there lead to its Pod. Then scale the Deployment that controls it to 0 replicas "+
			"(do not delete it). Stuck? `ckslab hint`.", w.Image, misbehaviour(w.Behaviour), in.WorkerNode)
		return r
	}
	r.Message = fmt.Sprintf("Deployment %s: %s.", key, strings.Join(problems, "; "))
	switch {
	case spec != 0:
		r.Remediation = fmt.Sprintf("Scale it down (do not delete it): `%s`.", scale)
	case allTerminating(pods) || len(pods) == 0:
		r.Remediation = fmt.Sprintf("Wait until its Pods are gone (`kubectl -n %s get pods -l %s -w`), then grade again.", w.Namespace, selectorText(d))
	default:
		r.Remediation = fmt.Sprintf("Something besides the Deployment keeps Pods with %s running: find it with "+
			"`kubectl -n %s get rs,pods -l %s` and remove it, or restore the lab with `ckslab reset`.", selectorText(d), w.Namespace, selectorText(d))
	}
	return r
}

// misbehaviour says in the task's words what an offender's container does.
func misbehaviour(b scenarios.Behaviour) string {
	switch b {
	case scenarios.PackageManager:
		return "keeps launching package-management processes"
	case scenarios.WriteEtcPasswd:
		return "modifies /etc/passwd"
	}
	return "misbehaves"
}

// Decoys grades the decoys: each Deployment still exists, keeps the replicas the lab gave it and is available.
// Each decoy changed by mistake is a finding that names it. Withheld, the decoys are not listed (the list
// would name the offenders by elimination): only those the learner scaled or deleted are named.
func Decoys(ctx context.Context, c kubernetes.Interface, in *scenarios.Instance, opts ...Option) grader.Result {
	set := apply(opts)
	r, ok := header(in, IDDecoys)
	if !ok {
		return r
	}
	var want, seen []string
	for _, w := range in.Decoys {
		want = append(want, fmt.Sprintf("%s %d", w.Key(), w.Replicas))
	}
	decoys := plural(len(in.Decoys), "decoy Deployment", "decoy Deployments")
	r.Expected = fmt.Sprintf("%s with their replicas, all available: %s", decoys, strings.Join(want, ", "))
	if set.withhold {
		r.Expected = fmt.Sprintf("%s (the Deployments other than the two offenders) with their replicas, all available", decoys)
	}
	var findings []grader.Finding
	unchanged := 0
	for _, w := range in.Decoys {
		key := w.Key()
		restore := fmt.Sprintf("kubectl -n %s scale deploy %s --replicas %d", w.Namespace, w.Deployment, w.Replicas)
		d, err := c.AppsV1().Deployments(w.Namespace).Get(ctx, w.Deployment, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			seen = append(seen, key+" deleted")
			findings = append(findings, grader.Finding{Text: key,
				Problem:     fmt.Sprintf("decoy %s was deleted; it is not an offender", key),
				Remediation: "Restore it with `ckslab reset` (that re-arms the whole lab)."})
			continue
		}
		if err != nil {
			r.Expected = ""
			if set.withhold {
				return unreachable(r, "a decoy Deployment", errors.New(scrub(err.Error(), in)))
			}
			return unreachable(r, "decoy Deployment "+key, err)
		}
		spec := replicas(d.Spec.Replicas)
		switch {
		case spec != w.Replicas:
			seen = append(seen, fmt.Sprintf("%s %d", key, spec))
			findings = append(findings, grader.Finding{Text: key,
				Problem:     fmt.Sprintf("decoy %s was scaled to %d (the lab runs it with %d); it is not an offender", key, spec, w.Replicas),
				Remediation: fmt.Sprintf("Scale it back: `%s`.", restore)})
		case d.Status.AvailableReplicas < w.Replicas && set.withhold:
			// Not scaled by the learner: keep which one it is to `kubectl get deploy -A`.
			seen = append(seen, fmt.Sprintf("a decoy with %d of %d available", d.Status.AvailableReplicas, w.Replicas))
			detail := ""
			if pods, err := podsOf(ctx, c, d); err == nil && len(pods) > 0 {
				detail = "; Pods: " + countPods(pods)
			}
			findings = append(findings, grader.Finding{Text: "a decoy",
				Problem:     fmt.Sprintf("a decoy is not available: %d of %d replicas available%s", d.Status.AvailableReplicas, w.Replicas, detail),
				Remediation: "`kubectl get deploy -A` shows which Deployment is not READY; look at its Pods. `ckslab reset` restores it."})
		case d.Status.AvailableReplicas < w.Replicas:
			seen = append(seen, fmt.Sprintf("%s %d, %d available", key, spec, d.Status.AvailableReplicas))
			detail := ""
			if pods, err := podsOf(ctx, c, d); err == nil && len(pods) > 0 {
				detail = "; Pods: " + describePods(pods)
			}
			findings = append(findings, grader.Finding{Text: key,
				Problem: fmt.Sprintf("decoy %s is not available: %d of %d replicas available%s", key, d.Status.AvailableReplicas, w.Replicas, detail),
				Remediation: fmt.Sprintf("Look at its Pods (`kubectl -n %s get pods -l %s`); `ckslab reset` restores it.",
					w.Namespace, selectorText(d))})
		case set.withhold:
			unchanged++
		default:
			seen = append(seen, fmt.Sprintf("%s %d", key, spec))
		}
	}
	if unchanged > 0 {
		seen = append(seen, fmt.Sprintf("%d unchanged", unchanged))
	}
	r.Actual = strings.Join(seen, ", ")
	if len(findings) == 0 {
		r.Status = grader.Pass
		r.Message = fmt.Sprintf("All %s keep their replicas and are available.", plural(len(in.Decoys), "decoy", "decoys"))
		return r
	}
	r.Status = grader.Fail
	r.Findings = findings
	var names []string
	for _, f := range findings {
		names = append(names, f.Text)
	}
	r.Message = fmt.Sprintf("%s changed by mistake: %s. Only the two offending Deployments are to be scaled down.",
		plural(len(findings), "decoy", "decoys"), strings.Join(names, ", "))
	if len(findings) == 1 {
		r.Message = findings[0].Problem + "."
		r.Remediation = findings[0].Remediation
	} else {
		r.Remediation = "Restore each decoy as its finding says, or re-arm the whole lab with `ckslab reset`."
	}
	return r
}

// NodeReady reports whether the worker node (where Falco and the offenders run) is Ready. It is a health
// check: it has no points and never changes the score.
func NodeReady(ctx context.Context, c kubernetes.Interface, in *scenarios.Instance) grader.Result {
	r, ok := header(in, IDNodeReady)
	if !ok {
		return r
	}
	r.Points = 0
	r.Expected = fmt.Sprintf("node %s with condition Ready=True", in.WorkerNode)
	node, err := c.CoreV1().Nodes().Get(ctx, in.WorkerNode, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		r.Status = grader.Error
		r.Actual = "no node " + in.WorkerNode
		r.Message = fmt.Sprintf("The cluster has no node %s: this is not the lab's cluster, or the worker did not join.", in.WorkerNode)
		r.Remediation = "Recreate the lab: `ckslab down`, then `ckslab up`."
		return r
	}
	if err != nil {
		return unreachable(r, "node "+in.WorkerNode, err)
	}
	for _, cond := range node.Status.Conditions {
		if cond.Type != corev1.NodeReady {
			continue
		}
		r.Actual = fmt.Sprintf("Ready=%s", cond.Status)
		if cond.Reason != "" {
			r.Actual += " (" + cond.Reason + ")"
		}
		if cond.Status == corev1.ConditionTrue {
			r.Status = grader.Pass
			r.Message = fmt.Sprintf("Node %s is Ready.", in.WorkerNode)
			return r
		}
		r.Status = grader.Fail
		r.Message = fmt.Sprintf("Node %s is not Ready: %s.", in.WorkerNode, strings.TrimSuffix(nonEmpty(cond.Message, cond.Reason, "no reason given"), "."))
		r.Remediation = fmt.Sprintf("Look at the node (`kubectl describe node %s`, `ckslab ssh %s` then `journalctl -u kubelet`); `ckslab status` says more.",
			in.WorkerNode, in.WorkerNode)
		return r
	}
	r.Status = grader.Fail
	r.Actual = "no Ready condition"
	r.Message = fmt.Sprintf("Node %s reports no Ready condition yet: its kubelet has not reported.", in.WorkerNode)
	r.Remediation = "Wait a few seconds and grade again; `ckslab status` says more."
	return r
}

// ContainerIDs returns the ids ("containerd://<64 hex>") of w's container in every Pod of its Deployment,
// including the previous instance of restarted containers, sorted. It is how the truth about an offender is
// recorded while it runs, before the learner scales it away.
func ContainerIDs(ctx context.Context, c kubernetes.Interface, w scenarios.Workload) ([]string, error) {
	pods, err := c.CoreV1().Pods(w.Namespace).List(ctx, metav1.ListOptions{LabelSelector: manifests.LabelApp + "=" + w.Deployment})
	if err != nil {
		return nil, fmt.Errorf("listing the Pods of %s: %w", w.Key(), err)
	}
	var ids []string
	for _, p := range pods.Items {
		for _, s := range p.Status.ContainerStatuses {
			if s.Name != w.Container {
				continue
			}
			if s.ContainerID != "" {
				ids = append(ids, s.ContainerID)
			}
			if t := s.LastTerminationState.Terminated; t != nil && t.ContainerID != "" {
				ids = append(ids, t.ContainerID)
			}
		}
	}
	slices.Sort(ids)
	return slices.Compact(ids), nil
}

func unreachable(r grader.Result, what string, err error) grader.Result {
	r.Status = grader.Error
	r.Message = fmt.Sprintf("Could not read %s: %v.", what, err)
	r.Remediation = fixUnreachable
	return r
}

// podsOf lists the Pods d selects, sorted by name.
func podsOf(ctx context.Context, c kubernetes.Interface, d *appsv1.Deployment) ([]corev1.Pod, error) {
	sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
	if err != nil {
		return nil, fmt.Errorf("the selector of Deployment %s/%s: %w", d.Namespace, d.Name, err)
	}
	list, err := c.CoreV1().Pods(d.Namespace).List(ctx, metav1.ListOptions{LabelSelector: sel.String()})
	if err != nil {
		return nil, err
	}
	pods := list.Items
	slices.SortFunc(pods, func(a, b corev1.Pod) int { return strings.Compare(a.Name, b.Name) })
	return pods, nil
}

// scrub replaces the names of in's workloads (namespaces, Deployments) in s, an API error that names the
// object it was about, with "…".
func scrub(s string, in *scenarios.Instance) string {
	var names []string
	for _, w := range slices.Concat(in.Offenders, in.Decoys) {
		names = append(names, w.Namespace, w.Deployment)
	}
	// Longest first: a name that contains another is replaced whole.
	slices.SortFunc(names, func(a, b string) int { return len(b) - len(a) })
	for _, x := range names {
		if x != "" {
			s = strings.ReplaceAll(s, x, "…")
		}
	}
	return s
}

// countPods describes Pods by their states only: "1 Running", "2 Terminating, 1 Pending".
func countPods(pods []corev1.Pod) string {
	counts := map[string]int{}
	var states []string
	for _, p := range pods {
		st := podState(p)
		if counts[st] == 0 {
			states = append(states, st)
		}
		counts[st]++
	}
	slices.Sort(states)
	parts := make([]string, 0, len(states))
	for _, st := range states {
		parts = append(parts, fmt.Sprintf("%d %s", counts[st], st))
	}
	return strings.Join(parts, ", ")
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

func selectorText(d *appsv1.Deployment) string {
	sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
	if err != nil || sel.Empty() {
		return manifests.LabelApp + "=" + d.Name
	}
	return sel.String()
}

func describePods(pods []corev1.Pod) string {
	var parts []string
	for _, p := range pods {
		parts = append(parts, p.Name+" ("+podState(p)+")")
	}
	return strings.Join(parts, ", ")
}

// podState is what `kubectl get pods` shows in STATUS, near enough.
func podState(p corev1.Pod) string {
	if p.DeletionTimestamp != nil {
		return "Terminating"
	}
	for _, s := range p.Status.ContainerStatuses {
		if s.State.Waiting != nil && s.State.Waiting.Reason != "" {
			return s.State.Waiting.Reason
		}
	}
	if p.Status.Phase == "" {
		return "Pending"
	}
	return string(p.Status.Phase)
}

func allTerminating(pods []corev1.Pod) bool {
	for _, p := range pods {
		if p.DeletionTimestamp == nil {
			return false
		}
	}
	return true
}

func replicas(p *int32) int32 {
	if p == nil {
		return 1 // the API's default
	}
	return *p
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

func plural1(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

func nonEmpty(s ...string) string {
	for _, x := range s {
		if x != "" {
			return x
		}
	}
	return ""
}
