package cluster

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	ckexec "github.com/ckslab/ckslab/internal/exec"
	"github.com/ckslab/ckslab/internal/wait"
)

// A freezer hierarchy as cgroup v1 lays it out for a kind node (cgroupfs driver: /docker/<id>/...) with the
// frozen cgroup of a container runc left behind, a frozen cgroup of another container, and thawed ones.
func TestThawFrozen(t *testing.T) {
	root := t.TempDir()
	node := "0dc205b49f7d1842dd8ae5a75d6fb896f75ff90b7ed2508d4ef441564c30ba62"
	other := "b2da00edff1b181a7e0cb491da25bda8f9058c1ee70e3367f7cd98a755394f3b"
	states := map[string]string{
		"freezer.state":                     "THAWED",
		"docker/" + node + "/freezer.state": "THAWED",
		"docker/" + node + "/kubelet.slice/kubelet-kubepods.slice/cri-containerd-9da6.scope/freezer.state": "FROZEN\n",
		"docker/" + node + "/kubelet.slice/kubelet-kubepods.slice/cri-containerd-1234.scope/freezer.state": "THAWED\n",
		"docker/" + node + "/system.slice/containerd.service/freezer.state":                                "FREEZING\n",
		"docker/" + other + "/freezer.state":                                                               "FROZEN\n",
	}
	for p, s := range states {
		if err := os.MkdirAll(filepath.Join(root, filepath.Dir(p)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, p), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	thawed, err := ThawFrozen(root, []string{node})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		filepath.Join(root, "docker", node, "kubelet.slice/kubelet-kubepods.slice/cri-containerd-9da6.scope"),
		filepath.Join(root, "docker", node, "system.slice/containerd.service"),
	}
	slices.Sort(thawed)
	if !slices.Equal(thawed, want) {
		t.Errorf("thawed %v, want %v", thawed, want)
	}
	for p, before := range states {
		got, _ := os.ReadFile(filepath.Join(root, p))
		wantState := strings.TrimSpace(before)
		if strings.Contains(p, node) && (wantState == "FROZEN" || wantState == "FREEZING") {
			wantState = "THAWED"
		}
		if strings.TrimSpace(string(got)) != wantState {
			t.Errorf("%s: %q, want %q", p, got, wantState)
		}
	}
	if _, err := ThawFrozen(filepath.Join(root, "missing"), []string{node}); err == nil {
		t.Error("a missing freezer hierarchy gave no error")
	}
}

func TestThawCommand(t *testing.T) {
	got := thawCommand([]string{"aaa", "bbb"})
	if !strings.Contains(got, "grep -e aaa -e bbb") || !strings.Contains(got, FreezerRoot) || !strings.Contains(got, `echo THAWED > "$f"`) {
		t.Errorf("thaw command %q", got)
	}
}

// The real thing: a container whose child process sits in a frozen freezer cgroup cannot be removed (its PID 1
// waits for the child), exactly as a kind node that runc left frozen; ThawFrozen makes the removal work.
// Needs root, a cgroup v1 engine on this host and CKSLAB_TEST_ENGINE=1.
func TestThawFrozenRealContainer(t *testing.T) {
	if os.Getenv("CKSLAB_TEST_ENGINE") == "" {
		t.Skip("set CKSLAB_TEST_ENGINE=1 to run against the real Docker engine")
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root to write the freezer cgroups")
	}
	if _, err := os.Stat(filepath.Join(FreezerRoot, "docker")); err != nil {
		t.Skipf("needs cgroup v1 with the cgroupfs driver on this host: %v", err)
	}
	ctx := context.Background()
	image := fakeNodeImage(t)
	name := "ckslab-test-frozen"
	_ = ckexec.Command("docker", "rm", "-f", name).Run(ctx)
	// PID 1 is sh waiting for a sleep child.
	if err := ckexec.Command("docker", "run", "-d", "--name", name, "--entrypoint", "sh", image, "-c", "sleep 3600 & wait").Run(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ckexec.Command("docker", "rm", "-f", name).Run(context.Background()) })
	out, err := ckexec.Output(ctx, "docker", "inspect", "--format", "{{.Id}}", name)
	if err != nil {
		t.Fatal(err)
	}
	id := strings.TrimSpace(string(out))
	var sleepPID string
	if err := wait.Poll(ctx, 50*time.Millisecond, 30*time.Second, "the container's sleep child", func(ctx context.Context) (bool, string, error) {
		out, _ := exec.Command("pgrep", "-f", "^sleep 3600$").Output()
		for _, pid := range strings.Fields(string(out)) {
			cg, _ := os.ReadFile("/proc/" + pid + "/cgroup")
			if strings.Contains(string(cg), id) {
				sleepPID = pid
				return true, "", nil
			}
		}
		return false, "pgrep: " + string(out), nil
	}); err != nil {
		t.Fatal(err)
	}
	// What runc leaves behind: a child cgroup of the container, frozen, with a process in it.
	frozen := filepath.Join(FreezerRoot, "docker", id, "stuck")
	if err := os.Mkdir(frozen, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.Remove(frozen) })
	if err := os.WriteFile(filepath.Join(frozen, "cgroup.procs"), []byte(sleepPID), 0); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(frozen, "freezer.state"), []byte("FROZEN"), 0); err != nil {
		t.Fatal(err)
	}
	rm := ckexec.Command("docker", "rm", "-f", name).Run(ctx)
	if rm == nil {
		t.Fatal("the engine removed a container with a frozen process; this engine does not show the problem")
	}
	if !strings.Contains(ckexec.OutputOf(rm), "did not receive an exit event") {
		t.Logf("removal failed with %v", rm)
	}
	thawed, err := ThawFrozen(FreezerRoot, []string{id})
	if err != nil || len(thawed) != 1 {
		t.Fatalf("thawed %v, err %v", thawed, err)
	}
	if err := wait.Poll(ctx, 200*time.Millisecond, 30*time.Second, "the container's removal after the thaw", func(ctx context.Context) (bool, string, error) {
		err := ckexec.Command("docker", "rm", "-f", name).Run(ctx)
		if err != nil {
			return false, err.Error(), nil
		}
		return true, "", nil
	}); err != nil {
		t.Fatal(err)
	}
}
