package grader

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
)

var update = flag.Bool("update", false, "rewrite golden files")

func sampleReport() *Report {
	return &Report{
		Tool: "ckslab", Version: "v0.1.0-test", Name: "check-log", Subject: "/opt/course/2/falco.log",
		Results: []Result{
			{ID: "answer-file", Title: "The answer file is a readable text file", Points: 1, Status: Pass,
				Message: "/opt/course/2/falco.log: 14 lines, 588 bytes.", Duration: 120 * time.Microsecond},
			{ID: "answer-format", Title: "Every line is time,container-id,container-name,user-name", Points: 2, Status: Fail,
				Message:  "2 of 14 lines are not in the expected format.",
				Expected: "HH:MM:SS.nnnnnnnnn,<12 hex>,<name>,<user>", Actual: "2 malformed lines",
				Remediation: "Save only the four fields, e.g. with Falco's output set to %evt.time,%container.id,%container.name,%user.name.",
				Findings: []Finding{
					{Line: 1, Text: `"time,container-id,container-name,user-name"`, Problem: "a header line; the file holds alert lines only", Remediation: "delete this line"},
					{Line: 5, Text: `"06:38:28.077150666: Error 06:38:28.077150666,090aad374a0a,nginx,root"`, Problem: "Falco's prefix is still in the line"},
				},
				OmittedFindings: 3, Duration: 2 * time.Millisecond},
			{ID: "answer-case-1", Title: "Every line is an alert of the nginx offender", Points: 2, Status: Warn,
				Message: "12 lines, all of container 090aad374a0a (nginx, root).", Duration: time.Millisecond},
			{ID: "answer-span", Title: "The capture spans at least 30s", Points: 1, Status: Skip,
				Message: "Skipped: no well-formed lines to measure.", Duration: 0},
			{ID: "answer-real", Title: "Every line matches an alert Falco recorded", Points: 1, Status: Error,
				Message: "Could not read the node's syslog: <x & y>.", Remediation: "Check that the lab is up: ckslab status."},
		},
		Health: []Result{
			{ID: "falco-running", Title: "Falco runs on cluster1-node1", Status: Pass, Message: "falco-modern-bpf.service is active."},
		},
	}
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./grader -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from golden file (go test ./grader -update rewrites it):\n--- got\n%s\n--- want\n%s", name, got, want)
	}
}

func render(t *testing.T, f Format, opts RenderOptions) []byte {
	t.Helper()
	return renderReport(t, sampleReport(), f, opts)
}

func renderReport(t *testing.T, r *Report, f Format, opts RenderOptions) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := Render(&b, r, f, opts); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// labReport is a lab's grade: withheld, the third attempt, past the time budget.
func labReport() *Report {
	r := sampleReport()
	r.Name, r.Subject = "falco-runtime", "lab cluster1"
	r.Results = append(r.Results, Result{ID: "offender-1-scaled", Title: "Case 1's Deployment is scaled to 0 and its Pods are gone", Points: 2, Status: Fail,
		Message:     "Case 1's Deployment still runs 1 replica (expected 0); its Pods: 1 Running.",
		Remediation: "Find the Pod running image nginx whose container keeps launching package-management processes. Stuck? `ckslab hint`."})
	r.Disclosure = Disclosure{Withheld: true}
	r.Attempt = 3
	r.GradedAt = time.Date(2025, 6, 1, 10, 14, 3, 0, time.UTC)
	r.Task = &TaskTime{StartedAt: time.Date(2025, 6, 1, 10, 0, 0, 0, time.UTC), Elapsed: 14*time.Minute + 3*time.Second, Budget: 12 * time.Minute}
	return r
}

func TestRenderLabReportGolden(t *testing.T) {
	golden(t, "report-lab.txt", renderReport(t, labReport(), Text, RenderOptions{}))
	out := renderReport(t, labReport(), JSON, RenderOptions{})
	var doc struct {
		Schema   int    `json:"schema"`
		Withheld bool   `json:"withheld"`
		Attempt  int    `json:"attempt"`
		GradedAt string `json:"graded_at"`
		Task     struct {
			ElapsedS float64 `json:"elapsed_s"`
			BudgetS  float64 `json:"budget_s"`
		} `json:"task"`
	}
	if err := json.Unmarshal(out, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Schema != 2 || !doc.Withheld || doc.Attempt != 3 || doc.GradedAt != "2025-06-01T10:14:03Z" || doc.Task.ElapsedS != 843 || doc.Task.BudgetS != 720 {
		t.Errorf("lab report JSON: %+v", doc)
	}
	golden(t, "report-lab.json", out)
	golden(t, "report-lab.xml", renderReport(t, labReport(), JUnit, RenderOptions{}))

	revealed := labReport()
	revealed.Disclosure = Disclosure{Reason: "ckslab solve was run"}
	text := string(renderReport(t, revealed, Text, RenderOptions{}))
	if !strings.Contains(text, "Names and ids are shown: ckslab solve was run.") || strings.Contains(text, "withheld") {
		t.Errorf("revealed report:\n%s", text)
	}
	var rev map[string]any
	if err := json.Unmarshal(renderReport(t, revealed, JSON, RenderOptions{}), &rev); err != nil {
		t.Fatal(err)
	}
	if rev["withheld"] != false || rev["revealed_because"] != "ckslab solve was run" {
		t.Errorf("revealed JSON: withheld %v, revealed_because %v", rev["withheld"], rev["revealed_because"])
	}
	// another scenario names what it withholds
	flags := labReport()
	flags.Disclosure = Disclosure{Withheld: true, What: "The flags the task needs", LabFlag: " --name cluster2"}
	if text := string(renderReport(t, flags, Text, RenderOptions{})); !strings.Contains(text, "The flags the task needs are withheld, except those your work shows. Stuck? ckslab hint --name cluster2.") ||
		strings.Contains(text, "names and ids") {
		t.Errorf("withheld flags:\n%s", text)
	}
	flags.Disclosure = Disclosure{What: "The flags the task needs", Reason: "the last hint was shown"}
	if text := string(renderReport(t, flags, Text, RenderOptions{})); !strings.Contains(text, "The flags the task needs are shown: the last hint was shown.") {
		t.Errorf("shown flags:\n%s", text)
	}
}

func TestTaskTimeString(t *testing.T) {
	for _, tt := range []struct {
		elapsed, budget time.Duration
		want            string
	}{
		{7*time.Minute + 12*time.Second + 400*time.Millisecond, 12 * time.Minute, "7m12s of 12m"},
		{12 * time.Minute, 12 * time.Minute, "12m of 12m"},
		{14*time.Minute + 3*time.Second, 12 * time.Minute, "14m3s of 12m (2m3s over)"},
		{time.Hour + 5*time.Minute, 12 * time.Minute, "1h5m of 12m (53m over)"},
	} {
		if got := (TaskTime{Elapsed: tt.elapsed, Budget: tt.budget}).String(); got != tt.want {
			t.Errorf("%s of %s: %q, want %q", tt.elapsed, tt.budget, got, tt.want)
		}
	}
}

func TestRenderTextGolden(t *testing.T) {
	out := render(t, Text, RenderOptions{})
	if bytes.Contains(out, []byte("\x1b[")) {
		t.Error("plain text output contains ANSI escapes")
	}
	golden(t, "report.txt", out)
}

func TestRenderTextColorGolden(t *testing.T) {
	out := render(t, Text, RenderOptions{Color: true})
	if !bytes.Contains(out, []byte(ansiRed+"FAIL ")) {
		t.Error("coloured output has no red FAIL")
	}
	golden(t, "report-color.txt", out)
}

func TestRenderJSONGolden(t *testing.T) {
	out := render(t, JSON, RenderOptions{})
	var doc map[string]any
	if err := json.Unmarshal(out, &doc); err != nil {
		t.Fatalf("invalid JSON: %v", err)
	}
	sum := doc["summary"].(map[string]any)
	if sum["exit_code"] != float64(ExitCannotGrade) || sum["score"] != float64(3) || sum["max_score"] != float64(7) {
		t.Errorf("summary = %v", sum)
	}
	golden(t, "report.json", out)
}

func TestRenderJUnitGolden(t *testing.T) {
	out := render(t, JUnit, RenderOptions{})
	var doc junitTestSuites
	if err := xml.Unmarshal(out, &doc); err != nil {
		t.Fatalf("invalid XML: %v", err)
	}
	if doc.Tests != 6 || doc.Failures != 1 || doc.Errors != 1 || doc.Skipped != 1 || len(doc.Suites) != 2 {
		t.Errorf("counts: tests=%d failures=%d errors=%d skipped=%d suites=%d", doc.Tests, doc.Failures, doc.Errors, doc.Skipped, len(doc.Suites))
	}
	golden(t, "report.xml", out)
}

func TestRenderJUnitEscapesControlCharacters(t *testing.T) {
	r := &Report{Tool: "ckslab", Name: "check-log", Subject: "f", Results: []Result{
		{ID: "x", Title: "t", Points: 1, Status: Fail, Message: "bad \x00\x1b byte \xff here"},
	}}
	var b bytes.Buffer
	if err := Render(&b, r, JUnit, RenderOptions{}); err != nil {
		t.Fatal(err)
	}
	var doc junitTestSuites
	if err := xml.Unmarshal(b.Bytes(), &doc); err != nil {
		t.Fatalf("XML with control characters in a message does not parse: %v\n%s", err, b.String())
	}
}

func TestSummaryExitCodes(t *testing.T) {
	for _, tt := range []struct {
		statuses []Status
		want     int
	}{
		{[]Status{Pass, Warn, Pass}, ExitPass},
		{[]Status{Pass, Fail, Skip}, ExitFail},
		{[]Status{Fail, Error}, ExitCannotGrade},
		{[]Status{Skip}, ExitPass},
	} {
		r := &Report{}
		for _, s := range tt.statuses {
			r.Results = append(r.Results, Result{Status: s, Points: 1})
		}
		r.Health = []Result{{Status: Fail}}
		if got := r.Summary().ExitCode; got != tt.want {
			t.Errorf("%v: exit code %d, want %d (health must not count)", tt.statuses, got, tt.want)
		}
	}
}

func TestParseFormat(t *testing.T) {
	for _, f := range Formats {
		if _, err := ParseFormat(f); err != nil {
			t.Errorf("ParseFormat(%q): %v", f, err)
		}
	}
	if _, err := ParseFormat("yaml"); err == nil || !strings.Contains(err.Error(), "text, json, junit") {
		t.Errorf("ParseFormat(yaml) = %v", err)
	}
}

// A grade made while another command changed the lab says so in each format; one made without does not.
func TestRenderGradedDuring(t *testing.T) {
	during := labReport()
	during.During = "ckslab reset (pid 4242) was re-arming the lab"
	text := string(renderReport(t, during, Text, RenderOptions{}))
	if !strings.Contains(text, "Graded while ckslab reset (pid 4242) was re-arming the lab: the lab may have been half changed; grade again when it is done.") {
		t.Errorf("text report does not say it graded during a reset:\n%s", text)
	}
	var doc map[string]any
	if err := json.Unmarshal(renderReport(t, during, JSON, RenderOptions{}), &doc); err != nil {
		t.Fatal(err)
	}
	if doc["graded_during"] != during.During {
		t.Errorf("JSON graded_during = %v, want %q", doc["graded_during"], during.During)
	}
	if xml := string(renderReport(t, during, JUnit, RenderOptions{})); !strings.Contains(xml, `<property name="graded_during" value="ckslab reset (pid 4242) was re-arming the lab">`) {
		t.Errorf("JUnit report has no graded_during property:\n%s", xml)
	}
	for _, f := range []Format{Text, JSON, JUnit} {
		if out := string(renderReport(t, labReport(), f, RenderOptions{})); strings.Contains(out, "Graded while") || strings.Contains(out, "graded_during") {
			t.Errorf("%s report of a grade with no command running mentions one:\n%s", f, out)
		}
	}
}
