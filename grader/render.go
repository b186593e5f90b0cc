package grader

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"strings"
	"time"
)

// Format is a report format.
type Format string

// The report formats.
const (
	Text  Format = "text"
	JSON  Format = "json"
	JUnit Format = "junit"
)

// Formats lists the report formats, for help text and completion.
var Formats = []string{string(Text), string(JSON), string(JUnit)}

// ParseFormat checks a format name given by a user.
func ParseFormat(s string) (Format, error) {
	for _, f := range Formats {
		if s == f {
			return Format(s), nil
		}
	}
	return "", fmt.Errorf("unknown output format %q: use one of %s", s, strings.Join(Formats, ", "))
}

// RenderOptions tune rendering.
type RenderOptions struct {
	// Color adds ANSI colours to the text format. The caller decides: only
	// on a terminal, never with NO_COLOR.
	Color bool
}

// Render writes the report in the given format.
func Render(w io.Writer, r *Report, f Format, opts RenderOptions) error {
	switch f {
	case Text:
		return renderText(w, r, opts)
	case JSON:
		return renderJSON(w, r)
	case JUnit:
		return renderJUnit(w, r)
	}
	return fmt.Errorf("unknown output format %q", f)
}

// JSON: the schema is documented in README.md ("Report formats"). Field names
// are stable; new fields may be added, none renamed or removed, and no field's
// meaning changed, without a new schema number.

// JSONSchema is the version of the JSON report layout. Schema 2: a lab's
// report withholds the identifiers the task asks the learner to find from
// message, expected, actual and findings unless "withheld" is false; it adds
// withheld, revealed_because, attempt, graded_at, graded_during and task.
const JSONSchema = 2

type jsonReport struct {
	Schema          int          `json:"schema"`
	Tool            string       `json:"tool"`
	Version         string       `json:"version"`
	Name            string       `json:"name"`
	Subject         string       `json:"subject"`
	Withheld        bool         `json:"withheld"`
	RevealedBecause string       `json:"revealed_because,omitempty"`
	Attempt         int          `json:"attempt,omitempty"`
	GradedAt        time.Time    `json:"graded_at,omitzero"`
	GradedDuring    string       `json:"graded_during,omitempty"`
	Task            *jsonTask    `json:"task,omitempty"`
	Summary         Summary      `json:"summary"`
	Results         []jsonResult `json:"results"`
	Health          []jsonResult `json:"health,omitempty"`
}

type jsonTask struct {
	StartedAt time.Time `json:"started_at"`
	ElapsedS  float64   `json:"elapsed_s"`
	BudgetS   float64   `json:"budget_s"`
}

type jsonResult struct {
	Result
	Awarded    int     `json:"awarded"`
	DurationMS float64 `json:"duration_ms"`
}

func toJSONResults(rs []Result) []jsonResult {
	out := make([]jsonResult, 0, len(rs))
	for _, r := range rs {
		out = append(out, jsonResult{Result: r, Awarded: r.Awarded(), DurationMS: ms(r.Duration)})
	}
	return out
}

func ms(d time.Duration) float64 {
	return float64(d.Microseconds()) / 1000
}

func renderJSON(w io.Writer, r *Report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	doc := jsonReport{
		Schema: JSONSchema, Tool: r.Tool, Version: r.Version, Name: r.Name, Subject: r.Subject,
		Withheld: r.Disclosure.Withheld, RevealedBecause: r.Disclosure.Reason, Attempt: r.Attempt, GradedAt: r.GradedAt, GradedDuring: r.During,
		Summary: r.Summary(), Results: toJSONResults(r.Results), Health: toJSONResults(r.Health),
	}
	if t := r.Task; t != nil {
		doc.Task = &jsonTask{StartedAt: t.StartedAt, ElapsedS: t.Elapsed.Round(time.Second).Seconds(), BudgetS: t.Budget.Seconds()}
	}
	return enc.Encode(doc)
}

// Text.

const (
	ansiReset  = "\x1b[0m"
	ansiBold   = "\x1b[1m"
	ansiDim    = "\x1b[2m"
	ansiRed    = "\x1b[31m"
	ansiGreen  = "\x1b[32m"
	ansiYellow = "\x1b[33m"
	ansiBlue   = "\x1b[34m"
	ansiMag    = "\x1b[35m"
)

var statusColor = map[Status]string{Pass: ansiGreen, Fail: ansiRed, Warn: ansiYellow, Skip: ansiBlue, Error: ansiMag}

type textWriter struct {
	w     io.Writer
	color bool
	err   error
}

func (t *textWriter) printf(format string, args ...any) {
	if t.err == nil {
		_, t.err = fmt.Fprintf(t.w, format, args...)
	}
}

func (t *textWriter) paint(code, s string) string {
	if !t.color || code == "" {
		return s
	}
	return code + s + ansiReset
}

const indent = "       "

func renderText(w io.Writer, r *Report, opts RenderOptions) error {
	t := &textWriter{w: w, color: opts.Color}
	t.printf("%s\n\n", t.paint(ansiBold, r.Name+": "+r.Subject))
	idWidth := 0
	for _, res := range append(append([]Result{}, r.Results...), r.Health...) {
		idWidth = max(idWidth, len(res.ID))
	}
	for _, res := range r.Results {
		t.result(res, idWidth, true)
	}
	if len(r.Health) > 0 {
		t.printf("\n%s\n", t.paint(ansiBold, "Environment (not scored):"))
		for _, res := range r.Health {
			t.result(res, idWidth, false)
		}
	}
	t.printf("\n%s %s\n", summaryLine(r, t.paint(ansiBold, "Score")), verdict(r.Summary().ExitCode))
	var about []string
	if r.Attempt > 0 {
		about = append(about, fmt.Sprintf("Attempt %d", r.Attempt))
	}
	if r.Task != nil {
		about = append(about, "time spent "+r.Task.String())
	}
	if len(about) > 0 {
		t.printf("%s.\n", strings.Join(about, ", "))
	}
	if r.During != "" {
		t.printf("%s\n", t.paint(ansiYellow, "Graded while "+r.During+": the lab may have been half changed; grade again when it is done."))
	}
	switch {
	case r.Disclosure.Withheld:
		t.printf("%s\n", t.paint(ansiDim, fmt.Sprintf("%s are withheld, except those your work shows. "+
			"Stuck? ckslab hint%s. The answer: ckslab grade%s --reveal.", r.Disclosure.what(), r.Disclosure.LabFlag, r.Disclosure.LabFlag)))
	case r.Disclosure.Reason != "" && r.Disclosure.What != "":
		t.printf("%s\n", t.paint(ansiDim, r.Disclosure.What+" are shown: "+r.Disclosure.Reason+"."))
	case r.Disclosure.Reason != "":
		t.printf("%s\n", t.paint(ansiDim, "Names and ids are shown: "+r.Disclosure.Reason+"."))
	}
	return t.err
}

// SummaryLine is the text report's score, without its verdict: "Score 11/13 (5 passed, 1 failed).".
func SummaryLine(r *Report) string { return summaryLine(r, "Score") }

func summaryLine(r *Report, score string) string {
	s := r.Summary()
	var parts []string
	for _, c := range []struct {
		n    int
		word string
	}{{s.Passed, "passed"}, {s.Warned, "passed with a warning"}, {s.Failed, "failed"}, {s.Skipped, "skipped"}, {s.Errored, "could not be graded"}} {
		if c.n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", c.n, c.word))
		}
	}
	return fmt.Sprintf("%s %d/%d (%s).", score, s.Score, s.MaxScore, strings.Join(parts, ", "))
}

func verdict(exitCode int) string {
	switch exitCode {
	case ExitFail:
		return "Not done yet: fix the failing checks above."
	case ExitCannotGrade:
		return "Could not grade everything: see the errors above."
	}
	return "All checks pass."
}

func (t *textWriter) result(res Result, idWidth int, scored bool) {
	label := fmt.Sprintf("%-5s", strings.ToUpper(string(res.Status)))
	points := ""
	if scored {
		points = fmt.Sprintf("  %d/%d", res.Awarded(), res.Points)
	}
	t.printf(" %s  %-*s  %s%s\n", t.paint(statusColor[res.Status], label), idWidth, res.ID, res.Title, points)
	t.body(res, indent)
}

// body prints a result's message and, unless it passed, its findings,
// comparison and fix, each line starting with indent.
func (t *textWriter) body(res Result, indent string) {
	if res.Message != "" {
		t.printf("%s%s\n", indent, res.Message)
	}
	if res.Status == Pass {
		return
	}
	for _, f := range res.Findings {
		where := ""
		if f.Line > 0 {
			where = fmt.Sprintf("line %d: ", f.Line)
		}
		if f.Text != "" {
			t.printf("%s%s%s\n%s  %s\n", indent, where, f.Text, indent, f.Problem)
		} else {
			t.printf("%s%s%s\n", indent, where, f.Problem)
		}
		if f.Remediation != "" {
			t.printf("%s  %s %s\n", indent, t.paint(ansiDim, "fix:"), f.Remediation)
		}
	}
	if res.OmittedFindings > 0 {
		t.printf("%s… and %d more like these\n", indent, res.OmittedFindings)
	}
	if res.Expected != "" || res.Actual != "" {
		t.printf("%sexpected: %s\n%sactual:   %s\n", indent, res.Expected, indent, res.Actual)
	}
	if res.Remediation != "" {
		t.printf("%s%s %s\n", indent, t.paint(ansiBold, "fix:"), res.Remediation)
	}
}

// JUnit XML, in the layout common CI reporters read (Jenkins, GitLab,
// GitHub test reporters): testsuites > testsuite > testcase with failure,
// error or skipped children.

type junitTestSuites struct {
	XMLName  xml.Name         `xml:"testsuites"`
	Name     string           `xml:"name,attr"`
	Tests    int              `xml:"tests,attr"`
	Failures int              `xml:"failures,attr"`
	Errors   int              `xml:"errors,attr"`
	Skipped  int              `xml:"skipped,attr"`
	Time     string           `xml:"time,attr"`
	Suites   []junitTestSuite `xml:"testsuite"`
}

type junitTestSuite struct {
	Name       string           `xml:"name,attr"`
	Tests      int              `xml:"tests,attr"`
	Failures   int              `xml:"failures,attr"`
	Errors     int              `xml:"errors,attr"`
	Skipped    int              `xml:"skipped,attr"`
	Time       string           `xml:"time,attr"`
	Properties *junitProperties `xml:"properties,omitempty"`
	Cases      []junitTestCase  `xml:"testcase"`
}

type junitProperties struct {
	Property []junitProperty `xml:"property"`
}

type junitProperty struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

type junitTestCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Time      string        `xml:"time,attr"`
	Failure   *junitMessage `xml:"failure,omitempty"`
	Error     *junitMessage `xml:"error,omitempty"`
	Skipped   *junitMessage `xml:"skipped,omitempty"`
	SystemOut string        `xml:"system-out,omitempty"`
}

type junitMessage struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr,omitempty"`
	Body    string `xml:",chardata"`
}

func seconds(d time.Duration) string {
	return fmt.Sprintf("%.3f", d.Seconds())
}

func junitSuite(name, classname string, rs []Result) junitTestSuite {
	s := junitTestSuite{Name: name, Tests: len(rs)}
	var total time.Duration
	for _, r := range rs {
		total += r.Duration
		tc := junitTestCase{Name: r.ID + ": " + r.Title, Classname: classname, Time: seconds(r.Duration)}
		detail := detailText(r)
		switch r.Status {
		case Fail:
			s.Failures++
			tc.Failure = &junitMessage{Message: r.Message, Type: string(r.Status), Body: detail}
		case Error:
			s.Errors++
			tc.Error = &junitMessage{Message: r.Message, Type: string(r.Status), Body: detail}
		case Skip:
			s.Skipped++
			tc.Skipped = &junitMessage{Message: r.Message}
		case Warn:
			tc.SystemOut = "warning: " + detail
		}
		s.Cases = append(s.Cases, tc)
	}
	s.Time = seconds(total)
	return s
}

// detailText is the plain-text body of a result: message, findings, fix.
func detailText(r Result) string {
	var b strings.Builder
	(&textWriter{w: &b}).body(r, "")
	return b.String()
}

func renderJUnit(w io.Writer, r *Report) error {
	sum := r.Summary()
	classname := "ckslab." + r.Name
	main := junitSuite(r.Name+": "+r.Subject, classname, r.Results)
	main.Properties = &junitProperties{Property: []junitProperty{
		{Name: "score", Value: fmt.Sprintf("%d/%d", sum.Score, sum.MaxScore)},
		{Name: "version", Value: r.Version},
		{Name: "withheld", Value: fmt.Sprint(r.Disclosure.Withheld)},
	}}
	if r.Disclosure.Reason != "" {
		main.Properties.Property = append(main.Properties.Property, junitProperty{Name: "revealed_because", Value: r.Disclosure.Reason})
	}
	if r.Attempt > 0 {
		main.Properties.Property = append(main.Properties.Property, junitProperty{Name: "attempt", Value: fmt.Sprint(r.Attempt)})
	}
	if r.During != "" {
		main.Properties.Property = append(main.Properties.Property, junitProperty{Name: "graded_during", Value: r.During})
	}
	if r.Task != nil {
		main.Properties.Property = append(main.Properties.Property,
			junitProperty{Name: "elapsed", Value: r.Task.Elapsed.Round(time.Second).String()},
			junitProperty{Name: "time_budget", Value: r.Task.Budget.String()})
	}
	doc := junitTestSuites{Name: r.Tool, Suites: []junitTestSuite{main}}
	if len(r.Health) > 0 {
		doc.Suites = append(doc.Suites, junitSuite(r.Name+": environment", classname+".environment", r.Health))
	}
	var total time.Duration
	for _, s := range doc.Suites {
		doc.Tests += s.Tests
		doc.Failures += s.Failures
		doc.Errors += s.Errors
		doc.Skipped += s.Skipped
	}
	for _, res := range append(append([]Result{}, r.Results...), r.Health...) {
		total += res.Duration
	}
	doc.Time = seconds(total)
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}
