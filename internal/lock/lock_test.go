package lock

import (
	"bufio"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// The test binary is also the other process: with LOCK_TEST_HOLD=<path> it takes that lock as "ckslab
// reset", says "held" and holds it until its standard input closes; then, with LOCK_TEST_RMDIR=1, it
// removes the lock's folder (as down removes the lab's) before it releases.
func TestMain(m *testing.M) {
	if path := os.Getenv("LOCK_TEST_HOLD"); path != "" {
		l, _, err := Acquire(context.Background(), path, "ckslab reset", Options{Wait: 10 * time.Second})
		if err != nil {
			os.Stderr.WriteString(err.Error())
			os.Exit(3)
		}
		os.Stdout.WriteString("held\n")
		_, _ = bufio.NewReader(os.Stdin).ReadString('\n')
		if os.Getenv("LOCK_TEST_RMDIR") == "1" {
			_ = os.RemoveAll(filepath.Dir(path))
		}
		_ = l.Release()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

type holder struct {
	cmd   *exec.Cmd
	stdin interface{ Close() error }
}

// hold starts another process holding the lock at path and returns once it holds it.
func hold(t *testing.T, path string, env ...string) *holder {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(append(os.Environ(), "LOCK_TEST_HOLD="+path), env...)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || line != "held\n" {
		t.Fatalf("the holding process did not take the lock: %q %v, stderr %q", line, err, stderr.String())
	}
	return &holder{cmd: cmd, stdin: stdin}
}

func TestBusyNamesTheHolderAfterTheWait(t *testing.T) {
	path := filepath.Join(t.TempDir(), "labs", "cluster1", "lock")
	h := hold(t, path)
	var waitingFor []Holder
	_, _, err := Acquire(context.Background(), path, "ckslab up", Options{Wait: 300 * time.Millisecond, Poll: 50 * time.Millisecond,
		Waiting: func(h Holder) { waitingFor = append(waitingFor, h) }})
	var busy *BusyError
	if !errors.As(err, &busy) {
		t.Fatalf("Acquire of a held lock: %v, want a BusyError", err)
	}
	if busy.Holder.PID != h.cmd.Process.Pid || busy.Holder.Command != "ckslab reset" {
		t.Errorf("busy holder %+v, want ckslab reset with pid %d", busy.Holder, h.cmd.Process.Pid)
	}
	if busy.Waited < 300*time.Millisecond {
		t.Errorf("gave up after %s, before the 300ms wait", busy.Waited)
	}
	if len(waitingFor) != 1 || waitingFor[0].PID != h.cmd.Process.Pid {
		t.Errorf("Waiting called with %+v, want once with the holder", waitingFor)
	}
	if got, held := Peek(path); !held || got.PID != h.cmd.Process.Pid {
		t.Errorf("Peek = %+v, %v; want the holder, true", got, held)
	}
}

func TestWaitsForTheHolderToRelease(t *testing.T) {
	for _, rmdir := range []bool{false, true} {
		t.Run(map[bool]string{false: "release", true: "folder removed"}[rmdir], func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "labs", "cluster1", "lock")
			var env []string
			if rmdir {
				env = append(env, "LOCK_TEST_RMDIR=1")
			}
			h := hold(t, path, env...)
			waiting := make(chan struct{})
			go func() { <-waiting; h.stdin.Close() }()
			l, tookOver, err := Acquire(context.Background(), path, "ckslab up", Options{Wait: 30 * time.Second, Poll: 20 * time.Millisecond,
				Waiting: func(Holder) { close(waiting) }})
			if err != nil {
				t.Fatalf("Acquire after the holder released: %v", err)
			}
			defer l.Release()
			if tookOver != nil {
				t.Errorf("took over %+v from a holder that released", tookOver)
			}
			// The lock is on the file at path, not on one the holder removed: another process sees it held.
			if got, held := Peek(path); !held || got.PID != os.Getpid() || got.Command != "ckslab up" {
				t.Errorf("after Acquire, Peek = %+v, %v; want this process's ckslab up", got, held)
			}
		})
	}
}

func TestTakesOverFromADeadHolder(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lock")
	h := hold(t, path)
	pid := h.cmd.Process.Pid
	if err := h.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = h.cmd.Wait()
	l, tookOver, err := Acquire(context.Background(), path, "ckslab down", Options{})
	if err != nil {
		t.Fatalf("Acquire of a lock whose holder was killed: %v", err)
	}
	if tookOver == nil || tookOver.PID != pid || tookOver.Command != "ckslab reset" {
		t.Fatalf("tookOver = %+v, want the killed ckslab reset, pid %d", tookOver, pid)
	}
	if err := l.Release(); err != nil {
		t.Fatal(err)
	}
	if err := l.Release(); err != nil {
		t.Errorf("a second Release: %v", err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("Release left the lock file: %v", err)
	}
	if _, held := Peek(path); held {
		t.Error("Peek says held after Release")
	}
}

func TestOneHolderAtATime(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lock")
	var inside, most atomic.Int32
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l, _, err := Acquire(context.Background(), path, "ckslab up", Options{Wait: time.Minute, Poll: 5 * time.Millisecond})
			if err != nil {
				errs <- err
				return
			}
			n := inside.Add(1)
			for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
			}
			for range 1000 { // stay inside a while, so that a second holder would overlap
				runtime.Gosched()
			}
			inside.Add(-1)
			errs <- l.Release()
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if most.Load() != 1 {
		t.Errorf("%d holders at once, want 1", most.Load())
	}
}

func TestCancelledWhileWaiting(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lock")
	hold(t, path)
	ctx, cancel := context.WithCancel(context.Background())
	_, _, err := Acquire(ctx, path, "ckslab up", Options{Wait: time.Hour, Poll: 10 * time.Millisecond, Waiting: func(Holder) { cancel() }})
	if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "ckslab reset (pid ") {
		t.Fatalf("Acquire cancelled while waiting: %v; want context.Canceled naming the holder", err)
	}
}
