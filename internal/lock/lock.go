// Package lock is a lock file that one process at a time holds: the lock
// of a lab, which up, down, reset and solve take so that only one of them
// changes the lab at a time.
//
// The operating system holds the lock (flock on Unix, LockFileEx on
// Windows), so it goes with its holder: a killed process leaves its lock
// file behind but not the lock. The file says who holds it (command and
// pid), for the message a waiting command gives, and a file still saying so
// when its lock is free was left by a process that ended without releasing
// it: Acquire takes it over and reports that holder.
package lock

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Holder says who holds a lock.
type Holder struct {
	Command string    `json:"command"`
	PID     int       `json:"pid"`
	Since   time.Time `json:"since"`
}

// String is "ckslab reset (pid 4242)".
func (h Holder) String() string {
	c := h.Command
	if c == "" {
		c = "another command"
	}
	if h.PID == 0 {
		return c
	}
	return fmt.Sprintf("%s (pid %d)", c, h.PID)
}

// BusyError means the lock stayed held for all of Acquire's wait.
type BusyError struct {
	Path   string
	Holder Holder
	Waited time.Duration
}

func (e *BusyError) Error() string {
	return fmt.Sprintf("%s holds %s (waited %s)", e.Holder, e.Path, e.Waited.Round(time.Second))
}

// Lock is a held lock; Release gives it back.
type Lock struct {
	path string
	f    *os.File
}

// Options tune Acquire.
type Options struct {
	// Wait is how long Acquire waits for a held lock before BusyError; 0 tries once.
	Wait time.Duration
	// Poll is how often it tries again while waiting (default 200ms).
	Poll time.Duration
	// Waiting is called once, when the lock is found held, with its holder
	// (for a "waiting for ..." line).
	Waiting func(Holder)
}

// Acquire takes the lock at path (its folder is made if missing) for the
// command, waiting as opts say. tookOver is the holder that a file left by
// a process that ended without releasing its lock names; nil otherwise.
func Acquire(ctx context.Context, path, command string, opts Options) (l *Lock, tookOver *Holder, err error) {
	if opts.Poll <= 0 {
		opts.Poll = 200 * time.Millisecond
	}
	start := time.Now()
	told := false
	for {
		l, tookOver, held, err := try(path, command)
		if err != nil {
			return nil, nil, err
		}
		if l != nil {
			return l, tookOver, nil
		}
		// A holder that has just taken the lock may not have written its name yet: tell once it has (or
		// after a second without a name).
		if !told && opts.Waiting != nil && (held.PID != 0 || time.Since(start) >= time.Second) {
			opts.Waiting(held)
			told = true
		}
		if time.Since(start) >= opts.Wait {
			return nil, nil, &BusyError{Path: path, Holder: held, Waited: time.Since(start)}
		}
		t := time.NewTimer(min(opts.Poll, opts.Wait-time.Since(start)))
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, nil, fmt.Errorf("waiting for %s to release %s: %w", held, path, ctx.Err())
		case <-t.C:
		}
	}
}

// try takes the lock once: the lock (and the holder it took over), or the
// holder that has it.
func try(path, command string) (*Lock, *Holder, Holder, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, nil, Holder{}, fmt.Errorf("making the folder of the lock %s: %w", path, err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	for i := 0; errors.Is(err, fs.ErrNotExist) && i < 10; i++ {
		// Its folder went between MkdirAll and here (down removed the lab's folder, or a releasing
		// holder its empty folder): once more.
		if err = os.MkdirAll(filepath.Dir(path), 0o755); err == nil {
			f, err = os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
		}
	}
	if err != nil {
		return nil, nil, Holder{}, fmt.Errorf("opening the lock %s: %w", path, err)
	}
	ok, err := lockFile(f)
	if err != nil {
		f.Close()
		return nil, nil, Holder{}, fmt.Errorf("locking %s: %w", path, err)
	}
	if !ok {
		h, _ := readHolder(f)
		f.Close()
		return nil, nil, h, nil
	}
	// The holder before us may have removed the file after we opened it (Release does, as does down with
	// the lab's folder): then we hold the lock of a file no one else can open, and must try again.
	if !samePath(f, path) {
		unlockFile(f)
		f.Close()
		return try(path, command)
	}
	var tookOver *Holder
	if h, err := readHolder(f); err == nil && (h.PID != 0 || h.Command != "") {
		tookOver = &h
	}
	if err := writeHolder(f, Holder{Command: command, PID: os.Getpid(), Since: time.Now().UTC()}); err != nil {
		unlockFile(f)
		f.Close()
		return nil, nil, Holder{}, fmt.Errorf("writing the lock %s: %w", path, err)
	}
	return &Lock{path: path, f: f}, tookOver, Holder{}, nil
}

func samePath(f *os.File, path string) bool {
	a, err := f.Stat()
	if err != nil {
		return false
	}
	b, err := os.Stat(path)
	if err != nil {
		return false
	}
	return os.SameFile(a, b)
}

func readHolder(f *os.File) (Holder, error) {
	var h Holder
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return h, err
	}
	b, err := io.ReadAll(f)
	if err != nil {
		return h, err
	}
	if strings.TrimSpace(string(b)) == "" {
		return h, nil
	}
	err = json.Unmarshal(b, &h)
	return h, err
}

func writeHolder(f *os.File, h Holder) error {
	b, err := json.Marshal(h)
	if err != nil {
		return err
	}
	if err := f.Truncate(0); err != nil {
		return err
	}
	if _, err := f.WriteAt(append(b, '\n'), 0); err != nil {
		return err
	}
	return f.Sync()
}

// Release gives the lock back: its file is removed first (a process waiting
// on it then opens a new one), then the lock. Releasing twice is a no-op.
func (l *Lock) Release() error {
	if l == nil || l.f == nil {
		return nil
	}
	var err error
	if samePath(l.f, l.path) {
		if rerr := os.Remove(l.path); rerr != nil && !errors.Is(rerr, fs.ErrNotExist) {
			// Where an open file cannot be removed (Windows), empty it: the next holder sees no one left it.
			err = l.f.Truncate(0)
		}
	}
	unlockFile(l.f)
	if cerr := l.f.Close(); err == nil {
		err = cerr
	}
	l.f = nil
	return err
}

// Peek says who holds the lock at path without waiting or taking it: the
// holder and true while another process holds it; false when it is free or
// there is no lock file.
func Peek(path string) (Holder, bool) {
	f, err := os.Open(path)
	if err != nil {
		return Holder{}, false
	}
	defer f.Close()
	ok, err := lockFile(f)
	if err != nil {
		return Holder{}, false
	}
	if ok {
		unlockFile(f)
		return Holder{}, false
	}
	h, _ := readHolder(f)
	return h, true
}
