package scenarios

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

func loadFalco(t *testing.T) *Scenario {
	t.Helper()
	s, err := Load("falco-runtime")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestInstantiateSeed0IsTheExam(t *testing.T) {
	in, err := loadFalco(t).Instantiate(0)
	if err != nil {
		t.Fatal(err)
	}
	want := []Workload{
		{Role: Offender, Case: 1, Image: Nginx, Behaviour: PackageManager, Namespace: "team-blue", Deployment: "webapi",
			Container: "nginx", Replicas: 1, Placement: Worker, Node: "cluster1-node1", Interval: 5 * time.Second,
			Rule: "Launch Package Management Process in Container"},
		{Role: Offender, Case: 2, Image: Httpd, Behaviour: WriteEtcPasswd, Namespace: "team-purple", Deployment: "rating-service",
			Container: "httpd", Replicas: 1, Placement: Worker, Node: "cluster1-node1", Interval: 5 * time.Second,
			Rule: "Write below etc"},
	}
	if !reflect.DeepEqual(in.Offenders, want) {
		t.Errorf("offenders\n got %+v\nwant %+v", in.Offenders, want)
	}
	if in.Cluster != "cluster1" || in.WorkerNode != "cluster1-node1" || in.Context != "workload-prod" ||
		in.AnswerFile != "/opt/course/2/falco.log" || in.MinSpan != 30*time.Second || in.FalcoRulesFile != "/etc/falco/falco_rules.yaml" {
		t.Errorf("instance %+v", in)
	}
	var decoys []string
	for _, d := range in.Decoys {
		decoys = append(decoys, fmt.Sprintf("%s %s %s", d.Key(), d.Image, d.Placement))
	}
	wantDecoys := "team-green/storefront nginx worker|team-orange/intranet httpd control-plane|" +
		"team-red/edge-proxy nginx control-plane|team-yellow/legacy-portal httpd worker"
	if got := strings.Join(decoys, "|"); got != wantDecoys {
		t.Errorf("decoys\n got %s\nwant %s", got, wantDecoys)
	}
	if h := in.Hints[len(in.Hints)-1]; !strings.Contains(h, "kubectl -n team-blue scale deploy webapi --replicas 0") {
		t.Errorf("last hint %q lacks the scale command", h)
	}
	if c, ok := in.Check("node-ready"); !ok || c.Title != "Node cluster1-node1 is Ready" {
		t.Errorf("node-ready: %+v %v", c, ok)
	}
	for _, st := range in.Solution {
		if st.Timeout <= 0 {
			t.Errorf("step %s has no timeout", st.ID)
		}
		if strings.Contains(st.Run, "{{") {
			t.Errorf("step %s is not rendered: %s", st.ID, st.Run)
		}
	}
}

func TestInstantiateIsDeterministic(t *testing.T) {
	s := loadFalco(t)
	for _, seed := range []int64{0, 1, 2, 42, -7, 1 << 40} {
		a, err := s.Instantiate(seed)
		if err != nil {
			t.Fatal(err)
		}
		b, err := s.Instantiate(seed)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(a, b) {
			t.Errorf("seed %d gives two different instances", seed)
		}
	}
}

func TestInstantiateDoesNotChangeTheScenario(t *testing.T) {
	s := loadFalco(t)
	before := s.Spec.Hints[len(s.Spec.Hints)-1]
	if _, err := s.Instantiate(3); err != nil {
		t.Fatal(err)
	}
	if after := s.Spec.Hints[len(s.Spec.Hints)-1]; after != before {
		t.Errorf("the scenario's hint changed to %q", after)
	}
}

func TestSeedsDifferAndNeverCollide(t *testing.T) {
	s := loadFalco(t)
	pools := s.Spec.Setup.Seeding
	seen := map[string]int64{}
	for seed := int64(1); seed <= 300; seed++ {
		in, err := s.Instantiate(seed)
		if err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		sig := fmt.Sprint(in.Workloads())
		if prev, dup := seen[sig]; dup {
			t.Errorf("seeds %d and %d give the same lab", prev, seed)
		}
		seen[sig] = seed
		namespaces := map[string]bool{}
		names := map[string]bool{}
		for _, w := range in.Workloads() {
			if namespaces[w.Namespace] {
				t.Errorf("seed %d: namespace %s used twice", seed, w.Namespace)
			}
			namespaces[w.Namespace] = true
			if names[w.Deployment] {
				t.Errorf("seed %d: Deployment name %s used twice", seed, w.Deployment)
			}
			names[w.Deployment] = true
			if !slices.Contains(pools.Namespaces, w.Namespace) || !slices.Contains(pools.Deployments[w.Image], w.Deployment) {
				t.Errorf("seed %d: %s (%s) is not from the pools", seed, w.Key(), w.Image)
			}
			if (w.Placement == Worker) != (w.Node == "cluster1-node1") {
				t.Errorf("seed %d: %s placement %s, node %q", seed, w.Key(), w.Placement, w.Node)
			}
		}
		if n := len(in.Decoys); n < pools.Decoys.Min || n > pools.Decoys.Max {
			t.Errorf("seed %d: %d decoys", seed, n)
		}
		var nginxOnWorker, httpdOnWorker, onControlPlane bool
		for _, d := range in.Decoys {
			nginxOnWorker = nginxOnWorker || d.Image == Nginx && d.Placement == Worker
			httpdOnWorker = httpdOnWorker || d.Image == Httpd && d.Placement == Worker
			onControlPlane = onControlPlane || d.Placement == ControlPlane
			if d.Role != Decoy || d.Behaviour != Serve || d.Container != string(d.Image) || d.Replicas != 1 {
				t.Errorf("seed %d: decoy %+v", seed, d)
			}
		}
		if !nginxOnWorker || !httpdOnWorker || !onControlPlane {
			t.Errorf("seed %d: decoys %v lack an nginx or httpd on the worker or one on the control plane", seed, in.Decoys)
		}
		c1, _ := in.Offender(1)
		if c1.Image != Nginx || c1.Container != "nginx" || c1.Behaviour != PackageManager {
			t.Errorf("seed %d: case 1 is %+v", seed, c1)
		}
		if !strings.Contains(in.Hints[len(in.Hints)-1], "kubectl -n "+c1.Namespace+" scale deploy "+c1.Deployment) {
			t.Errorf("seed %d: the last hint does not follow the seed: %s", seed, in.Hints[len(in.Hints)-1])
		}
	}
}

func TestInstanceHelpers(t *testing.T) {
	in, err := loadFalco(t).Instantiate(0)
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(in.Namespaces(), ",")
	if want := "team-blue,team-green,team-orange,team-purple,team-red,team-yellow"; got != want {
		t.Errorf("Namespaces() = %s, want %s", got, want)
	}
	c2, _ := in.Offender(2)
	if got := c2.Describe(); got != "the httpd offender of case 2, team-purple/rating-service" {
		t.Errorf("Describe() = %q", got)
	}
	if got := in.Decoys[0].Describe(); got != "the nginx decoy team-green/storefront" {
		t.Errorf("Describe() = %q", got)
	}
	if _, ok := in.Offender(3); ok {
		t.Error("Offender(3) found something")
	}
	if _, ok := in.Check("nope"); ok {
		t.Error("Check(nope) found something")
	}
	if c, ok := in.Check("offender-1-scaled"); !ok || c.Points != 2 {
		t.Errorf("Check(offender-1-scaled) = %+v, %v", c, ok)
	}
	text := in.TaskText()
	if !strings.HasPrefix(text, in.Intro+"\n\n1. ") || !strings.HasSuffix(text, "as it is.\n") {
		t.Errorf("TaskText:\n%s", text)
	}
}

func TestInstantiateWithCluster(t *testing.T) {
	s := loadFalco(t)
	in, err := s.Instantiate(0, WithCluster("lab2"))
	if err != nil {
		t.Fatal(err)
	}
	if in.Cluster != "lab2" || in.WorkerNode != "lab2-node1" {
		t.Errorf("cluster %s, worker %s", in.Cluster, in.WorkerNode)
	}
	for _, w := range in.Workloads() {
		if w.Placement == Worker && w.Node != "lab2-node1" {
			t.Errorf("%s pinned to %s", w.Key(), w.Node)
		}
	}
	if !strings.Contains(in.TaskText(), "`ssh lab2-node1`") || strings.Contains(in.TaskText(), "cluster1") {
		t.Errorf("task text does not follow the cluster:\n%s", in.TaskText())
	}
	if c, _ := in.Check("node-ready"); c.Title != "Node lab2-node1 is Ready" {
		t.Errorf("node-ready title %q", c.Title)
	}
	if _, err := s.Instantiate(0, WithCluster("Lab_2")); err == nil || !strings.Contains(err.Error(), `cluster name "Lab_2" is not usable`) {
		t.Errorf("error %v", err)
	}
}
