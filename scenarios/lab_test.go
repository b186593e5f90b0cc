package scenarios

import (
	"strings"
	"testing"
)

func TestInstantiateFor(t *testing.T) {
	s, err := Load("falco-runtime")
	if err != nil {
		t.Fatal(err)
	}
	in, err := s.InstantiateFor(0, "lab2")
	if err != nil {
		t.Fatal(err)
	}
	if in.Cluster != "lab2" || in.WorkerNode != "lab2-node1" {
		t.Errorf("cluster %q, worker %q", in.Cluster, in.WorkerNode)
	}
	for _, w := range in.Workloads() {
		if w.Node != "" && w.Node != "lab2-node1" {
			t.Errorf("%s pinned to %q", w.Key(), w.Node)
		}
	}
	if text := in.TaskText(); !strings.Contains(text, "ssh lab2-node1") || strings.Contains(text, "cluster1-node1") {
		t.Errorf("task text does not follow the lab's name:\n%s", text)
	}
	for _, st := range in.Solution {
		if strings.Contains(st.Run, "cluster1-node1") {
			t.Errorf("solution step %s names cluster1-node1", st.ID)
		}
	}
	// The scenario itself is unchanged.
	def, err := s.Instantiate(0)
	if err != nil {
		t.Fatal(err)
	}
	if def.WorkerNode != "cluster1-node1" {
		t.Errorf("InstantiateFor changed the scenario: %q", def.WorkerNode)
	}
}
