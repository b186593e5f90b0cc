package answerfile

import (
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/ckslab/ckslab/falco"
	"github.com/ckslab/ckslab/grader"
)

// The real Falco 0.40.0 output of a ckslab lab (falco/testdata/real/README.md).
const (
	realSyslog     = "../../falco/testdata/real/syslog-falco.txt"
	realForeground = "../../falco/testdata/real/foreground-edited-output.txt"
	// The ids Falco printed in that lab: the nginx (case 1) and httpd (case 2)
	// offenders' containers during the foreground run.
	realNginxID = "b0bc937e9ca6"
	realHttpdID = "9aa97145ebce"
)

func readLines(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
}

// walkthroughAnswer cuts the answer from the foreground run's stdout as the
// published walkthrough does: the lines of the nginx container's alerts
// (grep nginx), then cut -d" " -f 9.
func walkthroughAnswer(t *testing.T) []string {
	t.Helper()
	var out []string
	for _, line := range readLines(t, realForeground) {
		if !strings.Contains(line, "nginx") {
			continue
		}
		out = append(out, cutField(line, " ", 9))
	}
	return out
}

// cutField is cut -d sep -f n: a line without sep is printed whole, a line
// with fewer fields as an empty line.
func cutField(line, sep string, n int) string {
	if !strings.Contains(line, sep) {
		return line
	}
	f := strings.Split(line, sep)
	if len(f) < n {
		return ""
	}
	return f[n-1]
}

// realRecord is check 5's record: the alerts parsed from the lab's syslog,
// as the grader reads them (scenarios/falco-runtime.ReadAlerts keeps what ParseLine
// takes for an alert).
func realRecord(t *testing.T) Record {
	t.Helper()
	rec := Record{Source: "cluster1-node1:/var/log/syslog"}
	for _, line := range readLines(t, realSyslog) {
		a, err := falco.ParseLine(line)
		if errors.Is(err, falco.ErrNotAlert) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		rec.Alerts = append(rec.Alerts, a)
	}
	if len(rec.Alerts) != 137 {
		t.Fatalf("%d alerts in %s, want 137", len(rec.Alerts), realSyslog)
	}
	return rec
}

func realOpts() Options {
	return Options{
		ContainerIDs:  []string{realNginxID},
		ContainerName: "nginx",
		Known:         map[string]string{realHttpdID: "the httpd offender"},
		DisplayPath:   "/opt/course/2/falco.log",
	}
}

// gradeReal runs checks 1-4 the way check-log does, on a file, then check 5
// against the real syslog.
func gradeReal(t *testing.T, lines []string) (Result, grader.Result) {
	t.Helper()
	res := checkFile(t, write(t, join(lines)), realOpts())
	return res, CheckReal(res, realRecord(t), 2, 0)
}

func TestWalkthroughOnRealOutput(t *testing.T) {
	answer := walkthroughAnswer(t)
	// grep -c nginx foreground-edited-output.txt: 9, one alert every 5 s from 16:03:26 to 16:04:06.
	if len(answer) != 9 || answer[0] != "16:03:26.211309349,b0bc937e9ca6,nginx,root" || answer[8] != "16:04:06.282865066,b0bc937e9ca6,nginx,root" {
		t.Fatalf("the walkthrough's answer is %q", answer)
	}
	res, real := gradeReal(t, answer)
	if got := statuses(res) + " " + string(real.Status); got != "pass pass pass pass pass" {
		t.Fatalf("statuses = %s\nchecks: %+v\ncheck 5: %+v", got, res.Checks, real)
	}
	mentions(t, res.Checks[3], 0, "40.071555717s", "16:03:26.211309349 (line 1)", "16:04:06.282865066 (line 9)")
	mentions(t, real, 0, "All 9 lines match alerts Falco recorded in cluster1-node1:/var/log/syslog")
}

func TestWalkthroughRealOutputAltered(t *testing.T) {
	answer := walkthroughAnswer(t)
	rec := realRecord(t)
	recorded := func(tod string) bool {
		for _, a := range rec.Alerts {
			if a.Time.String() == tod {
				return true
			}
		}
		return false
	}
	const madeUp = "16:04:11.290000000" // 5 s after the last alert; Falco stopped at 16:04:11.05
	if recorded(madeUp) || recorded("16:03:46.249140769") {
		t.Fatal("the times made up for this test are in the syslog")
	}
	// The httpd offender's first alert of the foreground run: a real alert, of case 2.
	if !recorded("16:03:26.509443219") {
		t.Fatal("the httpd alert is not in the syslog")
	}

	nanosecond := append([]string{}, answer...)
	nanosecond[4] = strings.Replace(nanosecond[4], "16:03:46.249140768", "16:03:46.249140769", 1)
	extra := append(append([]string{}, answer...), madeUp+",b0bc937e9ca6,nginx,root")
	httpd := append(append([]string{answer[0]}, "16:03:26.509443219,9aa97145ebce,httpd,root"), answer[1:]...)

	tests := []struct {
		name     string
		lines    []string
		statuses string
		check    int // 0-3: checks 1-4; 4: check 5
		line     int
		mention  []string
	}{
		{"one nanosecond changed", nanosecond, "pass pass pass pass fail", 4, 5,
			[]string{"16:03:46.249140769,b0bc937e9ca6", "no alert of container b0bc937e9ca6 at 16:03:46.249140769", "1 of 9 lines"}},
		{"a made-up line", extra, "pass pass pass pass fail", 4, 10,
			[]string{madeUp + ",b0bc937e9ca6", "no alert of container b0bc937e9ca6 at " + madeUp, "1 of 10 lines"}},
		// Real, so check 5 passes; but not case 1.
		{"an httpd line", httpd, "pass pass fail pass pass", 2, 2,
			[]string{"container 9aa97145ebce is the httpd offender, not the case-1 offender", "1 of 10 well-formed lines"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := checkFile(t, write(t, join(tt.lines)), realOpts())
			real := CheckReal(res, rec, 2, 0)
			if got := statuses(res) + " " + string(real.Status); got != tt.statuses {
				t.Fatalf("statuses = %s, want %s\nchecks: %+v\ncheck 5: %+v", got, tt.statuses, res.Checks, real)
			}
			c := real
			if tt.check < 4 {
				c = res.Checks[tt.check]
			}
			if len(c.Findings) != 1 || c.Findings[0].Line != tt.line {
				t.Fatalf("%s: findings %+v, want one on line %d", c.ID, c.Findings, tt.line)
			}
			mentions(t, c, tt.line, tt.mention...)
		})
	}
}

// TestRealForegroundAlertsInSyslog: the same alerts reached syslog
// (syslog_output is on in the default falco.yaml), so a foreground capture
// can be checked against it.
func TestRealForegroundAlertsInSyslog(t *testing.T) {
	type key struct {
		t      falco.TimeOfDay
		id     string
		output string
	}
	inSyslog := map[key]bool{}
	for _, a := range realRecord(t).Alerts {
		inSyslog[key{a.Time, a.ContainerID, a.Output}] = true
	}
	n := 0
	for i, line := range readLines(t, realForeground) {
		a, err := falco.ParseLine(line)
		if err != nil {
			continue
		}
		n++
		if !inSyslog[key{a.Time, a.ContainerID, a.Output}] {
			t.Errorf("%s:%d is not in the syslog: %q", realForeground, i+1, line)
		}
	}
	if n != 26 {
		t.Errorf("%d alerts in %s, want 26", n, realForeground)
	}
}
