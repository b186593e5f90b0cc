// Package docker makes sure a Docker engine answers before ckslab provisions anything, starts one when ckslab
// may (root, dockerd installed, no init system managing it), stops only what it started, and decides whether
// kind needs the `--privileged` shim (see package shim) on this engine.
//
// What it keeps in the cache directory (images.CacheDir):
//
//	docker/dockerd.log             the log of a dockerd ckslab started (rewritten at each start)
//	docker/dockerd.pid.json        pid, socket and start time of that dockerd; StopStarted only stops this pid,
//	                               and only while it is still a dockerd
//	docker/privileged-<key>.json   whether `docker run --privileged` works on an engine, and the capabilities
//	                               that replace it when not; <key> hashes the engine ID, its version, the kernel
//	                               and dockerd's capability bounding set, so a changed engine is probed again
//	docker/empty-lib-modules/      the source of the nodes' /lib/modules mount on hosts without /lib/modules
//	docker-shim/<pid>/docker       the shim of a running ckslab process: a link to its executable, and
//	docker-shim/<pid>/shim.json    its configuration; directories of processes that are gone are swept
package docker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	osexec "os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"sigs.k8s.io/kind/pkg/log"

	"github.com/ckslab/ckslab/internal/exec"
	"github.com/ckslab/ckslab/internal/images"
)

// DefaultSocket is the engine's socket when DOCKER_HOST is not set.
const DefaultSocket = "/var/run/docker.sock"

// Options configure Ensure.
type Options struct {
	// CacheDir holds dockerd's log and pid file when ckslab starts it (default: images.CacheDir).
	CacheDir string
	// Logger receives progress messages (default: none).
	Logger log.Logger
	// NoStart makes Ensure only probe: it never starts dockerd.
	NoStart bool
	// StartTimeout bounds how long Ensure waits for a dockerd it started to answer (default 60s).
	StartTimeout time.Duration
	// PollInterval is how often it asks (default 250ms).
	PollInterval time.Duration
	// DaemonArgs are extra dockerd arguments when ckslab starts it.
	DaemonArgs []string
}

func (o *Options) defaults() error {
	if o.CacheDir == "" {
		d, err := images.CacheDir(os.Getenv)
		if err != nil {
			return err
		}
		o.CacheDir = d
	}
	if o.Logger == nil {
		o.Logger = log.NoopLogger{}
	}
	if o.StartTimeout <= 0 {
		o.StartTimeout = 60 * time.Second
	}
	if o.PollInterval <= 0 {
		o.PollInterval = 250 * time.Millisecond
	}
	return nil
}

// Engine is a Docker engine that answers.
type Engine struct {
	ID              string
	Name            string
	ServerVersion   string
	KernelVersion   string
	OperatingSystem string
	CgroupVersion   string
	CgroupDriver    string
	// Host is the engine's address: $DOCKER_HOST, or unix://DefaultSocket.
	Host string
	// Started is true when this process started dockerd; Stop stops only such an engine.
	Started bool

	cacheDir string
	logger   log.Logger
	daemon   *daemon
}

// Local reports whether the engine runs on this host (a unix socket), so that host facts such as the
// capability bounding set, /lib/modules and cgroups are the engine's too.
func (e *Engine) Local() bool { return isLocal(runtime.GOOS, e.Host, e.OperatingSystem) }

// isLocal: only on a Linux host can the engine be this machine's own kernel; on macOS and Windows it runs in a
// virtual machine (Docker Desktop, colima, OrbStack, WSL2) even when reached through a unix socket.
func isLocal(goos, host, engineOS string) bool {
	return goos == "linux" && strings.HasPrefix(host, "unix://") && !strings.Contains(strings.ToLower(engineOS), "docker desktop")
}

// defaultHost is the engine's address when DOCKER_HOST is not set, as the docker CLI has it: Docker Desktop's
// named pipe on Windows, the unix socket elsewhere. (The docker CLI, which ckslab runs, also follows its own
// context; this address names the engine in messages and decides whether ckslab may start one.)
func defaultHost(goos string) string {
	if goos == "windows" {
		return "npipe:////./pipe/docker_engine"
	}
	return "unix://" + DefaultSocket
}

// CacheDir is the cache directory the engine was ensured with.
func (e *Engine) CacheDir() string { return e.cacheDir }

// engineInfo is the part of `docker info --format '{{json .}}'` ckslab reads.
type engineInfo struct {
	ID              string   `json:"ID"`
	Name            string   `json:"Name"`
	ServerVersion   string   `json:"ServerVersion"`
	KernelVersion   string   `json:"KernelVersion"`
	OperatingSystem string   `json:"OperatingSystem"`
	CgroupVersion   string   `json:"CgroupVersion"`
	CgroupDriver    string   `json:"CgroupDriver"`
	ServerErrors    []string `json:"ServerErrors"`
}

// Problem kinds that Ensure reports; see Error.
type Problem int

const (
	// NotInstalled: there is no docker CLI (or no engine to start).
	NotInstalled Problem = iota + 1
	// NotRunning: the engine does not answer and ckslab may not start it.
	NotRunning
	// PermissionDenied: the engine runs but this user may not use its socket.
	PermissionDenied
	// StartFailed: ckslab started dockerd and it did not come up.
	StartFailed
	// Unreachable: anything else that keeps the engine from answering.
	Unreachable
)

// Error is what Ensure returns when no engine answers: a plain sentence that names the fix.
type Error struct {
	Problem Problem
	Msg     string
	Err     error
}

func (e *Error) Error() string { return e.Msg }
func (e *Error) Unwrap() error { return e.Err }

// Ensure returns the engine that answers, starting dockerd first when none does and ckslab may start it.
func Ensure(ctx context.Context, opts Options) (*Engine, error) {
	if err := opts.defaults(); err != nil {
		return nil, err
	}
	host := os.Getenv("DOCKER_HOST")
	if host == "" {
		host = defaultHost(runtime.GOOS)
	}
	if _, err := osexec.LookPath("docker"); err != nil {
		return nil, &Error{Problem: NotInstalled, Err: err, Msg: "Docker is not installed (no `docker` command on PATH): " + installHint()}
	}
	info, probeErr := probe(ctx)
	if probeErr == nil {
		e := newEngine(info, host, opts)
		if d, err := readDaemon(opts.CacheDir); err == nil && d.alive() {
			e.daemon = d
		}
		return e, nil
	}
	problem := classify(probeErr)
	switch problem {
	case PermissionDenied:
		return nil, &Error{Problem: PermissionDenied, Err: probeErr, Msg: fmt.Sprintf(
			"Docker runs but this user may not use it (permission denied on %s): add yourself to the docker group with `sudo usermod -aG docker $USER`, then log out and in again (or run `newgrp docker`)",
			strings.TrimPrefix(host, "unix://"))}
	case NotRunning:
	default:
		return nil, &Error{Problem: Unreachable, Err: probeErr, Msg: fmt.Sprintf("the Docker engine at %s does not answer: %s", host, lastLine(exec.OutputOf(probeErr), probeErr))}
	}
	how, canStart := startDecision(runtime.GOOS, host, opts.NoStart)
	if !canStart {
		return nil, &Error{Problem: NotRunning, Err: probeErr, Msg: how}
	}
	return start(ctx, host, opts)
}

func newEngine(info engineInfo, host string, opts Options) *Engine {
	return &Engine{
		ID: info.ID, Name: info.Name, ServerVersion: info.ServerVersion, KernelVersion: info.KernelVersion,
		OperatingSystem: info.OperatingSystem, CgroupVersion: info.CgroupVersion, CgroupDriver: info.CgroupDriver,
		Host: host, cacheDir: opts.CacheDir, logger: opts.Logger,
	}
}

// probe asks the engine for its info.
func probe(ctx context.Context) (engineInfo, error) {
	var info engineInfo
	out, err := exec.Output(ctx, "docker", "info", "--format", "{{json .}}")
	if err != nil {
		return info, err
	}
	if err := json.Unmarshal(out, &info); err != nil {
		return info, fmt.Errorf("reading `docker info`: %w", err)
	}
	if info.ID == "" || info.ServerVersion == "" {
		msg := strings.Join(info.ServerErrors, "; ")
		if msg == "" {
			msg = "`docker info` returned no engine"
		}
		return info, errors.New(msg)
	}
	return info, nil
}

// classify sorts a failed probe by what the CLI said.
func classify(err error) Problem {
	text := strings.ToLower(err.Error())
	switch {
	case strings.Contains(text, "permission denied"):
		return PermissionDenied
	case strings.Contains(text, "cannot connect to the docker daemon"),
		strings.Contains(text, "connection refused"),
		strings.Contains(text, "no such file or directory"),
		strings.Contains(text, "is the docker daemon running"):
		return NotRunning
	}
	return Unreachable
}

// startDecision says whether ckslab may start dockerd itself, and if not, the sentence telling the user what to
// do.
func startDecision(goos, host string, noStart bool) (string, bool) {
	if host != defaultHost(goos) && !strings.HasPrefix(host, "unix://") {
		return fmt.Sprintf("the Docker engine at DOCKER_HOST=%s does not answer: start it there, or unset DOCKER_HOST to use this machine's engine", host), false
	}
	// Starting dockerd is for Linux hosts alone; elsewhere the engine is an application's, in a virtual machine.
	switch goos {
	case "darwin":
		return "the Docker engine does not answer: start Docker Desktop (or `colima start`, or OrbStack) and run again; ckslab starts an engine itself only on Linux", false
	case "windows":
		return "the Docker engine does not answer: start Docker Desktop (with its WSL2 back end) and run again; ckslab starts an engine itself only on Linux", false
	case "linux":
	default:
		return "the Docker engine does not answer: start it and run again; ckslab starts an engine itself only on Linux", false
	}
	dockerd := findDockerd()
	if dockerd == "" {
		return "Docker's command line is installed but its engine (dockerd) is not: " + installHint(), false
	}
	if initIsSystemd() {
		return "Docker is installed but not running: start it with `sudo systemctl start docker`", false
	}
	if os.Geteuid() != 0 {
		if _, err := os.Stat("/etc/init.d/docker"); err == nil {
			return "Docker is installed but not running: start it with `sudo service docker start`", false
		}
		return "Docker is installed but not running, and only root can start it: run `sudo dockerd` in another terminal, or run ckslab as root once", false
	}
	if noStart {
		return "Docker is installed but not running: start it with `dockerd` (as root)", false
	}
	return "", true
}

func installHint() string {
	return "on Debian or Ubuntu install it with `sudo apt-get install docker.io`; elsewhere install Docker Desktop or Docker Engine"
}

func findDockerd() string {
	if p, err := osexec.LookPath("dockerd"); err == nil {
		return p
	}
	for _, p := range []string{"/usr/sbin/dockerd", "/usr/bin/dockerd", "/usr/local/bin/dockerd"} {
		if st, err := os.Stat(p); err == nil && st.Mode()&0o111 != 0 {
			return p
		}
	}
	return ""
}

// initIsSystemd reports whether systemd is PID 1 (and so manages docker's unit).
func initIsSystemd() bool {
	if st, err := os.Stat("/run/systemd/system"); err == nil && st.IsDir() {
		return true
	}
	comm, err := os.ReadFile("/proc/1/comm")
	return err == nil && strings.TrimSpace(string(comm)) == "systemd"
}

// ImagePresent reports whether ref is in the engine's image store (it never pulls).
func (e *Engine) ImagePresent(ctx context.Context, ref string) (bool, error) {
	_, err := exec.Output(ctx, "docker", "image", "inspect", "--format", "{{.Id}}", ref)
	if err == nil {
		return true, nil
	}
	if strings.Contains(strings.ToLower(exec.OutputOf(err)), "no such image") {
		return false, nil
	}
	return false, fmt.Errorf("checking for image %s: %w", ref, err)
}

// Pull pulls ref unless it is present.
func (e *Engine) Pull(ctx context.Context, ref string) error {
	if ok, err := e.ImagePresent(ctx, ref); err != nil || ok {
		return err
	}
	e.logger.V(0).Infof("Pulling %s", ref)
	if err := exec.Command("docker", "pull", ref).Run(ctx); err != nil {
		return fmt.Errorf("pulling %s: %w", ref, err)
	}
	return nil
}

func lastLine(output string, err error) string {
	output = strings.TrimSpace(output)
	if output == "" {
		return err.Error()
	}
	lines := strings.Split(output, "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}

func (e *Engine) stateDir() string { return filepath.Join(e.cacheDir, "docker") }
