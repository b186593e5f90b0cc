package cluster

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ckslab/ckslab/internal/docker"
	"github.com/ckslab/ckslab/internal/docker/shim"
	ckexec "github.com/ckslab/ckslab/internal/exec"
	"github.com/ckslab/ckslab/internal/images"
)

func TestMain(m *testing.M) {
	// kind runs `docker`; where --privileged is refused that is this test binary acting as the shim
	shim.Dispatch()
	os.Exit(m.Run())
}

// fakeNodeImage imports a busybox image that behaves like a kind node up to kubeadm: it prints the line kind waits
// for and has /kind/version. Enough for kind's provisioning and config actions, not for Kubernetes.
func fakeNodeImage(t *testing.T) string {
	t.Helper()
	const ref = "ckslab.test/fake-node:1"
	ctx := context.Background()
	if out, err := ckexec.Output(ctx, "docker", "image", "inspect", "--format", "{{.Id}}", ref); err == nil && len(out) > 0 {
		return ref
	}
	root := t.TempDir()
	for _, d := range []string{"bin", "kind", "etc"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	bb, err := os.ReadFile("/usr/bin/busybox")
	if err != nil {
		t.Skipf("needs a static busybox (apt-get install busybox-static): %v", err)
	}
	if err := os.WriteFile(filepath.Join(root, "bin", "busybox"), bb, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, a := range []string{"sh", "cat", "cp", "mkdir", "sleep", "true", "echo", "ls"} {
		if err := os.Symlink("busybox", filepath.Join(root, "bin", a)); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(root, "kind", "version"), []byte("v1.37.2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tar, err := ckexec.Output(ctx, "tar", "-C", root, "-c", ".")
	if err != nil {
		t.Fatal(err)
	}
	cmd := ckexec.Command("docker", "import", "-c", "ENV PATH=/bin",
		"-c", `ENTRYPOINT ["/bin/sh", "-c", "echo 'Reached target Multi-User System.'; exec sleep 86400"]`, "-", ref)
	cmd.Stdin = tar
	if err := cmd.Run(ctx); err != nil {
		t.Fatal(err)
	}
	return ref
}

// TestRealNodesAndKubeadmConfig creates the nodes of a lab cluster with kind's library on the real engine (through
// the shim where --privileged is refused), checks the kubeadm config kind rendered from ckslab's patches, then
// deletes the cluster and checks nothing is left. Runs with CKSLAB_TEST_ENGINE=1.
func TestRealNodesAndKubeadmConfig(t *testing.T) {
	if os.Getenv("CKSLAB_TEST_ENGINE") != "1" {
		t.Skip("set CKSLAB_TEST_ENGINE=1 to run against the real Docker engine")
	}
	ctx := context.Background()
	cache := t.TempDir()
	engine, err := docker.Ensure(ctx, docker.Options{CacheDir: cache, NoStart: true})
	if err != nil {
		t.Fatal(err)
	}
	node := fakeNodeImage(t)
	set := &images.Set{Name: "fake", Node: node, KubeadmConfigPatches: []string{"kind: ClusterConfiguration\nclusterName: ckslab-fake"}}
	const name = "ckslab-unit"
	p := NewProvider(engine)
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	if err := p.Delete(ctx, name, kubeconfig); err != nil {
		t.Fatal(err)
	}
	t.Setenv(shim.EnvLog, filepath.Join(cache, "shim.log"))
	createErr := p.Create(ctx, name, CreateWithImages(set), CreateWithKubeconfigPath(kubeconfig),
		func(o *createOptions) { o.nodesOnly = true })
	defer func() {
		if err := p.Delete(context.Background(), name, kubeconfig); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	}()
	if createErr != nil {
		t.Fatal(createErr)
	}
	worker, err := p.Worker(name)
	if err != nil {
		t.Fatal(err)
	}
	var conf bytes.Buffer
	if err := worker.Command("cat", "/kind/kubeadm.conf").SetStdout(&conf).Run(); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"name: " + name + "-node1", "clusterName: ckslab-fake"} {
		if !strings.Contains(conf.String(), want) {
			t.Errorf("the worker's kubeadm config lacks %q:\n%s", want, conf.String())
		}
	}
	if DetectHost(engine.CgroupVersion).CgroupVersion == 1 && !strings.Contains(conf.String(), "failCgroupV1: false") {
		t.Errorf("cgroup v1 host but no failCgroupV1: false in:\n%s", conf.String())
	}
	if log, err := os.ReadFile(filepath.Join(cache, "shim.log")); err == nil {
		t.Logf("went through the shim:\n%s", log)
		if !strings.Contains(string(log), "--cap-add=") {
			t.Error("the shim ran but did not replace --privileged")
		}
	} else {
		t.Logf("no shim on this engine (--privileged works)")
	}
	vols, err := p.NodeVolumes(ctx, name)
	if err != nil || len(vols) != 2 {
		t.Fatalf("node volumes %q, %v; want 2", vols, err)
	}
	if err := p.Delete(ctx, name, kubeconfig); err != nil {
		t.Fatal(err)
	}
	left, err := p.Leftovers(ctx, name, vols...)
	if err != nil || !left.Empty() {
		t.Errorf("left behind: %s (%v)", left, err)
	}
}
