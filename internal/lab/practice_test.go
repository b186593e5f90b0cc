package lab

import (
	"context"
	"errors"
	"os/exec"
	"strings"
	"testing"
)

func needBash(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("no bash on this machine")
	}
}

// A command that reads standard input (ssh does, like cat here) cannot eat the rest of a step's script: the
// script is bash's argument, not its input. Given on standard input, as solve did before, the next line never ran.
func TestRunScriptCommandReadingStdinDoesNotEatTheScript(t *testing.T) {
	needBash(t)
	out, err := runScript(context.Background(), nil, "x=$(cat)\necho \"SECOND [$x]\"\n")
	if err != nil {
		t.Fatalf("runScript: %v", err)
	}
	if got := strings.TrimSpace(string(out)); got != "SECOND []" {
		t.Errorf("output %q, want the second line to run with nothing read: %q", got, "SECOND []")
	}
	// The old way, for contrast: the same script on bash's standard input loses its second line to cat.
	old := exec.Command("bash", "-l")
	old.Stdin = strings.NewReader("x=$(cat)\necho \"SECOND [$x]\"\n")
	b, err := old.Output()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), "SECOND") {
		t.Errorf("the script on standard input ran its second line (%q): this test no longer shows the bug it guards", b)
	}
}

// A failing command stops the step, also inside a pipeline, and the error says what it printed, not the script.
func TestRunScriptStopsAtTheFirstFailure(t *testing.T) {
	needBash(t)
	for name, script := range map[string]string{
		"command":  "echo 'no such thing' >&2; false\necho AFTER\n",
		"pipeline": "{ echo 'no such thing' >&2; false; } | cat\necho AFTER\n",
	} {
		t.Run(name, func(t *testing.T) {
			out, err := runScript(context.Background(), nil, script)
			if err == nil {
				t.Fatalf("no error; output %q", out)
			}
			if strings.Contains(string(out), "AFTER") {
				t.Errorf("the line after the failure ran: %q", out)
			}
			var se *ScriptError
			if !errors.As(err, &se) {
				t.Fatalf("error %T %v, want a *ScriptError", err, err)
			}
			if got := err.Error(); got != "exit status 1: no such thing" {
				t.Errorf("error %q, want %q", got, "exit status 1: no such thing")
			}
		})
	}
}

func TestNotDoneErrorSaysWhatTheVerifySaw(t *testing.T) {
	e := &NotDoneError{Saw: "spec.replicas is 1", Err: &ScriptError{Output: "spec.replicas is 1", Err: errors.New("exit status 1")}}
	if got, want := e.Error(), "it ran, but what it is for is not true afterwards: spec.replicas is 1"; got != want {
		t.Errorf("%q, want %q", got, want)
	}
	e = &NotDoneError{Err: &ScriptError{Err: errors.New("exit status 1")}}
	if !strings.Contains(e.Error(), "its verify failed: exit status 1") {
		t.Errorf("%q does not say the verify failed", e.Error())
	}
}
