package falco

import (
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// The real Falco output in testdata/real (see its README): what Falco 0.40.0
// printed in a ckslab lab. Every line is a test case.
const (
	realSyslog     = "testdata/real/syslog-falco.txt"
	realForeground = "testdata/real/foreground-edited-output.txt"
	realStderr     = "testdata/real/foreground-stderr.txt"
)

// realLines reads a file of testdata/real, one string a line.
func realLines(t testing.TB, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
}

// hostPart is the fixtures' one edit: the registry host in front of library/.
var hostPart = regexp.MustCompile(`image=[^ )]*/library/`)

// TestRealFixturesMatchCapture checks that the committed copies are the
// team's capture (shared/falco-real beside the checkout) with only the
// registry host dropped from image values.
func TestRealFixturesMatchCapture(t *testing.T) {
	orig := filepath.Join("..", "..", "shared", "falco-real")
	if _, err := os.Stat(orig); err != nil {
		t.Skipf("the original capture %s is not here (only the team's machine has it): %v", orig, err)
	}
	for _, name := range []string{"syslog-falco.txt", "foreground-edited-output.txt", "foreground-stderr.txt"} {
		t.Run(name, func(t *testing.T) {
			want, err := os.ReadFile(filepath.Join(orig, name))
			if err != nil {
				t.Fatal(err)
			}
			got, err := os.ReadFile(filepath.Join("testdata", "real", name))
			if err != nil {
				t.Fatal(err)
			}
			edited := hostPart.ReplaceAll(want, []byte("image=library/"))
			if string(got) != string(edited) {
				gl, wl := strings.Split(string(got), "\n"), strings.Split(string(edited), "\n")
				for i := 0; i < len(gl) && i < len(wl); i++ {
					if gl[i] != wl[i] {
						t.Fatalf("line %d differs from the capture (with the host dropped):\n got %q\nwant %q", i+1, gl[i], wl[i])
					}
				}
				t.Fatalf("%d lines, the capture has %d", len(gl), len(wl))
			}
		})
	}
}

// Expectations for real lines are derived with these expressions, not with
// the parser's code.
var (
	reSyslog   = regexp.MustCompile(`^(2026-12-02)T\d\d:\d\d:\d\d\.\d{6}\+00:00 (cluster1-node1) falco: (.*)$`)
	reAlert    = regexp.MustCompile(`^(\d\d:\d\d:\d\d\.\d{9}): (Error|Notice) (.+)$`)
	reID       = regexp.MustCompile(` container_id=([0-9a-f]{12})?[ )]`)
	reName     = regexp.MustCompile(` container_name=([^ )]+)`)
	reUser     = regexp.MustCompile(`[( ]user=([^ )]+)`)
	reImage    = regexp.MustCompile(` image=([^ )]+)\)$`)
	reCSV      = regexp.MustCompile(`(?:^| )(\d\d:\d\d:\d\d\.\d{9}),([0-9a-f]{12}),([^,]+),([^,]+)$`)
	ownLogLine = []string{
		// Falco's own messages, as 0.40.0 prints them on start, reload and stop.
		"Falco version: ", "Falco initialized with configuration files:", "   /etc/falco/falco.yaml | schema validation: ",
		"System info: ", "Loading rules from:", "   /etc/falco/falco_rules.yaml | schema validation: ",
		"   /etc/falco/falco_rules.local.yaml | schema validation: ", "The chosen syscall buffer dimension is: ",
		"Starting health webserver with threadiness ", "Loaded event sources: ", "Enabled event sources: ",
		"Opening 'syscall' source with modern BPF probe.", "One ring buffer every ", "SIGINT received, exiting...",
		"SIGHUP received, restarting...",
		// The summary foreground falco prints on stdout at exit.
		"Events detected: ", "Rule counts by severity:", "   ERROR: ", "Triggered rules by rule name:",
		"   Launch Package Management Process in Container: ", "   Write below etc: ",
	}
)

// want is what a real line must parse to, or ok false for a line that is
// not an alert.
func wantReal(t *testing.T, msg string) (Alert, bool) {
	t.Helper()
	m := reAlert.FindStringSubmatch(msg)
	if m == nil {
		for _, p := range ownLogLine {
			if strings.HasPrefix(msg, p) {
				return Alert{}, false
			}
		}
		t.Fatalf("line is neither an alert nor a known Falco log line: %q", msg)
	}
	a := Alert{Format: FormatText, Time: tod(t, m[1]), Priority: Priority(m[2]), Output: m[3]}
	switch id, csv := reID.FindStringSubmatch(m[3]), reCSV.FindStringSubmatch(m[3]); {
	case id != nil:
		a.ContainerID = id[1]
		if n := reName.FindStringSubmatch(m[3]); n != nil {
			a.ContainerName = n[1]
		}
		if u := reUser.FindStringSubmatch(m[3]); u != nil {
			a.User = u[1]
		}
		if i := reImage.FindStringSubmatch(m[3]); i != nil {
			a.Image = i[1]
		}
	case csv != nil:
		if csv[1] != m[1] {
			t.Fatalf("the edited output's %%evt.time %s is not the prefix's %s", csv[1], m[1])
		}
		a.ContainerID, a.ContainerName, a.User = csv[2], csv[3], csv[4]
	default:
		t.Fatalf("alert with neither container_id= nor the edited output: %q", msg)
	}
	return a, true
}

// realCounts tallies what the parser made of a file.
type realCounts struct {
	lines, alerts, notAlerts int
	byPriority               map[Priority]int
	byContainer              map[string]int
	byRule                   map[string]int
}

func parseReal(t *testing.T, path string, syslog bool) realCounts {
	t.Helper()
	c := realCounts{byPriority: map[Priority]int{}, byContainer: map[string]int{}, byRule: map[string]int{}}
	for i, line := range realLines(t, path) {
		c.lines++
		msg := line
		var date, host string
		if syslog {
			m := reSyslog.FindStringSubmatch(line)
			if m == nil {
				t.Fatalf("%s:%d is not a syslog line of cluster1-node1's falco: %q", path, i+1, line)
			}
			date, host, msg = m[1], m[2], m[3]
		}
		want, isAlert := wantReal(t, msg)
		got, err := ParseLine(line)
		if !isAlert {
			if !errors.Is(err, ErrNotAlert) {
				t.Errorf("%s:%d is Falco's own log line, parsed as %+v, %v; want ErrNotAlert", path, i+1, got, err)
			}
			c.notAlerts++
			continue
		}
		if err != nil {
			t.Errorf("%s:%d: %v\n%s", path, i+1, err, line)
			continue
		}
		if syslog {
			want.Format, want.Date, want.Host = FormatSyslogRFC3339, date, host
		}
		if got != want {
			t.Errorf("%s:%d\n got %+v\nwant %+v", path, i+1, got, want)
		}
		c.alerts++
		c.byPriority[got.Priority]++
		c.byContainer[got.ContainerID]++
		rule, _, _ := strings.Cut(got.Output, " (")
		if reCSV.MatchString(rule) {
			rule = reCSV.ReplaceAllString(rule, " <csv>")
		}
		c.byRule[strings.TrimSpace(rule)]++
	}
	return c
}

func TestParseLineRealSyslog(t *testing.T) {
	c := parseReal(t, realSyslog, true)
	// Counted from the file with grep, A='^[^ ]* [^ ]* falco: [0-9][0-9]:[0-9][0-9]:[0-9][0-9]\.[0-9]\{9\}: ':
	//   wc -l: 320; grep -c "$A": 137; grep -vc "$A": 183
	//   grep "$A" | awk '{print $5}' | sort | uniq -c: 123 Error, 14 Notice
	//   grep -c "$A"'Error File below /etc opened for writing (': 82; of them grep -c 'container_id= ': 34
	//   grep -c "$A"'Error Package management process launched in container (': 21
	//   grep -c "$A"'Error Package management process launched in container [0-9]': 10 (the edited output)
	//   grep -c "$A"'Error [0-9]': 10 (the reference solution's output, %evt.time,... alone)
	//   grep "$A" | grep -o 'container_id=[0-9a-f]*\|,[0-9a-f]\{12\},' | sort | uniq -c: the ids below
	if c.lines != 320 || c.alerts != 137 || c.notAlerts != 183 {
		t.Errorf("%d lines: %d alerts, %d not; want 320: 137, 183", c.lines, c.alerts, c.notAlerts)
	}
	wantMap(t, "priorities", c.byPriority, map[Priority]int{"Error": 123, "Notice": 14})
	wantMap(t, "rules", c.byRule, map[string]int{
		"File below /etc opened for writing":                     82,
		"Package management process launched in container":       21,
		"Package management process launched in container <csv>": 10,
		"<csv>": 10,
		"Redirect stdout/stdin to network connection": 14,
	})
	wantMap(t, "container ids", c.byContainer, map[string]int{
		"":             34, // the httpd offender's shell, started before Falco: container_id= with nothing
		"b0bc937e9ca6": 29, // nginx, then after ckslab reset ad1befca83fb, then ea8e3cc34d1b
		"ad1befca83fb": 2,
		"ea8e3cc34d1b": 10,
		"9aa97145ebce": 29, // httpd, then 3e7705350eb5, then ba5a33d3f511
		"3e7705350eb5": 3,
		"ba5a33d3f511": 11,
		"b55b75befd5c": 19, // the kind node container itself (sshd, cp and bash -s writing /etc/falco)
	})
}

func TestParseLineRealForeground(t *testing.T) {
	c := parseReal(t, realForeground, false)
	// wc -l: 32; grep -c '^[0-9:.]\{18\}: Error ': 26, the rest is Falco's summary at exit;
	// grep -o 'container_id=[0-9a-f]*\|,[0-9a-f]\{12\},' | sort | uniq -c: the ids below.
	if c.lines != 32 || c.alerts != 26 {
		t.Errorf("%d lines, %d alerts; want 32, 26", c.lines, c.alerts)
	}
	wantMap(t, "container ids", c.byContainer, map[string]int{"b0bc937e9ca6": 9, "9aa97145ebce": 9, "": 8})

	// Its stderr is Falco's own messages: none is an alert.
	for i, line := range realLines(t, realStderr) {
		if a, err := ParseLine(line); !errors.Is(err, ErrNotAlert) {
			t.Errorf("%s:%d parsed as %+v, %v; want ErrNotAlert", realStderr, i+1, a, err)
		}
	}
}

func wantMap[K comparable](t *testing.T, what string, got, want map[K]int) {
	t.Helper()
	for k, n := range want {
		if got[k] != n {
			t.Errorf("%s: %v: %d, want %d", what, k, got[k], n)
		}
	}
	for k, n := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("%s: unexpected %v: %d", what, k, n)
		}
	}
}
