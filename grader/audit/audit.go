// Package audit grades the API server auditing task from what the running API server does: the flags of its
// process, the policy file as that process sees it (read with Kubernetes' own policy loader), and the events
// it wrote to its audit log for requests ckslab made (Observed). It never reads the learner's intentions from
// the manifest alone: the manifest is read only to say why the running process differs from it.
//
// An API server that is not running cannot be graded: every scored check is an error saying so, with where to
// look, never a fail.
package audit

import (
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"

	auditinternal "k8s.io/apiserver/pkg/apis/audit"
	auditv1 "k8s.io/apiserver/pkg/apis/audit/v1"
	apiaudit "k8s.io/apiserver/pkg/audit"
	"k8s.io/apiserver/pkg/audit/policy"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/authorization/authorizer"

	"github.com/ckslab/ckslab/grader"
	"github.com/ckslab/ckslab/scenarios"
)

// Check ids, stable across versions: the scenario file and reports use them.
const (
	IDPolicyFlag    = "audit-policy-flag"
	IDLogPath       = "audit-log-path"
	IDRetention     = "audit-retention"
	IDPolicyExtends = "audit-policy-extends"
	// IDRunning is the health check of the API server.
	IDRunning = "apiserver-running"
)

// The API server's flags the task is about.
const (
	FlagPolicyFile = "--audit-policy-file"
	FlagLogPath    = "--audit-log-path"
	FlagMaxAge     = "--audit-log-maxage"
	FlagMaxBackup  = "--audit-log-maxbackup"
)

// Observed is what ckslab saw of the lab's API server.
type Observed struct {
	// Running: the API server's process runs and its /readyz answers. NotRunning says what was seen otherwise.
	Running    bool
	NotRunning string
	// Args are the running kube-apiserver process's arguments, without the program's name.
	Args []string
	// ManifestArgs are the command's arguments in the static Pod manifest, when it could be read; only used to
	// say why the running process differs.
	ManifestArgs []string
	// Policy is the file the running API server's --audit-policy-file names, read as the process sees it;
	// PolicyErr says why it could not be read.
	Policy    []byte
	PolicyErr string
	// LogOnNode: the file at the task's log path exists on the control plane (not only inside the API
	// server's container).
	LogOnNode bool
	// Probes are ckslab's requests and the events the log on the node holds for each.
	Probes []ProbeResult
	// User is who ckslab's requests were made as, as the audit events name it.
	User user.Info
}

// ProbeResult is one request ckslab made and what the audit log recorded of it.
type ProbeResult struct {
	Probe scenarios.Probe
	// Name is the name of the object the request created (a dry run).
	Name string
	// Err is why the request itself failed; nil when it was made.
	Err error
	// Events are the request's events in the log on the node.
	Events []auditv1.Event
}

// Options tune Check.
type Options struct {
	// Remote is where a learner looks, as "ssh cluster2-controlplane1".
	Remote string
	// Withhold keeps the names of the flags the task needs out of the results, except those the learner's own
	// work shows (set in the running process or the manifest): the report says what is missing in words, and
	// the hints name the flags.
	Withhold bool
}

// flagWords says in words what each flag of the task sets, for a report that withholds the flags' names.
var flagWords = map[string]struct{ sets, missing string }{
	FlagPolicyFile: {"the audit policy file it reads", "no audit policy file"},
	FlagLogPath:    {"the file it writes its audit log to", "no audit log file"},
	FlagMaxBackup:  {"how many old audit log files it keeps", "no limit on the old log files it keeps"},
	FlagMaxAge:     {"how many days it keeps audit logs", "no limit on the days it keeps logs"},
}

// fixWithheld is the remediation of a flag check whose flag is withheld.
const fixWithheld = "The API server's audit settings are flags of its command in the static Pod manifest on the control plane; " +
	"the kubelet restarts it when that file changes. Which flags: ckslab hint."

// Flag returns the value of flag in args (--flag=value or --flag value; the last one counts) and whether it is
// there.
func Flag(args []string, flag string) (string, bool) {
	val, found := "", false
	for i, a := range args {
		switch {
		case strings.HasPrefix(a, flag+"="):
			val, found = strings.TrimPrefix(a, flag+"="), true
		case a == flag && i+1 < len(args):
			val, found = args[i+1], true
		}
	}
	return val, found
}

// Check grades the auditing task of in from o: the scored checks in the scenario's order and the health checks.
// Titles and points are the scenario's.
func Check(in *scenarios.Instance, o Observed, opts Options) (results, health []grader.Result) {
	a := in.Audit
	health = []grader.Result{running(in, o, opts)}
	for _, c := range in.Checks {
		r := grader.Result{ID: c.ID, Title: c.Title, Points: c.Points}
		if !o.Running {
			r.Status = grader.Error
			r.Message = "Could not grade: the API server is not running."
			if o.NotRunning != "" {
				r.Message = "Could not grade: the API server is not running (" + o.NotRunning + ")."
			}
			r.Remediation = notRunningFix(opts)
			results = append(results, r)
			continue
		}
		switch c.ID {
		case IDPolicyFlag:
			r = flagCheck(r, o, FlagPolicyFile, a.PolicyFile, "audits nothing", opts)
		case IDLogPath:
			r = logPath(r, o, a, opts)
		case IDRetention:
			r = retention(r, o, a, opts)
		case IDPolicyExtends:
			r = extends(r, o, a)
		default:
			r = behaviour(r, in, o)
		}
		results = append(results, r)
	}
	return results, health
}

func notRunningFix(opts Options) string {
	return "Look at why on the control plane (" + opts.Remote + "): `crictl ps -a | grep kube-apiserver` and `crictl logs <its id>` " +
		"show the API server's last words, `journalctl -u kubelet` the kubelet's (a manifest it cannot read is named there). " +
		"Put back your copy of the manifest, or the original with `ckslab reset`, then grade again. " +
		"Just after an edit the kubelet may still be restarting it: wait a minute."
}

func running(in *scenarios.Instance, o Observed, opts Options) grader.Result {
	r := grader.Result{ID: IDRunning, Title: "The API server runs and answers"}
	if def, ok := in.Check(IDRunning); ok {
		r.Title = def.Title
	}
	if o.Running {
		r.Status, r.Message = grader.Pass, "The API server runs and answers."
		return r
	}
	r.Status, r.Message, r.Remediation = grader.Fail, "The API server is not running: "+o.NotRunning+".", notRunningFix(opts)
	return r
}

// shown: the learner's work names flag (the running process or the manifest has it), or nothing is withheld.
func shown(o Observed, flag string, opts Options) bool {
	_, inArgs := Flag(o.Args, flag)
	_, inManifest := Flag(o.ManifestArgs, flag)
	return !opts.Withhold || inArgs || inManifest
}

// flagCheck: the running process has flag=want.
func flagCheck(r grader.Result, o Observed, flag, want, without string, opts Options) grader.Result {
	got, ok := Flag(o.Args, flag)
	r.Expected = flag + "=" + want
	if !shown(o, flag, opts) {
		r.Expected = flagWords[flag].sets + ": " + want
	}
	switch {
	case ok && got == want:
		r.Status, r.Actual = grader.Pass, flag+"="+got
		r.Message = "The running API server has " + flag + "=" + got + "."
		return r
	case ok:
		r.Actual = flag + "=" + got
		r.Message = fmt.Sprintf("The running API server has %s=%s, not %s.", flag, got, want)
	case !shown(o, flag, opts):
		r.Actual = flagWords[flag].missing
		r.Message = "The running API server has " + flagWords[flag].missing + ": it " + without + "."
	default:
		r.Actual = "no " + flag
		r.Message = "The running API server has no " + flag + ": it " + without + "."
	}
	r.Status = grader.Fail
	r.Remediation = "Set " + flag + " in the API server's static Pod manifest on the control plane; the kubelet restarts it with the new flags."
	if !shown(o, flag, opts) {
		r.Remediation = fixWithheld
	}
	if m, mok := Flag(o.ManifestArgs, flag); mok && (m != got || !ok) {
		r.Message += fmt.Sprintf(" The manifest has %s=%s, but the API server that runs was started without it.", flag, m)
		r.Remediation = "The kubelet has not (yet) restarted the API server with the manifest's flags: wait a minute, then look at `crictl ps -a` and `journalctl -u kubelet` on the control plane."
	}
	return r
}

func logPath(r grader.Result, o Observed, a *scenarios.AuditSetup, opts Options) grader.Result {
	r = flagCheck(r, o, FlagLogPath, a.LogPath, "writes no audit log", opts)
	if r.Status != grader.Pass {
		return r
	}
	if !o.LogOnNode {
		r.Status = grader.Fail
		r.Actual = "no " + a.LogPath + " on the control plane"
		r.Message = "The API server writes " + a.LogPath + " inside its own container: there is no such file on the control plane."
		r.Remediation = "What a static Pod writes reaches the node only through a hostPath volume mounted in its container."
		return r
	}
	r.Message += " The log is on the control plane at " + a.LogPath + "."
	return r
}

func retention(r grader.Result, o Observed, a *scenarios.AuditSetup, opts Options) grader.Result {
	want := map[string]int{FlagMaxBackup: a.MaxBackup, FlagMaxAge: a.MaxAge}
	var wrong, got, exp []string
	withheld := false
	for _, f := range []string{FlagMaxBackup, FlagMaxAge} {
		v, ok := Flag(o.Args, f)
		n, err := strconv.Atoi(v)
		if shown(o, f, opts) {
			exp = append(exp, fmt.Sprintf("%s=%d", f, want[f]))
		} else {
			exp = append(exp, fmt.Sprintf("%s: %d", flagWords[f].sets, want[f]))
		}
		switch {
		case !ok && !shown(o, f, opts):
			withheld = true
			wrong = append(wrong, flagWords[f].missing)
			got = append(got, flagWords[f].missing)
		case !ok:
			wrong = append(wrong, "no "+f)
			got = append(got, "no "+f)
		case err != nil || n != want[f]:
			wrong = append(wrong, f+"="+v)
			got = append(got, f+"="+v)
		default:
			got = append(got, f+"="+v)
		}
	}
	r.Expected = strings.Join(exp, "; ")
	r.Actual = strings.Join(got, "; ")
	if len(wrong) == 0 {
		r.Status, r.Message = grader.Pass, "The running API server has "+r.Actual+"."
		return r
	}
	r.Status = grader.Fail
	r.Message = fmt.Sprintf("The running API server has %s: the task keeps %d old log files and %d days of logs.", strings.Join(wrong, " and "), a.MaxBackup, a.MaxAge)
	r.Remediation = "Both are flags of the API server, set in its static Pod manifest."
	if withheld {
		r.Remediation = fixWithheld
	}
	return r
}

// extends: the policy the API server reads is valid for Kubernetes (its own loader) and keeps every rule of the
// basic policy, in their order.
func extends(r grader.Result, o Observed, a *scenarios.AuditSetup) grader.Result {
	if v, ok := Flag(o.Args, FlagPolicyFile); !ok || v == "" {
		r.Status, r.Message = grader.Skip, "The running API server reads no policy file ("+IDPolicyFlag+" says more)."
		return r
	}
	if o.PolicyErr != "" {
		r.Status, r.Message = grader.Fail, "The policy file the API server names cannot be read: "+o.PolicyErr+"."
		r.Remediation = "The API server reads it inside its container: the file must be there, through a hostPath volume."
		return r
	}
	got, err := policy.LoadPolicyFromBytes(o.Policy)
	if err != nil {
		r.Status = grader.Fail
		r.Message = "Kubernetes does not accept the policy: " + err.Error() + "."
		r.Remediation = "Fix the policy file; the API server reads it only when it starts."
		return r
	}
	basic, err := policy.LoadPolicyFromBytes(a.Policy)
	if err != nil {
		r.Status, r.Message = grader.Error, "ckslab's basic policy does not load: "+err.Error()
		return r
	}
	next := 0
	for i, b := range basic.Rules {
		j := slices.IndexFunc(got.Rules[next:], func(g auditinternal.PolicyRule) bool { return reflect.DeepEqual(g, b) })
		if j < 0 {
			r.Status = grader.Fail
			r.Message = fmt.Sprintf("Rule %d of the basic policy (%s) is gone or changed, or out of its order.", i+1, describeRule(b))
			r.Remediation = "Extend the basic policy: keep its rules as they are, in their order, and add yours."
			return r
		}
		next += j + 1
	}
	if !sameStages(got.OmitStages, basic.OmitStages) {
		r.Status = grader.Fail
		r.Message = fmt.Sprintf("The basic policy's omitStages (%v) are changed to %v.", basic.OmitStages, got.OmitStages)
		r.Remediation = "Keep the basic policy's omitStages as they are."
		return r
	}
	r.Status = grader.Pass
	r.Message = fmt.Sprintf("Kubernetes accepts the policy; it keeps the basic policy's %d rules and adds %d.", len(basic.Rules), len(got.Rules)-len(basic.Rules))
	return r
}

func sameStages(a, b []auditinternal.Stage) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

func describeRule(r auditinternal.PolicyRule) string {
	parts := []string{"level " + string(r.Level)}
	if len(r.Users) > 0 {
		parts = append(parts, "users "+strings.Join(r.Users, ","))
	}
	if len(r.UserGroups) > 0 {
		parts = append(parts, "userGroups "+strings.Join(r.UserGroups, ","))
	}
	if len(r.NonResourceURLs) > 0 {
		parts = append(parts, "nonResourceURLs "+strings.Join(r.NonResourceURLs, ","))
	}
	for _, g := range r.Resources {
		parts = append(parts, "resources "+strings.Join(g.Resources, ","))
	}
	return strings.Join(parts, ", ")
}

// behaviour grades a check made of probes: each probe's event must be in the log at the level the task asks,
// with the bodies that level carries.
func behaviour(r grader.Result, in *scenarios.Instance, o Observed) grader.Result {
	var probes []ProbeResult
	for _, p := range o.Probes {
		if p.Probe.Check == r.ID {
			probes = append(probes, p)
		}
	}
	if len(probes) == 0 {
		r.Status, r.Message = grader.Error, "ckslab made no request for this check."
		return r
	}
	if v, ok := Flag(o.Args, FlagLogPath); !ok || v != in.Audit.LogPath || !o.LogOnNode {
		r.Status = grader.Fail
		r.Message = "The API server writes no audit log at " + in.Audit.LogPath + " on the control plane, so no request of this kind is logged there (" + IDLogPath + " says more)."
		r.Expected = levelsOf(probes)
		r.Actual = "no audit log at " + in.Audit.LogPath
		return r
	}
	if v, ok := Flag(o.Args, FlagPolicyFile); !ok || v == "" {
		r.Status = grader.Fail
		r.Message = "The running API server reads no audit policy, so it logs no request (" + IDPolicyFlag + " says more)."
		r.Expected = levelsOf(probes)
		r.Actual = "no policy: nothing logged"
		return r
	}
	if !anyEvent(o.Probes) {
		r.Status = grader.Fail
		r.Message = "None of ckslab's requests (dry runs of every kind the task names) has an event in " + in.Audit.LogPath +
			" on the control plane: the API server does not write that file on the node, or its policy logs none of them."
		r.Remediation = "Look at what the API server writes: `tail " + in.Audit.LogPath + "` on the control plane, right after a `kubectl get ns`."
		r.Expected = levelsOf(probes)
		r.Actual = "no events"
		return r
	}
	var p *policyEval
	if pol, err := policy.LoadPolicyFromBytes(o.Policy); err == nil && o.PolicyErr == "" {
		p = &policyEval{policy.NewPolicyRuleEvaluator(pol)}
	}
	var exp, act []string
	r.Status = grader.Pass
	for _, pr := range probes {
		want := auditv1.Level(pr.Probe.Level)
		exp = append(exp, pr.Probe.What+": "+string(want))
		if pr.Err != nil {
			r.Status = grader.Error
			r.Message = fmt.Sprintf("ckslab's request (%s) failed: %v.", pr.Probe.What, pr.Err)
			r.Remediation = "Check that the lab is up (`ckslab status`), then grade again."
			return r
		}
		got, bodies, ok := levelOf(pr.Events)
		if !ok {
			got = auditv1.LevelNone
		}
		fit := got == auditv1.LevelNone || bodiesFit(got, bodies)
		if fit {
			act = append(act, pr.Probe.What+": "+string(got))
		} else {
			act = append(act, pr.Probe.What+": "+string(got)+" "+bodies.String())
		}
		if got == want && fit {
			continue
		}
		if r.Status == grader.Pass {
			r.Status = grader.Fail
			r.Message = mismatch(pr, want, got, ok)
			if got == want {
				r.Message = fmt.Sprintf("%s (ckslab made it as a dry run) was logged at level %s but %s, which does not fit that level; the task asks %s (%s).",
					capitalize(pr.Probe.What), got, bodies, want, carries(want))
			}
			r.Remediation = "Rules are matched in order and the first one that matches a request decides its level: find the rule that catches this request."
			if p != nil {
				if fileLevel := p.level(pr, o.User); fileLevel == want && got != want {
					r.Message += fmt.Sprintf(" Your policy file gives it %s, but the API server that runs logged %s: the API server reads its policy only when it starts.", fileLevel, got)
					r.Remediation = "Restart the API server so that it reads the policy again: move its manifest out of /etc/kubernetes/manifests, wait until it stops, and move it back."
				}
			}
		}
	}
	r.Expected, r.Actual = strings.Join(exp, "; "), strings.Join(act, "; ")
	if r.Status == grader.Pass {
		r.Message = "Each request was logged at the level the task asks: " + r.Actual + "."
	}
	return r
}

// anyEvent: some request ckslab made has an event in the log.
func anyEvent(probes []ProbeResult) bool {
	for _, p := range probes {
		if len(p.Events) > 0 {
			return true
		}
	}
	return false
}

func levelsOf(probes []ProbeResult) string {
	var out []string
	for _, p := range probes {
		out = append(out, p.Probe.What+": "+p.Probe.Level)
	}
	return strings.Join(out, "; ")
}

type bodies struct{ request, response bool }

// String says which bodies an event carries.
func (b bodies) String() string {
	switch {
	case b.request && b.response:
		return "with the request's and the response's bodies"
	case b.request:
		return "with the request's body only"
	case b.response:
		return "with the response's body only"
	}
	return "with no bodies"
}

// levelOf is the level of a request's events (its ResponseComplete event when there is one) and which bodies
// it carries.
func levelOf(events []auditv1.Event) (auditv1.Level, bodies, bool) {
	if len(events) == 0 {
		return "", bodies{}, false
	}
	e := events[len(events)-1]
	for _, ev := range events {
		if ev.Stage == auditv1.StageResponseComplete {
			e = ev
		}
	}
	return e.Level, bodies{request: e.RequestObject != nil, response: e.ResponseObject != nil}, true
}

// bodiesFit: the event carries the bodies its level says it does (RequestResponse both, Request only the
// request's, Metadata neither).
func bodiesFit(l auditv1.Level, b bodies) bool {
	switch l {
	case auditv1.LevelRequestResponse:
		return b.request && b.response
	case auditv1.LevelRequest:
		return b.request && !b.response
	case auditv1.LevelMetadata:
		return !b.request && !b.response
	}
	return true
}

func mismatch(pr ProbeResult, want, got auditv1.Level, logged bool) string {
	what := capitalize(pr.Probe.What)
	if !logged {
		return fmt.Sprintf("%s (ckslab made it as a dry run) has no event in the audit log: it was logged at level None; the task asks %s.", what, want)
	}
	if want == auditv1.LevelNone {
		return fmt.Sprintf("%s (ckslab made it as a dry run) was logged at level %s; the task asks that it is not logged.", what, got)
	}
	return fmt.Sprintf("%s (ckslab made it as a dry run) was logged at level %s (%s); the task asks %s (%s).", what, got, carries(got), want, carries(want))
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

func carries(l auditv1.Level) string {
	switch l {
	case auditv1.LevelRequestResponse:
		return "with the request's and the response's bodies"
	case auditv1.LevelRequest:
		return "with the request's body only"
	case auditv1.LevelMetadata:
		return "who, what and when, no bodies"
	}
	return "not logged"
}

// policyEval evaluates the policy file as the API server would at its start.
type policyEval struct{ e apiaudit.PolicyRuleEvaluator }

// level is the level the policy file gives a probe's request.
func (p *policyEval) level(pr ProbeResult, u user.Info) auditv1.Level {
	if u == nil {
		return ""
	}
	group, version := "", "v1"
	if pr.Probe.Resource == scenarios.ProbeDeployments {
		group = "apps"
	}
	attrs := authorizer.AttributesRecord{User: u, Verb: "create", Namespace: pr.Probe.Namespace, APIGroup: group, APIVersion: version,
		Resource: string(pr.Probe.Resource), Name: pr.Name, ResourceRequest: true}
	return auditv1.Level(p.e.EvaluatePolicyRule(attrs).Level)
}
