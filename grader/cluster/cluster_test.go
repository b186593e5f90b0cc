package cluster

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/ckslab/ckslab/grader"
	"github.com/ckslab/ckslab/internal/images"
	"github.com/ckslab/ckslab/manifests"
	"github.com/ckslab/ckslab/scenarios"
	"github.com/ckslab/ckslab/scenarios/scenariotest"
)

func instance(t *testing.T) *scenarios.Instance {
	t.Helper()
	return scenariotest.Instance(t, "falco-runtime", 0)
}

// lab is the state of a lab's cluster as a list of objects, built from the real manifests.
type lab struct {
	ns    []*corev1.Namespace
	deps  map[string]*appsv1.Deployment // by namespace/name
	pods  []*corev1.Pod
	nodes []*corev1.Node
}

// freshLab is the lab right after `ckslab up`: every Deployment running all its replicas, the worker Ready.
func freshLab(t *testing.T, in *scenarios.Instance) *lab {
	t.Helper()
	objs, err := manifests.Render(in, manifests.Images{Nginx: images.PublicNginx, Httpd: images.PublicHttpd})
	if err != nil {
		t.Fatal(err)
	}
	l := &lab{ns: objs.Namespaces, deps: map[string]*appsv1.Deployment{}}
	for _, d := range objs.Deployments {
		n := *d.Spec.Replicas
		d.Generation, d.Status = 1, appsv1.DeploymentStatus{ObservedGeneration: 1, Replicas: n, ReadyReplicas: n, AvailableReplicas: n, UpdatedReplicas: n}
		l.deps[d.Namespace+"/"+d.Name] = d
		for i := range n {
			l.addPod(d, fmt.Sprintf("%s-5d8f7c9b6-%c%c%c%c%c", d.Name, 'a'+i, 'b'+i, 'c'+i, 'd'+i, 'e'+i), corev1.PodRunning)
		}
	}
	l.nodes = []*corev1.Node{{
		ObjectMeta: metav1.ObjectMeta{Name: "cluster1-node1"},
		Status:     corev1.NodeStatus{Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "KubeletReady"}}},
	}}
	return l
}

func (l *lab) addPod(d *appsv1.Deployment, name string, phase corev1.PodPhase) *corev1.Pod {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: d.Namespace, Labels: d.Spec.Template.Labels},
		Status:     corev1.PodStatus{Phase: phase},
	}
	l.pods = append(l.pods, p)
	return p
}

// scale sets a Deployment's replicas in spec and status and keeps that many Pods, the way the controllers
// would once they caught up.
func (l *lab) scale(key string, n int32) {
	d := l.deps[key]
	d.Spec.Replicas = &n
	d.Status.Replicas, d.Status.ReadyReplicas, d.Status.AvailableReplicas, d.Status.UpdatedReplicas = n, n, n, n
	var keep []*corev1.Pod
	kept := int32(0)
	for _, p := range l.pods {
		if p.Namespace == d.Namespace && p.Labels[manifests.LabelApp] == d.Name {
			if kept >= n {
				continue
			}
			kept++
		}
		keep = append(keep, p)
	}
	l.pods = keep
}

func (l *lab) delete(key string) {
	d := l.deps[key]
	delete(l.deps, key)
	l.pods = slices.DeleteFunc(l.pods, func(p *corev1.Pod) bool {
		return p.Namespace == d.Namespace && p.Labels[manifests.LabelApp] == d.Name
	})
}

func (l *lab) client() *fake.Clientset {
	var objs []runtime.Object
	for _, n := range l.ns {
		objs = append(objs, n)
	}
	keys := make([]string, 0, len(l.deps))
	for k := range l.deps {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		objs = append(objs, l.deps[k])
	}
	for _, p := range l.pods {
		objs = append(objs, p)
	}
	for _, n := range l.nodes {
		objs = append(objs, n)
	}
	return fake.NewClientset(objs...)
}

// solve is the reference solution's effect on the cluster.
func solve(l *lab) {
	l.scale("team-blue/webapi", 0)
	l.scale("team-purple/rating-service", 0)
}

type want struct {
	status      grader.Status
	message     string
	actual      string
	remediation string
}

func check(t *testing.T, got grader.Result, w want) {
	t.Helper()
	if got.Status != w.status {
		t.Errorf("%s: status %s, want %s (message %q)", got.ID, got.Status, w.status, got.Message)
	}
	if w.message != "" && got.Message != w.message {
		t.Errorf("%s: message\n got %q\nwant %q", got.ID, got.Message, w.message)
	}
	if w.actual != "" && got.Actual != w.actual {
		t.Errorf("%s: actual\n got %q\nwant %q", got.ID, got.Actual, w.actual)
	}
	if w.remediation != "" && got.Remediation != w.remediation {
		t.Errorf("%s: remediation\n got %q\nwant %q", got.ID, got.Remediation, w.remediation)
	}
}

func TestCheck(t *testing.T) {
	in := instance(t)
	pass := want{status: grader.Pass}
	tests := []struct {
		name  string
		setup func(*lab)
		// one want per result of Check: offender 1, offender 2, decoys
		want [3]want
	}{
		{
			name:  "fresh lab",
			setup: func(*lab) {},
			want: [3]want{
				{grader.Fail, "Deployment team-blue/webapi: spec.replicas is 1 (expected 0); 1 Pod still exists: webapi-5d8f7c9b6-abcde (Running).",
					"spec.replicas 1; status 1 replicas, 1 ready, 1 available; Pods: webapi-5d8f7c9b6-abcde (Running)",
					"Scale it down (do not delete it): `kubectl -n team-blue scale deploy webapi --replicas 0`."},
				{grader.Fail, "Deployment team-purple/rating-service: spec.replicas is 1 (expected 0); 1 Pod still exists: rating-service-5d8f7c9b6-abcde (Running).",
					"", "Scale it down (do not delete it): `kubectl -n team-purple scale deploy rating-service --replicas 0`."},
				{grader.Pass, "All 4 decoys keep their replicas and are available.",
					"team-green/storefront 1, team-orange/intranet 1, team-red/edge-proxy 1, team-yellow/legacy-portal 1", ""},
			},
		},
		{
			name:  "reference solution",
			setup: solve,
			want: [3]want{
				{grader.Pass, "Deployment team-blue/webapi is scaled to 0 and its Pods are gone.", "spec.replicas 0; status 0 replicas, 0 ready, 0 available; no Pods", ""},
				{grader.Pass, "Deployment team-purple/rating-service is scaled to 0 and its Pods are gone.", "", ""},
				pass,
			},
		},
		{
			name: "a decoy scaled instead of case 1",
			setup: func(l *lab) {
				l.scale("team-green/storefront", 0)
				l.scale("team-purple/rating-service", 0)
			},
			want: [3]want{
				{status: grader.Fail},
				pass,
				{grader.Fail, "decoy team-green/storefront was scaled to 0 (the lab runs it with 1); it is not an offender.",
					"team-green/storefront 0, team-orange/intranet 1, team-red/edge-proxy 1, team-yellow/legacy-portal 1",
					"Scale it back: `kubectl -n team-green scale deploy storefront --replicas 1`."},
			},
		},
		{
			name: "Deployments deleted, not scaled",
			setup: func(l *lab) {
				l.delete("team-blue/webapi")
				l.delete("team-purple/rating-service")
				l.ns = slices.DeleteFunc(l.ns, func(n *corev1.Namespace) bool { return n.Name == "team-purple" })
			},
			want: [3]want{
				{grader.Fail, "Deployment team-blue/webapi does not exist: it was deleted, not scaled. " +
					"Deleting a Deployment is not scaling it: the task asks for 0 replicas, with the Deployment kept.",
					"no Deployment team-blue/webapi",
					"Restore the lab's workloads with `ckslab reset`, then scale instead of deleting: `kubectl -n team-blue scale deploy webapi --replicas 0`."},
				{grader.Fail, "Deployment team-purple/rating-service does not exist (its namespace team-purple is gone too): it was deleted, not scaled. " +
					"Deleting a Deployment is not scaling it: the task asks for 0 replicas, with the Deployment kept.",
					"no Deployment team-purple/rating-service, no namespace team-purple", ""},
				pass,
			},
		},
		{
			name: "two decoys changed",
			setup: func(l *lab) {
				solve(l)
				l.delete("team-red/edge-proxy")
				l.scale("team-yellow/legacy-portal", 3)
			},
			want: [3]want{pass, pass,
				{grader.Fail, "2 decoys changed by mistake: team-red/edge-proxy, team-yellow/legacy-portal. Only the two offending Deployments are to be scaled down.",
					"team-green/storefront 1, team-orange/intranet 1, team-red/edge-proxy deleted, team-yellow/legacy-portal 3",
					"Restore each decoy as its finding says, or re-arm the whole lab with `ckslab reset`."}},
		},
		{
			name: "scaled in spec, Pods still terminating",
			setup: func(l *lab) {
				solve(l)
				d := l.deps["team-blue/webapi"]
				d.Status.Replicas, d.Status.ReadyReplicas = 1, 1
				p := l.addPod(d, "webapi-5d8f7c9b6-abcde", corev1.PodRunning)
				p.DeletionTimestamp = &metav1.Time{}
				p.Finalizers = []string{"test/keep"} // the fake tracker refuses a deletionTimestamp without one
			},
			want: [3]want{
				{grader.Fail, "Deployment team-blue/webapi: the status still counts 1 replicas (1 ready): the controller has not caught up yet; " +
					"1 Pod still exists: webapi-5d8f7c9b6-abcde (Terminating).",
					"spec.replicas 0; status 1 replicas, 1 ready, 0 available; Pods: webapi-5d8f7c9b6-abcde (Terminating)",
					"Wait until its Pods are gone (`kubectl -n team-blue get pods -l app=webapi -w`), then grade again."},
				pass, pass,
			},
		},
		{
			name: "scaled to 0, a Pod with its labels still running",
			setup: func(l *lab) {
				solve(l)
				l.addPod(l.deps["team-purple/rating-service"], "rating-service-manual", corev1.PodRunning)
			},
			want: [3]want{pass,
				{grader.Fail, "Deployment team-purple/rating-service: 1 Pod still exists: rating-service-manual (Running).", "",
					"Something besides the Deployment keeps Pods with app=rating-service running: find it with " +
						"`kubectl -n team-purple get rs,pods -l app=rating-service` and remove it, or restore the lab with `ckslab reset`."},
				pass},
		},
		{
			name: "deleted and created again at 0",
			setup: func(l *lab) {
				solve(l)
				d := l.deps["team-blue/webapi"]
				d.Labels = map[string]string{"app": "webapi"}
			},
			want: [3]want{
				{grader.Fail, "Deployment team-blue/webapi is not the one the lab created (it lacks the label app.kubernetes.io/managed-by=ckslab): " +
					"it was deleted and created again. Deleting a Deployment is not scaling it.", "", ""},
				pass, pass,
			},
		},
		{
			name: "a decoy unavailable",
			setup: func(l *lab) {
				solve(l)
				d := l.deps["team-orange/intranet"]
				d.Status.AvailableReplicas = 0
				for _, p := range l.pods {
					if p.Namespace == "team-orange" {
						p.Status.Phase = corev1.PodPending
						p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "httpd",
							State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ImagePullBackOff"}}}}
					}
				}
			},
			want: [3]want{pass, pass,
				{grader.Fail, "decoy team-orange/intranet is not available: 0 of 1 replicas available; Pods: intranet-5d8f7c9b6-abcde (ImagePullBackOff).",
					"", "Look at its Pods (`kubectl -n team-orange get pods -l app=intranet`); `ckslab reset` restores it."}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := freshLab(t, in)
			tt.setup(l)
			got := Check(context.Background(), l.client(), in)
			if len(got) != 3 {
				t.Fatalf("%d results, want 3", len(got))
			}
			for i, id := range []string{IDOffender1, IDOffender2, IDDecoys} {
				if got[i].ID != id {
					t.Errorf("result %d is %s, want %s", i, got[i].ID, id)
				}
				def, _ := in.Check(id)
				if got[i].Title != def.Title || got[i].Points != def.Points || def.Points == 0 {
					t.Errorf("%s: title %q points %d, want the scenario's %q %d", id, got[i].Title, got[i].Points, def.Title, def.Points)
				}
				if got[i].Status != grader.Pass && got[i].Remediation == "" {
					t.Errorf("%s: %s without a remediation", id, got[i].Status)
				}
				check(t, got[i], tt.want[i])
			}
		})
	}
}

func TestCheckAPIErrors(t *testing.T) {
	in := instance(t)
	refused := errors.New(`Get "https://127.0.0.1:6443/apis/apps/v1": dial tcp 127.0.0.1:6443: connect: connection refused`)
	tests := []struct {
		name     string
		verb     string
		resource string
		want     [3]string // messages; every result is an error
	}{
		{"deployments unreadable", "get", "deployments", [3]string{
			"Could not read Deployment team-blue/webapi: " + refused.Error() + ".",
			"Could not read Deployment team-purple/rating-service: " + refused.Error() + ".",
			"Could not read decoy Deployment team-green/storefront: " + refused.Error() + ".",
		}},
		{"pods unreadable", "list", "pods", [3]string{
			"Could not read the Pods of Deployment team-blue/webapi: " + refused.Error() + ".",
			"Could not read the Pods of Deployment team-purple/rating-service: " + refused.Error() + ".",
			"", // the decoys are all available: their Pods are not read
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := freshLab(t, in).client()
			c.PrependReactor(tt.verb, tt.resource, func(k8stesting.Action) (bool, runtime.Object, error) { return true, nil, refused })
			got := Check(context.Background(), c, in)
			for i, msg := range tt.want {
				if msg == "" {
					continue
				}
				check(t, got[i], want{grader.Error, msg, "", "Check that the lab is up (`ckslab status`), then grade again."})
			}
			s := (&grader.Report{Results: got}).Summary()
			if s.ExitCode != grader.ExitCannotGrade {
				t.Errorf("exit code %d, want %d", s.ExitCode, grader.ExitCannotGrade)
			}
		})
	}
}

func TestCheckCancelledContext(t *testing.T) {
	in := instance(t)
	c := freshLab(t, in).client()
	c.PrependReactor("*", "*", func(k8stesting.Action) (bool, runtime.Object, error) { return true, nil, context.Canceled })
	for _, r := range Check(context.Background(), c, in) {
		if r.Status != grader.Error || !strings.Contains(r.Message, "context canceled") {
			t.Errorf("%s: %s %q", r.ID, r.Status, r.Message)
		}
	}
}

func TestNodeReady(t *testing.T) {
	in := instance(t)
	tests := []struct {
		name  string
		setup func(*lab)
		err   error
		want  want
	}{
		{"ready", func(*lab) {}, nil, want{grader.Pass, "Node cluster1-node1 is Ready.", "Ready=True (KubeletReady)", ""}},
		{"not ready", func(l *lab) {
			l.nodes[0].Status.Conditions[0] = corev1.NodeCondition{Type: corev1.NodeReady, Status: corev1.ConditionFalse,
				Reason: "KubeletNotReady", Message: "container runtime network not ready."}
		}, nil, want{grader.Fail, "Node cluster1-node1 is not Ready: container runtime network not ready.", "Ready=False (KubeletNotReady)",
			"Look at the node (`kubectl describe node cluster1-node1`, `ckslab ssh cluster1-node1` then `journalctl -u kubelet`); `ckslab status` says more."}},
		{"no condition", func(l *lab) { l.nodes[0].Status.Conditions = nil }, nil,
			want{grader.Fail, "Node cluster1-node1 reports no Ready condition yet: its kubelet has not reported.", "no Ready condition", ""}},
		{"missing", func(l *lab) { l.nodes = nil }, nil,
			want{grader.Error, "The cluster has no node cluster1-node1: this is not the lab's cluster, or the worker did not join.", "no node cluster1-node1", ""}},
		{"API down", func(*lab) {}, errors.New("connection refused"),
			want{grader.Error, "Could not read node cluster1-node1: connection refused.", "", ""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := freshLab(t, in)
			tt.setup(l)
			c := l.client()
			if tt.err != nil {
				c.PrependReactor("get", "nodes", func(k8stesting.Action) (bool, runtime.Object, error) { return true, nil, tt.err })
			}
			got := Health(context.Background(), c, in)
			if len(got) != 1 || got[0].ID != IDNodeReady || got[0].Points != 0 || got[0].Title != "Node cluster1-node1 is Ready" {
				t.Fatalf("Health = %+v", got)
			}
			check(t, got[0], tt.want)
		})
	}
}

func TestMissingCheckDefinition(t *testing.T) {
	in := instance(t)
	in.Checks = slices.DeleteFunc(slices.Clone(in.Checks), func(c scenarios.Check) bool { return c.ID == IDDecoys })
	r := Decoys(context.Background(), freshLab(t, in).client(), in)
	check(t, r, want{grader.Error, "Scenario falco-runtime defines no check decoys-untouched.", "", "This is a bug in ckslab: report it."})
}

// Every cluster check id the scenario names is one this package implements, and the other way round.
func TestScenarioNamesTheseChecks(t *testing.T) {
	in := instance(t)
	var ids []string
	for _, c := range slices.Concat(in.Checks, in.Health) {
		if strings.HasPrefix(c.ID, "offender-") || c.ID == IDDecoys || c.ID == IDNodeReady {
			ids = append(ids, c.ID)
		}
	}
	if want := []string{IDOffender1, IDOffender2, IDDecoys, IDNodeReady}; !slices.Equal(ids, want) {
		t.Errorf("scenario cluster checks %v, want %v", ids, want)
	}
	if OffenderCheckID(1) != IDOffender1 || OffenderCheckID(2) != IDOffender2 {
		t.Error("OffenderCheckID disagrees with the constants")
	}
}

func TestContainerIDs(t *testing.T) {
	in := instance(t)
	l := freshLab(t, in)
	w, _ := in.Offender(1)
	d := l.deps[w.Key()]
	l.pods[0].Status.ContainerStatuses = []corev1.ContainerStatus{{
		Name:        "nginx",
		ContainerID: "containerd://bbbb",
		LastTerminationState: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
			ContainerID: "containerd://aaaa"}},
	}}
	second := l.addPod(d, "webapi-second", corev1.PodRunning)
	second.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "nginx", ContainerID: "containerd://cccc"}, {Name: "sidecar", ContainerID: "containerd://dddd"}}
	got, err := ContainerIDs(context.Background(), l.client(), w)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"containerd://aaaa", "containerd://bbbb", "containerd://cccc"}; !slices.Equal(got, want) {
		t.Errorf("ContainerIDs = %v, want %v", got, want)
	}
	c := l.client()
	c.PrependReactor("list", "pods", func(k8stesting.Action) (bool, runtime.Object, error) { return true, nil, errors.New("boom") })
	if _, err := ContainerIDs(context.Background(), c, w); err == nil || err.Error() != "listing the Pods of team-blue/webapi: boom" {
		t.Errorf("error %v", err)
	}
}

// The checks follow the instance's names: a seeded lab is graded on its own Deployments.
func TestCheckSeededLab(t *testing.T) {
	s, err := scenarios.Load("falco-runtime")
	if err != nil {
		t.Fatal(err)
	}
	for _, seed := range []int64{3, 11} {
		in, err := s.Instantiate(seed, scenarios.WithCluster("lab2"))
		if err != nil {
			t.Fatal(err)
		}
		l := freshLab(t, in)
		l.nodes[0].Name = "lab2-node1"
		for _, r := range Check(context.Background(), l.client(), in)[:2] {
			if r.Status != grader.Fail {
				t.Errorf("seed %d, fresh lab: %s is %s", seed, r.ID, r.Status)
			}
		}
		for _, w := range in.Offenders {
			l.scale(w.Key(), 0)
		}
		for _, r := range append(Check(context.Background(), l.client(), in), Health(context.Background(), l.client(), in)...) {
			if r.Status != grader.Pass {
				t.Errorf("seed %d, solved: %s is %s: %s", seed, r.ID, r.Status, r.Message)
			}
		}
		c1, _ := in.Offender(1)
		if r := Offender(context.Background(), freshLab(t, in).client(), in, 1); !strings.Contains(r.Remediation, "kubectl -n "+c1.Namespace+" scale deploy "+c1.Deployment+" --replicas 0") {
			t.Errorf("seed %d: remediation %q", seed, r.Remediation)
		}
	}
}

// learnerText is everything a learner reads of a result.
func learnerText(r grader.Result) string {
	parts := []string{r.Title, r.Message, r.Expected, r.Actual, r.Remediation}
	for _, f := range r.Findings {
		parts = append(parts, f.Text, f.Problem, f.Remediation)
	}
	return strings.Join(parts, "\n")
}

// secrets are what the task asks the learner to find about a workload: its namespace, Deployment and Pods.
func secrets(l *lab, w scenarios.Workload) []string {
	out := []string{w.Namespace, w.Deployment}
	for _, p := range l.pods {
		if p.Namespace == w.Namespace {
			out = append(out, p.Name)
		}
	}
	return out
}

// Withheld, no check names an offender or a decoy the learner has not touched; revealed, each is named.
func TestCheckWithheld(t *testing.T) {
	in := instance(t)
	c1, _ := in.Offender(1)
	c2, _ := in.Offender(2)
	refused := errors.New(`deployments.apps "webapi" is forbidden: User "x" cannot get resource "deployments" in namespace "team-blue"`)
	tests := []struct {
		name    string
		setup   func(*lab)
		fail    func(*fake.Clientset)
		touched []string // Deployment keys the learner's work shows
		want    [3]want  // withheld results
	}{
		{name: "fresh lab", setup: func(*lab) {},
			want: [3]want{
				{grader.Fail, "Case 1's Deployment still runs 1 replica (expected 0); its Pods: 1 Running.",
					"spec.replicas 1; status 1 replicas, 1 ready, 1 available; Pods: 1 Running",
					"Find the Pod running image nginx whose container keeps launching package-management processes: Falco's alerts on node cluster1-node1 name its container, " +
						"and `crictl ps -id` and `crictl pods -id` there lead to its Pod. Then scale the Deployment that controls it to 0 replicas (do not delete it). Stuck? `ckslab hint`."},
				{grader.Fail, "Case 2's Deployment still runs 1 replica (expected 0); its Pods: 1 Running.", "", ""},
				{grader.Pass, "All 4 decoys keep their replicas and are available.", "4 unchanged", ""}}},
		{name: "half done: case 1 scaled, case 2 not", setup: func(l *lab) { l.scale(c1.Key(), 0) }, touched: []string{c1.Key()},
			want: [3]want{
				{grader.Pass, "Deployment team-blue/webapi is scaled to 0 and its Pods are gone.", "", ""},
				{grader.Fail, "Case 2's Deployment still runs 1 replica (expected 0); its Pods: 1 Running.", "", ""},
				{status: grader.Pass}}},
		{name: "case 1 scaled, its Pod still terminating", setup: func(l *lab) {
			l.scale(c1.Key(), 0)
			p := l.addPod(l.deps[c1.Key()], "webapi-5d8f7c9b6-zzzzz", corev1.PodRunning)
			p.DeletionTimestamp = &metav1.Time{}
		}, touched: []string{c1.Key()},
			want: [3]want{
				{grader.Fail, "Deployment team-blue/webapi: 1 Pod still exists: webapi-5d8f7c9b6-zzzzz (Terminating).", "", ""},
				{status: grader.Fail}, {status: grader.Pass}}},
		{name: "a decoy scaled instead", setup: func(l *lab) { l.scale("team-green/storefront", 0) }, touched: []string{"team-green/storefront"},
			want: [3]want{{status: grader.Fail}, {status: grader.Fail},
				{grader.Fail, "decoy team-green/storefront was scaled to 0 (the lab runs it with 1); it is not an offender.",
					"team-green/storefront 0, 3 unchanged", "Scale it back: `kubectl -n team-green scale deploy storefront --replicas 1`."}}},
		{name: "case 2 deleted", setup: func(l *lab) { l.delete(c2.Key()) }, touched: []string{c2.Key()},
			want: [3]want{{status: grader.Fail}, {status: grader.Fail, actual: "no Deployment team-purple/rating-service"}, {status: grader.Pass}}},
		{name: "a decoy not available", setup: func(l *lab) {
			l.deps["team-orange/intranet"].Status.AvailableReplicas = 0
		}, want: [3]want{{status: grader.Fail}, {status: grader.Fail},
			{grader.Fail, "a decoy is not available: 0 of 1 replicas available; Pods: 1 Running.", "a decoy with 0 of 1 available, 3 unchanged",
				"`kubectl get deploy -A` shows which Deployment is not READY; look at its Pods. `ckslab reset` restores it."}}},
		{name: "API refuses, naming the object", setup: func(*lab) {},
			fail: func(c *fake.Clientset) {
				c.PrependReactor("get", "deployments", func(k8stesting.Action) (bool, runtime.Object, error) { return true, nil, refused })
			},
			want: [3]want{
				{grader.Error, `Could not read case 1's Deployment: deployments.apps "…" is forbidden: User "x" cannot get resource "deployments" in namespace "…".`, "", ""},
				{status: grader.Error}, {status: grader.Error}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := freshLab(t, in)
			tt.setup(l)
			var forbidden []string
			for _, w := range slices.Concat(in.Offenders, in.Decoys) {
				if !slices.Contains(tt.touched, w.Key()) {
					forbidden = append(forbidden, secrets(l, w)...)
				}
			}
			for _, withhold := range []bool{true, false} {
				c := l.client()
				if tt.fail != nil {
					tt.fail(c)
				}
				got := Check(context.Background(), c, in, Withhold(withhold))
				all := ""
				for i, r := range got {
					all += learnerText(r) + "\n"
					if withhold {
						check(t, r, tt.want[i])
						if r.Status != grader.Pass && r.Remediation == "" {
							t.Errorf("%s: %s without a remediation", r.ID, r.Status)
						}
					}
				}
				for _, s := range forbidden {
					if withhold && strings.Contains(all, s) {
						t.Errorf("withheld report names %q:\n%s", s, all)
					}
				}
				if !withhold && tt.fail == nil {
					// Revealed, each failing offender check names its Deployment and its Pods.
					for i, w := range in.Offenders {
						if got[i].Status == grader.Pass {
							continue
						}
						for _, s := range secrets(l, w) {
							if !strings.Contains(learnerText(got[i]), s) {
								t.Errorf("revealed %s does not name %q:\n%s", got[i].ID, s, learnerText(got[i]))
							}
						}
					}
				}
			}
		})
	}
}

// Withheld, the seeded labs' names stay hidden too, and the fix says what to look for in the task's words.
func TestCheckWithheldSeeded(t *testing.T) {
	s, err := scenarios.Load("falco-runtime")
	if err != nil {
		t.Fatal(err)
	}
	in, err := s.Instantiate(7)
	if err != nil {
		t.Fatal(err)
	}
	l := freshLab(t, in)
	got := Check(context.Background(), l.client(), in, Withhold(true))
	for _, w := range slices.Concat(in.Offenders, in.Decoys) {
		for _, sec := range secrets(l, w) {
			for _, r := range got {
				if strings.Contains(learnerText(r), sec) {
					t.Errorf("%s names %q: %s", r.ID, sec, learnerText(r))
				}
			}
		}
	}
	if !strings.Contains(got[1].Remediation, "image httpd whose container modifies /etc/passwd") {
		t.Errorf("case 2's fix: %q", got[1].Remediation)
	}
}
