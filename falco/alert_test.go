package falco

import (
	"bufio"
	"errors"
	"os"
	"strings"
	"testing"
	"time"
)

// fixtures reads testdata/alerts.txt: each line is preceded by a comment whose
// first word is its tag.
func fixtures(t testing.TB) map[string]string {
	t.Helper()
	f, err := os.Open("testdata/alerts.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string]string{}
	var tag string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 64<<10)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "# ") {
			tag = strings.Fields(line)[1]
			continue
		}
		if tag == "" {
			t.Fatalf("fixture line without a tag: %q", line)
		}
		out[tag] = line
		tag = ""
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func tod(t *testing.T, s string) TimeOfDay {
	t.Helper()
	v, err := ParseTimeOfDay(s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestParseLineFixtures(t *testing.T) {
	fx := fixtures(t)
	tests := []struct {
		tag  string
		want Alert
	}{
		{"1", Alert{Format: FormatText, Time: tod(t, "06:33:17.382603204"), Priority: "Error",
			ContainerID: "7a5ea6a080d1", ContainerName: "nginx", User: "root", Image: "library/nginx:1.19.2-alpine"}},
		{"2", Alert{Format: FormatSyslog, Time: tod(t, "06:23:48.830962378"), Date: "Sep 16", Host: "ubuntu2004", Priority: "Error",
			ContainerID: "b1339d5cc2de", User: "root", Image: "library/httpd"}},
		{"3", Alert{Format: FormatText, Time: tod(t, "06:38:28.077150666"), Priority: "Error",
			ContainerID: "090aad374a0a", ContainerName: "nginx", User: "root"}},
		{"4a", Alert{Format: FormatSyslog, Time: tod(t, "09:12:14.358754650"), Date: "May 14", Host: "cks-worker", Priority: "Error",
			ContainerID: "42031e67301b", User: "root", Image: "library/httpd"}},
		{"4b", Alert{Format: FormatSyslog, Time: tod(t, "09:12:53.250780195"), Date: "May 14", Host: "cks-worker", Priority: "Error",
			ContainerID: "42031e67301b", ContainerName: "apache", User: "root", Image: "library/httpd:latest"}},
		{"5", Alert{Format: FormatSyslog, Time: tod(t, "14:40:54.615781734"), Date: "Dec 25", Host: "namuk-04", Priority: "Error",
			ContainerID: "eda4e44edabe", ContainerName: "k8s_py_py_default_549185c2-9193-4606-b9f5-cb4565fb70bd_0", User: "root", Image: "python:3.7"}},
		{"6", Alert{Format: FormatJournal, Time: tod(t, "03:25:50.514987067"), Date: "Oct 31", Host: "controlplane", Priority: "Error",
			ContainerID: "316f59cd09a1", ContainerName: "k8s_simple-webapp-1_simple-webapp-1_critical-apps_37a12c57-f0a5-4768-8016-8f60dd6af7d3_0",
			User: "root", Image: "nginx:latest"}},
		{"7", Alert{Format: FormatSyslog, Time: tod(t, "13:59:09.807425871"), Date: "Jul 12", Host: "ip-10-0-10-76", Priority: "Error",
			ContainerID: "2e6f84ff69ef", ContainerName: "incomplete", User: "root", Image: "incomplete:incomplete"}},
		{"8", Alert{Format: FormatText, Time: tod(t, "13:14:27.811647863"), Priority: "Warning",
			ContainerID: "bf74f1749e23", ContainerName: "nginx", User: "root", Image: "library/nginx",
			PodName: "nginx-7854ff8877-h97p4", Namespace: "default"}},
		{"9", Alert{Format: FormatText, Time: tod(t, "05:38:15.494311782"), Priority: "Warning",
			ContainerID: "d29c1069d349", ContainerName: "nginx", User: "root", Image: "library/nginx",
			PodName: "nginx-5869d7778c-zptr2", Namespace: "default"}},
		{"9s", Alert{Format: FormatSyslogRFC3339, Time: tod(t, "00:57:56.553092549"), Date: "2026-09-12", Host: "controlplane", Priority: "Warning",
			ContainerID: "host", ContainerName: "host", User: "root", PodName: "<NA>", Namespace: "<NA>"}},
		{"9j", Alert{Format: FormatJournal, Time: tod(t, "00:57:56.553092549"), Date: "Sep 12", Host: "controlplane", Priority: "Warning",
			ContainerID: "host", ContainerName: "host", User: "root", PodName: "<NA>", Namespace: "<NA>"}},
		{"10", Alert{Format: FormatText, Time: tod(t, "06:38:28.077150666"), Priority: "Error",
			ContainerID: "090aad374a0a", ContainerName: "nginx", User: "root", Image: "library/nginx",
			PodName: "webapi-6d8c9b7f5d-x2x9q", Namespace: "team-blue"}},
		{"11", Alert{Format: FormatText, Time: tod(t, "06:38:30.123456789"), Priority: "Error",
			ContainerID: "5b1f2a3c4d5e", ContainerName: "httpd", User: "root", Image: "library/httpd",
			PodName: "rating-service-7c9f8d6b4-abcde", Namespace: "team-purple"}},
		{"12", Alert{Format: FormatText, Time: tod(t, "06:38:28.077150666"), Priority: "Error",
			ContainerID: "090aad374a0a", ContainerName: "nginx", User: "root", Image: "library/nginx",
			PodName: "webapi-6d8c9b7f5d-x2x9q", Namespace: "team-blue"}},
		{"12b", Alert{Format: FormatText, Time: tod(t, "06:38:28.077150666"), Priority: "Error",
			ContainerID: "090aad374a0a", ContainerName: "nginx", User: "root"}},
		{"13", Alert{Format: FormatJSON, Time: tod(t, "18:18:23.256697539"), Priority: "Error", Rule: "Launch Package Management Process in Container",
			ContainerID: "854d2f6f3c68", ContainerName: "k8s_wordpress_wordpress-66cd544579-cv29k_red-ns_84a78bd4-d090-4e67-b011-8a77e478eb75_0",
			User: "root", Image: "paulborielabs/wordpress", PodName: "wordpress-66cd544579-cv29k", Namespace: "red-ns"}},
		{"15", Alert{Format: FormatJSON, Time: tod(t, "13:28:21.001674096"), Date: "2026-07-10", Host: "89eba2f8a2df", Priority: "Notice",
			Rule: "Terminal shell in container", ContainerID: "8a98414f402c", ContainerName: "lab9-target", User: "root", Image: "alpine",
			PodName: "<NA>", Namespace: "<NA>"}},
		{"16", Alert{Format: FormatJSON, Time: tod(t, "06:38:28.077150666"), Host: "cluster1-node1", Priority: "Error",
			Rule: "Launch Package Management Process in Container", ContainerID: "090aad374a0a", ContainerName: "nginx", User: "root",
			Image: "library/nginx", PodName: "webapi-6d8c9b7f5d-x2x9q", Namespace: "team-blue"}},
	}
	seen := map[string]bool{}
	for _, tt := range tests {
		t.Run(tt.tag, func(t *testing.T) {
			line, ok := fx[tt.tag]
			if !ok {
				t.Fatalf("no fixture %q", tt.tag)
			}
			seen[tt.tag] = true
			got, err := ParseLine(line)
			if err != nil {
				t.Fatalf("ParseLine: %v", err)
			}
			if got.Output == "" {
				t.Errorf("Output is empty")
			}
			got.Output = ""
			if got != tt.want {
				t.Errorf("ParseLine(%s)\n got %+v\nwant %+v", tt.tag, got, tt.want)
			}
		})
	}
	for tag := range fx {
		if !seen[tag] {
			t.Errorf("fixture %q has no expectation", tag)
		}
	}
}

func TestParseLineOutputText(t *testing.T) {
	a, err := ParseLine(fixtures(t)["1"])
	if err != nil {
		t.Fatal(err)
	}
	const want = "Package management process launched in container (user=root user_loginuid=-1 command=apk container_id=7a5ea6a080d1 container_name=nginx image=library/nginx:1.19.2-alpine)"
	if a.Output != want {
		t.Errorf("Output = %q, want %q", a.Output, want)
	}
}

func TestParseLineToleratesLineEnds(t *testing.T) {
	line := fixtures(t)["2"]
	for _, end := range []string{"\n", "\r\n", "  \t", " \r\n"} {
		a, err := ParseLine(line + end)
		if err != nil || a.ContainerID != "b1339d5cc2de" {
			t.Errorf("ParseLine(line+%q) = %+v, %v", end, a, err)
		}
	}
}

func TestParseLineNotAlerts(t *testing.T) {
	for _, line := range []string{
		"",
		"   ",
		"Sep 16 06:23:40 ubuntu2004 falco: Falco version 0.29.1 (driver version 17f5df52a7d9ed6bb12d3b1768460def8439936d)",
		"Sep 16 06:23:40 ubuntu2004 falco: Loading rules from file /etc/falco/falco_rules.yaml:",
		"Sep 16 06:23:48 ubuntu2004 kubelet[812]: I0916 06:23:48.123 kubelet.go:1: something=else",
		"Sep 16 06:23:48 ubuntu2004 falcon: 06:23:48.830962378: Error not falco",
		"Sep 16 06:23:48 ubuntu2004 falco[x]: 06:23:48.830962378: Error bad pid",
		"Foo 16 06:23:48 ubuntu2004 falco: 06:23:48.830962378: Error bad month",
		"06:38:28.077150666: Loud Package management process launched in container",
		"06:38:28.077150666 Error missing colon",
		"6:38:28.077150666: Error short hour",
		"06:38:28.077150666,090aad374a0a,nginx,root",
		`{"output":"x"}`,
		`{"rule":"x"`,
		"2026-13-45T99:00:00Z host falco: 06:38:28.077150666: Error bad stamp",
	} {
		_, err := ParseLine(line)
		if !errors.Is(err, ErrNotAlert) {
			t.Errorf("ParseLine(%q) error = %v, want ErrNotAlert", line, err)
		}
	}
}

func TestParseLineFirstKeyWins(t *testing.T) {
	// The rule's own user= comes before command=, which may contain anything.
	a, err := ParseLine("06:38:28.077150666: Error Package management process launched in container | user=root command=sh -c user=mallory container_id=aaaaaaaaaaaa container_id=090aad374a0a")
	if err != nil {
		t.Fatal(err)
	}
	if a.User != "root" {
		t.Errorf("User = %q, want root", a.User)
	}
}

func TestParseLineJSONFallsBackToTimeField(t *testing.T) {
	a, err := ParseLine(`{"output":"no prefix here container_id=090aad374a0a","priority":"Error","rule":"R","time":"2026-06-15T06:38:28.077150666Z","output_fields":{}}`)
	if err != nil {
		t.Fatal(err)
	}
	if a.Time != tod(t, "06:38:28.077150666") || a.Date != "2026-06-15" || a.ContainerID != "090aad374a0a" {
		t.Errorf("got %+v", a)
	}
}

func TestParseLineSyslogJSONMessage(t *testing.T) {
	line := "Jun 15 06:38:28 cluster1-node1 falco: " + fixtures(t)["16"]
	a, err := ParseLine(line)
	if err != nil {
		t.Fatal(err)
	}
	if a.Format != FormatSyslog || a.Rule != "Launch Package Management Process in Container" || a.ContainerID != "090aad374a0a" {
		t.Errorf("got %+v", a)
	}
}

func TestParseLinePaddedDay(t *testing.T) {
	a, err := ParseLine("Sep  6 06:23:48 node falco: 06:23:48.830962378: Error x container_id=b1339d5cc2de")
	if err != nil {
		t.Fatal(err)
	}
	if a.Date != "Sep 6" || a.Host != "node" {
		t.Errorf("got %+v", a)
	}
}

func TestTimeOfDay(t *testing.T) {
	for _, s := range []string{"00:00:00.000000000", "06:38:28.077150666", "23:59:59.999999999"} {
		v, err := ParseTimeOfDay(s)
		if err != nil {
			t.Fatalf("ParseTimeOfDay(%q): %v", s, err)
		}
		if v.String() != s {
			t.Errorf("round trip %q -> %q", s, v.String())
		}
	}
	for _, s := range []string{"", "06:38:28", "06:38:28.07715066", "06:38:28.0771506660", "24:00:00.000000000",
		"06:60:00.000000000", "06:38:28,077150666", "0a:38:28.077150666", "+6:38:28.077150666"} {
		if _, err := ParseTimeOfDay(s); err == nil {
			t.Errorf("ParseTimeOfDay(%q) succeeded, want error", s)
		}
	}
	late, early := tod(t, "23:59:50.000000000"), tod(t, "00:00:20.000000000")
	if got := early.Since(late); got != 30*time.Second {
		t.Errorf("Since across midnight = %v, want 30s", got)
	}
	if got := late.Since(tod(t, "23:59:20.000000000")); got != 30*time.Second {
		t.Errorf("Since = %v, want 30s", got)
	}
}

func TestNormalizeContainerID(t *testing.T) {
	full := "090aad374a0a5b1f2a3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192"
	for in, want := range map[string]string{
		"090aad374a0a":         "090aad374a0a",
		"090AAD374A0A":         "090aad374a0a",
		"090aad374a0a5":        "090aad374a0a",
		full:                   "090aad374a0a",
		"containerd://" + full: "090aad374a0a",
		" 090aad374a0a\n":      "090aad374a0a",
	} {
		got, err := NormalizeContainerID(in)
		if err != nil || got != want {
			t.Errorf("NormalizeContainerID(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"", "090aad374a0", "nginx", "090aad374a0g", full + "0"} {
		if _, err := NormalizeContainerID(in); err == nil {
			t.Errorf("NormalizeContainerID(%q) succeeded, want error", in)
		}
	}
}
