package cluster

import (
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"sigs.k8s.io/kind/pkg/apis/config/v1alpha4"
	"sigs.k8s.io/yaml"

	"github.com/ckslab/ckslab/internal/images"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

func localSet() *images.Set {
	return &images.Set{
		Name: "local", Mode: images.Local,
		Node: "ckslab.local/node:v1.37.2-k1", Nginx: "ckslab.local/nginx:k2", Httpd: "ckslab.local/httpd:k3", Terminal: "ckslab.local/terminal:k4",
		KubeadmConfigPatches: []string{"kind: ClusterConfiguration\nimageRepository: ckslab.local"},
	}
}

func TestConfigGolden(t *testing.T) {
	tests := []struct {
		golden string
		name   string
		set    *images.Set
		host   Host
	}{
		{"public-cgroup2.yaml", DefaultName, images.PublicSet(), Host{CgroupVersion: 2}},
		{"public-cgroup1.yaml", DefaultName, images.PublicSet(), Host{CgroupVersion: 1}},
		{"local-cgroup1-e2e.yaml", "ckslab-e2e", localSet(), Host{CgroupVersion: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.golden, func(t *testing.T) {
			got, err := ConfigYAML(Config(tt.name, tt.set, tt.host))
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join("testdata", tt.golden)
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test ./internal/cluster -update to create it)", err)
			}
			if diff := cmp.Diff(string(want), string(got)); diff != "" {
				t.Errorf("%s differs (-want +got; -update rewrites it):\n%s", path, diff)
			}
			// what we write, kind reads back unchanged
			var back v1alpha4.Cluster
			if err := yaml.UnmarshalStrict(got, &back); err != nil {
				t.Fatalf("the generated config does not decode strictly: %v", err)
			}
			if diff := cmp.Diff(Config(tt.name, tt.set, tt.host), &back); diff != "" {
				t.Errorf("round trip (-generated +decoded):\n%s", diff)
			}
		})
	}
}

// Both nodes get the exam's names as Kubernetes node names (kind's container names stay).
func TestConfigNodeNames(t *testing.T) {
	cfg := Config("lab7", images.PublicSet(), Host{CgroupVersion: 2})
	if len(cfg.Nodes) != 2 || cfg.Nodes[0].Role != v1alpha4.ControlPlaneRole || cfg.Nodes[1].Role != v1alpha4.WorkerRole {
		t.Fatalf("nodes = %+v, want a control plane and a worker", cfg.Nodes)
	}
	if diff := cmp.Diff([]string{"kind: InitConfiguration\nnodeRegistration:\n  name: lab7-controlplane1\n"}, cfg.Nodes[0].KubeadmConfigPatches); diff != "" {
		t.Errorf("control plane patches (-want +got):\n%s", diff)
	}
	want := []string{"kind: JoinConfiguration\nnodeRegistration:\n  name: lab7-node1\n"}
	if diff := cmp.Diff(want, cfg.Nodes[1].KubeadmConfigPatches); diff != "" {
		t.Errorf("worker patches (-want +got):\n%s", diff)
	}
	if len(cfg.KubeadmConfigPatches) != 0 {
		t.Errorf("cgroup v2 public cluster has cluster-wide patches %q", cfg.KubeadmConfigPatches)
	}
}

func TestCgroupVersionOf(t *testing.T) {
	v1 := t.TempDir()
	if err := os.Mkdir(filepath.Join(v1, "memory"), 0o755); err != nil {
		t.Fatal(err)
	}
	v2 := t.TempDir()
	if err := os.WriteFile(filepath.Join(v2, "cgroup.controllers"), []byte("cpu memory\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := cgroupVersionOf(v1); got != 1 {
		t.Errorf("v1 layout detected as %d", got)
	}
	if got := cgroupVersionOf(v2); got != 2 {
		t.Errorf("v2 layout detected as %d", got)
	}
	if got := DetectHost("2"); got.CgroupVersion != 2 {
		t.Errorf("DetectHost(engine says 2) = %+v", got)
	}
}

func TestLeftoversString(t *testing.T) {
	if s := (Leftovers{}).String(); s != "nothing" {
		t.Errorf("empty = %q", s)
	}
	l := Leftovers{Containers: []string{"a-worker"}, Networks: []string{"kind"}}
	if s := l.String(); s != "containers a-worker; networks kind" || l.Empty() {
		t.Errorf("String = %q, Empty = %v", s, l.Empty())
	}
}
