// Package exec runs external commands (argv slices, never shell strings) and returns errors that keep the
// command line and what it printed, like kind's pkg/exec.
package exec

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	osexec "os/exec"
	"strings"

	"al.essio.dev/pkg/shellescape"
)

// Error is a failed command: its argv, its exit error and what it wrote to stderr (and stdout, when it wrote
// nothing to stderr).
type Error struct {
	Args   []string
	Output []byte
	Err    error
}

func (e *Error) Error() string {
	msg := fmt.Sprintf("command %q failed: %v", shellescape.QuoteCommand(e.Args), e.Err)
	if out := strings.TrimSpace(string(e.Output)); out != "" {
		msg += ": " + out
	}
	return msg
}

func (e *Error) Unwrap() error { return e.Err }

// ExitCode is the command's exit status, or -1 when it did not run or was killed.
func (e *Error) ExitCode() int {
	var ee *osexec.ExitError
	if errors.As(e.Err, &ee) {
		return ee.ExitCode()
	}
	return -1
}

// OutputOf returns the output kept in err when err is (or wraps) an *Error, else nil.
func OutputOf(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return string(e.Output)
	}
	return ""
}

// Cmd is one command to run. Env, when not nil, replaces the environment; Stdin is optional.
type Cmd struct {
	Name  string
	Args  []string
	Env   []string
	Stdin []byte
}

// Command returns a Cmd for name and args.
func Command(name string, args ...string) *Cmd { return &Cmd{Name: name, Args: args} }

// Output runs the command and returns its stdout. On failure the error is an *Error carrying stderr.
func (c *Cmd) Output(ctx context.Context) ([]byte, error) {
	cmd := osexec.CommandContext(ctx, c.Name, c.Args...)
	if c.Env != nil {
		cmd.Env = c.Env
	}
	if c.Stdin != nil {
		cmd.Stdin = bytes.NewReader(c.Stdin)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		out := stderr.Bytes()
		if len(bytes.TrimSpace(out)) == 0 {
			out = stdout.Bytes()
		}
		if ctxErr := ctx.Err(); ctxErr != nil {
			err = fmt.Errorf("%w (%w)", ctxErr, err)
		}
		return stdout.Bytes(), &Error{Args: append([]string{c.Name}, c.Args...), Output: out, Err: err}
	}
	return stdout.Bytes(), nil
}

// Run runs the command and discards its stdout.
func (c *Cmd) Run(ctx context.Context) error {
	_, err := c.Output(ctx)
	return err
}

// Output runs name with args and returns its stdout.
func Output(ctx context.Context, name string, args ...string) ([]byte, error) {
	return Command(name, args...).Output(ctx)
}

// Lines runs name with args and returns the non-empty lines of its stdout, trimmed.
func Lines(ctx context.Context, name string, args ...string) ([]string, error) {
	out, err := Output(ctx, name, args...)
	if err != nil {
		return nil, err
	}
	var lines []string
	for _, l := range strings.Split(string(out), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			lines = append(lines, l)
		}
	}
	return lines, nil
}
