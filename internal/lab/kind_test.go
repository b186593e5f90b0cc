package lab

import (
	"slices"
	"testing"
)

// Each scenario gets its kind of lab, and the nodes its task reaches with ssh, each mapped to its container.
func TestScenarioLabOf(t *testing.T) {
	for _, tt := range []struct {
		scenario, lab string
		kind          scenarioLab
		ssh           []string
		containers    []string
	}{
		{ScenarioID, "cluster1", falcoLab{}, []string{"cluster1-node1"}, []string{"cluster1-worker"}},
		{"audit-logging", "lab7", auditLab{}, []string{"lab7-controlplane1", "lab7-node1"}, []string{"lab7-control-plane", "lab7-worker"}},
	} {
		in, err := InstanceOf(tt.scenario, tt.lab, 0)
		if err != nil {
			t.Fatal(err)
		}
		if got := scenarioLabOf(in); got != tt.kind {
			t.Errorf("%s: lab kind %T, want %T", tt.scenario, got, tt.kind)
		}
		if got := SSHNodes(in); !slices.Equal(got, tt.ssh) {
			t.Errorf("%s: ssh nodes %v, want %v", tt.scenario, got, tt.ssh)
		}
		var containers []string
		for _, n := range SSHNodes(in) {
			containers = append(containers, nodeContainer(in, n))
		}
		if !slices.Equal(containers, tt.containers) {
			t.Errorf("%s: containers %v, want %v", tt.scenario, containers, tt.containers)
		}
	}
}

// Without its state, down removes the context the lab may have had under any scenario.
func TestPossibleContexts(t *testing.T) {
	for name, want := range map[string][]string{
		"cluster1": {"infra-prod-cluster1", "workload-prod"},
		"cluster2": {"infra-prod", "workload-prod-cluster2"},
		"lab7":     {"infra-prod-lab7", "workload-prod-lab7"},
	} {
		if got := possibleContexts(name); !slices.Equal(got, want) {
			t.Errorf("possibleContexts(%s) = %v, want %v", name, got, want)
		}
	}
}
