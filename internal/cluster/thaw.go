package cluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/ckslab/ckslab/internal/exec"
)

// FreezerRoot is where cgroup v1's freezer hierarchy is mounted on the engine's host.
const FreezerRoot = "/sys/fs/cgroup/freezer"

// ThawFrozen writes THAWED into every freezer.state under root that belongs to one of the containers (a path
// containing its id) and reads FROZEN or FREEZING, and returns the cgroups it thawed.
//
// Why: with cgroup v1, runc freezes a container's cgroup while it changes the container's device rules. When a
// kind node is removed while its runc is doing that (a Pod being created as the cluster is deleted), runc dies
// and the cgroup stays frozen with a process in it. The node's PID 1 then waits forever for that process, and
// the engine cannot remove the node ("tried to kill container, but did not receive an exit event"). Thawing
// lets the process die and the removal finish.
func ThawFrozen(root string, containerIDs []string) ([]string, error) {
	var thawed []string
	var errs []error
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if path == root {
				return err
			}
			return nil // a cgroup that went away while walking
		}
		if d.IsDir() || d.Name() != "freezer.state" || !containsAny(path, containerIDs) {
			return nil
		}
		state, err := os.ReadFile(path)
		if err != nil {
			return nil
		}
		if s := string(bytes.TrimSpace(state)); s != "FROZEN" && s != "FREEZING" {
			return nil
		}
		if err := os.WriteFile(path, []byte("THAWED"), 0); err != nil {
			errs = append(errs, err)
			return nil
		}
		thawed = append(thawed, filepath.Dir(path))
		return nil
	})
	if err != nil {
		return thawed, err
	}
	return thawed, errors.Join(errs...)
}

func containsAny(path string, ids []string) bool {
	for _, id := range ids {
		if id != "" && strings.Contains(path, id) {
			return true
		}
	}
	return false
}

// thawAndRetry is Delete's answer to a node the engine could not remove: on a cgroup v1 engine on this host, it
// thaws the nodes' frozen cgroups and deletes again. Otherwise, or when thawing is not allowed, the error says
// what to run.
func (p *Provider) thawAndRetry(ctx context.Context, name, kubeconfigPath string, deleteErr error) error {
	failed := fmt.Errorf("deleting kind cluster %q: %w", name, deleteErr)
	if p.engine.CgroupVersion != "1" || !p.engine.Local() {
		return failed
	}
	nodes, err := p.kind.ListNodes(name)
	if err != nil || len(nodes) == 0 {
		return failed
	}
	args := []string{"inspect", "--format", "{{.Id}}"}
	for _, n := range nodes {
		args = append(args, n.String())
	}
	ids, err := exec.Lines(ctx, "docker", args...)
	if err != nil {
		return failed
	}
	thawed, err := ThawFrozen(FreezerRoot, ids)
	if err != nil {
		return fmt.Errorf("%w\nA cgroup of the cluster's nodes is frozen and ckslab could not thaw it (%v). As root, run\n  %s\nand then remove the lab again", failed, err, thawCommand(ids))
	}
	if len(thawed) == 0 {
		return failed
	}
	p.logger.V(1).Infof("Thawed %d frozen cgroups of cluster %q's nodes; deleting again", len(thawed), name)
	if err := p.kind.Delete(name, kubeconfigPath); err != nil {
		return fmt.Errorf("deleting kind cluster %q (after thawing %d frozen cgroups of its nodes): %w", name, len(thawed), err)
	}
	return nil
}

// thawCommand is the shell command that does what ThawFrozen does, for a user to run as root.
func thawCommand(ids []string) string {
	var pat []string
	for _, id := range ids {
		pat = append(pat, "-e "+id)
	}
	return fmt.Sprintf(`grep -rl --include=freezer.state -e FROZEN -e FREEZING %s | grep %s | while read -r f; do echo THAWED > "$f"; done`, FreezerRoot, strings.Join(pat, " "))
}
