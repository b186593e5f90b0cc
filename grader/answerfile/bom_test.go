package answerfile

import (
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestCheckByteOrderMark: a file saved by an editor that writes a UTF-8
// byte-order mark fails the format check on that line, naming the mark and
// how to drop it; a line that is otherwise well-formed still counts for the
// other checks.
func TestCheckByteOrderMark(t *testing.T) {
	const bom = "\xEF\xBB\xBF"
	good := capture("06:38:28.077150666", 12, 3*time.Second, nginxID)
	tests := []struct {
		name     string
		content  string
		statuses string
		line     int    // the format finding's line
		problem  string // in its problem
		fix      string // in its remediation
		lines    int    // well-formed lines kept for checks 3-5
		first    int    // number of the first of them
	}{
		{"first line", bom + join(good), "pass fail pass pass", 1,
			"starts with a UTF-8 byte-order mark (an editor added it); the rest of the line is well-formed",
			`sed -i 's/^\xEF\xBB\xBF//' /opt/course/2/falco.log`, 12, 1},
		{"first line, CRLF", bom + strings.Join(good, "\r\n") + "\r\n", "pass fail pass pass", 1,
			"byte-order mark", "sed -i", 12, 1},
		{"a line of its own", bom + "\n" + join(good), "pass fail pass pass", 1,
			"the line is only a UTF-8 byte-order mark", "sed -i", 12, 2},
		{"and Falco's prefix", bom + "06:38:28.077150666: Error " + good[0] + "\n" + join(good[1:]), "pass fail pass pass", 1,
			`byte-order mark (an editor added it), and Falco's prefix "06:38:28.077150666: Error" is still in the line`, "awk", 11, 2},
		{"concatenated files", join(good[:6]) + bom + join(good[6:]), "pass fail pass pass", 7,
			"byte-order mark", "sed -i", 12, 1},
		{"only line", bom + good[0] + "\n", "pass fail pass fail", 1, "byte-order mark", "sed -i", 1, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := opts()
			o.DisplayPath = "/opt/course/2/falco.log"
			res := checkFile(t, write(t, tt.content), o)
			if got := statuses(res); got != tt.statuses {
				t.Fatalf("statuses = %q, want %q\n%+v", got, tt.statuses, res.Checks)
			}
			format := res.Checks[1]
			if len(format.Findings) != 1 || format.Findings[0].Line != tt.line {
				t.Fatalf("format findings %+v, want one on line %d", format.Findings, tt.line)
			}
			f := format.Findings[0]
			if !strings.Contains(f.Problem, tt.problem) || !strings.Contains(f.Remediation, tt.fix) || !strings.HasPrefix(f.Text, `"\ufeff`) {
				t.Errorf("finding %+v, want problem with %q and fix with %q", f, tt.problem, tt.fix)
			}
			if strings.Contains(f.Problem, "is not a time of day") {
				t.Errorf("the mark is taken for part of the time: %q", f.Problem)
			}
			if len(res.Lines) != tt.lines || res.Lines[0].Number != tt.first {
				t.Fatalf("kept %d lines from line %d, want %d from line %d", len(res.Lines), res.Lines[0].Number, tt.lines, tt.first)
			}
			if tt.lines > 1 {
				mentions(t, res.Checks[2], 0, "All "+strconv.Itoa(tt.lines)+" well-formed lines")
			}
		})
	}

	// A line with the mark that is of another container still fails case 1.
	res := checkFile(t, write(t, bom+join(capture("06:38:25.077150666", 1, 0, httpdID), good)), opts())
	if got := statuses(res); got != "pass fail fail pass" || res.Checks[2].Findings[0].Line != 1 {
		t.Errorf("httpd line with a mark: %s %+v", got, res.Checks[2])
	}
}

// TestByteOrderMarkFixWorks runs the remediation's sed command on a file
// with the mark: the file then passes.
func TestByteOrderMarkFixWorks(t *testing.T) {
	sed, err := exec.LookPath("sed")
	if err != nil {
		t.Skipf("no sed here: %v", err)
	}
	path := write(t, "\xEF\xBB\xBF"+join(capture("06:38:28.077150666", 12, 3*time.Second, nginxID)))
	res := checkFile(t, path, opts())
	fix := res.Checks[1].Findings[0].Remediation
	_, script, ok := strings.Cut(fix, "sed -i '")
	script, _, ok2 := strings.Cut(script, "' ")
	if !ok || !ok2 {
		t.Fatalf("no sed -i '...' command in %q", fix)
	}
	if out, err := exec.Command(sed, "-i", script, path).CombinedOutput(); err != nil {
		t.Fatalf("sed -i %q: %v: %s", script, err, out)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if res := checkFile(t, path, opts()); statuses(res) != "pass pass pass pass" {
		t.Errorf("after the fix: %s\n%q", statuses(res), b[:40])
	}
}
