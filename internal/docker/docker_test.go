package docker

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ckslab/ckslab/internal/docker/shim"
	ckexec "github.com/ckslab/ckslab/internal/exec"
)

func TestMain(m *testing.M) {
	// the shim tests run this test binary as `docker`
	shim.Dispatch()
	os.Exit(m.Run())
}

func TestCapNames(t *testing.T) {
	// this VM's bounding set: everything up to CHECKPOINT_RESTORE except SYS_RESOURCE
	const vm = 0x000001fffeffffff
	names := CapNames(vm)
	if len(names) != 40 || names[0] != "CHOWN" || names[len(names)-1] != "CHECKPOINT_RESTORE" {
		t.Errorf("CapNames(vm) = %q", names)
	}
	for _, n := range names {
		if n == "SYS_RESOURCE" {
			t.Error("SYS_RESOURCE listed although its bit is clear")
		}
	}
	if got := CapNames(FullCapMask(40) &^ vm); !cmp.Equal(got, []string{"SYS_RESOURCE"}) {
		t.Errorf("missing from the VM's set = %q, want [SYS_RESOURCE]", got)
	}
	if got := CapNames(1 << 45); !cmp.Equal(got, []string{"45"}) {
		t.Errorf("unknown bit named %q", got)
	}
	if FullCapMask(40) != 0x1ffffffffff || FullCapMask(63) != ^uint64(0) {
		t.Errorf("FullCapMask(40) = %x", FullCapMask(40))
	}
}

func TestParseCapBnd(t *testing.T) {
	got, err := ParseCapBnd("Name:\tdockerd\nCapEff:\t0000000000000000\nCapBnd:\t000001fffeffffff\nCapAmb:\t0\n")
	if err != nil || got != 0x000001fffeffffff {
		t.Errorf("ParseCapBnd = %x, %v", got, err)
	}
	if _, err := ParseCapBnd("Name:\tx\n"); err == nil {
		t.Error("ParseCapBnd without a CapBnd line succeeded")
	}
}

func cmdErr(output string) error {
	return &ckexec.Error{Args: []string{"docker", "info"}, Output: []byte(output), Err: errors.New("exit status 1")}
}

func TestClassify(t *testing.T) {
	tests := []struct {
		out  string
		want Problem
	}{
		{"Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?", NotRunning},
		{"error during connect: Get \"http://%2Fvar%2Frun%2Fdocker.sock/v1.24/info\": dial unix /var/run/docker.sock: connect: no such file or directory", NotRunning},
		{"permission denied while trying to connect to the Docker daemon socket at unix:///var/run/docker.sock", PermissionDenied},
		{"Error response from daemon: client version 1.52 is too new. Maximum supported API version is 1.41", Unreachable},
	}
	for _, tt := range tests {
		if got := classify(cmdErr(tt.out)); got != tt.want {
			t.Errorf("classify(%q) = %d, want %d", tt.out, got, tt.want)
		}
	}
}

func TestRefusedCaps(t *testing.T) {
	refused := cmdErr("docker: Error response from daemon: failed to create shim task: OCI runtime create failed: runc create failed: unable to start container process: unable to apply caps: operation not permitted: unknown.")
	notFound := cmdErr(`docker: Error response from daemon: failed to create shim task: OCI runtime create failed: runc create failed: unable to start container process: exec: "true": executable file not found in $PATH: unknown.`)
	if !refusedCaps(refused) {
		t.Error("the runc caps error was not recognised")
	}
	if refusedCaps(notFound) {
		t.Error("a missing executable was taken for refused capabilities")
	}
}

func TestUnknownCapRE(t *testing.T) {
	m := unknownCapRE.FindStringSubmatch(`Error response from daemon: invalid CapAdd: unknown capability: "CAP_BPF"`)
	if m == nil || m[1] != "BPF" {
		t.Errorf("match = %q", m)
	}
}

func TestStartDecisionRemoteHost(t *testing.T) {
	msg, ok := startDecision("linux", "tcp://10.0.0.1:2376", false)
	if ok || !strings.Contains(msg, "DOCKER_HOST=tcp://10.0.0.1:2376") {
		t.Errorf("startDecision(remote) = %q, %v", msg, ok)
	}
}

// What differs by host: the engine's default address, whether it is this machine's kernel, and whether ckslab
// may start one (Linux alone; elsewhere the message says what to start instead).
func TestEngineChoicesByHost(t *testing.T) {
	for goos, want := range map[string]string{"linux": "unix:///var/run/docker.sock", "darwin": "unix:///var/run/docker.sock", "windows": "npipe:////./pipe/docker_engine"} {
		if got := defaultHost(goos); got != want {
			t.Errorf("defaultHost(%s) = %q, want %q", goos, got, want)
		}
	}
	for _, tt := range []struct {
		goos, host, engineOS string
		want                 bool
	}{
		{"linux", "unix:///var/run/docker.sock", "Debian GNU/Linux 13 (trixie)", true},
		{"linux", "unix:///home/a/.docker/desktop/docker.sock", "Docker Desktop", false},
		{"linux", "tcp://10.0.0.1:2376", "Debian GNU/Linux 13 (trixie)", false},
		{"darwin", "unix:///Users/a/.colima/default/docker.sock", "Ubuntu 24.04 LTS", false},
		{"windows", "npipe:////./pipe/docker_engine", "Docker Desktop", false},
	} {
		if got := isLocal(tt.goos, tt.host, tt.engineOS); got != tt.want {
			t.Errorf("isLocal(%s, %s, %s) = %v, want %v", tt.goos, tt.host, tt.engineOS, got, tt.want)
		}
	}
	for goos, want := range map[string]string{
		"darwin":  "start Docker Desktop (or `colima start`, or OrbStack) and run again; ckslab starts an engine itself only on Linux",
		"windows": "start Docker Desktop (with its WSL2 back end) and run again; ckslab starts an engine itself only on Linux",
		"freebsd": "start it and run again; ckslab starts an engine itself only on Linux",
	} {
		msg, ok := startDecision(goos, defaultHost(goos), false)
		if ok || !strings.Contains(msg, want) {
			t.Errorf("startDecision(%s) = %q, %v; want no start and %q", goos, msg, ok, want)
		}
	}
}

func TestDaemonAliveRejectsOtherProcesses(t *testing.T) {
	d := &daemon{PID: os.Getpid()}
	if d.alive() {
		t.Error("the test process was taken for a dockerd")
	}
	d = &daemon{PID: 1 << 22}
	if d.alive() {
		t.Error("a pid that does not exist was taken for a live dockerd")
	}
}

func TestStopStartedWithoutPidFile(t *testing.T) {
	stopped, err := StopStarted(context.Background(), Options{CacheDir: t.TempDir()})
	if stopped || err != nil {
		t.Errorf("StopStarted with no pid file = %v, %v", stopped, err)
	}
}

func TestStopStartedIgnoresForeignPid(t *testing.T) {
	// a pid file that names a process that is not dockerd (a recycled pid) must not lead to a kill
	cache := t.TempDir()
	sleeper := exec.Command("sleep", "30")
	if err := sleeper.Start(); err != nil {
		t.Fatal(err)
	}
	defer sleeper.Process.Kill()
	if err := os.MkdirAll(filepath.Join(cache, "docker"), 0o755); err != nil {
		t.Fatal(err)
	}
	d := &daemon{PID: sleeper.Process.Pid, pidFile: pidFilePath(cache)}
	if err := d.write(); err != nil {
		t.Fatal(err)
	}
	stopped, err := StopStarted(context.Background(), Options{CacheDir: cache})
	if stopped || err != nil {
		t.Errorf("StopStarted = %v, %v; want false, nil", stopped, err)
	}
	if _, err := os.Stat(pidFilePath(cache)); !os.IsNotExist(err) {
		t.Errorf("stale pid file kept: %v", err)
	}
	if sleeper.ProcessState != nil {
		t.Error("the foreign process was stopped")
	}
}

func TestTail(t *testing.T) {
	p := filepath.Join(t.TempDir(), "log")
	if err := os.WriteFile(p, []byte("1\n2\n3\n4\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := tail(p, 2); got != "3 | 4" {
		t.Errorf("tail = %q", got)
	}
}

// TestShimActivation runs the real thing: this test binary, linked as `docker`, dispatches to shim.Main, which
// rewrites the argv and execs a fake docker that prints what it got.
func TestShimActivation(t *testing.T) {
	tmp := t.TempDir()
	fake := filepath.Join(tmp, "fake-docker")
	if err := os.WriteFile(fake, []byte("#!/bin/sh\nfor a in \"$@\"; do echo \"$a\"; done\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	oldPath := os.Getenv("PATH")
	s, err := ActivateShim(filepath.Join(tmp, "cache"), shim.Config{RealDocker: fake, CapAdd: []string{"CHOWN", "NET_ADMIN"}, LibModules: filepath.Join(tmp, "empty")})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(os.Getenv("PATH"), s.Dir+":") {
		t.Fatalf("PATH does not start with the shim dir: %s", os.Getenv("PATH"))
	}
	if ActiveShim() != s {
		t.Error("ActiveShim does not return the active shim")
	}
	if again, err := ActivateShim(t.TempDir(), shim.Config{}); err != nil || again != s {
		t.Errorf("a second activation returned %p, %v; want the active shim", again, err)
	}
	out, err := ckexec.Lines(context.Background(), "docker", "run", "--privileged", "-v", "/lib/modules:/lib/modules:ro", "img")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"run", "--cap-add=CHOWN", "--cap-add=NET_ADMIN", "--security-opt=systempaths=unconfined",
		"--device-cgroup-rule=a *:* rwm", "-v", filepath.Join(tmp, "empty") + ":/lib/modules:ro", "img"}
	if diff := cmp.Diff(want, out); diff != "" {
		t.Errorf("the fake docker got (-want +got):\n%s", diff)
	}
	if _, err := os.Stat(filepath.Join(tmp, "empty")); err != nil {
		t.Errorf("empty /lib/modules replacement not created: %v", err)
	}
	if err := s.Deactivate(); err != nil {
		t.Fatal(err)
	}
	if ActiveShim() != nil {
		t.Error("a shim is still active after Deactivate")
	}
	if os.Getenv("PATH") != oldPath || os.Getenv(shim.EnvDir) != "" {
		t.Error("Deactivate did not restore the environment")
	}
	if _, err := os.Stat(s.Dir); !os.IsNotExist(err) {
		t.Errorf("shim dir left behind: %v", err)
	}
}

func TestSweepStale(t *testing.T) {
	base := t.TempDir()
	for _, d := range []string{"4194304", "1", "notapid"} { // a dead pid, init, a foreign name
		if err := os.MkdirAll(filepath.Join(base, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	sweepStale(base)
	for d, want := range map[string]bool{"4194304": false, "1": true, "notapid": true} {
		_, err := os.Stat(filepath.Join(base, d))
		if (err == nil) != want {
			t.Errorf("%s exists=%v, want %v", d, err == nil, want)
		}
	}
}

// fakeDockerCLI puts a `docker` that prints out to stderr and exits with code first in PATH (alone).
func fakeDockerCLI(t *testing.T, out string, code int) {
	t.Helper()
	dir := t.TempDir()
	script := "#!/bin/sh\necho '" + out + "' >&2\nexit " + strconv.Itoa(code) + "\n"
	if err := os.WriteFile(filepath.Join(dir, "docker"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir)
	t.Setenv("DOCKER_HOST", "")
}

func TestEnsureSaysHowToFix(t *testing.T) {
	tests := []struct {
		name    string
		setup   func(t *testing.T)
		problem Problem
		want    []string
	}{
		{
			name:    "no docker CLI",
			setup:   func(t *testing.T) { t.Setenv("PATH", t.TempDir()) },
			problem: NotInstalled,
			want:    []string{"not installed", "apt-get install docker.io", "Docker Desktop"},
		},
		{
			name: "socket permission",
			setup: func(t *testing.T) {
				fakeDockerCLI(t, "permission denied while trying to connect to the Docker daemon socket at unix:///var/run/docker.sock", 1)
			},
			problem: PermissionDenied,
			want:    []string{"/var/run/docker.sock", "usermod -aG docker"},
		},
		{
			name: "engine at a remote DOCKER_HOST",
			setup: func(t *testing.T) {
				fakeDockerCLI(t, "Cannot connect to the Docker daemon at tcp://10.1.2.3:2376. Is the docker daemon running?", 1)
				t.Setenv("DOCKER_HOST", "tcp://10.1.2.3:2376")
			},
			problem: NotRunning,
			want:    []string{"DOCKER_HOST=tcp://10.1.2.3:2376", "unset DOCKER_HOST"},
		},
		{
			name: "something else",
			setup: func(t *testing.T) {
				fakeDockerCLI(t, "Error response from daemon: client version 1.99 is too new", 1)
			},
			problem: Unreachable,
			want:    []string{"does not answer", "client version 1.99 is too new"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.setup(t)
			_, err := Ensure(context.Background(), Options{CacheDir: t.TempDir(), NoStart: true})
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("want *Error, got %v", err)
			}
			if e.Problem != tt.problem {
				t.Errorf("problem = %d, want %d (%v)", e.Problem, tt.problem, err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("%q does not say %q", err, w)
				}
			}
		})
	}
}

// A ckslab run by one whose shim is active inherits that shim's folder first in PATH: its `docker` (another
// program's link, with a shim config beside it) is not the real docker, or the two shims exec each other for
// ever (seen in e2e: a `docker ps` spinning for minutes).
func TestRealDockerSkipsAnotherShim(t *testing.T) {
	tmp := t.TempDir()
	other, realDir := filepath.Join(tmp, "shim-of-another-ckslab"), filepath.Join(tmp, "bin")
	for _, d := range []string{other, realDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	otherBinary := filepath.Join(tmp, "e2e.test")
	if err := os.WriteFile(otherBinary, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(otherBinary, filepath.Join(other, "docker")); err != nil {
		t.Fatal(err)
	}
	if err := shim.WriteConfig(other, shim.Config{RealDocker: filepath.Join(realDir, "docker")}); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(realDir, "docker"), []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", other+string(os.PathListSeparator)+realDir)
	got, err := realDocker(filepath.Join(tmp, "ckslab"))
	if err != nil || got != filepath.Join(realDir, "docker") {
		t.Errorf("realDocker = %q, %v; want the docker of %s, not the other shim's", got, err, realDir)
	}
}
