package answerfile

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/ckslab/ckslab/grader"
)

// FuzzCheckAnswerFile grades arbitrary files: no input may panic, and every
// report must be coherent.
func FuzzCheckAnswerFile(f *testing.F) {
	f.Add([]byte(join(capture("06:38:28.077150666", 11, 3*time.Second, nginxID))))
	f.Add([]byte("time,container-id,container-name,user-name\r\n06:38:28.077150666,090aad374a0a,nginx,root  \n"))
	f.Add([]byte("06:38:28.077150666: Error 06:38:28.077150666,090aad374a0a,nginx,root container_id=090aad374a0a\n"))
	f.Add([]byte("23:59:50.000000000,090aad374a0a,nginx,root\n00:00:20.000000000,090aad374a0a,nginx,root\n"))
	f.Add([]byte("\x00\xff\n\n,,,\n"))
	f.Add([]byte("\xEF\xBB\xBF" + join(capture("06:38:28.077150666", 11, 3*time.Second, nginxID))))
	f.Add([]byte("\xEF\xBB\xBF\r\n\xEF\xBB\xBF 06:38:28.077150666: Error x\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		o := opts()
		o.MaxBytes = 1 << 16
		res, err := CheckReader(bytes.NewReader(data), "fuzz.log", o)
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Checks) != 4 {
			t.Fatalf("%d checks", len(res.Checks))
		}
		lines := bytes.Count(data, []byte("\n")) + 1
		for i, c := range res.Checks {
			switch c.Status {
			case grader.Pass, grader.Fail, grader.Warn, grader.Skip, grader.Error:
			default:
				t.Fatalf("check %s has status %q", c.ID, c.Status)
			}
			if c.Status == grader.Fail && c.Remediation == "" {
				t.Fatalf("check %s fails without remediation", c.ID)
			}
			if i > 0 && res.Checks[0].Status != grader.Pass && c.Status != grader.Skip {
				t.Fatalf("check 1 is %s but %s is %s", res.Checks[0].Status, c.ID, c.Status)
			}
			if len(c.Findings) > DefaultMaxFindings {
				t.Fatalf("%d findings", len(c.Findings))
			}
			for _, fd := range c.Findings {
				if fd.Line < 1 || fd.Line > lines {
					t.Fatalf("finding on line %d of %d", fd.Line, lines)
				}
				if fd.Problem == "" {
					t.Fatal("finding without a problem")
				}
			}
		}
		prev := 0
		for _, l := range res.Lines {
			if l.Number <= prev || l.Number > lines {
				t.Fatalf("line numbers out of order: %d after %d", l.Number, prev)
			}
			prev = l.Number
			if len(l.ContainerID) != 12 && l.ContainerID != "host" || strings.Contains(l.User, ",") {
				t.Fatalf("bad line %+v", l)
			}
		}
		if res.Checks[1].Status == grader.Pass && len(res.Lines) == 0 {
			t.Fatal("format passes with no well-formed line")
		}
	})
}
