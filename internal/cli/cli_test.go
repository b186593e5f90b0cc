package cli

import (
	"bytes"
	"errors"
	"fmt"
	"testing"
)

func TestCode(t *testing.T) {
	for _, tt := range []struct {
		err  error
		want int
	}{
		{nil, 0},
		{errors.New("boom"), 1},
		{&UsageError{Err: errors.New("bad flag")}, 2},
		{fmt.Errorf("wrapped: %w", &UsageError{Err: errors.New("x")}), 2},
		{&ExitError{Code: 1}, 1},
		{&ExitError{Code: 2, Err: errors.New("cannot grade")}, 2},
	} {
		if got := Code(tt.err); got != tt.want {
			t.Errorf("Code(%v) = %d, want %d", tt.err, got, tt.want)
		}
	}
	if (&ExitError{Code: 1}).Error() != "" {
		t.Error("an ExitError without Err must print nothing")
	}
}

func TestLoggerVerbosity(t *testing.T) {
	var b bytes.Buffer
	l := NewLogger(&b, 1)
	l.V(0).Info("zero")
	l.V(1).Infof("one %d", 1)
	l.V(2).Info("two")
	l.Warnf("careful %s", "now")
	l.Error("bad\n")
	want := "zero\none 1\nWARNING: careful now\nERROR: bad\n"
	if b.String() != want {
		t.Errorf("got %q, want %q", b.String(), want)
	}
	if l.V(2).Enabled() || !l.V(1).Enabled() {
		t.Error("Enabled does not follow the verbosity")
	}
}
