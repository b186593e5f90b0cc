// Package falco knows how Falco behaves on a node: the alert lines it prints
// (stdout, syslog, the journal, JSON), and later its install and rules.
package falco

import (
	"fmt"
	"time"
)

// TimeOfDay is a wall-clock time of day with nanosecond precision, the way
// Falco's %evt.time prints it (HH:MM:SS.nnnnnnnnn, in the Falco process's
// local time zone). It counts nanoseconds since midnight.
type TimeOfDay int64

// Day is the length of one day as a TimeOfDay; valid values are in [0, Day).
const Day = TimeOfDay(24 * time.Hour)

// TimeOfDayLen is the length of a time printed by %evt.time.
const TimeOfDayLen = len("06:38:28.077150666")

// ParseTimeOfDay parses exactly HH:MM:SS.nnnnnnnnn (nine fractional digits),
// the form of Falco's %evt.time. It does not allocate.
func ParseTimeOfDay(s string) (TimeOfDay, error) {
	t, ok := parseTimeOfDay(s)
	if !ok {
		return 0, fmt.Errorf("%q is not a time of day in the form HH:MM:SS.nnnnnnnnn", s)
	}
	return t, nil
}

func parseTimeOfDay(s string) (TimeOfDay, bool) {
	if len(s) != TimeOfDayLen || s[2] != ':' || s[5] != ':' || s[8] != '.' {
		return 0, false
	}
	h, ok1 := digits(s[0:2])
	m, ok2 := digits(s[3:5])
	sec, ok3 := digits(s[6:8])
	ns, ok4 := digits(s[9:18])
	if !ok1 || !ok2 || !ok3 || !ok4 || h > 23 || m > 59 || sec > 60 {
		return 0, false
	}
	// A leap second (sec == 60) is folded into the next second.
	t := TimeOfDay(h)*TimeOfDay(time.Hour) + TimeOfDay(m)*TimeOfDay(time.Minute) +
		TimeOfDay(sec)*TimeOfDay(time.Second) + TimeOfDay(ns)
	if t >= Day {
		t = Day - 1
	}
	return t, true
}

// digits parses a run of ASCII digits; it reports false for anything else.
func digits(s string) (int64, bool) {
	if s == "" {
		return 0, false
	}
	var n int64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// String prints the time the way Falco's %evt.time does.
func (t TimeOfDay) String() string {
	if t < 0 || t >= Day {
		return fmt.Sprintf("invalid-time(%d)", int64(t))
	}
	d := time.Duration(t)
	h := d / time.Hour
	d -= h * time.Hour
	m := d / time.Minute
	d -= m * time.Minute
	s := d / time.Second
	d -= s * time.Second
	return fmt.Sprintf("%02d:%02d:%02d.%09d", h, m, s, d)
}

// Since returns how much time passed from earlier to t, assuming at most one
// midnight lies between them: a t smaller than earlier is taken to be on the
// next day.
func (t TimeOfDay) Since(earlier TimeOfDay) time.Duration {
	d := t - earlier
	if d < 0 {
		d += Day
	}
	return time.Duration(d)
}
