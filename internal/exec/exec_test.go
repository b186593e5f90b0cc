package exec

import (
	"context"
	"errors"
	"strings"
	"testing"
)

func TestOutputKeepsCommandAndStderr(t *testing.T) {
	_, err := Output(context.Background(), "sh", "-c", "echo out; echo 'it broke' >&2; exit 3")
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("want *Error, got %T %v", err, err)
	}
	if e.ExitCode() != 3 {
		t.Errorf("exit code = %d, want 3", e.ExitCode())
	}
	for _, want := range []string{"sh -c", "exit status 3", "it broke"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
}

func TestOutputFallsBackToStdout(t *testing.T) {
	_, err := Output(context.Background(), "sh", "-c", "echo only-stdout; exit 1")
	if got := OutputOf(err); !strings.Contains(got, "only-stdout") {
		t.Errorf("OutputOf = %q, want stdout when stderr is empty", got)
	}
}

func TestLines(t *testing.T) {
	lines, err := Lines(context.Background(), "printf", "a\n\n b \nc")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(lines, ",") != "a,b,c" {
		t.Errorf("Lines = %q", lines)
	}
}

func TestMissingBinary(t *testing.T) {
	_, err := Output(context.Background(), "ckslab-no-such-binary")
	var e *Error
	if !errors.As(err, &e) || e.ExitCode() != -1 {
		t.Fatalf("want *Error with exit -1, got %v", err)
	}
}
