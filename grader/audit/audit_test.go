package audit_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	authnv1 "k8s.io/api/authentication/v1"
	"k8s.io/apimachinery/pkg/runtime"
	auditv1 "k8s.io/apiserver/pkg/apis/audit/v1"
	"k8s.io/apiserver/pkg/audit/policy"
	"k8s.io/apiserver/pkg/authentication/user"

	"github.com/ckslab/ckslab/grader"
	"github.com/ckslab/ckslab/grader/audit"
	"github.com/ckslab/ckslab/scenarios"
	"github.com/ckslab/ckslab/scenarios/scenariotest"
)

// The task's values, as written in scenarios/audit-logging/scenario.yaml.
const (
	policyFile = "/etc/kubernetes/logpolicy/audit-policy.yaml"
	logPath    = "/var/log/kubernetes/audit-logs.txt"
)

// The behaviour checks: each is proved by the probes that name it.
var behaviourChecks = []string{"audit-namespaces", "audit-webapps-deployments", "audit-configmaps-secrets", "audit-catch-all"}

var opts = audit.Options{Remote: "ssh cluster2-controlplane1"}

// instance is the real scenario, as a lab runs it.
func instance(t testing.TB) *scenarios.Instance {
	t.Helper()
	in := scenariotest.Instance(t, "audit-logging", 0)
	if in.Audit == nil || len(in.Audit.Probes) == 0 || len(in.Audit.Policy) == 0 {
		t.Fatalf("the scenario has no audit setup, probes or basic policy: %+v", in.Audit)
	}
	if in.Audit.PolicyFile != policyFile || in.Audit.LogPath != logPath || in.Audit.MaxAge != 10 || in.Audit.MaxBackup != 2 {
		t.Fatalf("the scenario's audit setup changed: %+v", in.Audit)
	}
	return in
}

// solutionRules is the here-document the solution's step "extend-policy" appends to the policy file.
func solutionRules(t testing.TB, in *scenarios.Instance) string {
	t.Helper()
	for _, st := range in.Solution {
		if st.ID != "extend-policy" {
			continue
		}
		_, body, ok := strings.Cut(st.Run, "<<'EOF'\n")
		if !ok {
			t.Fatalf("step extend-policy has no here-document:\n%s", st.Run)
		}
		body, _, ok = strings.Cut(body, "\nEOF\n")
		if !ok {
			t.Fatalf("step extend-policy's here-document has no end:\n%s", st.Run)
		}
		return body + "\n"
	}
	t.Fatal("the solution has no step extend-policy")
	return ""
}

// solvedPolicy is the basic policy with the solution's rules appended, as `cat >>` leaves the file.
func solvedPolicy(t testing.TB, in *scenarios.Instance) string {
	t.Helper()
	return string(in.Audit.Policy) + solutionRules(t, in)
}

// replaceOnce replaces old, which must be in s exactly once.
func replaceOnce(t testing.TB, s, old, new string) string {
	t.Helper()
	if n := strings.Count(s, old); n != 1 {
		t.Fatalf("%q is %d times in the policy, not once:\n%s", old, n, s)
	}
	return strings.Replace(s, old, new, 1)
}

func correctArgs() []string {
	return []string{
		"--advertise-address=172.18.0.3",
		"--allow-privileged=true",
		"--authorization-mode=Node,RBAC",
		"--audit-policy-file=" + policyFile,
		"--audit-log-path=" + logPath,
		"--audit-log-maxage=10",
		"--audit-log-maxbackup=2",
		"--etcd-servers=https://127.0.0.1:2379",
		"--secure-port=6443",
	}
}

// without is args without flag (in either form).
func without(args []string, flag string) []string {
	var out []string
	for _, a := range args {
		if a != flag && !strings.HasPrefix(a, flag+"=") {
			out = append(out, a)
		}
	}
	return out
}

// replaced is args with flag's value changed to value.
func replaced(args []string, flag, value string) []string {
	return append(without(args, flag), flag+"="+value)
}

var admin = &user.DefaultInfo{Name: "kubernetes-admin", Groups: []string{"kubeadm:cluster-admins", "system:authenticated"}}

func body(s string) *runtime.Unknown {
	return &runtime.Unknown{Raw: []byte(s), ContentType: runtime.ContentTypeJSON}
}

// event is the ResponseComplete event of a probe's request at level, with the bodies given.
func event(pr audit.ProbeResult, level auditv1.Level, request, response bool) auditv1.Event {
	group := ""
	if pr.Probe.Resource == scenarios.ProbeDeployments {
		group = "apps"
	}
	e := auditv1.Event{
		Level: level,
		Stage: auditv1.StageResponseComplete,
		Verb:  "create",
		User:  authnv1.UserInfo{Username: admin.Name, Groups: admin.Groups},
		ObjectRef: &auditv1.ObjectReference{Resource: string(pr.Probe.Resource), Namespace: pr.Probe.Namespace,
			Name: pr.Name, APIGroup: group, APIVersion: "v1"},
	}
	if request {
		e.RequestObject = body(`{"metadata":{"name":"` + pr.Name + `"}}`)
	}
	if response {
		e.ResponseObject = body(`{"metadata":{"name":"` + pr.Name + `","uid":"0"}}`)
	}
	return e
}

// eventsAt is what the log holds for a request the running policy gives level: the bodies that level carries,
// and no event at all at None.
func eventsAt(pr audit.ProbeResult, level auditv1.Level) []auditv1.Event {
	switch level {
	case auditv1.LevelNone:
		return nil
	case auditv1.LevelRequestResponse:
		return []auditv1.Event{event(pr, level, true, true)}
	case auditv1.LevelRequest:
		return []auditv1.Event{event(pr, level, true, false)}
	}
	return []auditv1.Event{event(pr, level, false, false)}
}

// correct is what ckslab sees of a lab the solution solved.
func correct(t testing.TB, in *scenarios.Instance) audit.Observed {
	t.Helper()
	o := audit.Observed{
		Running:      true,
		Args:         correctArgs(),
		ManifestArgs: correctArgs(),
		Policy:       []byte(solvedPolicy(t, in)),
		LogOnNode:    true,
		User:         admin,
	}
	for _, p := range in.Audit.Probes {
		pr := audit.ProbeResult{Probe: p, Name: "ckslab-probe-0123abcd-" + p.ID}
		pr.Events = eventsAt(pr, auditv1.Level(p.Level))
		o.Probes = append(o.Probes, pr)
	}
	return o
}

// probe returns the probe with id in o.
func probe(t *testing.T, o *audit.Observed, id string) *audit.ProbeResult {
	t.Helper()
	for i := range o.Probes {
		if o.Probes[i].Probe.ID == id {
			return &o.Probes[i]
		}
	}
	t.Fatalf("no probe %q", id)
	return nil
}

// noLog is o as ckslab sees it when the log on the node holds none of its requests (and so names no user).
func noLog(o *audit.Observed) {
	for i := range o.Probes {
		o.Probes[i].Events = nil
	}
	o.User = nil
}

// check grades o and checks what every result must be, whatever the lab: in the scenario's order, with its
// titles and points, and with messages free of formatting junk.
func check(t *testing.T, in *scenarios.Instance, o audit.Observed) (map[string]grader.Result, []grader.Result, []grader.Result) {
	t.Helper()
	results, health := audit.Check(in, o, opts)
	if len(results) != len(in.Checks) {
		t.Fatalf("%d results for the scenario's %d checks", len(results), len(in.Checks))
	}
	byID := map[string]grader.Result{}
	for i, r := range results {
		c := in.Checks[i]
		if r.ID != c.ID || r.Title != c.Title || r.Points != c.Points {
			t.Errorf("result %d is %s %q (%d points), the scenario's check is %s %q (%d points)", i, r.ID, r.Title, r.Points, c.ID, c.Title, c.Points)
		}
		byID[r.ID] = r
	}
	if len(health) != 1 || health[0].ID != audit.IDRunning {
		t.Fatalf("health is %+v, want the one check %s", health, audit.IDRunning)
	}
	if def, ok := in.Check(audit.IDRunning); !ok || health[0].Title != def.Title {
		t.Errorf("health title %q, the scenario's is %q", health[0].Title, def.Title)
	}
	for _, r := range slices.Concat(results, health) {
		if strings.TrimSpace(r.Message) == "" {
			t.Errorf("%s (%s) has no message", r.ID, r.Status)
		}
		for field, s := range map[string]string{"message": r.Message, "expected": r.Expected, "actual": r.Actual, "remediation": r.Remediation} {
			for _, junk := range []string{"%!", "<nil>", "{{", "map[", "&{"} {
				if strings.Contains(s, junk) {
					t.Errorf("%s's %s has %q: %s", r.ID, field, junk, s)
				}
			}
		}
		// a failure says what to do, unless it defers to the check that does
		if r.Status == grader.Fail && r.Remediation == "" && !strings.Contains(r.Message, "says more") {
			t.Errorf("%s fails with no remediation: %s", r.ID, r.Message)
		}
	}
	return byID, results, health
}

// wantStatuses checks every scored result's status: want's, or Pass for the checks want leaves out.
func wantStatuses(t *testing.T, results []grader.Result, want map[string]grader.Status) {
	t.Helper()
	for _, r := range results {
		w, ok := want[r.ID]
		if !ok {
			w = grader.Pass
		}
		if r.Status != w {
			t.Errorf("%s is %s, want %s: %s", r.ID, r.Status, w, r.Message)
		}
	}
	for id := range want {
		if !slices.ContainsFunc(results, func(r grader.Result) bool { return r.ID == id }) {
			t.Errorf("no result %s", id)
		}
	}
}

func TestSolutionRulesAreTheScenarios(t *testing.T) {
	in := instance(t)
	rules := solutionRules(t, in)
	for _, want := range []string{`resources: ["namespaces"]`, `namespaces: ["webapps"]`, `resources: ["configmaps", "secrets"]`} {
		if !strings.Contains(rules, want) {
			t.Errorf("the solution's rules have no %s:\n%s", want, rules)
		}
	}
	p, err := policy.LoadPolicyFromBytes([]byte(solvedPolicy(t, in)))
	if err != nil {
		t.Fatalf("Kubernetes does not load the solved policy: %v", err)
	}
	basic, err := policy.LoadPolicyFromBytes(in.Audit.Policy)
	if err != nil {
		t.Fatalf("Kubernetes does not load the basic policy: %v", err)
	}
	if got, want := len(p.Rules), len(basic.Rules)+4; got != want {
		t.Errorf("the solved policy has %d rules, want %d (the basic %d and the solution's 4)", got, want, len(basic.Rules))
	}
}

// 1. The solved lab: every check passes and earns all its points.
func TestCorrectLabPasses(t *testing.T) {
	in := instance(t)
	_, results, health := check(t, in, correct(t, in))
	wantStatuses(t, results, nil)
	if health[0].Status != grader.Pass {
		t.Errorf("health %s is %s: %s", health[0].ID, health[0].Status, health[0].Message)
	}
	awarded, points := 0, 0
	for _, r := range results {
		awarded += r.Awarded()
	}
	for _, c := range in.Checks {
		points += c.Points
	}
	if awarded != points || points == 0 {
		t.Errorf("awarded %d of %d points", awarded, points)
	}
	rep := grader.Report{Results: results, Health: health}
	if s := rep.Summary(); s.ExitCode != grader.ExitPass || s.Score != s.MaxScore {
		t.Errorf("summary %+v, want exit %d and full score", s, grader.ExitPass)
	}
}

// 2. A fresh lab: the API server runs with no audit flag and writes no log.
func TestFreshLabFails(t *testing.T) {
	in := instance(t)
	args := correctArgs()
	for _, f := range []string{audit.FlagPolicyFile, audit.FlagLogPath, audit.FlagMaxAge, audit.FlagMaxBackup} {
		args = without(args, f)
	}
	o := audit.Observed{Running: true, Args: args, ManifestArgs: args}
	for _, p := range in.Audit.Probes {
		o.Probes = append(o.Probes, audit.ProbeResult{Probe: p, Name: "ckslab-probe-0123abcd-" + p.ID})
	}
	byID, results, health := check(t, in, o)
	want := map[string]grader.Status{}
	for _, c := range in.Checks {
		want[c.ID] = grader.Fail
	}
	want[audit.IDPolicyExtends] = grader.Skip
	wantStatuses(t, results, want)
	if health[0].Status != grader.Pass {
		t.Errorf("health is %s: %s", health[0].Status, health[0].Message)
	}
	names := map[string][]string{
		audit.IDPolicyFlag:    {"no --audit-policy-file"},
		audit.IDLogPath:       {"no --audit-log-path"},
		audit.IDRetention:     {"no --audit-log-maxbackup", "no --audit-log-maxage"},
		audit.IDPolicyExtends: {"no policy file", audit.IDPolicyFlag},
	}
	for _, id := range behaviourChecks {
		names[id] = []string{"no audit log at " + logPath, audit.IDLogPath}
	}
	for id, subs := range names {
		for _, s := range subs {
			if !strings.Contains(byID[id].Message, s) {
				t.Errorf("%s's message does not say %q: %s", id, s, byID[id].Message)
			}
		}
	}
	if !strings.Contains(byID[audit.IDPolicyFlag].Expected, audit.FlagPolicyFile+"="+policyFile) {
		t.Errorf("%s expects %q", audit.IDPolicyFlag, byID[audit.IDPolicyFlag].Expected)
	}
	for _, r := range results {
		if r.Awarded() != 0 {
			t.Errorf("%s awards %d points", r.ID, r.Awarded())
		}
	}
}

// 3. An API server that does not run cannot be graded: errors, never fails, and exit code 2.
func TestAPIServerNotRunning(t *testing.T) {
	in := instance(t)
	o := audit.Observed{Running: false, NotRunning: "no kube-apiserver process"}
	_, results, health := check(t, in, o)
	for _, r := range results {
		if r.Status != grader.Error {
			t.Errorf("%s is %s, want %s", r.ID, r.Status, grader.Error)
		}
		if !strings.HasPrefix(r.Message, "Could not grade: the API server is not running") || !strings.Contains(r.Message, o.NotRunning) {
			t.Errorf("%s's message: %s", r.ID, r.Message)
		}
		if !strings.Contains(r.Remediation, opts.Remote) {
			t.Errorf("%s's remediation does not say where to look (%s): %s", r.ID, opts.Remote, r.Remediation)
		}
	}
	if h := health[0]; h.ID != audit.IDRunning || h.Status != grader.Fail || !strings.Contains(h.Message, o.NotRunning) {
		t.Errorf("health is %s %s: %s", h.ID, h.Status, h.Message)
	}
	rep := &grader.Report{Results: results}
	if s := rep.Summary(); s.ExitCode != grader.ExitCannotGrade || s.Errored != len(in.Checks) || s.Score != 0 {
		t.Errorf("summary %+v, want exit code %d with every check errored", s, grader.ExitCannotGrade)
	}
	// Even with the lab's flags right, a stopped API server is not graded from its manifest.
	o.ManifestArgs = correctArgs()
	_, results, _ = check(t, in, o)
	for _, r := range results {
		if r.Status != grader.Error {
			t.Errorf("with the manifest right, %s is %s, want %s", r.ID, r.Status, grader.Error)
		}
	}
}

// 4. Wrong solutions: each fails the checks it breaks, and only those.
func TestWrongSolutions(t *testing.T) {
	in := instance(t)
	solved := solvedPolicy(t, in)
	invalid := replaceOnce(t, solved, "  # everything else\n  - level: Metadata\n", "  # everything else\n  - level: Verbose\n")
	_, invalidErr := policy.LoadPolicyFromBytes([]byte(invalid))
	if invalidErr == nil {
		t.Fatal("Kubernetes loads a policy with level Verbose")
	}
	allBehaviour := func(st grader.Status, with map[string]grader.Status) map[string]grader.Status {
		for _, id := range behaviourChecks {
			with[id] = st
		}
		return with
	}

	tests := []struct {
		name   string
		change func(t *testing.T, o *audit.Observed)
		want   map[string]grader.Status
		// says: substrings of each check's message; not: substrings it must not have.
		says map[string][]string
		not  map[string][]string
	}{{
		name: "secrets at RequestResponse",
		change: func(t *testing.T, o *audit.Observed) {
			o.Policy = []byte(replaceOnce(t, solved, `resources: ["namespaces"]`, `resources: ["namespaces", "secrets"]`))
			p := probe(t, o, "secret")
			p.Events = eventsAt(*p, auditv1.LevelRequestResponse)
		},
		want: map[string]grader.Status{"audit-configmaps-secrets": grader.Fail},
		says: map[string][]string{"audit-configmaps-secrets": {"The creation of a Secret in namespace webapps", "level RequestResponse", "the task asks Metadata"}},
		// the policy file says so too: no hint about restarting
		not: map[string][]string{"audit-configmaps-secrets": {"reads its policy only when it starts"}},
	}, {
		name: "the webapps Deployment rule in every namespace",
		change: func(t *testing.T, o *audit.Observed) {
			o.Policy = []byte(replaceOnce(t, solved, "    namespaces: [\"webapps\"]\n", ""))
			p := probe(t, o, "deployment-elsewhere")
			p.Events = eventsAt(*p, auditv1.LevelRequest)
		},
		want: map[string]grader.Status{"audit-webapps-deployments": grader.Fail},
		says: map[string][]string{"audit-webapps-deployments": {"The creation of a Deployment in namespace team-ledger", "level Request", "the task asks Metadata"}},
		not:  map[string][]string{"audit-webapps-deployments": {"reads its policy only when it starts"}},
	}, {
		name: "the webapps Deployment rule missing",
		change: func(t *testing.T, o *audit.Observed) {
			rule := "  - level: Request\n    resources:\n      - group: \"apps\"\n        resources: [\"deployments\"]\n    namespaces: [\"webapps\"]\n"
			o.Policy = []byte(replaceOnce(t, solved, rule, ""))
			p := probe(t, o, "deployment-webapps")
			p.Events = eventsAt(*p, auditv1.LevelMetadata)
		},
		want: map[string]grader.Status{"audit-webapps-deployments": grader.Fail},
		says: map[string][]string{"audit-webapps-deployments": {"namespace webapps", "level Metadata", "the task asks Request"}},
	}, {
		name:   "no --audit-log-maxbackup",
		change: func(t *testing.T, o *audit.Observed) { o.Args = without(o.Args, audit.FlagMaxBackup) },
		want:   map[string]grader.Status{audit.IDRetention: grader.Fail},
		says:   map[string][]string{audit.IDRetention: {"no --audit-log-maxbackup", "2 old log files", "10 days"}},
		not:    map[string][]string{audit.IDRetention: {"--audit-log-maxage"}},
	}, {
		name:   "--audit-log-maxage=30",
		change: func(t *testing.T, o *audit.Observed) { o.Args = replaced(o.Args, audit.FlagMaxAge, "30") },
		want:   map[string]grader.Status{audit.IDRetention: grader.Fail},
		says:   map[string][]string{audit.IDRetention: {"--audit-log-maxage=30"}},
	}, {
		name:   "--audit-log-maxbackup=two",
		change: func(t *testing.T, o *audit.Observed) { o.Args = replaced(o.Args, audit.FlagMaxBackup, "two") },
		want:   map[string]grader.Status{audit.IDRetention: grader.Fail},
		says:   map[string][]string{audit.IDRetention: {"--audit-log-maxbackup=two"}},
	}, {
		name: "--audit-log-path elsewhere",
		change: func(t *testing.T, o *audit.Observed) {
			o.Args = replaced(o.Args, audit.FlagLogPath, "/var/log/other.txt")
			o.LogOnNode = false
			noLog(o)
		},
		want: allBehaviour(grader.Fail, map[string]grader.Status{audit.IDLogPath: grader.Fail}),
		says: func() map[string][]string {
			m := map[string][]string{audit.IDLogPath: {"--audit-log-path=/var/log/other.txt", "not " + logPath}}
			for _, id := range behaviourChecks {
				m[id] = []string{logPath}
			}
			return m
		}(),
	}, {
		name: "the log only inside the container (no hostPath)",
		change: func(t *testing.T, o *audit.Observed) {
			o.LogOnNode = false
			noLog(o)
		},
		want: allBehaviour(grader.Fail, map[string]grader.Status{audit.IDLogPath: grader.Fail}),
		says: map[string][]string{audit.IDLogPath: {"inside its own container", "no such file on the control plane"}},
	}, {
		name: "a basic rule removed",
		change: func(t *testing.T, o *audit.Observed) {
			rule := "  - level: None\n    userGroups: [\"system:nodes\"]\n    verbs: [\"get\", \"list\", \"watch\"]\n"
			o.Policy = []byte(replaceOnce(t, solved, rule, ""))
		},
		want: map[string]grader.Status{audit.IDPolicyExtends: grader.Fail},
		says: map[string][]string{audit.IDPolicyExtends: {"Rule 2 of the basic policy", "system:nodes"}},
	}, {
		name: "a basic rule changed",
		change: func(t *testing.T, o *audit.Observed) {
			o.Policy = []byte(replaceOnce(t, solved, `verbs: ["watch"]`, `verbs: ["watch", "list"]`))
		},
		want: map[string]grader.Status{audit.IDPolicyExtends: grader.Fail},
		says: map[string][]string{audit.IDPolicyExtends: {"Rule 1 of the basic policy", "system:kube-proxy"}},
	}, {
		name: "the task's rules before the basic ones, which stay in order",
		change: func(t *testing.T, o *audit.Observed) {
			rules := solutionRules(t, in)
			// the catch-all last, or it would catch everything
			first, _ := strings.CutSuffix(rules, "  # everything else\n  - level: Metadata\n")
			o.Policy = []byte(replaceOnce(t, string(in.Audit.Policy), "rules:\n", "rules:\n"+first) + "  - level: Metadata\n")
		},
		want: nil,
	}, {
		name: "omitStages removed",
		change: func(t *testing.T, o *audit.Observed) {
			o.Policy = []byte(replaceOnce(t, solved, "omitStages:\n  - \"RequestReceived\"\n", ""))
			// the API server now logs the stage a request was received in, too, without bodies yet
			for i := range o.Probes {
				p := &o.Probes[i]
				if len(p.Events) > 0 {
					rr := event(*p, p.Events[0].Level, false, false)
					rr.Stage = auditv1.StageRequestReceived
					p.Events = append([]auditv1.Event{rr}, p.Events...)
				}
			}
		},
		want: map[string]grader.Status{audit.IDPolicyExtends: grader.Fail},
		says: map[string][]string{audit.IDPolicyExtends: {"omitStages", "RequestReceived"}},
	}, {
		// The file was broken after the API server started: it runs with the policy it read then.
		name:   "an invalid policy (level Verbose)",
		change: func(t *testing.T, o *audit.Observed) { o.Policy = []byte(invalid) },
		want:   map[string]grader.Status{audit.IDPolicyExtends: grader.Fail},
		says:   map[string][]string{audit.IDPolicyExtends: {"Kubernetes does not accept the policy", invalidErr.Error(), "Verbose"}},
	}, {
		name:   "a policy that is not YAML",
		change: func(t *testing.T, o *audit.Observed) { o.Policy = []byte(solved + "  - level: [\n") },
		want:   map[string]grader.Status{audit.IDPolicyExtends: grader.Fail},
		says:   map[string][]string{audit.IDPolicyExtends: {"Kubernetes does not accept the policy"}},
	}, {
		name: "a policy file the container cannot read",
		change: func(t *testing.T, o *audit.Observed) {
			o.Policy, o.PolicyErr = nil, "the API server's container has no readable "+policyFile
		},
		want: map[string]grader.Status{audit.IDPolicyExtends: grader.Fail},
		says: map[string][]string{audit.IDPolicyExtends: {"cannot be read", policyFile}},
	}, {
		name: "the policy at another path",
		change: func(t *testing.T, o *audit.Observed) {
			o.Args = replaced(o.Args, audit.FlagPolicyFile, "/etc/kubernetes/audit/policy.yaml")
			o.ManifestArgs = o.Args
		},
		want: map[string]grader.Status{audit.IDPolicyFlag: grader.Fail},
		says: map[string][]string{audit.IDPolicyFlag: {"--audit-policy-file=/etc/kubernetes/audit/policy.yaml", "not " + policyFile}},
		not:  map[string][]string{audit.IDPolicyFlag: {"manifest"}},
	}, {
		name: "an event at Request with both bodies",
		change: func(t *testing.T, o *audit.Observed) {
			p := probe(t, o, "deployment-webapps")
			p.Events = []auditv1.Event{event(*p, auditv1.LevelRequest, true, true)}
		},
		want: map[string]grader.Status{"audit-webapps-deployments": grader.Fail},
		says: map[string][]string{"audit-webapps-deployments": {"namespace webapps", "level Request but with the request's and the response's bodies"}},
		// the level is the one asked: the message must not read "logged at Request (...); the task asks Request (...)"
		not: map[string][]string{"audit-webapps-deployments": {"(with the request's body only); the task asks Request (with the request's body only)"}},
	}, {
		name: "an event at RequestResponse without the response's body",
		change: func(t *testing.T, o *audit.Observed) {
			p := probe(t, o, "namespace")
			p.Events = []auditv1.Event{event(*p, auditv1.LevelRequestResponse, true, false)}
		},
		want: map[string]grader.Status{"audit-namespaces": grader.Fail},
		says: map[string][]string{"audit-namespaces": {"with the request's body only, which does not fit"}},
	}, {
		name: "an event at Metadata with the request's body",
		change: func(t *testing.T, o *audit.Observed) {
			p := probe(t, o, "configmap")
			p.Events = []auditv1.Event{event(*p, auditv1.LevelMetadata, true, false)}
		},
		want: map[string]grader.Status{"audit-configmaps-secrets": grader.Fail},
		says: map[string][]string{"audit-configmaps-secrets": {"ConfigMap", "level Metadata but with the request's body only"}},
	}, {
		name: "no catch-all rule",
		change: func(t *testing.T, o *audit.Observed) {
			o.Policy = []byte(replaceOnce(t, solved, "  # everything else\n  - level: Metadata\n", ""))
			probe(t, o, "other").Events = nil
		},
		want: map[string]grader.Status{"audit-catch-all": grader.Fail},
		says: map[string][]string{"audit-catch-all": {"The creation of a ServiceAccount in namespace default", "no event in the audit log", "the task asks Metadata"}},
		not:  map[string][]string{"audit-catch-all": {"reads its policy only when it starts"}},
	}, {
		name: "--audit-log-path elsewhere, an old log left at the task's path",
		change: func(t *testing.T, o *audit.Observed) {
			o.Args = replaced(o.Args, audit.FlagLogPath, "/var/log/other.txt")
			noLog(o) // LogOnNode stays true: the old file is there
		},
		want: allBehaviour(grader.Fail, map[string]grader.Status{audit.IDLogPath: grader.Fail}),
		says: map[string][]string{"audit-namespaces": {"writes no audit log at " + logPath}},
		not:  map[string][]string{"audit-namespaces": {"level None", "find the rule"}},
	}, {
		name: "no --audit-policy-file, an old log at the task's path",
		change: func(t *testing.T, o *audit.Observed) {
			o.Args = without(o.Args, audit.FlagPolicyFile)
			o.Policy = nil
			noLog(o)
		},
		want: allBehaviour(grader.Fail, map[string]grader.Status{audit.IDPolicyFlag: grader.Fail, audit.IDPolicyExtends: grader.Skip}),
		says: map[string][]string{"audit-catch-all": {"reads no audit policy", audit.IDPolicyFlag}},
		not:  map[string][]string{"audit-catch-all": {"level None"}},
	}, {
		name: "the log on the node holds none of ckslab's requests",
		change: func(t *testing.T, o *audit.Observed) {
			noLog(o)
		},
		want: allBehaviour(grader.Fail, map[string]grader.Status{}),
		says: map[string][]string{"audit-webapps-deployments": {"None of ckslab's requests", logPath}},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := correct(t, in)
			tc.change(t, &o)
			byID, results, health := check(t, in, o)
			wantStatuses(t, results, tc.want)
			if health[0].Status != grader.Pass {
				t.Errorf("health is %s: %s", health[0].Status, health[0].Message)
			}
			for id, subs := range tc.says {
				for _, s := range subs {
					if !strings.Contains(byID[id].Message, s) {
						t.Errorf("%s's message does not say %q: %s", id, s, byID[id].Message)
					}
				}
			}
			for id, subs := range tc.not {
				for _, s := range subs {
					if strings.Contains(byID[id].Message, s) {
						t.Errorf("%s's message says %q: %s", id, s, byID[id].Message)
					}
				}
			}
			for id, st := range tc.want {
				if r := byID[id]; st == grader.Fail && r.Awarded() != 0 {
					t.Errorf("%s fails but awards %d points", id, r.Awarded())
				}
				if r := byID[id]; st == grader.Fail && r.Expected != "" && r.Expected == r.Actual {
					t.Errorf("%s fails with expected and actual both %q", id, r.Expected)
				}
			}
		})
	}
}

// 5. The policy file is right but the API server logged otherwise: it was not restarted since the edit.
func TestPolicyEditedNotRestarted(t *testing.T) {
	in := instance(t)
	tests := []struct {
		name   string
		policy func(solved string) string
		hint   bool
	}{
		{"the file gives RequestResponse", func(s string) string { return s }, true},
		{"the file gives Metadata too", func(s string) string {
			return replaceOnce(t, s, "  - level: RequestResponse\n    resources:\n      - group: \"\"\n        resources: [\"namespaces\"]\n", "")
		}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := correct(t, in)
			o.Policy = []byte(tc.policy(string(o.Policy)))
			p := probe(t, &o, "namespace")
			p.Events = eventsAt(*p, auditv1.LevelMetadata)
			byID, results, _ := check(t, in, o)
			wantStatuses(t, results, map[string]grader.Status{"audit-namespaces": grader.Fail})
			r := byID["audit-namespaces"]
			has := strings.Contains(r.Message, "reads its policy only when it starts")
			if has != tc.hint {
				t.Errorf("restart hint %v, want %v: %s", has, tc.hint, r.Message)
			}
			if tc.hint && !strings.Contains(r.Message, "Your policy file gives it RequestResponse, but the API server that runs logged Metadata") {
				t.Errorf("the message does not compare the file with the log: %s", r.Message)
			}
			if tc.hint && !strings.Contains(r.Remediation, "Restart the API server") {
				t.Errorf("the remediation does not say to restart: %s", r.Remediation)
			}
		})
	}
	// Without a user to evaluate the file for (no event names one), there is no hint either.
	o := correct(t, in)
	o.User = nil
	p := probe(t, &o, "namespace")
	p.Events = eventsAt(*p, auditv1.LevelMetadata)
	byID, _, _ := check(t, in, o)
	if strings.Contains(byID["audit-namespaces"].Message, "reads its policy only when it starts") {
		t.Errorf("a restart hint without a user: %s", byID["audit-namespaces"].Message)
	}
}

// 6. The manifest has the flag, the running process does not: the kubelet has not restarted it (yet).
func TestManifestAheadOfProcess(t *testing.T) {
	in := instance(t)
	o := correct(t, in)
	o.Args = without(o.Args, audit.FlagPolicyFile)
	o.Policy = nil
	noLog(&o) // an API server without a policy audits nothing
	byID, results, _ := check(t, in, o)
	wantStatuses(t, results, map[string]grader.Status{
		audit.IDPolicyFlag: grader.Fail, audit.IDPolicyExtends: grader.Skip,
		"audit-namespaces": grader.Fail, "audit-webapps-deployments": grader.Fail, "audit-configmaps-secrets": grader.Fail, "audit-catch-all": grader.Fail,
	})
	r := byID[audit.IDPolicyFlag]
	for _, s := range []string{"no --audit-policy-file", "The manifest has --audit-policy-file=" + policyFile, "the API server that runs was started without it"} {
		if !strings.Contains(r.Message, s) {
			t.Errorf("%s's message does not say %q: %s", r.ID, s, r.Message)
		}
	}
	if !strings.Contains(r.Remediation, "kubelet") {
		t.Errorf("the remediation does not point at the kubelet: %s", r.Remediation)
	}

	// Without the manifest's flag, no word of the manifest.
	o.ManifestArgs = o.Args
	byID, _, _ = check(t, in, o)
	if strings.Contains(byID[audit.IDPolicyFlag].Message, "manifest has") {
		t.Errorf("the manifest is named though it has no flag: %s", byID[audit.IDPolicyFlag].Message)
	}
	// A manifest with another value than the process's.
	o = correct(t, in)
	o.Args = replaced(o.Args, audit.FlagLogPath, "/var/log/old.txt")
	o.LogOnNode = false
	noLog(&o)
	byID, _, _ = check(t, in, o)
	if m := byID[audit.IDLogPath].Message; !strings.Contains(m, "The manifest has --audit-log-path="+logPath) {
		t.Errorf("the manifest's value is not named: %s", m)
	}
}

// 7. Flag reads both forms, the last one counts.
func TestFlag(t *testing.T) {
	tests := []struct {
		name  string
		args  []string
		value string
		found bool
	}{
		{"--x=1", []string{"--a=0", "--x=1"}, "1", true},
		{"--x 1", []string{"--x", "1", "--a=0"}, "1", true},
		{"empty value", []string{"--x="}, "", true},
		{"value with =", []string{"--x=a=b"}, "a=b", true},
		{"last wins, = then space", []string{"--x=1", "--x", "2"}, "2", true},
		{"last wins, space then =", []string{"--x", "1", "--x=3"}, "3", true},
		{"absent", []string{"--a=1", "--b", "2"}, "", false},
		{"no args", nil, "", false},
		{"a longer flag is another", []string{"--xy=1", "--x-y", "2"}, "", false},
		{"a value that looks like the flag", []string{"--a", "--x=1"}, "1", true},
		{"the flag last, without its value", []string{"--x"}, "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v, ok := audit.Flag(tc.args, "--x")
			if v != tc.value || ok != tc.found {
				t.Errorf("Flag(%q) = %q, %v; want %q, %v", tc.args, v, ok, tc.value, tc.found)
			}
		})
	}
}

// 8. A request ckslab could not make: its check cannot be graded.
func TestProbeError(t *testing.T) {
	in := instance(t)
	o := correct(t, in)
	p := probe(t, &o, "secret")
	p.Err, p.Events = errors.New(`secrets "ckslab-probe-0123abcd-secret" is forbidden`), nil
	byID, results, _ := check(t, in, o)
	wantStatuses(t, results, map[string]grader.Status{"audit-configmaps-secrets": grader.Error})
	r := byID["audit-configmaps-secrets"]
	if !strings.Contains(r.Message, "is forbidden") || !strings.Contains(r.Message, "Secret in namespace webapps") {
		t.Errorf("the message does not say which request failed and why: %s", r.Message)
	}
	rep := &grader.Report{Results: results}
	if s := rep.Summary(); s.ExitCode != grader.ExitCannotGrade {
		t.Errorf("exit code %d, want %d", s.ExitCode, grader.ExitCannotGrade)
	}
}

// A check no probe proves cannot be graded.
func TestCheckWithoutProbes(t *testing.T) {
	in := instance(t)
	o := correct(t, in)
	o.Probes = slices.DeleteFunc(o.Probes, func(p audit.ProbeResult) bool { return p.Probe.Check == "audit-catch-all" })
	_, results, _ := check(t, in, o)
	wantStatuses(t, results, map[string]grader.Status{"audit-catch-all": grader.Error})
}

// Results are reported as JSON: they marshal, and the correct lab's say what they compared.
func TestResultsMarshal(t *testing.T) {
	in := instance(t)
	byID, results, _ := check(t, in, correct(t, in))
	if _, err := json.Marshal(results); err != nil {
		t.Fatal(err)
	}
	for _, id := range behaviourChecks {
		if r := byID[id]; r.Expected == "" || r.Expected != r.Actual {
			t.Errorf("%s passes with expected %q and actual %q", id, r.Expected, r.Actual)
		}
	}
}

// A withheld report (the default grade) names no flag the learner has not written themselves: what is missing is
// said in words; a flag their work shows (in the process or the manifest) is named.
func TestWithheldFlags(t *testing.T) {
	in := instance(t)
	args := correctArgs()
	for _, f := range []string{audit.FlagPolicyFile, audit.FlagLogPath, audit.FlagMaxAge, audit.FlagMaxBackup} {
		args = without(args, f)
	}
	o := audit.Observed{Running: true, Args: args, ManifestArgs: args}
	for _, p := range in.Audit.Probes {
		o.Probes = append(o.Probes, audit.ProbeResult{Probe: p, Name: "ckslab-probe-0123abcd-" + p.ID})
	}
	all := func(results []grader.Result) string {
		var b strings.Builder
		for _, r := range results {
			fmt.Fprintf(&b, "%s\n%s\n%s\n%s\n", r.Message, r.Expected, r.Actual, r.Remediation)
		}
		return b.String()
	}
	results, _ := audit.Check(in, o, audit.Options{Remote: "ssh x", Withhold: true})
	text := all(results)
	if strings.Contains(text, "--audit") {
		t.Errorf("a withheld report of a fresh lab names a flag:\n%s", text)
	}
	for _, want := range []string{"no audit policy file", "no audit log file", "no limit on the old log files it keeps", "ckslab hint", policyFile, logPath} {
		if !strings.Contains(text, want) {
			t.Errorf("a withheld report does not say %q:\n%s", want, text)
		}
	}
	for _, r := range results {
		if r.Status == grader.Pass {
			t.Errorf("%s passes a fresh lab", r.ID)
		}
	}

	// the learner's own work: a wrong maxage in the process, the policy flag only in the manifest
	o.Args = append(slices.Clone(args), audit.FlagMaxAge+"=30")
	o.ManifestArgs = append(slices.Clone(args), audit.FlagPolicyFile+"="+policyFile)
	results, _ = audit.Check(in, o, audit.Options{Remote: "ssh x", Withhold: true})
	byID := map[string]grader.Result{}
	for _, r := range results {
		byID[r.ID] = r
	}
	if m := byID[audit.IDRetention].Message; !strings.Contains(m, audit.FlagMaxAge+"=30") || strings.Contains(m, audit.FlagMaxBackup) {
		t.Errorf("retention: %s", m)
	}
	if m := byID[audit.IDPolicyFlag].Message; !strings.Contains(m, "The manifest has "+audit.FlagPolicyFile) {
		t.Errorf("policy flag: %s", m)
	}
	if text := all(results); strings.Contains(text, audit.FlagLogPath) || strings.Contains(text, audit.FlagMaxBackup) {
		t.Errorf("flags the learner has not written are named:\n%s", text)
	}
}

// BenchmarkCheck is one grade's judging of a solved lab: the policy loaded twice with Kubernetes' loader, the
// basic rules compared, every probe's event judged (the requests and the log's reading are the lab's, not this).
func BenchmarkCheck(b *testing.B) {
	in := instance(b)
	o := correct(b, in)
	b.ReportAllocs()
	for b.Loop() {
		results, _ := audit.Check(in, o, opts)
		if results[len(results)-1].Status != grader.Pass {
			b.Fatal(results[len(results)-1].Message)
		}
	}
}
