package falco

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Format says where an alert line came from.
type Format string

const (
	// FormatText is Falco's text output as printed on stdout (and by file_output).
	FormatText Format = "text"
	// FormatSyslog is a line of /var/log/syslog with a classic "Sep 16 06:23:48" stamp.
	FormatSyslog Format = "syslog"
	// FormatSyslogRFC3339 is a line of /var/log/syslog with an RFC 3339 stamp.
	FormatSyslogRFC3339 Format = "syslog-rfc3339"
	// FormatJournal is a line of journalctl's default output ("falco[632]:").
	FormatJournal Format = "journal"
	// FormatJSON is Falco's json_output, 0.29 style or current style.
	FormatJSON Format = "json"
)

// Priority is the priority Falco prints before a rule's output.
type Priority string

// The priorities Falco knows, highest first.
var priorities = [...]Priority{"Emergency", "Alert", "Critical", "Error", "Warning", "Notice", "Informational", "Debug"}

// Alert is one Falco alert, with the fields the lab cares about. Fields that
// the line does not carry are empty; "<NA>" is kept as Falco printed it.
type Alert struct {
	Format Format
	// Time is the alert's time of day as Falco printed it in its prefix
	// (%evt.time: local time; or UTC when time_format_iso_8601 is on).
	Time TimeOfDay
	// Date is the date part where the line has one ("Sep 16", "2026-09-12").
	Date string
	// Host is the syslog/journal host or the JSON hostname.
	Host     string
	Priority Priority
	// Rule is the rule's name; only JSON output carries it.
	Rule string
	// Output is the rule's output text, without Falco's time and priority prefix.
	Output string

	ContainerID   string
	ContainerName string
	User          string
	Image         string
	PodName       string
	Namespace     string
}

// ErrNotAlert is returned for lines that are not Falco alerts: other
// programs' syslog lines, Falco's own log lines, blank lines.
var ErrNotAlert = errors.New("not a Falco alert")

// maxLine bounds the work done on one line; longer lines are not alerts we grade.
const maxLine = 64 << 10

// ParseLine parses one line of Falco output in any of the supported formats.
// It returns ErrNotAlert (possibly wrapped) for lines that are not alerts.
func ParseLine(line string) (Alert, error) {
	line = strings.TrimRight(line, "\r\n \t")
	if len(line) > maxLine {
		return Alert{}, fmt.Errorf("%w: line longer than %d bytes", ErrNotAlert, maxLine)
	}
	if line == "" {
		return Alert{}, ErrNotAlert
	}
	if line[0] == '{' {
		return parseJSON(line, FormatJSON)
	}
	if a, ok := parseText(line); ok {
		a.Format = FormatText
		return a, nil
	}
	return parseSyslog(line)
}

// parseText parses "<time>: <Priority> <output>", the form of stdout and the
// message part of syslog lines. The time is %evt.time or, with
// time_format_iso_8601, %evt.time.iso8601.
func parseText(s string) (Alert, bool) {
	var a Alert
	colon := strings.IndexByte(s, ' ')
	if colon < 2 || s[colon-1] != ':' {
		return a, false
	}
	stamp := s[:colon-1]
	if t, ok := parseTimeOfDay(stamp); ok {
		a.Time = t
	} else if date, t, ok := parseISOStamp(stamp); ok {
		a.Date, a.Time = date, t
	} else {
		return a, false
	}
	rest := s[colon+1:]
	sp := strings.IndexByte(rest, ' ')
	if sp < 0 {
		return a, false
	}
	p, ok := parsePriority(rest[:sp])
	if !ok {
		return a, false
	}
	a.Priority = p
	a.Output = rest[sp+1:]
	a.extractFields()
	return a, true
}

func parsePriority(s string) (Priority, bool) {
	for _, p := range priorities {
		if string(p) == s {
			return p, true
		}
	}
	return "", false
}

// parseISOStamp parses %evt.time.iso8601 (2026-07-10T13:28:21.001674096+0000)
// and returns the date and the time of day as printed.
func parseISOStamp(s string) (string, TimeOfDay, bool) {
	// YYYY-MM-DDT + 18 + zone
	if len(s) < 11+TimeOfDayLen || s[4] != '-' || s[7] != '-' || s[10] != 'T' {
		return "", 0, false
	}
	t, ok := parseTimeOfDay(s[11 : 11+TimeOfDayLen])
	if !ok {
		return "", 0, false
	}
	zone := s[11+TimeOfDayLen:]
	if zone != "Z" && !(len(zone) == 5 && (zone[0] == '+' || zone[0] == '-')) &&
		!(len(zone) == 6 && (zone[0] == '+' || zone[0] == '-') && zone[3] == ':') {
		return "", 0, false
	}
	return s[:10], t, true
}

// parseSyslog parses "<stamp> <host> <tag>: <message>" where the stamp is
// classic ("Sep 16 06:23:48", day space-padded) or RFC 3339, and the tag is
// "falco" (syslog) or "falco[pid]" (journal).
func parseSyslog(s string) (Alert, error) {
	var a Alert
	var rest string
	switch {
	case len(s) > 16 && s[3] == ' ' && s[6] == ' ' && s[9] == ':' && s[12] == ':' && s[15] == ' ':
		// "Sep 16 06:23:48 host falco: ..."
		if !isMonth(s[:3]) {
			return a, ErrNotAlert
		}
		a.Format = FormatSyslog
		a.Date = strings.Replace(s[:6], "  ", " ", 1)
		rest = s[16:]
	case len(s) > 20 && s[4] == '-' && s[7] == '-' && s[10] == 'T':
		sp := strings.IndexByte(s, ' ')
		if sp < 0 {
			return a, ErrNotAlert
		}
		if _, err := time.Parse(time.RFC3339Nano, s[:sp]); err != nil {
			return a, ErrNotAlert
		}
		a.Format = FormatSyslogRFC3339
		a.Date = s[:10]
		rest = s[sp+1:]
	default:
		return a, ErrNotAlert
	}
	sp := strings.IndexByte(rest, ' ')
	if sp <= 0 {
		return a, ErrNotAlert
	}
	a.Host = rest[:sp]
	rest = rest[sp+1:]
	sp = strings.IndexByte(rest, ' ')
	if sp <= 0 || rest[sp-1] != ':' {
		return a, ErrNotAlert
	}
	tag := rest[:sp-1]
	msg := rest[sp+1:]
	switch {
	case tag == "falco":
	case strings.HasPrefix(tag, "falco[") && strings.HasSuffix(tag, "]"):
		if _, ok := digits(tag[len("falco[") : len(tag)-1]); !ok {
			return a, ErrNotAlert
		}
		if a.Format == FormatSyslog {
			a.Format = FormatJournal
		}
	default:
		return a, ErrNotAlert
	}
	if msg != "" && msg[0] == '{' {
		j, err := parseJSON(msg, a.Format)
		if err != nil {
			return a, err
		}
		if j.Host == "" {
			j.Host = a.Host
		}
		return j, nil
	}
	t, ok := parseText(msg)
	if !ok {
		// Falco's own log lines ("Falco version ...", "Loading rules ...").
		return a, ErrNotAlert
	}
	t.Format, t.Host = a.Format, a.Host
	if t.Date == "" {
		t.Date = a.Date
	}
	return t, nil
}

func isMonth(s string) bool {
	switch s {
	case "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec":
		return true
	}
	return false
}

// jsonAlert is Falco's json_output. 0.29 has output, priority, rule, time and
// output_fields; 0.30 adds source and tags, 0.33 hostname.
type jsonAlert struct {
	Output       *string                    `json:"output"`
	Priority     string                     `json:"priority"`
	Rule         string                     `json:"rule"`
	Time         string                     `json:"time"`
	Hostname     string                     `json:"hostname"`
	OutputFields map[string]json.RawMessage `json:"output_fields"`
}

func parseJSON(s string, format Format) (Alert, error) {
	var j jsonAlert
	dec := json.NewDecoder(strings.NewReader(s))
	if err := dec.Decode(&j); err != nil {
		return Alert{}, fmt.Errorf("%w: invalid JSON: %v", ErrNotAlert, err)
	}
	if j.Output == nil || j.Rule == "" {
		return Alert{}, fmt.Errorf("%w: JSON without \"output\" and \"rule\"", ErrNotAlert)
	}
	var a Alert
	if t, ok := parseText(*j.Output); ok {
		a = t
	} else {
		// json_include_output_property may be off or the prefix unusual:
		// fall back to the UTC "time" field.
		ts, err := time.Parse(time.RFC3339Nano, j.Time)
		if err != nil {
			return Alert{}, fmt.Errorf("%w: JSON alert without a usable time", ErrNotAlert)
		}
		ts = ts.UTC()
		a.Date = ts.Format("2006-01-02")
		a.Time = TimeOfDay(ts.Sub(ts.Truncate(24 * time.Hour)))
		a.Output = *j.Output
		a.extractFields()
	}
	a.Format = format
	a.Rule = j.Rule
	if p, ok := parsePriority(j.Priority); ok {
		a.Priority = p
	}
	if j.Hostname != "" {
		a.Host = j.Hostname
	}
	for key, dst := range map[string]*string{
		"container.id":               &a.ContainerID,
		"container.name":             &a.ContainerName,
		"user.name":                  &a.User,
		"container.image.repository": &a.Image,
		"k8s.pod.name":               &a.PodName,
		"k8s.ns.name":                &a.Namespace,
	} {
		raw, ok := j.OutputFields[key]
		if !ok || bytes.Equal(raw, []byte("null")) {
			continue
		}
		var v string
		if err := json.Unmarshal(raw, &v); err == nil {
			*dst = v
		} else {
			*dst = string(raw)
		}
	}
	return a, nil
}

// extractFields fills the container, user and Kubernetes fields from the
// key=value pairs of a rule's output (0.29 style "(user=root ... container_id=x)",
// current style "| user=root ..." and the container plugin's suggested fields),
// and from a learner's CSV output "%evt.time,%container.id,%container.name,%user.name",
// which may stand alone or follow the rule's own text. It makes one pass over
// the blank-separated tokens. The first occurrence of a key wins: the rule's
// own fields come before the command line, which could contain anything.
func (a *Alert) extractFields() {
	s := a.Output
	csv := ""
	for s != "" {
		tok := s
		if sp := strings.IndexByte(s, ' '); sp >= 0 {
			tok, s = s[:sp], s[sp+1:]
		} else {
			s = ""
		}
		if tok != "" && tok[0] == '(' {
			tok = tok[1:]
		}
		eq := strings.IndexByte(tok, '=')
		if eq <= 0 {
			if csv == "" && len(tok) > TimeOfDayLen && tok[TimeOfDayLen] == ',' {
				csv = tok
			}
			continue
		}
		val := strings.TrimSuffix(tok[eq+1:], ")")
		switch tok[:eq] {
		case "container_id", "container":
			setIfEmpty(&a.ContainerID, val)
		case "container_name":
			setIfEmpty(&a.ContainerName, val)
		case "user":
			setIfEmpty(&a.User, val)
		case "image", "container_image", "container_image_repository":
			setIfEmpty(&a.Image, val)
		case "k8s_pod_name", "k8s.pod", "k8s_pod":
			setIfEmpty(&a.PodName, val)
		case "k8s_ns_name", "k8s.ns", "k8s_ns":
			setIfEmpty(&a.Namespace, val)
		}
	}
	if csv != "" {
		a.applyCSV(csv)
	}
}

func setIfEmpty(dst *string, v string) {
	if *dst == "" {
		*dst = v
	}
}

// applyCSV fills missing fields from a token in the learner's custom output
// form "%evt.time,%container.id,%container.name,%user.name".
func (a *Alert) applyCSV(tok string) {
	if _, ok := parseTimeOfDay(tok[:TimeOfDayLen]); !ok {
		return
	}
	id, rest, ok1 := strings.Cut(tok[TimeOfDayLen+1:], ",")
	name, user, ok2 := strings.Cut(rest, ",")
	if !ok1 || !ok2 || strings.IndexByte(user, ',') >= 0 || !(IsShortContainerID(id) || id == "host") {
		return
	}
	setIfEmpty(&a.ContainerID, id)
	setIfEmpty(&a.ContainerName, name)
	setIfEmpty(&a.User, user)
}

// IsShortContainerID reports whether s is a container id as %container.id
// prints it: 12 lowercase hex digits.
func IsShortContainerID(s string) bool {
	return len(s) == 12 && isLowerHex(s)
}

func isLowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return s != ""
}

// NormalizeContainerID turns a container id as any tool prints it (12 chars
// from Falco, 13 from crictl, 64 from the runtime, any case, with a
// "containerd://" prefix from the Kubernetes API) into Falco's 12-char form.
func NormalizeContainerID(s string) (string, error) {
	s = strings.TrimSpace(s)
	if i := strings.Index(s, "://"); i >= 0 {
		s = s[i+3:]
	}
	s = strings.ToLower(s)
	if len(s) < 12 || len(s) > 64 || !isLowerHex(s) {
		return "", fmt.Errorf("%q is not a container id: want 12 to 64 hex digits", s)
	}
	return s[:12], nil
}
