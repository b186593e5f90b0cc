package answerfile

import (
	"strings"
	"testing"
	"time"

	"github.com/ckslab/ckslab/falco"
	"github.com/ckslab/ckslab/grader"
)

func alertsOf(t *testing.T, lines ...string) []falco.Alert {
	t.Helper()
	var out []falco.Alert
	for _, l := range lines {
		a, err := falco.ParseLine(l)
		if err != nil {
			t.Fatalf("%q: %v", l, err)
		}
		out = append(out, a)
	}
	return out
}

func syslogAlert(tod, id string) string {
	return "Jun 15 " + tod[:8] + " cluster1-node1 falco: " + tod + ": Error Package management process launched in container (user=root user_loginuid=-1 command=apk info container_id=" + id + " container_name=nginx image=library/nginx:1.27-alpine)"
}

func TestCheckReal(t *testing.T) {
	lines := capture("06:38:28.077150666", 11, 3*time.Second, nginxID)
	res, err := CheckReader(strings.NewReader(join(lines)), "falco.log", opts())
	if err != nil {
		t.Fatal(err)
	}
	var recorded []string
	for _, l := range lines {
		recorded = append(recorded, syslogAlert(l[:18], nginxID))
	}
	rec := Record{Alerts: alertsOf(t, recorded...), Source: "cluster1-node1:/var/log/syslog"}
	if r := CheckReal(res, rec, 2, 0); r.Status != grader.Pass || !strings.Contains(r.Message, "All 11 lines") {
		t.Errorf("real capture: %+v", r)
	}

	// One line typed by hand: a time Falco never printed.
	forged := append(append([]string{}, lines[:10]...), "06:38:58.000000000,"+nginxID+",nginx,root")
	res, _ = CheckReader(strings.NewReader(join(forged)), "falco.log", opts())
	r := CheckReal(res, rec, 2, 0)
	if r.Status != grader.Fail || len(r.Findings) != 1 || r.Findings[0].Line != 11 || !strings.Contains(r.Findings[0].Problem, "no alert of container 090aad374a0a at 06:38:58.000000000") {
		t.Errorf("forged line: %+v", r)
	}
	if r.Remediation == "" {
		t.Error("no remediation")
	}

	// A container Falco never saw.
	res, _ = CheckReader(strings.NewReader(join(capture("06:38:28.077150666", 11, 3*time.Second, "abcdefabcdef"))), "falco.log", opts())
	r = CheckReal(res, rec, 2, 0)
	if r.Status != grader.Fail || !strings.Contains(r.Findings[0].Problem, "no alert at all of container abcdefabcdef") {
		t.Errorf("unknown container: %+v", r)
	}
}

func TestCheckRealSkips(t *testing.T) {
	res, _ := CheckReader(strings.NewReader(join(capture("06:38:28.077150666", 11, 3*time.Second, nginxID))), "falco.log", opts())
	for _, tt := range []struct {
		rec  Record
		res  Result
		want string
	}{
		{Record{Missing: "this lab has no Falco (RLIMIT_MEMLOCK)"}, res, "no Falco record to compare with: this lab has no Falco"},
		{Record{Source: "cluster1-node1:/var/log/syslog"}, res, "Falco recorded no alert in cluster1-node1:/var/log/syslog"},
		{Record{Alerts: alertsOf(t, syslogAlert("06:38:28.077150666", nginxID))}, Result{}, "no well-formed line"},
	} {
		r := CheckReal(tt.res, tt.rec, 2, 0)
		if r.Status != grader.Skip || !strings.Contains(r.Message, tt.want) {
			t.Errorf("got %+v, want skip with %q", r, tt.want)
		}
	}
}
