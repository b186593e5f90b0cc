package lab

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
)

func node(name string, ready corev1.ConditionStatus) *corev1.Node {
	return &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name},
		Status: corev1.NodeStatus{Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: ready}}}}
}

func TestNodesReady(t *testing.T) {
	for _, tt := range []struct {
		name  string
		nodes []*corev1.Node
		ok    bool
		seen  string
	}{
		{"both Ready", []*corev1.Node{node("cluster1-controlplane", corev1.ConditionTrue), node("cluster1-node1", corev1.ConditionTrue)}, true, ""},
		{"worker not Ready", []*corev1.Node{node("cluster1-controlplane", corev1.ConditionTrue), node("cluster1-node1", corev1.ConditionUnknown)}, false, "not Ready: cluster1-node1"},
		{"no nodes", nil, false, "no nodes"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := fake.NewClientset()
			for _, n := range tt.nodes {
				if _, err := c.CoreV1().Nodes().Create(context.Background(), n, metav1.CreateOptions{}); err != nil {
					t.Fatal(err)
				}
			}
			ok, seen, err := nodesReady(context.Background(), c)
			if err != nil || ok != tt.ok || seen != tt.seen {
				t.Errorf("nodesReady = %v, %q, %v; want %v, %q", ok, seen, err, tt.ok, tt.seen)
			}
		})
	}
}
