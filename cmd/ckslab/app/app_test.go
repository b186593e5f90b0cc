package app

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ckslab/ckslab/grader"
	"github.com/ckslab/ckslab/internal/cli"
	"github.com/ckslab/ckslab/internal/lab"
)

var update = flag.Bool("update", false, "rewrite golden files")

type result struct {
	code        int
	out, errOut string
}

func run(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	t.Setenv("NO_COLOR", "")
	var out, errOut bytes.Buffer
	code := Run(cli.IOStreams{In: strings.NewReader(stdin), Out: &out, ErrOut: &errOut}, args)
	return result{code, out.String(), errOut.String()}
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (go test ./cmd/ckslab/app -update creates it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs from the golden file (go test ./cmd/ckslab/app -update rewrites it):\n%s", name, got)
	}
}

func TestHelpGolden(t *testing.T) {
	for name, args := range map[string][]string{
		"help.golden":           {"--help"},
		"help-check-log.golden": {"check-log", "--help"},
	} {
		r := run(t, "", args...)
		if r.code != 0 || r.errOut != "" {
			t.Fatalf("%v: code %d, stderr %q", args, r.code, r.errOut)
		}
		golden(t, name, r.out)
	}
}

func TestLabCommandsAreListed(t *testing.T) {
	help := run(t, "", "--help").out
	for _, name := range []string{"up", "task", "shell", "ssh", "grade", "hint", "solve", "reset", "status", "down"} {
		if !strings.Contains(help, "\n  "+name+" ") {
			t.Errorf("%s is not in --help", name)
		}
	}
}

func TestLabCommandsWithoutALab(t *testing.T) {
	t.Setenv("CKSLAB_CACHE_DIR", t.TempDir())
	for _, args := range [][]string{{"status"}, {"shell"}, {"ssh", "cluster1-node1"}, {"status", "--name", "lab2"}, {"hint"}, {"solve"}, {"reset"}} {
		r := run(t, "", args...)
		if r.code != 1 || !strings.Contains(r.errOut, "no such lab") || !strings.Contains(r.errOut, "ckslab up") {
			t.Errorf("%v: %+v", args, r)
		}
	}
	r := run(t, "", "grade")
	if r.code != 2 || !strings.Contains(r.errOut, "no such lab") {
		t.Errorf("grade without a lab must exit 2: %+v", r)
	}
	r = run(t, "", "up", "--name", "Bad_Name")
	if r.code != 2 || !strings.Contains(r.errOut, "lowercase letters") {
		t.Errorf("bad name: %+v", r)
	}
	r = run(t, "", "up", "--images", "cloud")
	if r.code != 2 || !strings.Contains(r.errOut, "use public or local") {
		t.Errorf("bad image set: %+v", r)
	}
}

func TestVersion(t *testing.T) {
	r := run(t, "", "version")
	if r.code != 0 || !strings.HasPrefix(r.out, "ckslab v") || !strings.Contains(r.out, "go1.") {
		t.Errorf("version: %+v", r)
	}
}

func TestUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"bogus"},
		{"version", "extra"},
		{"check-log"},
		{"check-log", "a", "b", "--container-id", "090aad374a0a"},
		{"check-log", "f.log"},
		{"check-log", "f.log", "--container-id", "nginx"},
		{"check-log", "f.log", "--container-id", "090aad374a0a", "-o", "yaml"},
		{"check-log", "f.log", "--container-id", "090aad374a0a", "--min-span", "0s"},
		{"check-log", "f.log", "--container-id", "090aad374a0a", "--max-size", "lots"},
		{"check-log", "f.log", "--container-id", "090aad374a0a", "--nope"},
	} {
		r := run(t, "", args...)
		if r.code != 2 || !strings.HasPrefix(r.errOut, "ERROR: ") || strings.Count(r.errOut, "\n") != 1 || r.out != "" {
			t.Errorf("%v: code %d, stdout %q, stderr %q", args, r.code, r.out, r.errOut)
		}
		if strings.Contains(r.errOut, "goroutine") || strings.Contains(r.errOut, "panic") {
			t.Errorf("%v: stack trace in %q", args, r.errOut)
		}
	}
}

const (
	goodLog = "06:38:28.077150666,090aad374a0a,nginx,root\n06:38:43.077150666,090aad374a0a,nginx,root\n06:38:58.077150666,090aad374a0a,nginx,root\n"
	badLog  = "06:38:28.077150666: Error 06:38:28.077150666,090aad374a0a,nginx,root\n06:38:43.077150666,090aad374a0a,nginx,root\n"
)

func writeLog(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "falco.log")
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestCheckLogExitCodes(t *testing.T) {
	good, bad := writeLog(t, goodLog), writeLog(t, badLog)
	missing := filepath.Join(t.TempDir(), "falco.log")
	for _, tt := range []struct {
		name  string
		args  []string
		code  int
		wants []string
	}{
		{"pass", []string{good, "--container-id", "090aad374a0a", "--container-name", "nginx"}, 0, []string{"Score 6/6", "All checks pass"}},
		{"fail", []string{bad, "--container-id", "090aad374a0a"}, 1, []string{"FAIL", "line 1:", `prefix "06:38:28.077150666: Error"`, "fix:"}},
		{"wrong container", []string{good, "--container-id", "7a5ea6a080d1"}, 1, []string{"not the offending container"}},
		{"missing", []string{missing, "--container-id", "090aad374a0a"}, 2, []string{"does not exist"}},
		{"short span", []string{good, "--container-id", "090aad374a0a", "--min-span", "45s"}, 1, []string{"spans 30s"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := run(t, "", append([]string{"check-log"}, tt.args...)...)
			if r.code != tt.code {
				t.Fatalf("code %d, want %d\n%s%s", r.code, tt.code, r.out, r.errOut)
			}
			for _, w := range tt.wants {
				if !strings.Contains(r.out, w) {
					t.Errorf("%q not in output:\n%s", w, r.out)
				}
			}
			if strings.Contains(r.out, "\x1b[") {
				t.Error("colour escapes in output to a non-terminal")
			}
		})
	}
}

func TestCheckLogStdin(t *testing.T) {
	r := run(t, goodLog, "check-log", "-", "--container-id", "090aad374a0a")
	if r.code != 0 || !strings.Contains(r.out, "check-log: standard input") {
		t.Errorf("%+v", r)
	}
}

func TestCheckLogJSONAndJUnit(t *testing.T) {
	bad := writeLog(t, badLog)
	r := run(t, "", "check-log", bad, "--container-id", "090aad374a0a", "-o", "json")
	var doc struct {
		Schema  int `json:"schema"`
		Summary struct {
			ExitCode int `json:"exit_code"`
			Failed   int `json:"failed"`
		} `json:"summary"`
		Results []struct {
			ID       string `json:"id"`
			Status   string `json:"status"`
			Findings []struct {
				Line int `json:"line"`
			} `json:"findings"`
		} `json:"results"`
	}
	if err := json.Unmarshal([]byte(r.out), &doc); err != nil {
		t.Fatalf("JSON: %v\n%s", err, r.out)
	}
	if r.code != 1 || doc.Schema != 2 || doc.Summary.ExitCode != 1 || doc.Results[1].ID != "answer-format" ||
		doc.Results[1].Status != "fail" || doc.Results[1].Findings[0].Line != 1 {
		t.Errorf("code %d, doc %+v", r.code, doc)
	}
	r = run(t, "", "check-log", bad, "--container-id", "090aad374a0a", "-o", "junit")
	var suites struct {
		Failures int `xml:"failures,attr"`
	}
	if err := xml.Unmarshal([]byte(r.out), &suites); err != nil || suites.Failures != 2 || r.code != 1 {
		t.Errorf("junit: code %d, failures %d, err %v\n%s", r.code, suites.Failures, err, r.out)
	}
}

func TestCompletion(t *testing.T) {
	for _, shell := range []string{"bash", "zsh", "fish", "powershell"} {
		r := run(t, "", "completion", shell)
		if r.code != 0 || !strings.Contains(r.out, "ckslab") {
			t.Errorf("completion %s: code %d", shell, r.code)
		}
	}
	r := run(t, "", "__complete", "check-log", "f.log", "-o", "")
	for _, f := range []string{"text\n", "json\n", "junit\n"} {
		if !strings.Contains(r.out, f) {
			t.Errorf("-o completion lacks %q: %q", f, r.out)
		}
	}
	r = run(t, "", "__complete", "ch")
	if !strings.Contains(r.out, "check-log") {
		t.Errorf("command completion: %q", r.out)
	}
}

func TestEngineStopLeavesOthersAlone(t *testing.T) {
	// With an empty cache, ckslab started nothing: stop must not touch any engine.
	t.Setenv("CKSLAB_CACHE_DIR", t.TempDir())
	r := run(t, "", "engine", "stop")
	if r.code != 0 || !strings.Contains(r.out, "nothing to stop") {
		t.Errorf("%+v", r)
	}
}

func TestGradeHistory(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("CKSLAB_CACHE_DIR", dir)
	s := &lab.State{Schema: lab.StateSchema, Name: "cluster1"}
	if err := s.Save(dir); err != nil {
		t.Fatal(err)
	}
	if r := run(t, "", "grade", "--history"); r.code != 0 || !strings.Contains(r.out, "No grades yet") {
		t.Errorf("no grades: %+v", r)
	}
	for _, st := range []grader.Status{grader.Fail, grader.Pass} {
		rep := &grader.Report{Name: "falco-runtime", GradedAt: time.Date(2025, 6, 1, 10, 14, 3, 0, time.UTC),
			Task:    &grader.TaskTime{Elapsed: 5 * time.Minute, Budget: 12 * time.Minute},
			Results: []grader.Result{{ID: "x", Points: 2, Status: st}}}
		if _, err := lab.SaveAttempt(dir, "cluster1", rep); err != nil {
			t.Fatal(err)
		}
	}
	r := run(t, "", "grade", "--history")
	lines := strings.Split(strings.TrimSpace(r.out), "\n")
	if r.code != 0 || len(lines) != 3 || !strings.HasPrefix(lines[1], "1 ") || !strings.Contains(lines[1], "0/2") ||
		!strings.HasPrefix(lines[2], "2 ") || !strings.Contains(lines[2], "2/2") || !strings.Contains(lines[2], "5m of 12m") {
		t.Errorf("history: %+v", r)
	}
	if r := run(t, "", "grade", "--history", "--name", "lab2"); r.code != 2 || !strings.Contains(r.errOut, "no such lab") {
		t.Errorf("history of no lab: %+v", r)
	}
	if r := run(t, "", "grade", "--history", "--reveal"); r.code == 0 || !strings.Contains(r.errOut, "history") {
		t.Errorf("--history with --reveal: %+v", r)
	}
}

func TestScenarios(t *testing.T) {
	r := run(t, "", "scenarios")
	if r.code != 0 {
		t.Fatalf("scenarios: %+v", r)
	}
	for _, want := range []string{"falco-runtime (default)", "Runtime security with Falco", "audit-logging", "API server auditing", "15m", "cluster2", "ckslab up --scenario ID"} {
		if !strings.Contains(r.out, want) {
			t.Errorf("scenarios does not say %q:\n%s", want, r.out)
		}
	}
}

func TestTaskOfEachScenarioWithoutALab(t *testing.T) {
	t.Setenv("CKSLAB_CACHE_DIR", t.TempDir())
	r := run(t, "", "task", "--scenario", "audit-logging")
	if r.code != 0 || !strings.Contains(r.out, "ssh cluster2-controlplane1") || !strings.Contains(r.out, "/var/log/kubernetes/audit-logs.txt") ||
		!strings.Contains(r.out, "create it with ckslab up --scenario audit-logging.") {
		t.Errorf("task --scenario audit-logging: %+v", r)
	}
	r = run(t, "", "task")
	if r.code != 0 || !strings.Contains(r.out, "cluster1-node1") || !strings.Contains(r.out, "create it with ckslab up.") {
		t.Errorf("task: %+v", r)
	}
	for _, args := range [][]string{{"task", "--scenario", "nope"}, {"up", "--scenario", "nope"}} {
		r = run(t, "", args...)
		if r.code != 2 || !strings.Contains(r.errOut, `there is no scenario "nope": choose one of audit-logging, falco-runtime`) {
			t.Errorf("%v: %+v", args, r)
		}
	}
	r = run(t, "", "task", "--scenario", "audit-logging", "--seed", "3")
	if r.code != 1 || !strings.Contains(r.errOut, "one set of names") {
		t.Errorf("a seed for the auditing scenario: %+v", r)
	}
}

// Without --name, a command works on the only lab there is; with several, on cluster1.
func TestCommandsTakeTheOnlyLab(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("CKSLAB_CACHE_DIR", dir)
	s := &lab.State{Schema: lab.StateSchema, Name: "cluster2", Scenario: "audit-logging", ReadyAt: time.Now()}
	if err := s.Save(dir); err != nil {
		t.Fatal(err)
	}
	r := run(t, "", "hint")
	if r.code != 0 || !strings.Contains(r.out, "static Pod manifest") {
		t.Fatalf("hint on the only lab, cluster2: %+v", r)
	}
	r = run(t, "", "task")
	if r.code != 0 || !strings.Contains(r.out, "API server auditing") || strings.Contains(r.out, "There is no lab") {
		t.Errorf("task on the only lab, cluster2: %+v", r)
	}
	other := &lab.State{Schema: lab.StateSchema, Name: "lab3", Scenario: lab.ScenarioID, ReadyAt: time.Now()}
	if err := other.Save(dir); err != nil {
		t.Fatal(err)
	}
	r = run(t, "", "hint")
	if r.code != 2 || !strings.Contains(r.errOut, "there are 2 labs (cluster2, lab3) and none is cluster1: choose one with --name") {
		t.Errorf("hint with two labs and no cluster1: %+v", r)
	}
	r = run(t, "", "hint", "--name", "cluster2")
	if r.code != 0 || !strings.Contains(r.out, "--audit-") {
		t.Errorf("hint --name cluster2: %+v", r)
	}
}
