package lab

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ckslab/ckslab/internal/lock"
)

// upLab writes the state of a lab that is up, for the commands that load it first.
func upLab(t *testing.T, name string) string {
	t.Helper()
	dir := t.TempDir()
	s := &State{Schema: StateSchema, Name: name, ReadyAt: time.Now().UTC()}
	if err := s.Save(dir); err != nil {
		t.Fatal(err)
	}
	return dir
}

// A command that finds the lab's lock held waits for it (saying for whom) and, when the wait is over, stops
// with the message the issue asks for, naming the holder. flock locks conflict between two opens in one
// process as between two processes, so this test's own lock stands for the other command's; the lock
// package's tests use real processes.
func TestCommandsStopWhenTheLabIsBusy(t *testing.T) {
	t.Setenv(LockWaitEnv, "150ms")
	for _, name := range []string{DefaultName, "lab2"} {
		dir := upLab(t, name)
		held, _, err := lock.Acquire(context.Background(), LockPath(dir, name), "ckslab reset"+nameFlag(name), lock.Options{})
		if err != nil {
			t.Fatal(err)
		}
		want := fmt.Sprintf("lab %q is busy: ckslab reset%s (pid %d) is working on it", name, nameFlag(name), os.Getpid())
		for verb, run := range map[string]func(out *strings.Builder) error{
			"reset": func(out *strings.Builder) error { return Reset(context.Background(), dir, name, nil, out) },
			"solve": func(out *strings.Builder) error {
				_, err := Solve(context.Background(), dir, name, nil, out)
				return err
			},
			"up": func(out *strings.Builder) error {
				_, err := Up(context.Background(), Options{Name: name, CacheDir: dir, Kubeconfig: filepath.Join(dir, "kc"), Out: out})
				return err
			},
			"down": func(out *strings.Builder) error {
				return Down(context.Background(), Options{Name: name, CacheDir: dir, Kubeconfig: filepath.Join(dir, "kc"), Out: out})
			},
		} {
			var out strings.Builder
			err := run(&out)
			var busy *BusyError
			if !errors.As(err, &busy) || !strings.HasPrefix(err.Error(), want) {
				t.Errorf("%s of busy lab %s: %v; want %q", verb, name, err, want)
			}
			if !strings.Contains(out.String(), fmt.Sprintf("Waiting for ckslab reset%s (pid %d), which is working on lab %q", nameFlag(name), os.Getpid(), name)) {
				t.Errorf("%s did not say whom it waited for: %q", verb, out.String())
			}
		}
		if got, want := Busy(dir, name), fmt.Sprintf("ckslab reset%s (pid %d) was re-arming the lab", nameFlag(name), os.Getpid()); got != want {
			t.Errorf("Busy = %q, want %q", got, want)
		}
		st, _ := Load(dir, name)
		if got, want := (&Report{State: st, Busy: Busy(dir, name)}).String(), fmt.Sprintf("  busy:     ckslab reset%s (pid %d) is re-arming the lab;", nameFlag(name), os.Getpid()); !strings.Contains(got, want) {
			t.Errorf("status of a busy lab:\n%s\nwant a line %q", got, want)
		}
		if err := held.Release(); err != nil {
			t.Fatal(err)
		}
		if got := Busy(dir, name); got != "" {
			t.Errorf("Busy after release = %q, want none", got)
		}
		if _, err := Load(dir, name); err != nil {
			t.Errorf("the lab's state after the busy commands: %v", err)
		}
	}
}

// A lock left by a process that ended without releasing it is taken over, saying so, and a command on a lab
// that does not exist leaves no folder behind for its lock.
func TestHoldTakesOverAndCleansUp(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(Dir(dir, "lab3"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(LockPath(dir, "lab3"), []byte(`{"command":"ckslab up --name lab3","pid":999999}`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	release, err := hold(context.Background(), dir, "lab3", "down", &out)
	if err != nil {
		t.Fatal(err)
	}
	if want := `ckslab up --name lab3 (pid 999999) ended without releasing lab "lab3"; taking the lab over from it.`; !strings.Contains(out.String(), want) {
		t.Errorf("hold over a dead holder's lock said %q, want %q", out.String(), want)
	}
	if hasLabFolder(dir, "lab3") {
		t.Error("a folder holding only the lock counts as the lab's folder")
	}
	release()
	if _, err := os.Stat(Dir(dir, "lab3")); !os.IsNotExist(err) {
		t.Errorf("the lab's folder, holding nothing but the lock, is left after release: %v", err)
	}
	if err := Reset(context.Background(), dir, "nolab", nil, &out); !errors.Is(err, ErrNoLab) {
		t.Errorf("reset of a lab that does not exist: %v, want ErrNoLab", err)
	}
	if _, err := os.Stat(Dir(dir, "nolab")); !os.IsNotExist(err) {
		t.Errorf("reset of a lab that does not exist left a folder: %v", err)
	}
	t.Setenv(LockWaitEnv, "soon")
	if _, err := hold(context.Background(), dir, "lab3", "up", &out); err == nil || !strings.Contains(err.Error(), LockWaitEnv+`="soon" is not a duration`) {
		t.Errorf("a bad %s: %v", LockWaitEnv, err)
	}
}
