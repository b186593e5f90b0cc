// Package answerfile grades the learner's answer file of the Falco task:
// /opt/course/2/falco.log, one alert a line as
// time-with-nanoseconds,container-id,container-name,user-name.
//
// It implements checks 1-4 of the scenario's grading spec: the file itself,
// the format of every line, that every line is case 1 (the nginx offender),
// and that the capture spans long enough. It reads the file once, as a
// stream, and keeps memory bounded whatever the file's size.
package answerfile

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/ckslab/ckslab/falco"
	"github.com/ckslab/ckslab/grader"
)

// Check ids, stable across versions: reports and scenario definitions use them.
const (
	IDFile   = "answer-file"
	IDFormat = "answer-format"
	IDCase1  = "answer-case-1"
	IDSpan   = "answer-span"
)

// Defaults.
const (
	DefaultMaxBytes    = 10 << 20 // a real 30-120 s capture is a few KB
	DefaultMinSpan     = 30 * time.Second
	DefaultUser        = "root"
	DefaultMaxFindings = 10
	// MaxLineLength bounds one line; longer lines are reported, not parsed.
	MaxLineLength = 4096
	// displayWidth is how much of an offending line a finding shows.
	displayWidth = 72
)

// Options say what the answer file is compared with.
type Options struct {
	// ContainerIDs are the offending container's ids (any form: 12, 13 or
	// 64 hex digits, "containerd://..."); several when it restarted.
	ContainerIDs []string
	// ContainerName is the offender's container name; empty: not checked.
	ContainerName string
	// User is the expected user name; empty means DefaultUser.
	User string
	// MinSpan is the shortest capture accepted; 0 means DefaultMinSpan.
	MinSpan time.Duration
	// Interval is how often the offender misbehaves. When set, a capture
	// with a gap much longer than that gets a warning.
	Interval time.Duration
	// MaxBytes caps the file size; 0 means DefaultMaxBytes.
	MaxBytes int64
	// MissingIsFailure makes a missing file a failed check (the learner has
	// not saved it yet) instead of an error (nothing to grade).
	MissingIsFailure bool
	// Known describes other containers by 12-char id ("the httpd offender,
	// team-purple/rating-service"), to say whose lines were saved by mistake.
	Known map[string]string
	// MaxFindings caps the findings listed per check; 0 means DefaultMaxFindings.
	MaxFindings int
	// DisplayPath is the path shown to the learner (e.g. the path inside
	// the exam terminal) when it differs from the one read.
	DisplayPath string
	// Withhold keeps the offender's container ids and name, and whose the
	// Known containers are, out of the results: what a lab's task asks the
	// learner to find. Ids from the learner's own lines are still shown.
	// check-log leaves it off: its caller gave the ids.
	Withhold bool
}

func (o *Options) defaults() error {
	if o.User == "" {
		o.User = DefaultUser
	}
	if o.MinSpan == 0 {
		o.MinSpan = DefaultMinSpan
	}
	if o.MaxBytes == 0 {
		o.MaxBytes = DefaultMaxBytes
	}
	if o.MaxFindings == 0 {
		o.MaxFindings = DefaultMaxFindings
	}
	if len(o.ContainerIDs) == 0 {
		return errors.New("no container id to compare with: give the offending container's id")
	}
	for i, id := range o.ContainerIDs {
		n, err := falco.NormalizeContainerID(id)
		if err != nil {
			return err
		}
		o.ContainerIDs[i] = n
	}
	known := make(map[string]string, len(o.Known))
	for id, desc := range o.Known {
		if n, err := falco.NormalizeContainerID(id); err == nil {
			known[n] = desc
		}
	}
	o.Known = known
	return nil
}

// Line is one well-formed answer line.
type Line struct {
	Number        int
	Time          falco.TimeOfDay
	ContainerID   string
	ContainerName string
	User          string
}

// Result is the outcome of grading an answer file.
type Result struct {
	// Checks are the four results, in order: file, format, case 1, span.
	Checks []grader.Result
	// Lines are the well-formed lines (up to a cap), for check 5, which
	// compares them with the alerts Falco recorded.
	Lines []Line
	// LinesOmitted counts well-formed lines not kept in Lines.
	LinesOmitted int
}

// MaxKeptLines bounds Result.Lines.
const MaxKeptLines = 10000

func newChecks(o *Options) []grader.Result {
	name := "the offender"
	if o.ContainerName != "" {
		name = "the " + o.ContainerName + " offender"
	}
	return []grader.Result{
		{ID: IDFile, Title: "The answer file is a readable text file, not empty, not huge", Points: 1},
		{ID: IDFormat, Title: "Every line is time-with-nanoseconds,container-id,container-name,user-name", Points: 2},
		{ID: IDCase1, Title: "Every line is an alert of " + name + " (case 1 only)", Points: 2},
		{ID: IDSpan, Title: fmt.Sprintf("The capture spans at least %s, in order", fmtDur(o.MinSpan)), Points: 1},
	}
}

// Check grades the answer file at path.
func Check(path string, o Options) (Result, error) {
	if err := o.defaults(); err != nil {
		return Result{}, err
	}
	shown := path
	if o.DisplayPath != "" {
		shown = o.DisplayPath
	}
	start := time.Now()
	checks := newChecks(&o)
	file := &checks[0]
	defer func() { file.Duration += time.Since(start) }()

	f, note, failed := open(path, shown, &o, file)
	if failed {
		skipRest(checks, "the answer file could not be read")
		return Result{Checks: checks}, nil
	}
	defer f.Close()
	res := grade(f, shown, &o, checks)
	if note != "" && file.Status == grader.Pass {
		file.Message += " " + note
	}
	return res, nil
}

// CheckReader grades an answer file already opened; name is shown in messages.
func CheckReader(r io.Reader, name string, o Options) (Result, error) {
	if err := o.defaults(); err != nil {
		return Result{}, err
	}
	start := time.Now()
	res := grade(r, name, &o, newChecks(&o))
	res.Checks[0].Duration = time.Since(start)
	return res, nil
}

// open performs the file-system half of check 1. It returns the open file,
// a note for the message, and whether check 1 already failed.
func open(path, shown string, o *Options, file *grader.Result) (*os.File, string, bool) {
	var note string
	li, err := os.Lstat(path)
	if err == nil && li.Mode()&fs.ModeSymlink != 0 {
		target, _ := os.Readlink(path)
		note = fmt.Sprintf("(%s is a symbolic link to %s; graded its target.)", shown, target)
	}
	fi, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		status := grader.Error
		if o.MissingIsFailure {
			status = grader.Fail
		}
		msg := fmt.Sprintf("%s does not exist.", shown)
		if note != "" {
			msg = fmt.Sprintf("%s is a symbolic link to %s, which does not exist.", shown, mustReadlink(path))
		}
		set(file, status, msg, "Save the alerts to "+shown+" (create the folder with mkdir -p "+filepath.Dir(shown)+" if needed).")
		return nil, "", true
	case err != nil:
		set(file, grader.Error, fmt.Sprintf("Cannot read %s: %v.", shown, unwrapPathError(err)), "Make the file readable, e.g. chmod a+r "+shown+".")
		return nil, "", true
	case fi.IsDir():
		set(file, grader.Fail, shown+" is a directory, not a file.", "Save the alerts into a regular file at "+shown+" (remove the directory first: rmdir "+shown+").")
		return nil, "", true
	case !fi.Mode().IsRegular():
		set(file, grader.Fail, fmt.Sprintf("%s is not a regular file (%s).", shown, fi.Mode().Type()), "Save the alerts into a regular file at "+shown+".")
		return nil, "", true
	case fi.Size() > o.MaxBytes:
		set(file, grader.Fail, fmt.Sprintf("%s is %s, more than the %s ckslab reads; a capture of this task is a few KB.", shown, fmtBytes(fi.Size()), fmtBytes(o.MaxBytes)),
			"Save only the case-1 lines in the four-field format, not Falco's whole output.")
		return nil, "", true
	}
	f, err := os.Open(path)
	if err != nil {
		set(file, grader.Error, fmt.Sprintf("Cannot read %s: %v.", shown, unwrapPathError(err)), "Make the file readable, e.g. chmod a+r "+shown+".")
		return nil, "", true
	}
	return f, note, false
}

func mustReadlink(path string) string {
	t, err := os.Readlink(path)
	if err != nil {
		return "?"
	}
	return t
}

func unwrapPathError(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

func set(r *grader.Result, s grader.Status, msg, fix string) {
	r.Status, r.Message, r.Remediation = s, msg, fix
}

func skipRest(checks []grader.Result, why string) {
	for i := 1; i < len(checks); i++ {
		if checks[i].Status == "" {
			checks[i].Status = grader.Skip
			checks[i].Message = "Skipped: " + why + "."
		}
	}
}

// findings collects up to max findings and counts the rest.
type findings struct {
	max     int
	list    []grader.Finding
	omitted int
	total   int
}

func (f *findings) add(x grader.Finding) {
	f.total++
	if len(f.list) < f.max {
		f.list = append(f.list, x)
	} else {
		f.omitted++
	}
}

func (f *findings) into(r *grader.Result) {
	r.Findings, r.OmittedFindings = f.list, f.omitted
}

// grade streams the file and fills in checks 1-4.
// The four checks share one pass over the file, whose time is counted on
// the first check.
func grade(r io.Reader, shown string, o *Options, checks []grader.Result) Result {
	file, format, case1, span := &checks[0], &checks[1], &checks[2], &checks[3]
	res := Result{Checks: checks}

	var (
		formatBad = findings{max: o.MaxFindings}
		caseBad   = findings{max: o.MaxFindings}
		orderBad  = findings{max: o.MaxFindings}
		lineNo    int
		nonBlank  int
		size      int64
		binary    bool
		tooBig    bool
		readErr   error
		sp        spanTracker
		caseOK    int
		bomOK     int // lines well-formed but for a byte-order mark
		buf       []byte
	)
	br := bufio.NewReaderSize(io.LimitReader(r, o.MaxBytes+1), 64<<10)
	for {
		raw, long, err := readLine(br, buf[:0])
		buf = raw
		if len(raw) == 0 && err != nil {
			if !errors.Is(err, io.EOF) {
				readErr = err
			}
			break
		}
		lineNo++
		size += int64(len(raw))
		if size > o.MaxBytes {
			tooBig = true
			break
		}
		if bytes.IndexByte(raw, 0) >= 0 {
			binary = true
			break
		}
		line := strings.TrimRight(string(raw), "\r\n")
		line = strings.TrimRight(line, " \t")
		if line == "" {
			continue
		}
		nonBlank++
		if long {
			formatBad.add(grader.Finding{Line: lineNo, Text: display(line), Problem: fmt.Sprintf("the line is longer than %d bytes", MaxLineLength),
				Remediation: "save one alert per line, in the four-field format"})
			continue
		}
		rest, bom := strings.CutPrefix(line, byteOrderMark)
		var (
			l            Line
			problem, fix string
		)
		if rest != "" {
			l, problem, fix = parseAnswerLine(rest)
		}
		if bom {
			// The line fails the format check, but the rest of a line that
			// is otherwise well-formed still counts for checks 3-5.
			p, f := bomProblem(rest == "", problem, fix, shown)
			formatBad.add(grader.Finding{Line: lineNo, Text: display(line), Problem: p, Remediation: f})
			if problem != "" || rest == "" {
				continue
			}
			bomOK++
		} else if problem != "" {
			formatBad.add(grader.Finding{Line: lineNo, Text: display(line), Problem: problem, Remediation: fix})
			continue
		}
		l.Number = lineNo
		if len(res.Lines) < MaxKeptLines {
			res.Lines = append(res.Lines, l)
		} else {
			res.LinesOmitted++
		}
		if f, ok := sp.add(l); !ok {
			orderBad.add(f)
		}
		if p, fix := o.caseProblem(l); p != "" {
			caseBad.add(grader.Finding{Line: lineNo, Text: display(line), Problem: p, Remediation: fix})
		} else {
			caseOK++
		}
	}
	// Check 1: the content half.
	switch {
	case readErr != nil:
		set(file, grader.Error, fmt.Sprintf("Reading %s failed: %v.", shown, unwrapPathError(readErr)), "Check the file and the disk, then grade again.")
		skipRest(checks, "the answer file could not be read")
		return res
	case tooBig:
		set(file, grader.Fail, fmt.Sprintf("%s is more than the %s ckslab reads; a capture of this task is a few KB.", shown, fmtBytes(o.MaxBytes)),
			"Save only the case-1 lines in the four-field format, not Falco's whole output.")
		skipRest(checks, "the answer file is too large")
		res.Lines = nil
		return res
	case binary:
		set(file, grader.Fail, fmt.Sprintf("%s is binary (line %d contains a NUL byte), not text.", shown, lineNo),
			"Save the alerts as plain text lines, e.g. falco ... | cut ... > "+shown+".")
		skipRest(checks, "the answer file is not text")
		res.Lines = nil
		return res
	case nonBlank == 0:
		msg := shown + " is empty."
		if lineNo > 0 {
			msg = fmt.Sprintf("%s has only blank lines (%d).", shown, lineNo)
		}
		set(file, grader.Fail, msg, "Collect case 1's alerts for at least 30 s and save them to "+shown+".")
		skipRest(checks, "the answer file has no lines")
		return res
	}
	set(file, grader.Pass, fmt.Sprintf("%s: %d %s, %s.", shown, nonBlank, plural(nonBlank, "line", "lines"), fmtBytes(size)), "")

	// Check 2: format.
	good := nonBlank - formatBad.total + bomOK
	if formatBad.total == 0 {
		set(format, grader.Pass, fmt.Sprintf("All %d %s have the four fields and nothing else.", nonBlank, plural(nonBlank, "line", "lines")), "")
	} else {
		set(format, grader.Fail, fmt.Sprintf("%d of %d lines %s not in the expected format.", formatBad.total, nonBlank, plural(formatBad.total, "is", "are")),
			"Save only lines like 06:38:28.077150666,090aad374a0a,nginx,root: set the rule's output to %evt.time,%container.id,%container.name,%user.name and keep only that part of Falco's lines.")
		format.Expected = "HH:MM:SS.nnnnnnnnn,<12 lowercase hex>,<container name>,<user name>"
		format.Actual = fmt.Sprintf("%d malformed %s", formatBad.total, plural(formatBad.total, "line", "lines"))
		formatBad.into(format)
	}
	if good == 0 {
		skipRest(checks, "no line is in the expected format")
		return res
	}

	// Check 3: case 1 only.
	want := strings.Join(o.ContainerIDs, " or ")
	if o.ContainerName != "" {
		want += " (" + o.ContainerName + ", " + o.User + ")"
	} else {
		want += " (user " + o.User + ")"
	}
	if o.Withhold {
		want = "case 1's container (user " + o.User + ")"
	}
	switch {
	case caseBad.total == 0 && o.Withhold:
		set(case1, grader.Pass, fmt.Sprintf("All %d well-formed %s are alerts of case 1's container.", good, plural(good, "line", "lines")), "")
	case caseBad.total == 0:
		set(case1, grader.Pass, fmt.Sprintf("All %d well-formed %s are of container %s.", good, plural(good, "line", "lines"), want), "")
		if o.ContainerName == "" {
			case1.Message += " The container name was not checked."
		}
	case o.Withhold:
		set(case1, grader.Fail, fmt.Sprintf("%d of %d well-formed lines are not alerts of case 1's container.", caseBad.total, good),
			"Save only case 1's alerts: the lines of the nginx container that keeps launching package-management processes. "+
				"Lines of the httpd case or of other containers do not belong in this file. Stuck? `ckslab hint`.")
		case1.Expected = want
		case1.Actual = fmt.Sprintf("%d matching, %d not", caseOK, caseBad.total)
		caseBad.into(case1)
	default:
		set(case1, grader.Fail, fmt.Sprintf("%d of %d well-formed lines are not alerts of the offending container.", caseBad.total, good),
			"Save only case 1's alerts: the lines of the offending nginx container. Lines of the httpd case or of other containers do not belong in this file.")
		case1.Expected = "container " + want
		case1.Actual = fmt.Sprintf("%d matching, %d not", caseOK, caseBad.total)
		caseBad.into(case1)
	}

	// Check 4: span and order.
	spanDur := sp.span()
	switch {
	case orderBad.total > 0:
		set(span, grader.Fail, fmt.Sprintf("Timestamps go backwards %d %s; a capture is in the order Falco printed it (crossing midnight once is fine).",
			orderBad.total, plural(orderBad.total, "time", "times")),
			"Save the lines in the order Falco printed them, from one capture; don't sort, merge or edit them.")
		orderBad.into(span)
	case good == 1:
		set(span, grader.Fail, "Only one line: a capture of one alert spans 0 s.", fmt.Sprintf("Collect for at least %s: leave falco running that long (e.g. falco -M 45).", fmtDur(o.MinSpan)))
		span.Expected, span.Actual = "≥ "+fmtDur(o.MinSpan), "0s"
	case spanDur < o.MinSpan:
		set(span, grader.Fail, fmt.Sprintf("The capture spans %s, from %s (line %d) to %s (line %d).", fmtDur(spanDur), sp.first.Time, sp.first.Number, sp.last.Time, sp.last.Number),
			fmt.Sprintf("Collect for at least %s: leave falco running that long (e.g. falco -M 45) before saving.", fmtDur(o.MinSpan)))
		span.Expected, span.Actual = "≥ "+fmtDur(o.MinSpan), fmtDur(spanDur)
	default:
		set(span, grader.Pass, fmt.Sprintf("The capture spans %s, from %s (line %d) to %s (line %d).", fmtDur(spanDur), sp.first.Time, sp.first.Number, sp.last.Time, sp.last.Number), "")
		if sp.crossed {
			span.Message += " It crosses midnight once."
		}
		if o.Interval > 0 && sp.maxGap > 3*o.Interval && sp.maxGap > 10*time.Second {
			span.Status = grader.Warn
			span.Message += fmt.Sprintf(" The longest gap between lines is %s (before line %d), much longer than the offender's interval of %s: were lines lost?",
				fmtDur(sp.maxGap), sp.maxGapLine, fmtDur(o.Interval))
		}
	}
	return res
}

// readLine reads one line into buf, keeping at most MaxLineLength bytes of
// it; long reports whether the line was longer (the rest is discarded).
func readLine(br *bufio.Reader, buf []byte) (line []byte, long bool, err error) {
	for {
		chunk, err := br.ReadSlice('\n')
		if len(buf) < MaxLineLength {
			room := MaxLineLength - len(buf)
			if len(chunk) > room {
				buf = append(buf, chunk[:room]...)
				long = true
			} else {
				buf = append(buf, chunk...)
			}
		} else if len(chunk) > 0 {
			long = true
		}
		switch {
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case err != nil:
			return buf, long, err
		default:
			return buf, long, nil
		}
	}
}

// spanTracker follows the order and span of the lines' timestamps.
type spanTracker struct {
	n           int
	first, last Line
	crossed     bool
	elapsed     time.Duration
	maxGap      time.Duration
	maxGapLine  int
}

// add records a line; it reports a finding when the time goes backwards
// (other than one crossing of midnight).
func (s *spanTracker) add(l Line) (grader.Finding, bool) {
	s.n++
	if s.n == 1 {
		s.first, s.last = l, l
		return grader.Finding{}, true
	}
	prev := s.last
	if l.Time < prev.Time {
		// Midnight: late evening followed by early morning, once.
		if !s.crossed && prev.Time-l.Time > falco.Day/2 {
			s.crossed = true
		} else {
			// Flag the junction only: the next line is compared with this one.
			s.last = l
			return grader.Finding{Line: l.Number, Text: fmt.Sprintf("%s after %s (line %d)", l.Time, prev.Time, prev.Number),
				Problem: "this line is earlier than the line before it"}, false
		}
	}
	gap := l.Time.Since(prev.Time)
	if gap > s.maxGap {
		s.maxGap, s.maxGapLine = gap, l.Number
	}
	s.elapsed += gap
	s.last = l
	return grader.Finding{}, true
}

func (s *spanTracker) span() time.Duration { return s.elapsed }

// caseProblem says why a well-formed line is not an alert of the offender.
func (o *Options) caseProblem(l Line) (problem, fix string) {
	match := false
	for _, id := range o.ContainerIDs {
		if l.ContainerID == id {
			match = true
			break
		}
	}
	if !match && o.Withhold {
		if l.ContainerID == "host" {
			return "the alert is of a process on the node itself (container id host)", "remove this line: keep only case 1's alerts"
		}
		return fmt.Sprintf("container %s is not case 1's container", l.ContainerID),
			"keep only the alerts of case 1's container (Falco's alerts name it; crictl ps -id on the node shows its Pod)"
	}
	if !match {
		if desc, ok := o.Known[l.ContainerID]; ok {
			return fmt.Sprintf("container %s is %s, not the case-1 offender", l.ContainerID, desc), "remove this line: the file holds case 1's alerts only"
		}
		if l.ContainerID == "host" {
			return "the alert is of a process on the node itself (container id host)", "remove this line: keep only the offending container's alerts"
		}
		return fmt.Sprintf("container %s is not the offending container (%s)", l.ContainerID, strings.Join(o.ContainerIDs, " or ")),
			"keep only the lines whose container id is the offender's (find it with crictl ps on the node)"
	}
	if o.ContainerName != "" && l.ContainerName != o.ContainerName && o.Withhold {
		return fmt.Sprintf("container name %q is not the name of container %s", l.ContainerName, l.ContainerID),
			"use %container.name in the rule's output, as Falco prints it"
	}
	if o.ContainerName != "" && l.ContainerName != o.ContainerName {
		return fmt.Sprintf("container name %q is not the offender's container name %q", l.ContainerName, o.ContainerName),
			"use %container.name in the rule's output, as Falco prints it"
	}
	if l.User != o.User {
		return fmt.Sprintf("user %q is not %q, the user the offender runs as", l.User, o.User), "use %user.name in the rule's output, as Falco prints it"
	}
	return "", ""
}

// byteOrderMark is U+FEFF as UTF-8 (EF BB BF), which some editors write at
// the start of a file they save.
const byteOrderMark = "\ufeff"

// bomProblem is the finding for a line that starts with a byte-order mark:
// alone when empty, else problem and fix say what is wrong with the rest of
// the line, if anything.
func bomProblem(empty bool, problem, fix, shown string) (string, string) {
	const mark = "the line starts with a UTF-8 byte-order mark (an editor added it)"
	drop := "save the file without it, e.g. sed -i 's/^\\xEF\\xBB\\xBF//' " + shown
	switch {
	case empty:
		return "the line is only a UTF-8 byte-order mark (an editor added it)", drop
	case problem == "":
		return mark + "; the rest of the line is well-formed", drop
	}
	return mark + ", and " + problem, fix + "; and " + drop
}

var priorityWords = []string{"Emergency", "Alert", "Critical", "Error", "Warning", "Notice", "Informational", "Debug"}

// parseAnswerLine checks one non-blank line (trailing blanks and CR already
// removed) and says what is wrong with it, and how to fix it, if anything.
func parseAnswerLine(s string) (l Line, problem, fix string) {
	const fixFormat = "write exactly time,container-id,container-name,user-name, e.g. 06:38:28.077150666,090aad374a0a,nginx,root"
	if !utf8.ValidString(s) {
		return l, "the line is not valid UTF-8 text", "save Falco's output as plain text"
	}
	if s[0] == ' ' || s[0] == '\t' {
		return l, "the line starts with blanks", "remove the blanks at the start of the line"
	}
	// Falco's prefix: "06:38:28.077150666: Error ..."
	if len(s) > falco.TimeOfDayLen+2 && s[falco.TimeOfDayLen] == ':' && s[falco.TimeOfDayLen+1] == ' ' {
		if _, err := falco.ParseTimeOfDay(s[:falco.TimeOfDayLen]); err == nil {
			rest := s[falco.TimeOfDayLen+2:]
			for _, p := range priorityWords {
				if strings.HasPrefix(rest, p+" ") {
					return l, fmt.Sprintf("Falco's prefix %q is still in the line", s[:falco.TimeOfDayLen+2+len(p)]),
						"keep only the rule's output: e.g. pipe Falco's lines through awk '{print $3}' or cut -d' ' -f3"
				}
			}
		}
	}
	if strings.HasPrefix(s, "{") {
		return l, "the line is JSON (Falco's json_output)", "turn json_output off and save only time,container-id,container-name,user-name"
	}
	// Anything after a blank: usually the container plugin's suggested
	// fields (Falco >= 0.41 appends " container_id=... k8s_ns_name=...").
	if sp := strings.IndexAny(s, " \t"); sp >= 0 {
		head, tail := s[:sp], strings.TrimLeft(s[sp:], " \t")
		if strings.Count(head, ",") == 3 && !strings.Contains(s, ", ") && !strings.Contains(s, " ,") {
			if strings.Contains(tail, "=") {
				return l, "Falco's suggested fields (container_id=... k8s_ns_name=...) follow the four fields",
					"cut them off (e.g. awk '{print $1}'), or run falco with -o append_output= so they are not added"
			}
			return l, fmt.Sprintf("there is more text after the four fields: %q", truncate(tail, 30)), "remove everything after the user name"
		}
		if c := strings.IndexByte(s, ','); c > 0 {
			if _, p, f := parseAnswerTime(s[:c]); strings.Contains(p, "date and time") {
				return l, p, f
			}
		}
		if strings.Contains(s, ", ") || strings.Contains(s, " ,") {
			return l, "there are blanks around the commas", "separate the fields with a bare comma: time,id,name,user"
		}
		return l, "the line is not four comma-separated fields", fixFormat
	}
	var fields [4]string
	if n := strings.Count(s, ",") + 1; n != 4 {
		return l, fmt.Sprintf("the line has %d comma-separated %s, not 4", n, plural(n, "field", "fields")), fixFormat
	}
	rest := s
	for i := 0; i < 3; i++ {
		fields[i], rest, _ = strings.Cut(rest, ",")
	}
	fields[3] = rest
	if looksLikeHeader(fields) {
		return l, "a header line; the file holds alert lines only", "delete this line"
	}
	t, problem, fix := parseAnswerTime(fields[0])
	if problem != "" {
		return l, problem, fix
	}
	id := fields[1]
	switch {
	case falco.IsShortContainerID(id), id == "host":
	case len(id) == 12 && isHex(id):
		return l, fmt.Sprintf("container id %q has uppercase letters", id), "write the id in lowercase, as Falco's %container.id prints it"
	case len(id) == 64 && isHex(id):
		return l, "the container id is the full 64-digit id", "use the 12-digit id that Falco's %container.id prints"
	case len(id) == 13 && isHex(id):
		return l, "the container id has 13 digits, as crictl prints it", "use the 12-digit id that Falco's %container.id prints"
	case id == "":
		return l, "the container id is empty", "use %container.id in the rule's output"
	default:
		return l, fmt.Sprintf("%q is not a container id (12 lowercase hex digits)", truncate(id, 20)), "use %container.id in the rule's output"
	}
	if fields[2] == "" {
		return l, "the container name is empty", "use %container.name in the rule's output"
	}
	if fields[3] == "" {
		return l, "the user name is empty", "use %user.name in the rule's output"
	}
	return Line{Time: t, ContainerID: id, ContainerName: fields[2], User: fields[3]}, "", ""
}

func looksLikeHeader(fields [4]string) bool {
	f := strings.ToLower(fields[0])
	return strings.Contains(f, "time") || strings.Contains(strings.ToLower(fields[1]), "container")
}

// parseAnswerTime checks the time field and recognises the usual mistakes.
func parseAnswerTime(s string) (falco.TimeOfDay, string, string) {
	if t, err := falco.ParseTimeOfDay(s); err == nil {
		return t, "", ""
	}
	const fix = "use Falco's %evt.time, which prints HH:MM:SS.nnnnnnnnn"
	switch {
	case len(s) == 8 && s[2] == ':' && s[5] == ':':
		return 0, fmt.Sprintf("time %q has no nanoseconds", s), fix + " (%evt.time.s drops the nanoseconds)"
	case len(s) >= 19 && s[4] == '-' && s[7] == '-' && (s[10] == 'T' || s[10] == ' '):
		return 0, fmt.Sprintf("time %q is a date and time", truncate(s, 40)), fix + ", not %evt.time.iso8601 or %evt.datetime"
	case len(s) > 9 && s[2] == ':' && s[5] == ':' && s[8] == '.':
		return 0, fmt.Sprintf("time %q does not have exactly 9 digits of nanoseconds", truncate(s, 30)), fix
	case len(s) >= 18 && isDigits(s):
		return 0, fmt.Sprintf("time %q is a raw timestamp", truncate(s, 30)), fix + ", not %evt.rawtime"
	}
	return 0, fmt.Sprintf("%q is not a time of day HH:MM:SS.nnnnnnnnn", truncate(s, 30)), fix
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// display quotes a line for a report: truncated, with invalid bytes and
// control characters escaped.
func display(s string) string {
	return fmt.Sprintf("%q", truncate(s, displayWidth))
}

// truncate shortens s to about n runes, marking the cut with "…"; it never
// splits a UTF-8 sequence it can recognise.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut, count := 0, 0
	for i := range s {
		if count == n {
			cut = i
			break
		}
		count++
	}
	if cut == 0 {
		return s
	}
	return s[:cut] + "…"
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

func fmtBytes(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d bytes", n)
}

// fmtDur prints a duration for a learner: 30s, 29.999999999s, 1m30s.
func fmtDur(d time.Duration) string {
	return d.String()
}
