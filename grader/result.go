// Package grader holds the result model of ckslab's checks and renders a
// report as text, JSON or JUnit XML.
package grader

import (
	"fmt"
	"strings"
	"time"
)

// Status is the outcome of one check.
type Status string

const (
	// Pass: the check found what the task asks for.
	Pass Status = "pass"
	// Fail: the learner's work does not meet the check; the message says why.
	Fail Status = "fail"
	// Warn: the check passes, with something worth knowing; points are awarded.
	Warn Status = "warn"
	// Skip: the check could not be decided for a reason it states (for
	// example, an earlier check failed, or the node has no Falco).
	Skip Status = "skip"
	// Error: ckslab could not grade (the lab is down, a file is unreadable).
	Error Status = "error"
)

// Finding is one concrete problem a check found, such as one line of the
// answer file.
type Finding struct {
	// Line is the 1-based line number in the file the check reads, or 0.
	Line int `json:"line,omitempty"`
	// Text is the offending text, truncated and quoted for display.
	Text string `json:"text,omitempty"`
	// Problem says what is wrong with it.
	Problem string `json:"problem"`
	// Remediation says what to do about it, when it differs from the check's.
	Remediation string `json:"remediation,omitempty"`
}

// Result is the outcome of one check.
type Result struct {
	ID     string `json:"id"`
	Title  string `json:"title"`
	Points int    `json:"points"`
	Status Status `json:"status"`
	// Message says what was seen, in a sentence.
	Message string `json:"message,omitempty"`
	// Expected and Actual state the comparison the check made, where it made one.
	Expected string `json:"expected,omitempty"`
	Actual   string `json:"actual,omitempty"`
	// Remediation is what a learner can do to pass.
	Remediation string    `json:"remediation,omitempty"`
	Findings    []Finding `json:"findings,omitempty"`
	// OmittedFindings counts further findings left out to keep reports short.
	OmittedFindings int           `json:"omitted_findings,omitempty"`
	Duration        time.Duration `json:"-"`
}

// Awarded is the points the result earns: all of them for pass and warn.
func (r Result) Awarded() int {
	if r.Status == Pass || r.Status == Warn {
		return r.Points
	}
	return 0
}

// Report is the outcome of grading one subject (an answer file or a lab).
type Report struct {
	// Tool and Version name the program that graded.
	Tool    string `json:"tool"`
	Version string `json:"version"`
	// Name names the grading run, e.g. "check-log" or a scenario id.
	Name string `json:"name"`
	// Subject is what was graded: a file path or a lab name.
	Subject string `json:"subject"`
	// Results are the scored checks, in order.
	Results []Result `json:"results"`
	// Health reports the environment (Falco running, node Ready). It is shown
	// apart and never changes the score.
	Health []Result `json:"health,omitempty"`
	// Disclosure says whether the report names what the task asks the
	// learner to find, and why. The zero value is a report with nothing
	// to withhold (check-log: its caller gave the ids).
	Disclosure Disclosure `json:"-"`
	// Attempt numbers a lab's grades from 1; 0 when the grade is not kept.
	Attempt int `json:"-"`
	// GradedAt is when the grade was made; zero when not recorded.
	GradedAt time.Time `json:"-"`
	// Task is the time spent on the task, for a lab's grade.
	Task *TaskTime `json:"-"`
	// During says which command was changing the lab while it was graded
	// ("ckslab reset (pid 4242) was re-arming the lab"): such a grade may
	// judge a lab half changed. Empty when none was.
	During string `json:"-"`
}

// Disclosure is what a report may name of the things the task asks the
// learner to find (the offenders' namespaces, Deployments, Pods, container
// names and ids).
type Disclosure struct {
	// Withheld: the checks kept those identifiers out of the report, except
	// where the learner's own work already shows them.
	Withheld bool
	// Reason says why a lab's report reveals them ("--reveal", "ckslab solve
	// was run", "the last hint was shown"); empty when withheld.
	Reason string
	// LabFlag is added to the ckslab commands the report suggests (" --name lab2").
	LabFlag string
	// What names what is withheld or shown, for the report's last line; empty: "The names and ids the task
	// asks you to find" (the Falco task), "The flags the task needs" (the auditing task).
	What string
}

// what is d.What, or the Falco task's words.
func (d Disclosure) what() string {
	if d.What != "" {
		return d.What
	}
	return "The names and ids the task asks you to find"
}

// TaskTime is the time spent on a task against its budget. There is no hard
// stop: the elapsed time may exceed the budget.
type TaskTime struct {
	StartedAt time.Time
	Elapsed   time.Duration
	Budget    time.Duration
}

// String says the time spent for a learner: "7m12s of 12m", "14m3s of 12m (2m3s over)".
func (t TaskTime) String() string {
	s := fmt.Sprintf("%s of %s", roundDur(t.Elapsed), roundDur(t.Budget))
	if t.Budget > 0 && t.Elapsed > t.Budget {
		s += fmt.Sprintf(" (%s over)", roundDur(t.Elapsed-t.Budget))
	}
	return s
}

// roundDur rounds to the second and drops a trailing "0s" ("12m", not "12m0s").
func roundDur(d time.Duration) string {
	s := d.Round(time.Second).String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// Summary counts a report's scored results.
type Summary struct {
	Passed   int `json:"passed"`
	Failed   int `json:"failed"`
	Warned   int `json:"warned"`
	Skipped  int `json:"skipped"`
	Errored  int `json:"errored"`
	Score    int `json:"score"`
	MaxScore int `json:"max_score"`
	ExitCode int `json:"exit_code"`
	Total    int `json:"total"`
}

// Exit codes of grading commands.
const (
	ExitPass        = 0 // every scored check passes (warnings allowed)
	ExitFail        = 1 // some scored check fails
	ExitCannotGrade = 2 // ckslab could not grade: an error, no lab, bad input
)

// Summary counts the scored results and derives the exit code: 2 if any check
// errored, else 1 if any failed, else 0.
func (r *Report) Summary() Summary {
	var s Summary
	for _, res := range r.Results {
		s.Total++
		s.MaxScore += res.Points
		s.Score += res.Awarded()
		switch res.Status {
		case Pass:
			s.Passed++
		case Fail:
			s.Failed++
		case Warn:
			s.Warned++
		case Skip:
			s.Skipped++
		default:
			s.Errored++
		}
	}
	switch {
	case s.Errored > 0:
		s.ExitCode = ExitCannotGrade
	case s.Failed > 0:
		s.ExitCode = ExitFail
	default:
		s.ExitCode = ExitPass
	}
	return s
}
