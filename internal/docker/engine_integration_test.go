package docker

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	ckexec "github.com/ckslab/ckslab/internal/exec"
)

// These tests use the machine's real Docker engine. They run when CKSLAB_TEST_ENGINE=1 (the e2e suite covers the
// same code on every CI run); `go test ./internal/...` alone needs no engine.
func needEngine(t *testing.T) {
	t.Helper()
	if os.Getenv("CKSLAB_TEST_ENGINE") != "1" {
		t.Skip("set CKSLAB_TEST_ENGINE=1 to run against the real Docker engine")
	}
}

// testImage returns a tiny local image with busybox in it, importing it from /usr/bin/busybox when missing.
func testImage(t *testing.T, e *Engine) string {
	t.Helper()
	const ref = "ckslab.test/busybox:1"
	ctx := context.Background()
	if ok, err := e.ImagePresent(ctx, ref); err != nil || ok {
		if err != nil {
			t.Fatal(err)
		}
		return ref
	}
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile("/usr/bin/busybox")
	if err != nil {
		t.Fatalf("need a static busybox (apt-get install busybox-static): %v", err)
	}
	if err := os.WriteFile(filepath.Join(root, "bin", "busybox"), data, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, a := range []string{"sh", "true", "grep", "cat"} {
		if err := os.Symlink("busybox", filepath.Join(root, "bin", a)); err != nil {
			t.Fatal(err)
		}
	}
	tar, err := ckexec.Output(ctx, "tar", "-C", root, "-c", ".")
	if err != nil {
		t.Fatal(err)
	}
	cmd := ckexec.Command("docker", "import", "-c", "ENV PATH=/bin", "-", ref)
	cmd.Stdin = tar
	if err := cmd.Run(ctx); err != nil {
		t.Fatal(err)
	}
	return ref
}

func TestRealPrivilegedPath(t *testing.T) {
	needEngine(t)
	ctx := context.Background()
	e, err := Ensure(ctx, Options{CacheDir: t.TempDir(), NoStart: true})
	if err != nil {
		t.Fatal(err)
	}
	img := testImage(t, e)
	p, err := e.ProbePrivileged(ctx, img)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("probe: %+v", p)
	s, err := e.PrepareForKind(ctx, img)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Deactivate()
	if p.Works != (s == nil) {
		t.Fatalf("probe says works=%v but shim=%v", p.Works, s)
	}
	// kind's two privileged paths, through whatever `docker` is first in PATH now
	name := "ckslab-shim-test-" + time.Now().Format("150405")
	defer ckexec.Command("docker", "rm", "--force", "--volumes", name).Run(context.Background())
	if err := ckexec.Command("docker", "run", "--detach", "--name", name, "--privileged", "--security-opt", "seccomp=unconfined",
		"--volume", "/lib/modules:/lib/modules:ro", img, "sh", "-c", "while true; do sleep 1; done").Run(ctx); err != nil {
		t.Fatalf("docker run --privileged: %v", err)
	}
	out, err := ckexec.Output(ctx, "docker", "exec", "--privileged", name, "grep", "CapEff", "/proc/self/status")
	if err != nil {
		t.Fatalf("docker exec --privileged: %v", err)
	}
	t.Logf("inside: %s", out)
	if got := strings.Fields(string(out)); len(got) != 2 || got[1] == "00000000a80425fb" {
		t.Errorf("the container has docker's default capabilities, not the privileged ones: %q", out)
	}
	if s != nil {
		if _, err := os.Stat("/lib/modules"); err != nil {
			mounts, _ := ckexec.Output(ctx, "docker", "inspect", "--format", "{{range .Mounts}}{{.Source}}->{{.Destination}} {{end}}", name)
			if !strings.Contains(string(mounts), "empty-lib-modules->/lib/modules") {
				t.Errorf("/lib/modules bind not redirected: %s", mounts)
			}
		}
	}
}

// TestRealStartAndStop starts a second dockerd on its own socket and data root (so that it does not disturb the
// engine that runs), checks Ensure waits for it, and that Stop stops exactly it.
func TestRealStartAndStop(t *testing.T) {
	needEngine(t)
	if os.Geteuid() != 0 || initIsSystemd() {
		t.Skip("needs root and no systemd")
	}
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "ckslab-dockerd-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	t.Setenv("DOCKER_HOST", "unix://"+filepath.Join(dir, "docker.sock"))
	// its own bridge: `--bridge none` would make dockerd delete the host's docker0, which the running engine uses
	const bridge = "ckslabt0"
	if err := ckexec.Command("ip", "link", "add", bridge, "type", "bridge").Run(ctx); err != nil {
		t.Fatal(err)
	}
	defer ckexec.Command("ip", "link", "del", bridge).Run(context.Background())
	if err := ckexec.Command("ip", "addr", "add", "10.213.7.1/24", "dev", bridge).Run(ctx); err != nil {
		t.Fatal(err)
	}
	opts := Options{CacheDir: filepath.Join(dir, "cache"), StartTimeout: 90 * time.Second, DaemonArgs: []string{
		"--data-root", filepath.Join(dir, "data"), "--exec-root", filepath.Join(dir, "exec"), "--pidfile", filepath.Join(dir, "dockerd.pid"),
		"--bridge", bridge, "--iptables=false", "--ip6tables=false", "--ip-masq=false",
	}}
	if _, err := Ensure(ctx, Options{CacheDir: opts.CacheDir, NoStart: true}); err == nil {
		t.Fatal("an engine answered on a fresh socket")
	}
	start := time.Now()
	e, err := Ensure(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("dockerd %s started in %s (pid %d)", e.ServerVersion, time.Since(start).Round(time.Millisecond), e.daemon.PID)
	if !e.Started {
		t.Fatal("Ensure started dockerd but Started is false")
	}
	pid := e.daemon.PID
	// a second Ensure finds it running and does not claim it
	again, err := Ensure(ctx, opts)
	if err != nil || again.Started {
		t.Fatalf("second Ensure: started=%v err=%v", again != nil && again.Started, err)
	}
	if err := again.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if !(&daemon{PID: pid}).alive() {
		t.Fatal("Stop on an engine this call did not start stopped it")
	}
	// the way a later process (ckslab, .ci/run through enginectl) stops it: by the pid file
	stopped, err := StopStarted(ctx, opts)
	if err != nil || !stopped {
		t.Fatalf("StopStarted = %v, %v; want true, nil", stopped, err)
	}
	if err := e.Stop(ctx); err != nil {
		t.Fatalf("Stop after StopStarted: %v", err)
	}
	if err := ckexec.Command("ip", "link", "show", "docker0").Run(ctx); err != nil {
		t.Errorf("the host's docker0 is gone after the second dockerd: %v", err)
	}
	if (&daemon{PID: pid}).alive() {
		t.Fatal("dockerd still runs after Stop")
	}
	if _, err := os.Stat(pidFilePath(opts.CacheDir)); !os.IsNotExist(err) {
		t.Errorf("pid file left: %v", err)
	}
}
