// Package grader holds the result model of ckslab's checks and renders a
// report as text, JSON or JUnit XML.
package grader

import (
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
