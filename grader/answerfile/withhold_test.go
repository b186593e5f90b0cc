package answerfile

import (
	"strings"
	"testing"

	"github.com/ckslab/ckslab/grader"
)

// resultText is everything a learner reads of a result.
func resultText(r grader.Result) string {
	parts := []string{r.Title, r.Message, r.Expected, r.Actual, r.Remediation}
	for _, f := range r.Findings {
		parts = append(parts, f.Text, f.Problem, f.Remediation)
	}
	return strings.Join(parts, "\n")
}

// Withheld, the checks never name the offender's id, nor whose the other containers are, unless the
// learner's lines hold it; revealed (check-log's way), they do.
func TestWithhold(t *testing.T) {
	const restartedID = "c0ffee000001" // the offender's earlier container, not in any line here
	tests := []struct {
		name      string
		lines     []string
		statuses  string
		forbidden []string // withheld, never shown
		revealed  []string // shown when not withheld
		problem   string   // a withheld finding's problem, when the case check fails
	}{
		{"httpd lines saved", capture("06:38:28.077150666", 11, 3e9, httpdID), "pass pass fail pass",
			[]string{nginxID, restartedID, "team-purple", "rating-service", "httpd offender"},
			[]string{nginxID, "the httpd offender (team-purple/rating-service)"},
			"container " + httpdID + " is not case 1's container"},
		{"a decoy's line among case 1's", append(capture("06:38:28.077150666", 11, 3e9, nginxID), "06:38:59.077150666,"+decoyID+",nginx,root"), "pass pass fail pass",
			[]string{restartedID, "team-green", "a decoy"},
			[]string{"a decoy (team-green/web)", restartedID},
			"container " + decoyID + " is not case 1's container"},
		{"a made-up id", capture("06:38:28.077150666", 11, 3e9, "0123456789ab"), "pass pass fail pass",
			[]string{nginxID, restartedID}, []string{nginxID},
			"container 0123456789ab is not case 1's container"},
		{"right id, wrong name", []string{"06:38:28.077150666," + nginxID + ",web,root", "06:39:28.077150666," + nginxID + ",web,root"}, "pass pass fail pass",
			[]string{restartedID, `"nginx"`}, []string{`"nginx"`},
			`container name "web" is not the name of container ` + nginxID},
		{"all case 1", capture("06:38:28.077150666", 11, 3e9, nginxID), "pass pass pass pass",
			[]string{restartedID}, []string{restartedID}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := write(t, strings.Join(tt.lines, "\n")+"\n")
			for _, withhold := range []bool{true, false} {
				o := opts()
				o.ContainerIDs = []string{nginxID, restartedID}
				o.Withhold = withhold
				res := checkFile(t, path, o)
				if got := statuses(res); got != tt.statuses {
					t.Errorf("withhold=%v: statuses %s, want %s", withhold, got, tt.statuses)
				}
				var all strings.Builder
				for _, c := range res.Checks {
					all.WriteString(resultText(c) + "\n")
				}
				for _, s := range tt.forbidden {
					if withhold && strings.Contains(all.String(), s) {
						t.Errorf("withheld report names %q:\n%s", s, all.String())
					}
				}
				for _, s := range tt.revealed {
					if !withhold && !strings.Contains(all.String(), s) {
						t.Errorf("revealed report does not name %q:\n%s", s, all.String())
					}
				}
				case1 := res.Checks[2]
				if withhold && tt.problem != "" {
					if len(case1.Findings) == 0 || case1.Findings[0].Problem != tt.problem {
						t.Errorf("findings %+v, want the problem %q", case1.Findings, tt.problem)
					}
					if !strings.Contains(case1.Remediation, "ckslab hint") || case1.Expected != "case 1's container (user root)" {
						t.Errorf("withheld case-1 check: expected %q, fix %q", case1.Expected, case1.Remediation)
					}
				}
			}
		})
	}
}
