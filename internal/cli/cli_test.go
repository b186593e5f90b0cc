package cli

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// openPTY opens a pseudo-terminal's follower side, a real terminal.
func openPTY(t *testing.T) *os.File {
	t.Helper()
	ptmx, err := os.OpenFile("/dev/ptmx", os.O_RDWR, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	t.Cleanup(func() { ptmx.Close() })
	if err := unix.IoctlSetPointerInt(int(ptmx.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	n, err := unix.IoctlGetInt(int(ptmx.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	pts, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pts.Close() })
	return pts
}

func TestColorEnabled(t *testing.T) {
	tty := openPTY(t)
	t.Setenv("TERM", "xterm")
	t.Setenv("NO_COLOR", "")
	if !ColorEnabled(tty) {
		t.Error("no colour on a terminal")
	}
	if ColorEnabled(&bytes.Buffer{}) {
		t.Error("colour into a buffer")
	}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	if ColorEnabled(w) {
		t.Error("colour into a pipe")
	}
	t.Setenv("NO_COLOR", "1")
	if ColorEnabled(tty) {
		t.Error("colour with NO_COLOR set")
	}
	t.Setenv("NO_COLOR", "")
	t.Setenv("TERM", "dumb")
	if ColorEnabled(tty) {
		t.Error("colour with TERM=dumb")
	}
}

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
