package answerfile

import (
	"fmt"
	"time"

	"github.com/ckslab/ckslab/falco"
	"github.com/ckslab/ckslab/grader"
)

// IDReal is check 5: the lines are real alerts.
const IDReal = "answer-real"

// Record is what Falco itself recorded on the node: its alerts, or why
// there is nothing to compare with.
type Record struct {
	// Alerts are the alerts read from the node's syslog or journal.
	Alerts []falco.Alert
	// Missing, when set, says why there is no record (no Falco on the
	// node, the log could not be read); the check is then skipped.
	Missing string
	// Source names where the alerts were read, for messages.
	Source string
}

// CheckReal is check 5: every well-formed line's (time, container id) pair
// matches an alert Falco recorded. Lines that failed checks 2 or 3 are not
// looked at again.
func CheckReal(res Result, rec Record, points int, maxFindings int) grader.Result {
	start := time.Now()
	r := grader.Result{ID: IDReal, Title: "Every line matches an alert that Falco recorded on the node", Points: points}
	defer func() { r.Duration = time.Since(start) }()
	if maxFindings <= 0 {
		maxFindings = DefaultMaxFindings
	}
	switch {
	case rec.Missing != "":
		r.Status, r.Message = grader.Skip, "Skipped: no Falco record to compare with: "+rec.Missing
		return r
	case len(res.Lines) == 0:
		r.Status, r.Message = grader.Skip, "Skipped: no well-formed line to compare."
		return r
	case len(rec.Alerts) == 0:
		r.Status, r.Message = grader.Skip, fmt.Sprintf("Skipped: Falco recorded no alert in %s to compare with.", rec.Source)
		return r
	}
	type key struct {
		t  falco.TimeOfDay
		id string
	}
	seen := make(map[key]bool, len(rec.Alerts))
	ids := map[string]bool{}
	for _, a := range rec.Alerts {
		seen[key{a.Time, a.ContainerID}] = true
		ids[a.ContainerID] = true
	}
	bad := findings{max: maxFindings}
	for _, l := range res.Lines {
		if seen[key{l.Time, l.ContainerID}] {
			continue
		}
		problem := fmt.Sprintf("Falco recorded no alert of container %s at %s", l.ContainerID, l.Time)
		if !ids[l.ContainerID] {
			problem = fmt.Sprintf("Falco recorded no alert at all of container %s", l.ContainerID)
		}
		bad.add(grader.Finding{Line: l.Number, Text: fmt.Sprintf("%s,%s", l.Time, l.ContainerID), Problem: problem})
	}
	checked := len(res.Lines)
	if bad.total == 0 {
		r.Status, r.Message = grader.Pass, fmt.Sprintf("All %d %s match alerts Falco recorded in %s.", checked, plural(checked, "line", "lines"), rec.Source)
		if res.LinesOmitted > 0 {
			r.Message += fmt.Sprintf(" (%d further lines were not compared.)", res.LinesOmitted)
		}
		return r
	}
	r.Status = grader.Fail
	r.Message = fmt.Sprintf("%d of %d lines match no alert Falco recorded in %s.", bad.total, checked, rec.Source)
	r.Remediation = "Save the lines Falco printed, unchanged: its time (%evt.time) and container id (%container.id) of each alert. Don't type, edit or make up lines."
	r.Expected, r.Actual = "every (time, container id) is an alert of Falco's", fmt.Sprintf("%d unmatched", bad.total)
	bad.into(&r)
	return r
}
