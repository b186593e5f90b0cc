package lab

import (
	"strings"
	"testing"
)

func TestResourceProblems(t *testing.T) {
	if p := memoryProblem(24 << 30); p != "" {
		t.Errorf("24 GiB refused: %s", p)
	}
	if p := memoryProblem(1 << 30); !strings.Contains(p, "1.0 GiB of memory") || !strings.Contains(p, "at least 2.0 GiB") {
		t.Errorf("1 GiB: %q", p)
	}
	if p := diskProblem(80<<30, "/var/lib/docker"); p != "" {
		t.Errorf("80 GiB free refused: %s", p)
	}
	if p := diskProblem(300<<20, "/var/lib/docker"); !strings.Contains(p, "only 0.3 GiB is free") || !strings.Contains(p, "/var/lib/docker") || !strings.Contains(p, "docker system prune") {
		t.Errorf("300 MiB free: %q", p)
	}
}
