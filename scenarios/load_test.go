package scenarios

import (
	"errors"
	"io/fs"
	"os"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
)

func TestLoadFSRejectsBrokenDefinitions(t *testing.T) {
	// Each folder of testdata is testdata/minimal/scenario.yaml with one thing wrong. want lists substrings of
	// the error, in order: the file, the line, the field, the problem and the fix.
	tests := []struct {
		dir  string
		want []string
	}{
		{"unknown-field", []string{"unknown-field/scenario.yaml", "line 10:", `unknown field "timebudget"`, "fix its spelling"}},
		{"unknown-field-nested", []string{"line 36:", `unknown field "point"`}},
		{"duplicate-key", []string{"line 9:", `mapping key "weight" already defined at line 8`, "keep one of the two keys"}},
		{"bad-yaml", []string{"line 5:", "fix the YAML syntax"}},
		{"bad-duration", []string{"line 14:", "`thirty` into time.Duration", "durations like 30s"}},
		{"wrong-kind", []string{"line 3: kind:", `is "Test"`, "set it to Scenario"}},
		{"folder-mismatch", []string{"line 5: metadata.id:", `"something-else" differs from the folder`, "rename the folder"}},
		{"duplicate-check-id", []string{"line 37: spec.checks[1].id:", `duplicate check id "answer-file"`, "its own id"}},
		{"requirement-without-check", []string{"line 22: spec.task.requirements[2].id:", `no check proves requirement "context"`,
			`add "context" to the proves list`}},
		{"check-without-requirement", []string{"2 problems", "line 20: spec.task.requirements[1].id:", `no check proves requirement "scale"`,
			"line 37: spec.checks[1].proves:", `check "offender-1-scaled" proves no requirement`}},
		{"unknown-requirement", []string{"line 37: spec.checks[1].proves[1]:", `proves "scal", which is not a requirement`}},
		{"zero-points", []string{"line 36: spec.checks[0].points:", `"answer-file" has 0 points`, "1 point or more"}},
		{"pool-too-small", []string{"line 30: spec.setup.seeding.namespaces:", "has 4 namespaces", "at least 5 namespaces"}},
		{"pool-duplicates", []string{"line 30: spec.setup.seeding.namespaces[4]:", `duplicate namespace "ns-a"`,
			"line 33: spec.setup.seeding.deployments.httpd[1]:", `"n-b" is also listed under nginx`}},
		{"pool-bad-names", []string{"line 30: spec.setup.seeding.namespaces[3]:", `namespace "kube-system" belongs to the cluster`,
			"line 32: spec.setup.seeding.deployments.nginx[1]:", `"N_B" is not a valid name`,
			"line 34: spec.setup.seeding.decoys:", "min 2, max 1", "3 <= min <= max"}},
		{"decoy-in-offender-namespace", []string{"spec.setup.decoys[0].namespace:", `"team-blue" is an offender's`}},
		{"no-hints", []string{"spec.hints:", "has 0 hints", "write 3 to 5 hints"}},
		{"step-without-verify", []string{"step-without-verify/scenario.yaml", "line 45: spec.solution[0]", `step "scale" has no verify`,
			"succeed only when the step did its work"}},
		{"template-typo", []string{"line 45: spec.solution[0].run:", "can't evaluate field Deploymnet", "{{.Case1.Deployment}}"}},
	}
	fsys := os.DirFS("testdata")
	for _, tt := range tests {
		t.Run(tt.dir, func(t *testing.T) {
			s, err := LoadFS(fsys, tt.dir+"/"+FileName)
			if err == nil {
				t.Fatalf("loaded %s, want an error", tt.dir)
			}
			if s != nil {
				t.Errorf("got a scenario with the error")
			}
			var se *Error
			if !errors.As(err, &se) {
				t.Fatalf("error %T is not a *scenarios.Error: %v", err, err)
			}
			msg := err.Error()
			rest := msg
			for _, w := range tt.want {
				i := strings.Index(rest, w)
				if i < 0 {
					t.Fatalf("error lacks %q (in order):\n%s", w, msg)
				}
				rest = rest[i+len(w):]
			}
		})
	}
}

func TestLoadFSAcceptsMinimal(t *testing.T) {
	s, err := LoadFS(os.DirFS("testdata"), "minimal/"+FileName)
	if err != nil {
		t.Fatal(err)
	}
	if s.Metadata.ID != "minimal" || s.Source != "minimal/"+FileName {
		t.Errorf("id %q, source %q", s.Metadata.ID, s.Source)
	}
}

func TestLoadFSOtherErrors(t *testing.T) {
	fsys := fstest.MapFS{
		"empty/scenario.yaml": {Data: []byte("# nothing\n")},
		"two/scenario.yaml":   {Data: append(must(os.ReadFile("testdata/minimal/scenario.yaml")), []byte("---\nkind: Scenario\n")...)},
	}
	tests := []struct{ name, want string }{
		{"missing/scenario.yaml", "reading scenario: open missing/scenario.yaml: file does not exist"},
		{"empty/scenario.yaml", "scenario empty/scenario.yaml: the file is empty: start it with apiVersion: ckslab.dev/v1alpha1"},
		{"two/scenario.yaml", "a second YAML document: keep one scenario per file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := LoadFS(fsys, tt.name)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func TestLoadUnknownScenario(t *testing.T) {
	_, err := Load("nope")
	if err == nil || err.Error() != `no scenario "nope": choose one of audit-logging, falco-runtime` {
		t.Fatalf("error %v", err)
	}
}

func TestEmbeddedScenarios(t *testing.T) {
	ids := List()
	if !slices.Equal(ids, []string{"audit-logging", "falco-runtime"}) {
		t.Fatalf("List() = %v", ids)
	}
	for _, id := range ids {
		s, err := Load(id)
		if err != nil {
			t.Fatalf("embedded scenario %s does not validate: %v", id, err)
		}
		if s.Metadata.ID != id {
			t.Errorf("id %q in folder %s", s.Metadata.ID, id)
		}
	}
}

// The Falco scenario's requirement <-> check mapping, spelled out: a change to either side must be deliberate.
func TestFalcoScenarioMapping(t *testing.T) {
	s, err := Load("falco-runtime")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{
		"answer-file":       {"save-alerts"},
		"answer-format":     {"line-format"},
		"answer-case-1":     {"find-nginx", "save-alerts"},
		"answer-span":       {"collect-span"},
		"answer-real":       {"falco-node", "save-alerts"},
		"offender-1-scaled": {"context", "find-nginx", "scale-down"},
		"offender-2-scaled": {"context", "find-httpd", "scale-down"},
		"decoys-untouched":  {"scale-down"},
	}
	var order []string
	proven := map[string]bool{}
	total := 0
	for _, c := range s.Spec.Checks {
		order = append(order, c.ID)
		if !slices.Equal(c.Proves, want[c.ID]) {
			t.Errorf("check %s proves %v, want %v", c.ID, c.Proves, want[c.ID])
		}
		if c.Points <= 0 {
			t.Errorf("check %s has %d points", c.ID, c.Points)
		}
		total += c.Points
		for _, r := range c.Proves {
			proven[r] = true
		}
	}
	if wantOrder := []string{"answer-file", "answer-format", "answer-case-1", "answer-span", "answer-real",
		"offender-1-scaled", "offender-2-scaled", "decoys-untouched"}; !slices.Equal(order, wantOrder) {
		t.Errorf("checks %v, want %v", order, wantOrder)
	}
	if total != 13 {
		t.Errorf("total points %d, want 13", total)
	}
	for _, r := range s.Spec.Task.Requirements {
		if !proven[r.ID] {
			t.Errorf("requirement %s is proven by no check", r.ID)
		}
	}
	var health []string
	for _, c := range s.Spec.Health {
		health = append(health, c.ID)
	}
	if !slices.Equal(health, []string{"node-ready", "falco-running"}) {
		t.Errorf("health checks %v", health)
	}
	if n := len(s.Spec.Hints); n < MinHints || n > MaxHints {
		t.Errorf("%d hints", n)
	}
}

// The task text carries every fact of the exam's task list.
func TestFalcoTaskTextCarriesTheFacts(t *testing.T) {
	s, err := Load("falco-runtime")
	if err != nil {
		t.Fatal(err)
	}
	in, err := s.Instantiate(0)
	if err != nil {
		t.Fatal(err)
	}
	text := in.TaskText()
	for _, fact := range []string{
		"context `workload-prod`",
		"node `cluster1-node1`",
		"`ssh cluster1-node1`",
		"image nginx",
		"package-management processes",
		"image httpd",
		"modifies /etc/passwd",
		"case 1",
		"`/opt/course/2/falco.log`",
		"one alert per line",
		"`time-with-nanoseconds,container-id,container-name,user-name`",
		"nothing else",
		"`06:38:28.077150666,090aad374a0a,nginx,root`",
		"at least 30 seconds",
		"scaling the Deployments",
		"to 0",
	} {
		if !strings.Contains(text, fact) {
			t.Errorf("task text lacks %q:\n%s", fact, text)
		}
	}
	// The task must not give the offenders away.
	for _, secret := range []string{"team-blue", "webapi", "team-purple", "rating-service"} {
		if strings.Contains(text, secret) {
			t.Errorf("task text names %q", secret)
		}
	}
}

// The auditing scenario's setup is checked like the rest: each mistake names its field and line.
func TestAuditSetupMistakes(t *testing.T) {
	file := string(must(fs.ReadFile(FS(), "audit-logging/"+FileName)))
	policy := must(fs.ReadFile(FS(), "audit-logging/basic-policy.yaml"))
	tests := []struct {
		name, old, new string
		noPolicy       bool
		want           []string
	}{
		{name: "basic policy missing", noPolicy: true, want: []string{"spec.setup.audit.basicPolicy:", "basic-policy.yaml is missing or empty"}},
		{name: "probe of pods", old: "resource: serviceaccounts", new: "resource: pods", want: []string{"spec.setup.audit.probes[5].resource:", `unknown resource "pods"`}},
		{name: "probe of no check", old: "check: audit-catch-all", new: "check: audit-nope", want: []string{"spec.setup.audit.probes[5].check:", `belongs to "audit-nope", which is not a scored check`}},
		{name: "probe in no namespace of the lab", old: "namespace: default", new: "namespace: team-nowhere", want: []string{"spec.setup.audit.probes[5].namespace:", `namespace "team-nowhere" does not exist in the lab`}},
		{name: "no retention", old: "maxAge: 10", new: "maxAge: 0", want: []string{"spec.setup.audit.maxAge:", "is 0"}},
		{name: "relative log path", old: "logPath: /var/log/kubernetes/audit-logs.txt", new: "logPath: audit.log", want: []string{"spec.setup.audit.logPath:", `"audit.log" is not usable`}},
		{name: "a level Kubernetes lacks", old: "level: Request\n", new: "level: Body\n", want: []string{"spec.setup.audit.probes[1].level:", `unknown level "Body"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			text := file
			if tt.old != "" {
				if !strings.Contains(text, tt.old) {
					t.Fatalf("the scenario has no %q", tt.old)
				}
				text = strings.Replace(text, tt.old, tt.new, 1)
			}
			fsys := fstest.MapFS{"audit-logging/" + FileName: {Data: []byte(text)}}
			if !tt.noPolicy {
				fsys["audit-logging/basic-policy.yaml"] = &fstest.MapFile{Data: policy}
			}
			_, err := LoadFS(fsys, "audit-logging/"+FileName)
			if err == nil {
				t.Fatal("loaded")
			}
			rest := err.Error()
			for _, w := range tt.want {
				i := strings.Index(rest, w)
				if i < 0 {
					t.Fatalf("error lacks %q (in order):\n%s", w, err)
				}
				rest = rest[i+len(w):]
			}
			if !strings.Contains(err.Error(), "line ") {
				t.Errorf("no line in %v", err)
			}
		})
	}
	// unchanged, it loads, with the policy read
	s, err := LoadFS(fstest.MapFS{"audit-logging/" + FileName: {Data: []byte(file)}, "audit-logging/basic-policy.yaml": {Data: policy}}, "audit-logging/"+FileName)
	if err != nil || string(s.Spec.Setup.Audit.Policy) != string(policy) {
		t.Fatalf("the scenario as it is: %v", err)
	}
	if _, err := s.Instantiate(1); err == nil || !strings.Contains(err.Error(), "one set of names") {
		t.Errorf("seed 1: %v", err)
	}
}
