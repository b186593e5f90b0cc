package lab

import (
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// flagsNode stands for a node whose kubelet flags file says flags: grep runs for real on a copy of it, every other
// command is recorded and succeeds.
type flagsNode struct {
	t     *testing.T
	flags string
	ran   []string
}

func (n *flagsNode) String() string { return "cluster2-control-plane" }

func (n *flagsNode) Exec(ctx context.Context, stdin io.Reader, argv ...string) ([]byte, error) {
	if argv[0] == "grep" {
		f := filepath.Join(n.t.TempDir(), "kubeadm-flags.env")
		if err := os.WriteFile(f, []byte(n.flags), 0o644); err != nil {
			return nil, err
		}
		args := append([]string{}, argv[1:]...)
		if args[len(args)-1] != kubeletFlags {
			return nil, errors.New("grep of another file: " + strings.Join(argv, " "))
		}
		args[len(args)-1] = f
		return exec.CommandContext(ctx, "grep", args...).Output()
	}
	n.ran = append(n.ran, strings.Join(argv, " "))
	return nil, nil
}

// A node is given its exam name as host name only when its kubelet's node name is pinned to it; a kubelet that
// takes the host name would register a second node.
func TestNameNodeIfPinned(t *testing.T) {
	if _, err := exec.LookPath("grep"); err != nil {
		t.Skip("needs grep, as the node has: " + err.Error())
	}
	const args = `KUBELET_KUBEADM_ARGS="--container-runtime-endpoint=unix:///run/containerd/containerd.sock %s--node-ip=172.18.0.3 --provider-id=kind://docker/cluster2/cluster2-control-plane"` + "\n"
	for _, tt := range []struct {
		name, flags string
		named       bool
	}{
		{"pinned", strings.Replace(args, "%s", "--hostname-override=cluster2-controlplane1 ", 1), true},
		{"pinned, last flag", `KUBELET_KUBEADM_ARGS="--node-ip=172.18.0.3 --hostname-override=cluster2-controlplane1"` + "\n", true},
		{"made before ckslab named the control plane", strings.Replace(args, "%s", "", 1), false},
		{"pinned to another name", strings.Replace(args, "%s", "--hostname-override=cluster2-controlplane10 ", 1), false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			n := &flagsNode{t: t, flags: tt.flags}
			named, err := nameNodeIfPinned(t.Context(), n, "cluster2-controlplane1")
			if err != nil || named != tt.named {
				t.Fatalf("named %v, error %v; want %v", named, err, tt.named)
			}
			renamed := strings.Contains(strings.Join(n.ran, "\n"), "sh "+nameScriptPath)
			if renamed != tt.named {
				t.Errorf("ran %q: the host name changed = %v, want %v", n.ran, renamed, tt.named)
			}
		})
	}
}
