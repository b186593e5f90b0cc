package cluster

import (
	"fmt"
	"os"
	"strings"

	"sigs.k8s.io/kind/pkg/apis/config/v1alpha4"
	"sigs.k8s.io/yaml"

	"github.com/ckslab/ckslab/internal/images"
	"github.com/ckslab/ckslab/scenarios"
)

// DefaultName is the lab's cluster name, as in the exam.
const DefaultName = "cluster1"

// WorkerNodeName is the Kubernetes node name of the lab's worker: `<cluster>-node1`, as in the exam. (kind still
// names its container `<cluster>-worker`.)
func WorkerNodeName(cluster string) string { return scenarios.WorkerNodeName(cluster) }

// ControlPlaneNodeName is the Kubernetes node name of the lab's control plane: `<cluster>-controlplane1`, as in
// the exam. (kind still names its container `<cluster>-control-plane`, which is also the name the worker joins.)
func ControlPlaneNodeName(cluster string) string { return scenarios.ControlPlaneNodeName(cluster) }

// Host are the facts about the engine's host that change the cluster's configuration.
type Host struct {
	// CgroupVersion is 1 or 2.
	CgroupVersion int
}

// DetectHost returns the host facts: the cgroup version the engine reports ("1" or "2", from `docker info`),
// else what /sys/fs/cgroup shows on this machine.
func DetectHost(engineCgroupVersion string) Host {
	switch engineCgroupVersion {
	case "1":
		return Host{CgroupVersion: 1}
	case "2":
		return Host{CgroupVersion: 2}
	}
	return Host{CgroupVersion: cgroupVersionOf("/sys/fs/cgroup")}
}

// cgroupVersionOf tells a cgroup v2 (unified) mount from a v1 or hybrid layout by the file only v2 has.
func cgroupVersionOf(root string) int {
	if _, err := os.Stat(root + "/cgroup.controllers"); err == nil {
		return 2
	}
	return 1
}

// HostPatches are the kubeadm config patches the host needs.
func HostPatches(h Host) []string {
	var out []string
	if h.CgroupVersion == 1 {
		// kubelet >= 1.35 refuses to start on cgroup v1 unless told otherwise
		out = append(out, "kind: KubeletConfiguration\nfailCgroupV1: false\n")
	}
	return out
}

// Config is the kind configuration of a lab cluster: a control plane named ControlPlaneNodeName and one worker
// named WorkerNodeName, both on the set's node image, with the set's and the host's kubeadm patches.
func Config(name string, set *images.Set, host Host) *v1alpha4.Cluster {
	cfg := &v1alpha4.Cluster{
		TypeMeta: v1alpha4.TypeMeta{Kind: "Cluster", APIVersion: "kind.x-k8s.io/v1alpha4"},
		Name:     name,
		Nodes: []v1alpha4.Node{
			{
				Role:  v1alpha4.ControlPlaneRole,
				Image: set.Node,
				KubeadmConfigPatches: []string{
					fmt.Sprintf("kind: InitConfiguration\nnodeRegistration:\n  name: %s\n", ControlPlaneNodeName(name)),
				},
			},
			{
				Role:  v1alpha4.WorkerRole,
				Image: set.Node,
				KubeadmConfigPatches: []string{
					fmt.Sprintf("kind: JoinConfiguration\nnodeRegistration:\n  name: %s\n", WorkerNodeName(name)),
				},
			},
		},
	}
	for _, p := range set.KubeadmConfigPatches {
		if !strings.HasSuffix(p, "\n") {
			p += "\n"
		}
		cfg.KubeadmConfigPatches = append(cfg.KubeadmConfigPatches, p)
	}
	cfg.KubeadmConfigPatches = append(cfg.KubeadmConfigPatches, HostPatches(host)...)
	return cfg
}

// ConfigYAML renders cfg as kind would read it from a file.
func ConfigYAML(cfg *v1alpha4.Cluster) ([]byte, error) {
	return yaml.Marshal(cfg)
}
