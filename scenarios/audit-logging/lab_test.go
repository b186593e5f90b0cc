package auditlogging

import (
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	auditv1 "k8s.io/apiserver/pkg/apis/audit/v1"
	apiaudit "k8s.io/apiserver/pkg/audit/policy"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/authorization/authorizer"

	"github.com/ckslab/ckslab/grader/audit"
	"github.com/ckslab/ckslab/scenarios"
	"github.com/ckslab/ckslab/scenarios/scenariotest"
)

func instance(t *testing.T) *scenarios.Instance {
	t.Helper()
	return scenariotest.Instance(t, "audit-logging", 0)
}

// solutionRules is the policy text the reference solution appends (its heredoc).
func solutionRules(t *testing.T, in *scenarios.Instance) string {
	t.Helper()
	for _, st := range in.Solution {
		if st.ID != "extend-policy" {
			continue
		}
		_, body, ok := strings.Cut(st.Run, "<<'EOF'\n")
		body, _, ok2 := strings.Cut(body, "\nEOF")
		if !ok || !ok2 {
			t.Fatalf("step extend-policy has no heredoc: %q", st.Run)
		}
		return body + "\n"
	}
	t.Fatal("no step extend-policy")
	return ""
}

// The scenario's data agree with each other, by Kubernetes' own policy evaluation: the basic policy loads, logs
// none of ckslab's requests, and the basic policy with the reference solution's rules gives each request exactly
// the level its probe asks.
func TestSolutionPolicyGivesEveryProbeItsLevel(t *testing.T) {
	in := instance(t)
	admin := &user.DefaultInfo{Name: "kubernetes-admin", Groups: []string{"kubeadm:cluster-admins", "system:authenticated"}}
	attrs := func(p scenarios.Probe) authorizer.AttributesRecord {
		group := ""
		if p.Resource == scenarios.ProbeDeployments {
			group = "apps"
		}
		return authorizer.AttributesRecord{User: admin, Verb: "create", Namespace: p.Namespace, APIGroup: group, APIVersion: "v1",
			Resource: string(p.Resource), Name: "ckslab-probe-00000000-" + p.ID, ResourceRequest: true}
	}
	basic, err := apiaudit.LoadPolicyFromBytes(in.Audit.Policy)
	if err != nil {
		t.Fatalf("the basic policy does not load: %v", err)
	}
	solved, err := apiaudit.LoadPolicyFromBytes(append(slices.Clone(in.Audit.Policy), solutionRules(t, in)...))
	if err != nil {
		t.Fatalf("the basic policy with the solution's rules does not load: %v", err)
	}
	if len(solved.Rules) != len(basic.Rules)+4 {
		t.Fatalf("the solution adds %d rules, want 4", len(solved.Rules)-len(basic.Rules))
	}
	be, se := apiaudit.NewPolicyRuleEvaluator(basic), apiaudit.NewPolicyRuleEvaluator(solved)
	levels := map[string]bool{}
	for _, p := range in.Audit.Probes {
		if got := be.EvaluatePolicyRule(attrs(p)).Level; got != "None" {
			t.Errorf("probe %s: the basic policy logs it at %s; the task starts with nothing of it logged", p.ID, got)
		}
		if got := se.EvaluatePolicyRule(attrs(p)).Level; string(got) != p.Level {
			t.Errorf("probe %s (%s): the solution's policy gives %s, the probe wants %s", p.ID, p.What, got, p.Level)
		}
		levels[p.Level] = true
	}
	for _, l := range []string{"RequestResponse", "Request", "Metadata"} {
		if !levels[l] {
			t.Errorf("no probe wants level %s: a policy that confuses it with another would pass", l)
		}
	}
}

func TestManifestArgs(t *testing.T) {
	m := `apiVersion: v1
kind: Pod
metadata:
  name: kube-apiserver
  namespace: kube-system
spec:
  containers:
  - command:
    - kube-apiserver
    - --advertise-address=172.18.0.3
    - --audit-policy-file=/etc/kubernetes/logpolicy/audit-policy.yaml
    args:
    - --audit-log-maxage=10
    image: kube-apiserver:v1.37.2
    name: kube-apiserver
`
	got := manifestArgs([]byte(m))
	want := []string{"--advertise-address=172.18.0.3", "--audit-policy-file=/etc/kubernetes/logpolicy/audit-policy.yaml", "--audit-log-maxage=10"}
	if !slices.Equal(got, want) {
		t.Fatalf("manifestArgs = %q, want %q", got, want)
	}
	if v, ok := audit.Flag(got, audit.FlagMaxAge); !ok || v != "10" {
		t.Errorf("maxage %q %v", v, ok)
	}
	if got := manifestArgs([]byte("{not yaml")); got != nil {
		t.Errorf("a broken manifest gives %q, want nothing", got)
	}
}

// assign takes only the create events of each probe's own object, and says when every probe has one.
func TestAssign(t *testing.T) {
	in := instance(t)
	o := &audit.Observed{}
	for _, p := range in.Audit.Probes[:2] {
		o.Probes = append(o.Probes, audit.ProbeResult{Probe: p, Name: "ckslab-probe-0a1b2c3d-" + p.ID})
	}
	ns, dep := o.Probes[0], o.Probes[1]
	lines := strings.Join([]string{
		`{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"RequestResponse","stage":"ResponseComplete","verb":"create","user":{"username":"kubernetes-admin","groups":["system:authenticated"]},"objectRef":{"resource":"namespaces","name":"` + ns.Name + `","apiVersion":"v1"},"requestObject":{"kind":"Namespace"},"responseObject":{"kind":"Namespace"}}`,
		`not json at all`,
		// another object's name in a get: not the probe's request
		`{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","stage":"ResponseComplete","verb":"get","objectRef":{"resource":"deployments","namespace":"webapps","name":"` + dep.Name + `"}}`,
	}, "\n")
	if assign([]byte(lines), o) {
		t.Fatal("complete with the Deployment's create missing")
	}
	if len(o.Probes[0].Events) != 1 || o.Probes[0].Events[0].Level != auditv1.LevelRequestResponse || o.Probes[0].Events[0].RequestObject == nil {
		t.Fatalf("namespace probe events %+v", o.Probes[0].Events)
	}
	if len(o.Probes[1].Events) != 0 {
		t.Fatalf("the get was taken for the probe's create: %+v", o.Probes[1].Events)
	}
	if o.User == nil || o.User.GetName() != "kubernetes-admin" {
		t.Errorf("user %+v", o.User)
	}
	lines += "\n" + `{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Request","stage":"ResponseComplete","verb":"create","objectRef":{"resource":"deployments","namespace":"webapps","name":"` + dep.Name + `","apiGroup":"apps"},"requestObject":{"kind":"Deployment"}}`
	if !assign([]byte(lines), o) {
		t.Fatal("not complete with both probes' events")
	}
	if len(o.Probes[0].Events) != 1 {
		t.Errorf("events counted twice: %d", len(o.Probes[0].Events))
	}
}

// The basic policy file is the one the scenario embeds.
func TestBasicPolicyIsTheFileNextToTheScenario(t *testing.T) {
	in := instance(t)
	b, err := os.ReadFile(in.Audit.BasicPolicy)
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != string(in.Audit.Policy) {
		t.Error("the embedded basic policy differs from basic-policy.yaml")
	}
}

func TestEventWait(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want time.Duration
	}{
		{nil, 2 * time.Second},
		{[]string{"--audit-log-mode=blocking"}, 2 * time.Second},
		{[]string{"--audit-log-mode=batch"}, 32 * time.Second},
		{[]string{"--audit-log-mode=batch", "--audit-log-batch-max-wait=5s"}, 7 * time.Second},
		{[]string{"--audit-log-mode=batch", "--audit-log-batch-max-wait=forever"}, 32 * time.Second},
		{[]string{"--audit-log-mode=batch", "--audit-log-batch-max-wait=10h"}, 32 * time.Second},
	} {
		if got := EventWait(tt.args); got != tt.want {
			t.Errorf("EventWait(%q) = %s, want %s", tt.args, got, tt.want)
		}
	}
}
