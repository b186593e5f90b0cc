package answerfile

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ckslab/ckslab/falco"
	"github.com/ckslab/ckslab/grader"
)

const (
	nginxID = "090aad374a0a"
	httpdID = "5b1f2a3c4d5e"
	decoyID = "7a5ea6a080d1"
	fullID  = "090aad374a0a5b1f2a3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192"
)

// capture returns n answer lines starting at start, step apart.
func capture(start string, n int, step time.Duration, id string) []string {
	t, err := falco.ParseTimeOfDay(start)
	if err != nil {
		panic(err)
	}
	var out []string
	for i := 0; i < n; i++ {
		out = append(out, fmt.Sprintf("%s,%s,nginx,root", t, id))
		t = (t + falco.TimeOfDay(step)) % falco.Day
	}
	return out
}

func opts() Options {
	return Options{
		ContainerIDs:  []string{nginxID},
		ContainerName: "nginx",
		Known:         map[string]string{httpdID: "the httpd offender (team-purple/rating-service)", decoyID: "a decoy (team-green/web)"},
	}
}

func write(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "falco.log")
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func checkFile(t *testing.T, path string, o Options) Result {
	t.Helper()
	res, err := Check(path, o)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Checks) != 4 {
		t.Fatalf("got %d checks, want 4", len(res.Checks))
	}
	return res
}

func statuses(res Result) string {
	var s []string
	for _, c := range res.Checks {
		s = append(s, string(c.Status))
	}
	return strings.Join(s, " ")
}

// mentions checks that the check's message or one of its findings contains
// every wanted text; findings also need a line number when line > 0.
func mentions(t *testing.T, c grader.Result, line int, wants ...string) {
	t.Helper()
	texts := []string{c.Message + " " + c.Remediation}
	for _, f := range c.Findings {
		if line > 0 && f.Line != line {
			continue
		}
		texts = append(texts, fmt.Sprintf("line %d: %s %s %s", f.Line, f.Text, f.Problem, f.Remediation))
	}
	all := strings.Join(texts, "\n")
	for _, w := range wants {
		if !strings.Contains(all, w) {
			t.Errorf("%s: %q not found in:\n%s", c.ID, w, all)
		}
	}
}

func join(lines ...[]string) string {
	var all []string
	for _, l := range lines {
		all = append(all, l...)
	}
	return strings.Join(all, "\n") + "\n"
}

func TestCheckGoodCapture(t *testing.T) {
	res := checkFile(t, write(t, join(capture("06:38:28.077150666", 11, 3*time.Second, nginxID))), opts())
	if got := statuses(res); got != "pass pass pass pass" {
		t.Fatalf("statuses = %s; checks: %+v", got, res.Checks)
	}
	mentions(t, res.Checks[3], 0, "30s", "06:38:28.077150666 (line 1)", "06:38:58.077150666 (line 11)")
	if len(res.Lines) != 11 || res.Lines[0].ContainerID != nginxID || res.Lines[10].Number != 11 {
		t.Errorf("Lines = %+v", res.Lines)
	}
}

func TestCheckEdgeCases(t *testing.T) {
	good := capture("06:38:28.077150666", 12, 3*time.Second, nginxID)
	tests := []struct {
		name    string
		content string
		want    string // statuses of the four checks
		check   int    // which check to inspect
		line    int
		mention []string
	}{
		{"crlf", strings.Join(good, "\r\n") + "\r\n", "pass pass pass pass", 1, 0, nil},
		{"trailing blanks", strings.Join(good, "  \t\n"), "pass pass pass pass", 1, 0, nil},
		{"blank lines", "\n\n" + strings.Join(good[:5], "\n") + "\n\n   \n" + strings.Join(good[5:], "\n"), "pass pass pass pass", 0, 0, []string{"12 lines"}},
		{"no final newline", strings.Join(good, "\n"), "pass pass pass pass", 0, 0, nil},
		{"header", "time,container-id,container-name,user-name\n" + join(good), "pass fail pass pass", 1, 1, []string{"header line", "delete this line"}},
		{"falco prefix left in", join(good[:5]) + "06:38:43.077150666: Error 06:38:43.077150666,090aad374a0a,nginx,root\n" + join(good[6:]), "pass fail pass pass", 1, 6,
			[]string{`prefix "06:38:43.077150666: Error"`, "awk"}},
		{"whole falco line", "06:38:28.077150666: Error Package management process launched in container (user=root command=apk container_id=090aad374a0a container_name=nginx)\n", "pass fail skip skip", 1, 1,
			[]string{"Falco's prefix"}},
		{"suggested fields", join(good[:11]) + good[11] + " container_id=090aad374a0a container_name=nginx container_image_repository=library/nginx k8s_pod_name=webapi-1 k8s_ns_name=team-blue\n",
			"pass fail pass pass", 1, 12, []string{"suggested fields", "append_output"}},
		{"extra field", join(good[:11]) + good[11] + ",extra\n", "pass fail pass pass", 1, 12, []string{"5 comma-separated fields"}},
		{"missing field", join(good[:11]) + "06:39:01.077150666,090aad374a0a,nginx\n", "pass fail pass pass", 1, 12, []string{"3 comma-separated fields"}},
		{"spaces around commas", join(good[:11]) + "06:39:01.077150666, 090aad374a0a, nginx, root\n", "pass fail pass pass", 1, 12, []string{"blanks around the commas"}},
		{"leading blank", join(good[:11]) + " 06:39:01.077150666,090aad374a0a,nginx,root\n", "pass fail pass pass", 1, 12, []string{"starts with blanks"}},
		{"uppercase id", join(good[:11]) + "06:39:01.077150666,090AAD374A0A,nginx,root\n", "pass fail pass pass", 1, 12, []string{"uppercase", "lowercase"}},
		{"full-length id", join(good[:11]) + "06:39:01.077150666," + fullID + ",nginx,root\n", "pass fail pass pass", 1, 12, []string{"64-digit", "12-digit"}},
		{"crictl id", join(good[:11]) + "06:39:01.077150666,090aad374a0a5,nginx,root\n", "pass fail pass pass", 1, 12, []string{"13 digits", "crictl"}},
		{"not an id", join(good[:11]) + "06:39:01.077150666,nginx-7854ff,nginx,root\n", "pass fail pass pass", 1, 12, []string{"is not a container id"}},
		{"empty name", join(good[:11]) + "06:39:01.077150666,090aad374a0a,,root\n", "pass fail pass pass", 1, 12, []string{"container name is empty"}},
		{"empty user", join(good[:11]) + "06:39:01.077150666,090aad374a0a,nginx,\n", "pass fail pass pass", 1, 12, []string{"user name is empty"}},
		{"json line", `{"output":"06:38:28.077150666: Error x","rule":"r"}` + "\n", "pass fail skip skip", 1, 1, []string{"JSON"}},
		{"httpd lines", join(good[:11], capture("06:39:01.077150666", 1, 0, httpdID)), "pass pass fail pass", 2, 12, []string{"httpd offender", "case 1"}},
		{"decoy lines", join(capture("06:38:28.077150666", 11, 3*time.Second, decoyID)), "pass pass fail pass", 2, 1, []string{"a decoy", "11 of 11"}},
		{"unknown container", join(capture("06:38:28.077150666", 11, 3*time.Second, "abcdefabcdef")), "pass pass fail pass", 2, 1, []string{"not the offending container", "crictl"}},
		{"host process", join(good[:11]) + "06:39:01.077150666,host,host,root\n", "pass pass fail pass", 2, 12, []string{"on the node itself"}},
		{"another name", join(good[:11]) + "06:39:01.077150666,090aad374a0a,webapi,root\n", "pass pass fail pass", 2, 12, []string{`"webapi" is not the offender's container name "nginx"`}},
		{"another user", join(good[:11]) + "06:39:01.077150666,090aad374a0a,nginx,<NA>\n", "pass pass fail pass", 2, 12, []string{`user "<NA>" is not "root"`}},
		{"no nanoseconds", join(good[:11]) + "06:39:01,090aad374a0a,nginx,root\n", "pass fail pass pass", 1, 12, []string{"no nanoseconds"}},
		{"milliseconds", join(good[:11]) + "06:39:01.077,090aad374a0a,nginx,root\n", "pass fail pass pass", 1, 12, []string{"exactly 9 digits"}},
		{"iso time", join(good[:11]) + "2026-06-15T06:39:01.077150666+0000,090aad374a0a,nginx,root\n", "pass fail pass pass", 1, 12, []string{"date and time", "iso8601"}},
		{"datetime", join(good[:11]) + "2026-06-15 06:39:01.077150666,090aad374a0a,nginx,root\n", "pass fail pass pass", 1, 12, []string{"date and time"}},
		{"raw time", join(good[:11]) + "1781505541077150666,090aad374a0a,nginx,root\n", "pass fail pass pass", 1, 12, []string{"raw timestamp"}},
		{"out of order", join(good[:5], good[6:7], good[5:6], good[7:]), "pass pass pass fail", 3, 7, []string{"earlier than the line before", "don't sort"}},
		{"across midnight", join(capture("23:59:50.000000000", 11, 3*time.Second, nginxID)), "pass pass pass pass", 3, 0, []string{"30s", "crosses midnight"}},
		{"twice across midnight", join(capture("23:59:50.000000000", 6, 3*time.Second, nginxID), capture("23:59:59.000000000", 6, 3*time.Second, nginxID)), "pass pass pass fail", 3, 8, []string{"earlier than", "00:00:02.000000000 after 23:59:59.000000000 (line 7)"}},
		{"exactly 30s", join(capture("06:38:28.077150666", 2, 30*time.Second, nginxID)), "pass pass pass pass", 3, 0, []string{"spans 30s"}},
		{"29.999999999s", join(capture("06:38:28.077150666", 2, 30*time.Second-1, nginxID)), "pass pass pass fail", 3, 0, []string{"spans 29.999999999s", "falco -M"}},
		{"10s capture", join(capture("06:38:28.077150666", 5, 2500*time.Millisecond, nginxID)), "pass pass pass fail", 3, 0, []string{"spans 10s"}},
		{"one line", good[0] + "\n", "pass pass pass fail", 3, 0, []string{"Only one line"}},
		{"empty", "", "fail skip skip skip", 0, 0, []string{"is empty"}},
		{"only blank lines", "\n  \n\r\n", "fail skip skip skip", 0, 0, []string{"only blank lines"}},
		{"binary", "\x7fELF\x02\x01\x01\x00\x00\x00\n" + join(good), "fail skip skip skip", 0, 0, []string{"binary", "NUL"}},
		{"invalid utf-8", join(good[:11]) + "06:39:01.077150666,090aad374a0a,ng\xffinx,root\n", "pass fail pass pass", 1, 12, []string{"not valid UTF-8", `\xff`}},
		{"long line", join(good[:11]) + good[11] + strings.Repeat("x", 10000) + "\n", "pass fail pass pass", 1, 12, []string{"longer than 4096 bytes"}},
		{"garbage", "hello world\n", "pass fail skip skip", 1, 1, []string{"not four comma-separated fields"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := checkFile(t, write(t, tt.content), opts())
			if got := statuses(res); got != tt.want {
				t.Fatalf("statuses = %q, want %q\n%+v", got, tt.want, res.Checks)
			}
			mentions(t, res.Checks[tt.check], tt.line, tt.mention...)
			for _, c := range res.Checks {
				if c.Status == grader.Fail && c.Remediation == "" {
					t.Errorf("%s fails without a remediation", c.ID)
				}
			}
		})
	}
}

func TestCheckFindingsAreCapped(t *testing.T) {
	var lines []string
	for i := 0; i < 500; i++ {
		lines = append(lines, "garbage")
	}
	res := checkFile(t, write(t, strings.Join(lines, "\n")), opts())
	f := res.Checks[1]
	if len(f.Findings) != DefaultMaxFindings || f.OmittedFindings != 500-DefaultMaxFindings {
		t.Errorf("findings %d, omitted %d", len(f.Findings), f.OmittedFindings)
	}
	if f.Findings[9].Line != 10 {
		t.Errorf("10th finding is line %d", f.Findings[9].Line)
	}
}

func TestCheckTruncatesShownLines(t *testing.T) {
	long := "06:38:28.077150666: Error Package management process launched in container (user=root user_loginuid=-1 command=apk container_id=090aad374a0a)"
	res := checkFile(t, write(t, long+"\n"), opts())
	text := res.Checks[1].Findings[0].Text
	if len([]rune(text)) > displayWidth+3 || !strings.HasSuffix(text, `…"`) {
		t.Errorf("shown text %q is not truncated to %d runes", text, displayWidth)
	}
}

func TestCheckGapWarning(t *testing.T) {
	o := opts()
	o.Interval = 3 * time.Second
	content := join(capture("06:38:28.077150666", 3, 3*time.Second, nginxID), capture("06:39:28.077150666", 3, 3*time.Second, nginxID))
	res := checkFile(t, write(t, content), o)
	if res.Checks[3].Status != grader.Warn {
		t.Fatalf("span status %s, want warn: %+v", res.Checks[3].Status, res.Checks[3])
	}
	mentions(t, res.Checks[3], 0, "longest gap", "54s", "before line 4")
	o.Interval = 0
	if res := checkFile(t, write(t, content), o); res.Checks[3].Status != grader.Pass {
		t.Errorf("without an interval the span check should pass, got %s", res.Checks[3].Status)
	}
}

func TestCheckFileSystemCases(t *testing.T) {
	dir := t.TempDir()
	good := join(capture("06:38:28.077150666", 11, 3*time.Second, nginxID))
	real := filepath.Join(dir, "real.log")
	if err := os.WriteFile(real, []byte(good), 0o644); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "falco.log")
	if err := os.Symlink(real, link); err != nil {
		t.Fatal(err)
	}
	res := checkFile(t, link, opts())
	if statuses(res) != "pass pass pass pass" {
		t.Errorf("symlink: %s", statuses(res))
	}
	mentions(t, res.Checks[0], 0, "symbolic link to "+real)

	dangling := filepath.Join(dir, "dangling.log")
	if err := os.Symlink(filepath.Join(dir, "nowhere"), dangling); err != nil {
		t.Fatal(err)
	}
	res = checkFile(t, dangling, opts())
	if statuses(res) != "error skip skip skip" {
		t.Errorf("dangling symlink: %s", statuses(res))
	}
	mentions(t, res.Checks[0], 0, "which does not exist")

	missing := filepath.Join(dir, "course", "2", "falco.log")
	res = checkFile(t, missing, opts())
	if statuses(res) != "error skip skip skip" {
		t.Errorf("missing: %s", statuses(res))
	}
	mentions(t, res.Checks[0], 0, "does not exist", "mkdir -p "+filepath.Dir(missing))
	o := opts()
	o.MissingIsFailure = true
	if res := checkFile(t, missing, o); res.Checks[0].Status != grader.Fail {
		t.Errorf("missing with MissingIsFailure: %s", res.Checks[0].Status)
	}

	res = checkFile(t, dir, opts())
	if statuses(res) != "fail skip skip skip" {
		t.Errorf("directory: %s", statuses(res))
	}
	mentions(t, res.Checks[0], 0, "is a directory")

	if os.Geteuid() != 0 {
		unreadable := filepath.Join(dir, "unreadable.log")
		if err := os.WriteFile(unreadable, []byte(good), 0o000); err != nil {
			t.Fatal(err)
		}
		res = checkFile(t, unreadable, opts())
		if res.Checks[0].Status != grader.Error {
			t.Errorf("unreadable: %s", statuses(res))
		}
	}
}

func TestCheckUnreadableDirectoryEntry(t *testing.T) {
	// A path through a file is unreadable whoever runs the test.
	dir := t.TempDir()
	f := filepath.Join(dir, "file")
	if err := os.WriteFile(f, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	res := checkFile(t, filepath.Join(f, "falco.log"), opts())
	if statuses(res) != "error skip skip skip" {
		t.Errorf("statuses %s", statuses(res))
	}
	mentions(t, res.Checks[0], 0, "Cannot read", "not a directory")
}

func TestCheckHugeFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "falco.log")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	// A sparse 100 MB file: the size check must refuse it without reading it.
	if err := f.Truncate(100 << 20); err != nil {
		t.Fatal(err)
	}
	f.Close()
	res := checkFile(t, p, opts())
	if statuses(res) != "fail skip skip skip" {
		t.Fatalf("statuses %s", statuses(res))
	}
	mentions(t, res.Checks[0], 0, "100.0 MiB", "more than the 10.0 MiB")
}

func TestCheckReaderCapsStreams(t *testing.T) {
	// A stream (a pipe, a growing file) is capped while reading.
	o := opts()
	o.MaxBytes = 1000
	res, err := CheckReader(strings.NewReader(join(capture("06:38:28.077150666", 100, time.Second, nginxID))), "stdin", o)
	if err != nil {
		t.Fatal(err)
	}
	if statuses(res) != "fail skip skip skip" || res.Lines != nil {
		t.Fatalf("statuses %s, %d lines kept", statuses(res), len(res.Lines))
	}
	mentions(t, res.Checks[0], 0, "more than the 1000 bytes")
}

func TestCheckContainerIDForms(t *testing.T) {
	content := join(capture("06:38:28.077150666", 11, 3*time.Second, nginxID))
	for _, id := range []string{nginxID, strings.ToUpper(nginxID), nginxID + "5", fullID, "containerd://" + fullID} {
		o := opts()
		o.ContainerIDs = []string{id}
		if res := checkFile(t, write(t, content), o); statuses(res) != "pass pass pass pass" {
			t.Errorf("truth id %q: %s", id, statuses(res))
		}
	}
	o := opts()
	o.ContainerIDs = []string{decoyID, nginxID} // a restart: two ids
	if res := checkFile(t, write(t, content), o); statuses(res) != "pass pass pass pass" {
		t.Errorf("two ids: %s", statuses(res))
	}
	for _, bad := range [][]string{nil, {"nginx"}, {"12345"}} {
		o := opts()
		o.ContainerIDs = bad
		if _, err := Check(write(t, content), o); err == nil {
			t.Errorf("ids %q: no error", bad)
		}
	}
}

func TestCheckNameNotCheckedWhenUnset(t *testing.T) {
	o := opts()
	o.ContainerName = ""
	content := join(capture("06:38:28.077150666", 11, 3*time.Second, nginxID))
	content = strings.ReplaceAll(content, ",nginx,", ",anything,")
	res := checkFile(t, write(t, content), o)
	if statuses(res) != "pass pass pass pass" {
		t.Fatalf("statuses %s", statuses(res))
	}
	mentions(t, res.Checks[2], 0, "name was not checked")
}
