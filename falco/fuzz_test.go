package falco

import (
	"errors"
	"testing"
)

// FuzzParseLine checks that no input panics, that parsed alerts are well
// formed, and that a stdout line means the same when syslog wraps it. The
// seeds are the fixtures and every line of the real output in testdata/real.
func FuzzParseLine(f *testing.F) {
	for _, line := range fixtures(f) {
		f.Add(line)
	}
	seen := map[string]bool{}
	for _, path := range []string{realSyslog, realForeground, realStderr} {
		for _, line := range realLines(f, path) {
			if !seen[line] {
				seen[line] = true
				f.Add(line)
			}
		}
	}
	f.Add("06:38:28.077150666: Error 06:38:28.077150666,090aad374a0a,nginx,root")
	f.Add("Sep  6 06:23:48 n falco[1]: 06:23:48.830962378: Debug a=b=c=d (x=y)")
	f.Fuzz(func(t *testing.T, line string) {
		a, err := ParseLine(line)
		if err != nil {
			if !errors.Is(err, ErrNotAlert) {
				t.Fatalf("error %v does not wrap ErrNotAlert", err)
			}
			return
		}
		if a.Time < 0 || a.Time >= Day {
			t.Fatalf("time %d out of range", a.Time)
		}
		if a.Format == "" {
			t.Fatal("no format")
		}
		if a.Format != FormatJSON {
			if _, ok := parsePriority(string(a.Priority)); !ok {
				t.Fatalf("priority %q", a.Priority)
			}
		}
		if a.Format != FormatText {
			return
		}
		wrapped, err := ParseLine("Sep 16 06:23:48 node1 falco: " + line)
		if err != nil {
			t.Fatalf("syslog-wrapped line does not parse: %v", err)
		}
		if wrapped.Time != a.Time || wrapped.Priority != a.Priority || wrapped.Output != a.Output ||
			wrapped.ContainerID != a.ContainerID || wrapped.ContainerName != a.ContainerName || wrapped.User != a.User {
			t.Fatalf("syslog-wrapped line differs:\n%+v\n%+v", a, wrapped)
		}
		if wrapped.Format != FormatSyslog || wrapped.Host != "node1" {
			t.Fatalf("wrapped: format %q host %q", wrapped.Format, wrapped.Host)
		}
	})
}
