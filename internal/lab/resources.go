package lab

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/ckslab/ckslab/internal/exec"
)

// What a lab needs at least: it holds about 1.3 GiB of memory at rest and
// writes a few GB (the nodes' volumes, the images they unpack).
const (
	minMemory   = 2 << 30
	minFreeDisk = 5 << 30
)

// checkResources refuses, with the numbers, an engine that has too little
// memory or, when it runs on this machine, too little free disk.
func checkResources(ctx context.Context, local bool) error {
	out, err := exec.Output(ctx, "docker", "info", "--format", "{{.MemTotal}}|{{.DockerRootDir}}")
	if err != nil {
		return fmt.Errorf("asking the Docker engine for its memory and disk: %w", err)
	}
	mem, root, _ := strings.Cut(strings.TrimSpace(string(out)), "|")
	if total, err := strconv.ParseInt(mem, 10, 64); err == nil && total > 0 {
		if p := memoryProblem(total); p != "" {
			return fmt.Errorf("%s", p)
		}
	}
	if !local || root == "" {
		return nil
	}
	free, ok := freeDisk(root)
	if !ok {
		return nil // the engine's folder is not visible from here: nothing to judge
	}
	if p := diskProblem(free, root); p != "" {
		return fmt.Errorf("%s", p)
	}
	return nil
}

func memoryProblem(total int64) string {
	if total >= minMemory {
		return ""
	}
	return fmt.Sprintf("the Docker engine has %s of memory; the lab needs at least %s (it holds about 1.3 GiB): give Docker more memory (Docker Desktop: Settings, Resources) or close other containers",
		gib(total), gib(minMemory))
}

func diskProblem(free int64, root string) string {
	if free >= minFreeDisk {
		return ""
	}
	return fmt.Sprintf("only %s is free on the disk of Docker's folder %s; the lab needs at least %s: free some space (docker system prune removes unused images and volumes)",
		gib(free), root, gib(minFreeDisk))
}

func gib(n int64) string { return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30)) }
