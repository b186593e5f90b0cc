package docker

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	osexec "os/exec"
	"path/filepath"
	"strings"
	"time"
)

// daemon is a dockerd that a ckslab process started, as recorded in its pid file.
type daemon struct {
	PID       int       `json:"pid"`
	Host      string    `json:"host"`
	Log       string    `json:"log"`
	StartedAt time.Time `json:"started_at"`

	pidFile string
	exited  chan struct{} // closed when this process reaped it (only for a daemon this process started)
}

const pidFileName = "dockerd.pid.json"

func pidFilePath(cacheDir string) string { return filepath.Join(cacheDir, "docker", pidFileName) }

func readDaemon(cacheDir string) (*daemon, error) {
	p := pidFilePath(cacheDir)
	data, err := os.ReadFile(p)
	if err != nil {
		return nil, err
	}
	d := &daemon{pidFile: p}
	if err := json.Unmarshal(data, d); err != nil {
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	return d, nil
}

// alive reports whether the recorded pid is still a running dockerd (and not a recycled pid).
func (d *daemon) alive() bool {
	if d.exited != nil {
		select {
		case <-d.exited:
			return false
		default:
		}
	}
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", d.PID))
	if err != nil {
		return false
	}
	argv0, _, _ := strings.Cut(string(cmdline), "\x00")
	if filepath.Base(argv0) != "dockerd" {
		return false
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", d.PID))
	if err != nil {
		return false
	}
	// a zombie (Z) or dead (X) process has exited
	if _, after, ok := strings.Cut(string(stat), ") "); ok && len(after) > 0 && (after[0] == 'Z' || after[0] == 'X') {
		return false
	}
	return true
}

// start runs dockerd in its own session, logging to the cache, and waits until the engine answers.
func start(ctx context.Context, host string, opts Options) (*Engine, error) {
	dir := filepath.Join(opts.CacheDir, "docker")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("creating %s: %w", dir, err)
	}
	logPath := filepath.Join(dir, "dockerd.log")
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, fmt.Errorf("creating dockerd's log: %w", err)
	}
	defer logFile.Close()

	args := append([]string{}, opts.DaemonArgs...)
	if host != "unix://"+DefaultSocket {
		args = append([]string{"--host", host}, args...)
	}
	dockerd := findDockerd()
	opts.Logger.V(0).Infof("Starting the Docker engine (%s %s); its log is %s", dockerd, strings.Join(args, " "), logPath)
	cmd := osexec.Command(dockerd, args...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	// its own session: a Ctrl-C to ckslab must not stop the engine the lab runs on
	cmd.SysProcAttr = ownSession()
	if err := cmd.Start(); err != nil {
		return nil, &Error{Problem: StartFailed, Err: err, Msg: fmt.Sprintf("could not start dockerd (%v)", err)}
	}
	d := &daemon{PID: cmd.Process.Pid, Host: host, Log: logPath, StartedAt: time.Now().UTC(), pidFile: pidFilePath(opts.CacheDir), exited: make(chan struct{})}
	var waitErr error
	go func() {
		waitErr = cmd.Wait()
		close(d.exited)
	}()
	if err := d.write(); err != nil {
		_ = d.stop(ctx, 10*time.Second)
		return nil, err
	}

	ctxWait, cancel := context.WithTimeout(ctx, opts.StartTimeout)
	defer cancel()
	tick := time.NewTicker(opts.PollInterval)
	defer tick.Stop()
	var lastErr error
	for {
		info, err := probe(ctxWait)
		if err == nil {
			e := newEngine(info, host, opts)
			e.Started, e.daemon = true, d
			opts.Logger.V(0).Infof("Docker engine %s is up (pid %d)", info.ServerVersion, d.PID)
			return e, nil
		}
		lastErr = err
		select {
		case <-d.exited:
			os.Remove(d.pidFile)
			return nil, &Error{Problem: StartFailed, Err: waitErr, Msg: fmt.Sprintf(
				"dockerd exited right after it started (%v); the end of its log %s: %s", waitErr, logPath, tail(logPath, 5))}
		case <-ctxWait.Done():
			_ = d.stop(context.WithoutCancel(ctx), 15*time.Second)
			why := "did not answer within " + opts.StartTimeout.String()
			if ctx.Err() != nil {
				why = "was interrupted"
			}
			return nil, &Error{Problem: StartFailed, Err: lastErr, Msg: fmt.Sprintf(
				"dockerd %s and was stopped again; `docker info` last said: %s; the end of its log %s: %s",
				why, lastLine("", lastErr), logPath, tail(logPath, 5))}
		case <-tick.C:
		}
	}
}

func (d *daemon) write() error {
	data, err := json.MarshalIndent(d, "", "  ")
	if err != nil {
		return err
	}
	tmp := d.pidFile + ".tmp"
	if err := os.WriteFile(tmp, append(data, '\n'), 0o644); err != nil {
		return fmt.Errorf("writing dockerd's pid file: %w", err)
	}
	return os.Rename(tmp, d.pidFile)
}

// stop sends SIGTERM, waits up to grace for dockerd to exit (it stops its containers first), then SIGKILL.
func (d *daemon) stop(ctx context.Context, grace time.Duration) error {
	defer os.Remove(d.pidFile)
	if !d.alive() {
		return nil
	}
	if err := terminate(d.PID); err != nil {
		return fmt.Errorf("stopping dockerd (pid %d): %w", d.PID, err)
	}
	if waitGone(ctx, d, grace) {
		return nil
	}
	_ = kill(d.PID)
	if waitGone(ctx, d, 5*time.Second) {
		return nil
	}
	return fmt.Errorf("dockerd (pid %d) did not exit after SIGTERM and SIGKILL", d.PID)
}

func waitGone(ctx context.Context, d *daemon, timeout time.Duration) bool {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		if !d.alive() {
			return true
		}
		select {
		case <-ctx.Done():
			return !d.alive()
		case <-d.exitedOrNever():
		case <-tick.C:
		}
	}
}

func (d *daemon) exitedOrNever() <-chan struct{} {
	if d.exited != nil {
		return d.exited
	}
	return nil
}

// Stop stops the engine if this process started it; otherwise it does nothing.
func (e *Engine) Stop(ctx context.Context) error {
	if !e.Started || e.daemon == nil {
		return nil
	}
	e.logger.V(0).Infof("Stopping the Docker engine ckslab started (pid %d)", e.daemon.PID)
	if err := e.daemon.stop(ctx, 30*time.Second); err != nil {
		return err
	}
	e.Started = false
	return nil
}

// StopStarted stops a dockerd that an earlier ckslab process started (as its pid file in the cache says), and
// reports whether there was one. A dockerd ckslab did not start is never touched.
func StopStarted(ctx context.Context, opts Options) (bool, error) {
	if err := opts.defaults(); err != nil {
		return false, err
	}
	d, err := readDaemon(opts.CacheDir)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if !d.alive() {
		os.Remove(d.pidFile)
		return false, nil
	}
	opts.Logger.V(0).Infof("Stopping the Docker engine ckslab started (pid %d)", d.PID)
	return true, d.stop(ctx, 30*time.Second)
}

// tail returns the last n lines of a file, joined with " | ".
func tail(path string, n int) string {
	f, err := os.Open(path)
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if len(lines) > n {
			lines = lines[1:]
		}
	}
	if len(lines) == 0 {
		return "(empty)"
	}
	return strings.Join(lines, " | ")
}
