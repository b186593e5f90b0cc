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
	var b bytes.Buffer
	if err := Render(&b, sampleReport(), f, opts); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
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
