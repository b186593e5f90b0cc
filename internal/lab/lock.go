package lab

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/ckslab/ckslab/internal/lock"
)

// LockWaitEnv sets how long up, down, reset and solve wait for another
// command working on the same lab (a Go duration, e.g. 5m); DefaultLockWait
// when unset.
const LockWaitEnv = "CKSLAB_LOCK_WAIT"

// DefaultLockWait is how long a command waits for the lab's lock.
const DefaultLockWait = 2 * time.Minute

// LockPath is the lock file of a lab: up, down, reset and solve hold it while they change the lab.
func LockPath(cacheDir, name string) string { return filepath.Join(Dir(cacheDir, name), "lock") }

// BusyError means another command kept the lab's lock for all of the wait.
type BusyError struct {
	Name   string
	Holder lock.Holder
	Waited time.Duration
}

func (e *BusyError) Error() string {
	return fmt.Sprintf("lab %q is busy: %s is working on it (waited %s; try again when it is done)", e.Name, e.Holder, e.Waited.Round(time.Second))
}

// lockWait reads LockWaitEnv.
func lockWait() (time.Duration, error) {
	v := os.Getenv(LockWaitEnv)
	if v == "" {
		return DefaultLockWait, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("%s=%q is not a duration: give one such as 2m or 30s, or unset it", LockWaitEnv, v)
	}
	return d, nil
}

// hold takes the lab's lock for `ckslab <verb>`, waiting for another command that holds it (saying so on
// out), and returns its release, which also removes the lab's folder when nothing but the lock was in it
// (a down that found nothing, an up that failed at once).
func hold(ctx context.Context, cacheDir, name, verb string, out io.Writer) (release func(), err error) {
	wait, err := lockWait()
	if err != nil {
		return nil, err
	}
	if out == nil {
		out = io.Discard
	}
	path := LockPath(cacheDir, name)
	l, tookOver, err := lock.Acquire(ctx, path, "ckslab "+verb+nameFlag(name), lock.Options{Wait: wait,
		Waiting: func(h lock.Holder) {
			fmt.Fprintf(out, "Waiting for %s, which is working on lab %q (up to %s) ...\n", h, name, wait)
		}})
	if be := (*lock.BusyError)(nil); errors.As(err, &be) {
		return nil, &BusyError{Name: name, Holder: be.Holder, Waited: be.Waited}
	}
	if err != nil {
		return nil, fmt.Errorf("lab %q: %w", name, err)
	}
	if tookOver != nil {
		fmt.Fprintf(out, "%s ended without releasing lab %q; taking the lab over from it.\n", tookOver, name)
	}
	return func() {
		_ = l.Release()
		_ = os.Remove(Dir(cacheDir, name)) // only when empty
	}, nil
}

// Busy says which command is changing the lab right now and what it does to
// it ("ckslab reset (pid 4242) was re-arming the lab"); "" when none is.
func Busy(cacheDir, name string) string {
	h, held := lock.Peek(LockPath(cacheDir, name))
	if !held {
		return ""
	}
	doing := "was changing the lab"
	if f := strings.Fields(h.Command); len(f) > 1 {
		switch f[1] {
		case "up":
			doing = "was bringing the lab up or repairing it"
		case "down":
			doing = "was removing the lab"
		case "reset":
			doing = "was re-arming the lab"
		case "solve":
			doing = "was performing the reference solution"
		}
	}
	return h.String() + " " + doing
}

// hasLabFolder says whether the lab's folder holds anything but its lock.
func hasLabFolder(cacheDir, name string) bool {
	entries, err := os.ReadDir(Dir(cacheDir, name))
	if err != nil {
		return !os.IsNotExist(err)
	}
	for _, e := range entries {
		if e.Name() != filepath.Base(LockPath(cacheDir, name)) {
			return true
		}
	}
	return false
}
