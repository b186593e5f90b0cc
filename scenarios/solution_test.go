package scenarios

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Every step of the reference solution is valid bash, for the exam's names and for seeded ones.
func TestSolutionStepsAreValidBash(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("no bash on this machine")
	}
	s := loadFalco(t)
	for _, seed := range []int64{0, 1, 2} {
		in, err := s.Instantiate(seed)
		if err != nil {
			t.Fatal(err)
		}
		for _, st := range in.Solution {
			for part, script := range map[string]string{"run": st.Run, "verify": st.Verify} {
				argv := StepShell(script)
				cmd := exec.Command(bash, append([]string{"-n"}, argv[1:]...)...)
				if out, err := cmd.CombinedOutput(); err != nil {
					t.Errorf("seed %d, step %s, %s: bash -n: %v\n%s\n%s", seed, st.ID, part, err, out, script)
				}
			}
		}
	}
}

// The step that edits the rule output works on the rules file the lab installs (falco/files): it changes the
// output of "Launch Package Management Process in Container" and nothing else.
func TestEditRuleOutputStep(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("no bash on this machine")
	}
	if _, err := exec.LookPath("awk"); err != nil {
		t.Skip("no awk on this machine")
	}
	rules, err := os.ReadFile(filepath.Join("..", "falco", "files", "ckslab-exam-rules.yaml"))
	if err != nil {
		t.Skipf("the lab's rules file is not there: %v", err)
	}
	in, err := loadFalco(t).Instantiate(0)
	if err != nil {
		t.Fatal(err)
	}
	var run string
	for _, st := range in.Solution {
		if st.ID == "edit-rule-output" {
			run = st.Run
		}
	}
	// The node-side script is the here-document the step feeds to `ssh <node> bash -s`.
	start := strings.Index(run, "<<'EOF'\n")
	end := strings.LastIndex(run, "\nEOF")
	if start < 0 || end < start {
		t.Fatalf("step edit-rule-output has no here-document:\n%s", run)
	}
	script := run[start+len("<<'EOF'\n") : end]
	dir := t.TempDir()
	file := filepath.Join(dir, "falco_rules.yaml")
	// The stable rules come first in the real file; a copy of the lab's rules stands for it here.
	original := "# Falco's own rules would be here.\n" + string(rules)
	if err := os.WriteFile(file, []byte(original), 0o644); err != nil {
		t.Fatal(err)
	}
	script = strings.ReplaceAll(script, "/etc/falco/falco_rules.yaml", file)
	script = strings.ReplaceAll(script, "/tmp/falco_rules.yaml", filepath.Join(dir, "out.yaml"))
	cmd := exec.Command(bash, "-c", script)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("the script fails: %v\n%s", err, out)
	}
	edited, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	got := string(edited)
	const want = "\n  output: \"%evt.time,%container.id,%container.name,%user.name\"\n"
	start = strings.Index(got, "- rule: Launch Package Management Process in Container\n")
	if start < 0 {
		t.Fatalf("the rule is gone:\n%s", got)
	}
	rule := got[start:]
	if next := strings.Index(rule, "\n- "); next > 0 {
		rule = rule[:next+1]
	}
	if !strings.Contains(rule, want) || strings.Count(rule, "output:") != 1 || strings.Contains(rule, "Package management process launched") {
		t.Errorf("the rule's output is not replaced:\n%s", rule)
	}
	if strings.Count(got, "%evt.time") != 1 {
		t.Errorf("the edit touched more than one rule:\n%s", got)
	}
	// Only the output lines of that rule changed: the other rule keeps its output.
	if !strings.Contains(got, "File below /etc opened for writing") {
		t.Error("the edit removed the output of Write below etc")
	}
	if removed := len(strings.Split(original, "\n")) - len(strings.Split(got, "\n")); removed < 0 {
		t.Errorf("the edit added %d lines", -removed)
	}

	// The step's verify reads the rules file on the node (here: ssh cats the edited copy, then the original).
	_, verify := step(t, in, "edit-rule-output")
	bin := t.TempDir()
	if err := os.WriteFile(filepath.Join(bin, "ssh"), []byte("#!/bin/sh\ncat "+file+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := runStep(t, bin, verify); err != nil {
		t.Errorf("verify after the edit fails: %v\n%s", err, out)
	}
	if err := os.WriteFile(file, []byte(original), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := runStep(t, bin, verify)
	if err == nil || !strings.Contains(string(out), "is not the task's; it reads:") {
		t.Errorf("verify of the unedited rules: err %v, output %q; want it to fail quoting the output", err, out)
	}
}

// The capture step keeps exactly the CSV field of case 1's alerts from Falco's stdout, with the fields
// Falco 0.41+ appends, and drops every other alert. ssh is a stand-in that answers for crictl and Falco.
func TestCaptureStep(t *testing.T) {
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("no bash on this machine")
	}
	dir := t.TempDir()
	s := *loadFalco(t)
	s.Spec.AnswerFile = filepath.Join(dir, "course", "2", "falco.log")
	in, err := s.Instantiate(0)
	if err != nil {
		t.Fatal(err)
	}
	run, verify := step(t, in, "capture-case-1")
	falcoOut := strings.Join([]string{
		"Fri Nov 27 00:50:00 2026: Falco version: 0.44.1",
		"06:38:28.077150666: Error 06:38:28.077150666,090aad374a0a,nginx,root container_id=090aad374a0a container_name=nginx container_image_repository=nginx",
		"06:38:29.000000001: Error File below /etc opened for writing (user=root command=sh -c echo hacker >> /etc/passwd container_id=1234567890ab image=httpd)",
		"06:38:30.100000000: Error 06:38:30.100000000,fedcba987654,nginx,root container_id=fedcba987654 container_name=nginx",
		"06:38:33.077150666: Error 06:38:33.077150666,090aad374a0a,nginx,root container_id=090aad374a0a container_name=nginx",
		"",
	}, "\n")
	if err := os.WriteFile(filepath.Join(dir, "falco.out"), []byte(falcoOut), 0o644); err != nil {
		t.Fatal(err)
	}
	ssh := "#!/bin/sh\ncase \"$*\" in\n*crictl*) echo 090aad374a0a5f1e2d3c4b5a69788796a5b4c3d2e1f00112233445566778899a ;;\n" +
		"*'systemctl is-active falco'*) echo active ;;\n*falco*) cat " + filepath.Join(dir, "falco.out") + " ;;\n*) exit 1 ;;\nesac\n"
	if err := os.WriteFile(filepath.Join(dir, "ssh"), []byte(ssh), 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := runStep(t, dir, run); err != nil {
		t.Fatalf("the step fails: %v\n%s", err, out)
	}
	got, err := os.ReadFile(s.Spec.AnswerFile)
	if err != nil {
		t.Fatal(err)
	}
	want := "06:38:28.077150666,090aad374a0a,nginx,root\n06:38:33.077150666,090aad374a0a,nginx,root\n"
	if string(got) != want {
		t.Errorf("answer file\n%s\nwant\n%s", got, want)
	}

	// The step's verify: these two lines span 5 s, too short; it says so.
	out, err := runStep(t, dir, verify)
	if err == nil || !strings.Contains(string(out), "the 2 lines span 5.0 s, not 30 s or more") {
		t.Errorf("verify of a 5 s capture: err %v, output %q; want it to fail naming the span", err, out)
	}
	// A long enough capture of case 1's container passes; a line of another container fails, named.
	long := "06:38:28.077150666,090aad374a0a,nginx,root\n06:38:58.100000000,090aad374a0a,nginx,root\n"
	if err := os.WriteFile(s.Spec.AnswerFile, []byte(long), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := runStep(t, dir, verify); err != nil {
		t.Errorf("verify of a 30 s capture fails: %v\n%s", err, out)
	}
	if err := os.WriteFile(s.Spec.AnswerFile, []byte(long+"06:38:59.000000001,fedcba987654,nginx,root\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err = runStep(t, dir, verify)
	if err == nil || !strings.Contains(string(out), "line 3 is not an alert of case 1's container 090aad374a0a") {
		t.Errorf("verify with another container's line: err %v, output %q; want it to name line 3", err, out)
	}
}

// The capture step fails, saying so, when Falco exits with an error (here: ssh relays exit status 1).
func TestCaptureStepFailsWhenFalcoFails(t *testing.T) {
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("no bash on this machine")
	}
	dir := t.TempDir()
	s := *loadFalco(t)
	s.Spec.AnswerFile = filepath.Join(dir, "course", "2", "falco.log")
	in, err := s.Instantiate(0)
	if err != nil {
		t.Fatal(err)
	}
	run, _ := step(t, in, "capture-case-1")
	ssh := "#!/bin/sh\ncase \"$*\" in\n*crictl*) echo 090aad374a0a5f1e2d3c4b5a69788796a5b4c3d2e1f00112233445566778899a ;;\n" +
		"*falco*) echo 'falco exited with status 1; its last lines:' >&2; exit 1 ;;\n*) exit 1 ;;\nesac\n"
	if err := os.WriteFile(filepath.Join(dir, "ssh"), []byte(ssh), 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := runStep(t, dir, run); err == nil {
		t.Errorf("the step succeeded although Falco failed:\n%s", out)
	}
}

// step returns the run and verify scripts of the step with this id.
func step(t *testing.T, in *Instance, id string) (run, verify string) {
	t.Helper()
	for _, st := range in.Solution {
		if st.ID == id {
			return st.Run, st.Verify
		}
	}
	t.Fatalf("no step %q", id)
	return "", ""
}

// runStep runs a script as solve does (StepShell's bash -c with its options), with dir first in PATH, and
// returns its combined output. Not a login shell: Debian's /etc/profile would set PATH again.
func runStep(t *testing.T, dir, script string) ([]byte, error) {
	t.Helper()
	argv := StepShell(script)
	if argv[0] != "bash" || argv[1] != "-l" || argv[2] != "-c" {
		t.Fatalf("StepShell gives %q, this test expects bash -l -c", argv[:3])
	}
	cmd := exec.Command("bash", "-c", argv[3])
	cmd.Env = append(os.Environ(), "PATH="+dir+":"+os.Getenv("PATH"))
	return cmd.CombinedOutput()
}
