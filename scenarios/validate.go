package scenarios

import (
	"fmt"
	"path"
	"regexp"
	"slices"
	"strings"
	"time"

	yaml "go.yaml.in/yaml/v3"
	"k8s.io/apimachinery/pkg/util/validation"
)

// Limits a scenario must stay within.
const (
	MinHints = 3
	MaxHints = 5
	// MaxNameLength bounds namespace and Deployment names: Pod names add about 17 characters and must stay
	// readable in `kubectl get pods`.
	MaxNameLength = 40
	// MinInterval is the shortest misbehaviour interval: anything faster floods Falco's output.
	MinInterval = time.Second
	// minSeededDecoys: a seeded lab has an nginx and an httpd decoy on the worker and one on the control plane.
	minSeededDecoys = 3
)

var reID = regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*$`)

// validator collects problems with their lines.
type validator struct {
	root     *yaml.Node
	problems []Problem
}

func (v *validator) add(fix string, steps []any, format string, args ...any) {
	v.problems = append(v.problems, Problem{
		Line:    lineOf(v.root, steps...),
		Field:   fieldPath(steps),
		Problem: fmt.Sprintf(format, args...),
		Fix:     fix,
	})
}

// at builds a path of keys and indexes.
func at(steps ...any) []any { return steps }

func fieldPath(steps []any) string {
	var b strings.Builder
	for _, st := range steps {
		switch k := st.(type) {
		case string:
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			b.WriteString(k)
		case int:
			fmt.Fprintf(&b, "[%d]", k)
		}
	}
	return b.String()
}

func validate(s *Scenario, root *yaml.Node, folder string) error {
	v := &validator{root: root}
	v.metadata(s, folder)
	v.spec(&s.Spec)
	reqs := v.task(&s.Spec.Task)
	v.setup(&s.Spec.Setup)
	v.checks(&s.Spec, reqs)
	v.probeChecks(&s.Spec)
	v.hints(s.Spec.Hints)
	v.solution(s.Spec.Solution)
	if len(v.problems) == 0 {
		v.templates(s)
	}
	if len(v.problems) > 0 {
		slices.SortStableFunc(v.problems, func(a, b Problem) int { return a.Line - b.Line })
		return &Error{File: s.Source, Problems: v.problems}
	}
	return nil
}

func (v *validator) metadata(s *Scenario, folder string) {
	m := s.Metadata
	switch {
	case m.ID == "":
		v.add("give the scenario an id: lowercase words joined by '-', the name of its folder", at("metadata", "id"), "is missing")
	case !reID.MatchString(m.ID):
		v.add("use lowercase letters, digits and '-'", at("metadata", "id"), "%q is not a valid id", m.ID)
	case folder != "." && folder != "" && m.ID != folder:
		v.add(fmt.Sprintf("rename the folder to %s or set the id to %s", m.ID, folder), at("metadata", "id"),
			"%q differs from the folder the file is in (%s)", m.ID, folder)
	}
	if strings.TrimSpace(m.Title) == "" {
		v.add("say in a few words what the task is about", at("metadata", "title"), "is missing")
	}
	if strings.TrimSpace(m.Domain) == "" {
		v.add("name the CKS curriculum domain, e.g. Monitoring, Logging and Runtime Security", at("metadata", "domain"), "is missing")
	}
	if m.Weight < 1 || m.Weight > 100 {
		v.add("give the task's share of the exam score in percent, 1 to 100", at("metadata", "weight"), "is %d", m.Weight)
	}
	if m.TimeBudget <= 0 {
		v.add("give a duration like 12m", at("metadata", "timeBudget"), "is missing or not positive")
	}
}

func (v *validator) spec(s *Spec) {
	if errs := validation.IsDNS1123Label(s.Cluster); len(errs) > 0 {
		v.add("use the exam's cluster name, e.g. cluster1", at("spec", "cluster"), "%q is not a valid name: %s", s.Cluster, strings.Join(errs, "; "))
	}
	if strings.TrimSpace(s.Context) == "" {
		v.add("name the kubectl context the task uses, e.g. workload-prod", at("spec", "context"), "is missing")
	}
	if s.Setup.Audit != nil {
		return // no answer file: the auditing task is graded by the API server's own log
	}
	if !path.IsAbs(s.AnswerFile) || path.Clean(s.AnswerFile) != s.AnswerFile || strings.ContainsAny(s.AnswerFile, " '\"$`\\") {
		v.add("give an absolute, clean path without spaces or quotes, e.g. /opt/course/2/falco.log", at("spec", "answerFile"), "%q is not usable", s.AnswerFile)
	}
	if s.MinSpan <= 0 || s.MinSpan%time.Second != 0 {
		v.add("give a whole number of seconds, e.g. 30s", at("spec", "minSpan"), "is %s", s.MinSpan)
	}
}

func (v *validator) task(t *Task) map[string]bool {
	if strings.TrimSpace(t.Intro) == "" {
		v.add("introduce the task in a sentence or two", at("spec", "task", "intro"), "is missing")
	}
	if len(t.Requirements) == 0 {
		v.add("write the task as requirement sentences, each with an id", at("spec", "task", "requirements"), "is empty")
	}
	ids := map[string]bool{}
	for i, r := range t.Requirements {
		p := at("spec", "task", "requirements", i)
		switch {
		case !reID.MatchString(r.ID):
			v.add("give every requirement an id of lowercase words joined by '-'", append(p, "id"), "%q is not a valid id", r.ID)
		case ids[r.ID]:
			v.add("give every requirement its own id", append(p, "id"), "duplicate requirement id %q", r.ID)
		}
		ids[r.ID] = true
		if strings.TrimSpace(r.Text) == "" {
			v.add("write the sentence the learner reads", append(p, "text"), "requirement %q has no text", r.ID)
		}
	}
	return ids
}

func validImage(i Image) bool { return i == Nginx || i == Httpd }

func (v *validator) name(steps []any, what, name string) {
	if errs := validation.IsDNS1123Label(name); len(errs) > 0 || len(name) > MaxNameLength {
		v.add(fmt.Sprintf("use lowercase letters, digits and '-', at most %d characters", MaxNameLength), steps,
			"%s %q is not a valid name", what, name)
		return
	}
	if what == "namespace" && (name == "default" || strings.HasPrefix(name, "kube-") || name == "local-path-storage") {
		v.add("use a namespace of the lab's own: the cluster's namespaces are not the learner's to scale", steps,
			"namespace %q belongs to the cluster", name)
	}
}

func (v *validator) setup(s *Setup) {
	if s.Audit != nil {
		v.auditSetup(s)
		return
	}
	cases := map[int]bool{}
	offenderNS := map[string]bool{}
	deployments := map[string]bool{}
	if f := s.FalcoRulesFile; !path.IsAbs(f) || path.Clean(f) != f || strings.ContainsAny(f, " '\"$`\\") {
		v.add("give the absolute path of the rules file on the node, e.g. /etc/falco/falco_rules.yaml",
			at("spec", "setup", "falcoRulesFile"), "%q is not usable", f)
	}
	if len(s.Offenders) != 2 {
		v.add("define case 1 (nginx) and case 2 (httpd)", at("spec", "setup", "offenders"), "has %d offenders, the task has 2", len(s.Offenders))
	}
	for i, o := range s.Offenders {
		p := at("spec", "setup", "offenders", i)
		if o.Case != 1 && o.Case != 2 || cases[o.Case] {
			v.add("number the offenders case 1 and case 2, once each", append(p, "case"), "case %d", o.Case)
		}
		cases[o.Case] = true
		if !validImage(o.Image) {
			v.add("use nginx or httpd", append(p, "image"), "unknown image %q", o.Image)
		}
		if o.Behaviour != PackageManager && o.Behaviour != WriteEtcPasswd {
			v.add(fmt.Sprintf("use %s or %s", PackageManager, WriteEtcPasswd), append(p, "behaviour"), "an offender must misbehave, not %q", o.Behaviour)
		}
		v.name(append(p, "namespace"), "namespace", o.Namespace)
		v.name(append(p, "deployment"), "Deployment", o.Deployment)
		v.name(append(p, "container"), "container", o.Container)
		if offenderNS[o.Namespace] {
			v.add("give each offender its own namespace", append(p, "namespace"), "namespace %q is used twice", o.Namespace)
		}
		offenderNS[o.Namespace] = true
		deployments[o.Namespace+"/"+o.Deployment] = true
		if o.Replicas < 1 {
			v.add("run at least 1 replica", append(p, "replicas"), "is %d", o.Replicas)
		}
		if strings.TrimSpace(o.Rule) == "" {
			v.add("name the Falco rule the misbehaviour fires, as in the rules file", append(p, "rule"), "is missing")
		}
		if o.Interval < MinInterval {
			v.add(fmt.Sprintf("give a duration of %s or more, e.g. 5s", MinInterval), append(p, "interval"), "is %s", o.Interval)
		}
	}
	v.decoys(s.Decoys, offenderNS, deployments)
	v.seeding(&s.Seeding, len(s.Offenders))
}

func (v *validator) decoys(decoys []DecoySpec, offenderNS, deployments map[string]bool) {
	if len(decoys) == 0 {
		v.add("add well-behaved nginx and httpd Deployments in other namespaces", at("spec", "setup", "decoys"), "is empty")
	}
	for i, d := range decoys {
		p := at("spec", "setup", "decoys", i)
		if !validImage(d.Image) {
			v.add("use nginx or httpd", append(p, "image"), "unknown image %q", d.Image)
		}
		v.name(append(p, "namespace"), "namespace", d.Namespace)
		v.name(append(p, "deployment"), "Deployment", d.Deployment)
		if offenderNS[d.Namespace] {
			v.add("put decoys in namespaces of their own", append(p, "namespace"), "namespace %q is an offender's", d.Namespace)
		}
		key := d.Namespace + "/" + d.Deployment
		if deployments[key] {
			v.add("give every Deployment its own name", append(p, "deployment"), "Deployment %s is defined twice", key)
		}
		deployments[key] = true
		if d.Replicas < 1 {
			v.add("run at least 1 replica", append(p, "replicas"), "is %d", d.Replicas)
		}
		if d.Placement != Worker && d.Placement != ControlPlane {
			v.add(fmt.Sprintf("use %s or %s", Worker, ControlPlane), append(p, "placement"), "unknown placement %q", d.Placement)
		}
	}
}

// auditSetup checks the auditing task's setup: its paths, retention, objects and probes. Such a scenario has
// no offenders, no Falco rules file and no seeding (one set of names).
func (v *validator) auditSetup(s *Setup) {
	a := s.Audit
	p := at("spec", "setup", "audit")
	if len(s.Offenders) > 0 || s.FalcoRulesFile != "" || len(s.Seeding.Namespaces) > 0 {
		v.add("remove offenders, falcoRulesFile and seeding: an auditing scenario has none", at("spec", "setup"), "mixes the Falco task's setup with audit")
	}
	for _, f := range []struct{ key, val, eg string }{
		{"policyFile", a.PolicyFile, "/etc/kubernetes/logpolicy/audit-policy.yaml"}, {"logPath", a.LogPath, "/var/log/kubernetes/audit-logs.txt"},
	} {
		if !path.IsAbs(f.val) || path.Clean(f.val) != f.val || strings.ContainsAny(f.val, " '\"$`\\") || path.Dir(f.val) == "/" {
			v.add("give an absolute, clean path in a folder of its own, without spaces or quotes, e.g. "+f.eg, append(p, f.key), "%q is not usable", f.val)
		}
	}
	if a.BasicPolicy == "" || path.Base(a.BasicPolicy) != a.BasicPolicy || a.BasicPolicy == FileName {
		v.add("name the file next to scenario.yaml that holds the basic policy, e.g. basic-policy.yaml", append(p, "basicPolicy"), "%q is not usable", a.BasicPolicy)
	} else if len(a.Policy) == 0 {
		v.add("put the basic policy in that file, next to scenario.yaml", append(p, "basicPolicy"), "%s is missing or empty", a.BasicPolicy)
	}
	if a.MaxAge < 1 {
		v.add("give the days of retention the task asks, e.g. 10", append(p, "maxAge"), "is %d", a.MaxAge)
	}
	if a.MaxBackup < 1 {
		v.add("give the number of log files the task keeps, e.g. 2", append(p, "maxBackup"), "is %d", a.MaxBackup)
	}
	v.decoys(s.Decoys, map[string]bool{}, map[string]bool{})
	namespaces := map[string]bool{}
	for _, d := range s.Decoys {
		namespaces[d.Namespace] = true
	}
	for _, list := range []struct {
		key  string
		refs []ObjectRef
	}{{"configMaps", a.ConfigMaps}, {"secrets", a.Secrets}} {
		for i, r := range list.refs {
			q := append(p, list.key, i)
			v.name(append(q, "name"), "object", r.Name)
			if !namespaces[r.Namespace] {
				v.add("use a namespace of the decoys (the lab makes only those)", append(q, "namespace"), "namespace %q has no Deployment", r.Namespace)
			}
		}
	}
	if len(a.Probes) == 0 {
		v.add("list the requests grading makes and the level each one's event must have", append(p, "probes"), "is empty")
	}
	ids := map[string]bool{}
	for i, pr := range a.Probes {
		q := append(p, "probes", i)
		if !reID.MatchString(pr.ID) || ids[pr.ID] {
			v.add("give every probe its own id of lowercase words joined by '-'", append(q, "id"), "%q is not a valid or unique probe id", pr.ID)
		}
		ids[pr.ID] = true
		if !slices.Contains(ProbeResources, pr.Resource) {
			v.add(fmt.Sprintf("use one of %v", ProbeResources), append(q, "resource"), "unknown resource %q", pr.Resource)
		}
		switch {
		case pr.Resource == ProbeNamespaces && pr.Namespace != "":
			v.add("leave namespace out: a namespace is not in one", append(q, "namespace"), "is %q", pr.Namespace)
		case pr.Resource != ProbeNamespaces && pr.Namespace != "default" && !namespaces[pr.Namespace]:
			v.add("use default or a namespace of the decoys", append(q, "namespace"), "namespace %q does not exist in the lab", pr.Namespace)
		}
		if !slices.Contains(AuditLevels, pr.Level) {
			v.add(fmt.Sprintf("use one of %v", AuditLevels), append(q, "level"), "unknown level %q", pr.Level)
		}
		if strings.TrimSpace(pr.What) == "" {
			v.add("say in a few words what the request stands for", append(q, "what"), "is missing")
		}
	}
}

// probeChecks checks that every probe belongs to a scored check.
func (v *validator) probeChecks(s *Spec) {
	if s.Setup.Audit == nil {
		return
	}
	scored := map[string]bool{}
	for _, c := range s.Checks {
		scored[c.ID] = true
	}
	for i, pr := range s.Setup.Audit.Probes {
		if !scored[pr.Check] {
			v.add("use the id of a scored check in spec.checks", at("spec", "setup", "audit", "probes", i, "check"), "probe %q belongs to %q, which is not a scored check", pr.ID, pr.Check)
		}
	}
}

func (v *validator) seeding(s *Seeding, offenders int) {
	p := at("spec", "setup", "seeding")
	r := s.Decoys
	if r.Min < minSeededDecoys || r.Max < r.Min {
		v.add(fmt.Sprintf("use %d <= min <= max: a seeded lab has an nginx and an httpd decoy on the worker and one on the control plane", minSeededDecoys),
			append(p, "decoys"), "min %d, max %d", r.Min, r.Max)
	}
	seen := map[string]bool{}
	for i, ns := range s.Namespaces {
		v.name(append(p, "namespaces", i), "namespace", ns)
		if seen[ns] {
			v.add("list every namespace once", append(p, "namespaces", i), "duplicate namespace %q", ns)
		}
		seen[ns] = true
	}
	if need := offenders + r.Max; len(s.Namespaces) < need {
		v.add(fmt.Sprintf("list at least %d namespaces (one per offender and per decoy) or lower decoys.max", need),
			append(p, "namespaces"), "has %d namespaces", len(s.Namespaces))
	}
	owner := map[string]Image{}
	for _, img := range []Image{Nginx, Httpd} {
		names := s.Deployments[img]
		// one offender of this image plus every decoy but the one guaranteed of the other image
		if need := r.Max; len(names) < need {
			v.add(fmt.Sprintf("list at least %d %s Deployment names or lower decoys.max", need, img),
				append(p, "deployments", string(img)), "has %d names", len(names))
		}
		for i, n := range names {
			v.name(append(p, "deployments", string(img), i), "Deployment", n)
			if o, dup := owner[n]; dup {
				v.add("list every Deployment name once, under one image", append(p, "deployments", string(img), i),
					"%q is also listed under %s", n, o)
			}
			owner[n] = img
		}
	}
	for img := range s.Deployments {
		if !validImage(img) {
			v.add("use the keys nginx and httpd", append(p, "deployments", string(img)), "unknown image %q", img)
		}
	}
}

func (v *validator) checks(s *Spec, reqs map[string]bool) {
	ids := map[string]bool{}
	proven := map[string]bool{}
	if len(s.Checks) == 0 {
		v.add("add the checks that grade the task", at("spec", "checks"), "is empty")
	}
	for i, c := range s.Checks {
		p := at("spec", "checks", i)
		v.checkID(p, c.ID, ids)
		if strings.TrimSpace(c.Title) == "" {
			v.add("say in a line what the check proves", append(p, "title"), "check %q has no title", c.ID)
		}
		if c.Points <= 0 {
			v.add("give every scored check 1 point or more", append(p, "points"), "check %q has %d points", c.ID, c.Points)
		}
		if len(c.Proves) == 0 {
			v.add("list the requirement ids the check proves (spec.task.requirements)", append(p, "proves"),
				"check %q proves no requirement", c.ID)
		}
		for j, r := range c.Proves {
			if !reqs[r] {
				v.add("use an id of spec.task.requirements", append(p, "proves", j), "check %q proves %q, which is not a requirement", c.ID, r)
			}
			proven[r] = true
		}
	}
	for i, c := range s.Health {
		p := at("spec", "health", i)
		v.checkID(p, c.ID, ids)
		if strings.TrimSpace(c.Title) == "" {
			v.add("say in a line what the health check looks at", append(p, "title"), "health check %q has no title", c.ID)
		}
		if c.Points != 0 || len(c.Proves) > 0 {
			v.add("remove points and proves: health checks are reported apart and never scored", append(p, "points"),
				"health check %q is scored", c.ID)
		}
	}
	for i, r := range s.Task.Requirements {
		if r.ID != "" && !proven[r.ID] {
			v.add(fmt.Sprintf("add %q to the proves list of the check that grades it, or drop the sentence", r.ID),
				at("spec", "task", "requirements", i, "id"), "no check proves requirement %q", r.ID)
		}
	}
}

func (v *validator) checkID(p []any, id string, ids map[string]bool) {
	switch {
	case !reID.MatchString(id):
		v.add("give every check an id of lowercase words joined by '-'", append(p, "id"), "%q is not a valid check id", id)
	case ids[id]:
		v.add("give every check its own id (scored and health checks share one namespace)", append(p, "id"), "duplicate check id %q", id)
	}
	ids[id] = true
}

func (v *validator) hints(h []string) {
	if len(h) < MinHints || len(h) > MaxHints {
		v.add(fmt.Sprintf("write %d to %d hints, from a gentle nudge to nearly the answer", MinHints, MaxHints),
			at("spec", "hints"), "has %d hints", len(h))
	}
	for i, t := range h {
		if strings.TrimSpace(t) == "" {
			v.add("write the hint or remove the entry", at("spec", "hints", i), "hint %d is empty", i+1)
		}
	}
}

func (v *validator) solution(steps []Step) {
	if len(steps) == 0 {
		v.add("write the reference solution as steps ckslab solve runs", at("spec", "solution"), "is empty")
	}
	ids := map[string]bool{}
	for i, st := range steps {
		p := at("spec", "solution", i)
		switch {
		case !reID.MatchString(st.ID):
			v.add("give every step an id of lowercase words joined by '-'", append(p, "id"), "%q is not a valid step id", st.ID)
		case ids[st.ID]:
			v.add("give every step its own id", append(p, "id"), "duplicate step id %q", st.ID)
		}
		ids[st.ID] = true
		if strings.TrimSpace(st.Title) == "" {
			v.add("say in a line what the step does", append(p, "title"), "step %q has no title", st.ID)
		}
		if strings.TrimSpace(st.Run) == "" {
			v.add("give the command line the step runs in the exam terminal", append(p, "run"), "step %q runs nothing", st.ID)
		}
		if strings.TrimSpace(st.Verify) == "" {
			v.add("give the commands that succeed only when the step did its work (and print what they saw otherwise)",
				append(p, "verify"), "step %q has no verify", st.ID)
		}
		for j, n := range st.Needs {
			if n != NeedFalco {
				v.add("use "+NeedFalco, append(p, "needs", j), "step %q needs unknown %q", st.ID, n)
			}
		}
		if st.Timeout < 0 {
			v.add("give a positive duration or leave it out", append(p, "timeout"), "is %s", st.Timeout)
		}
	}
}

// templates renders every text field with the seed-0 names, so a typo like {{.Case1.Namespce}} is reported
// at load time with its field.
func (v *validator) templates(s *Scenario) {
	data, err := defaultData(s)
	if err != nil {
		v.add("fix the setup", at("spec", "setup"), "%v", err)
		return
	}
	for _, f := range textFields(s) {
		if _, err := render(*f.text, data); err != nil {
			v.add("use the fields {{.Context}}, {{.Node}}, {{.ControlPlaneNode}}, {{.Cluster}}; for the Falco task {{.AnswerFile}}, {{.MinSpanSeconds}}, "+
				"{{.FalcoRulesFile}}, {{.Case1.Namespace}}, {{.Case1.Deployment}}, {{.Case1.Container}}, {{.Case1.Rule}} (and Case2); "+
				"for the auditing task {{.Audit.PolicyFile}}, {{.Audit.LogPath}}, {{.Audit.MaxAge}}, {{.Audit.MaxBackup}}", f.at, "%v", err)
		}
	}
}

// textField is one templated text of the file and where it is.
type textField struct {
	at   []any
	text *string
}

// textFields lists every templated text of s with its path, in file order.
func textFields(s *Scenario) []textField {
	sp := &s.Spec
	out := []textField{{at("spec", "task", "intro"), &sp.Task.Intro}}
	for i := range sp.Task.Requirements {
		out = append(out, textField{at("spec", "task", "requirements", i, "text"), &sp.Task.Requirements[i].Text})
	}
	for i := range sp.Checks {
		out = append(out, textField{at("spec", "checks", i, "title"), &sp.Checks[i].Title})
	}
	for i := range sp.Health {
		out = append(out, textField{at("spec", "health", i, "title"), &sp.Health[i].Title})
	}
	for i := range sp.Hints {
		out = append(out, textField{at("spec", "hints", i), &sp.Hints[i]})
	}
	for i := range sp.Solution {
		out = append(out, textField{at("spec", "solution", i, "title"), &sp.Solution[i].Title},
			textField{at("spec", "solution", i, "run"), &sp.Solution[i].Run},
			textField{at("spec", "solution", i, "verify"), &sp.Solution[i].Verify})
	}
	return out
}
