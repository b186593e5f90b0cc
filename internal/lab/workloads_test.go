package lab

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/ckslab/ckslab/internal/images"
	"github.com/ckslab/ckslab/manifests"
)

// renderedDeployments are the Deployments of lab cluster1, seed 0.
func renderedDeployments(t *testing.T) []*appsv1.Deployment {
	t.Helper()
	in, err := InstanceOf(ScenarioID, "cluster1", 0)
	if err != nil {
		t.Fatal(err)
	}
	objs, err := manifests.Render(in, manifests.Images{Nginx: images.PublicNginx, Httpd: images.PublicHttpd})
	if err != nil {
		t.Fatal(err)
	}
	return objs.Deployments
}

// available gives d the status of a Deployment whose replicas all run.
func available(d *appsv1.Deployment) *appsv1.Deployment {
	d = d.DeepCopy()
	d.Status = appsv1.DeploymentStatus{ObservedGeneration: d.Generation, Replicas: *d.Spec.Replicas,
		UpdatedReplicas: *d.Spec.Replicas, AvailableReplicas: *d.Spec.Replicas}
	return d
}

func TestWaitAvailableOneListALook(t *testing.T) {
	deps := renderedDeployments(t)
	var objs []runtime.Object
	for _, d := range deps {
		objs = append(objs, available(d))
	}
	c := fake.NewClientset(objs...)
	// The first look sees the first Deployment still starting; the second
	// sees everything available.
	var lists atomic.Int32
	c.PrependReactor("list", "deployments", func(a k8stesting.Action) (bool, runtime.Object, error) {
		if lists.Add(1) > 1 {
			return false, nil, nil
		}
		l := &appsv1.DeploymentList{}
		for i, d := range deps {
			d = available(d)
			if i == 0 {
				d.Status.AvailableReplicas = 0
			}
			l.Items = append(l.Items, *d)
		}
		return true, l, nil
	})
	if err := WaitAvailable(context.Background(), c, deps, time.Minute); err != nil {
		t.Fatal(err)
	}
	if n := lists.Load(); n != 2 {
		t.Errorf("looked %d times, want 2 (not available, then available)", n)
	}
	count := map[string]int{}
	for _, a := range c.Actions() {
		count[a.GetVerb()+" "+a.GetResource().Resource]++
		if a.GetResource().Resource == "deployments" {
			if sel := a.(k8stesting.ListAction).GetListRestrictions().Labels.String(); sel != manifests.LabelManagedBy+"="+manifests.ManagedBy {
				t.Errorf("listed Deployments with selector %q", sel)
			}
		}
	}
	// Per look one list of Deployments, nothing per Deployment; the Pods of
	// the one waiting read once (for the message).
	if len(count) > 2 || count["list deployments"] != 2 || count["list pods"] > 1 {
		t.Errorf("API requests %v, want 2 lists of Deployments and at most 1 of Pods", count)
	}
}

func TestWaitAvailableSaysWhatWaits(t *testing.T) {
	deps := renderedDeployments(t)
	objs := []runtime.Object{}
	// deps[0] has a Pod that cannot pull its image; deps[1] is missing; the
	// rest are available.
	stuck := deps[0].DeepCopy()
	objs = append(objs, stuck, &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: stuck.Name + "-abc", Namespace: stuck.Namespace, Labels: stuck.Spec.Template.Labels},
		Status: corev1.PodStatus{ContainerStatuses: []corev1.ContainerStatus{{Name: "c",
			State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ImagePullBackOff", Message: "no such image"}}}}},
	})
	for _, d := range deps[2:] {
		objs = append(objs, available(d))
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err := WaitAvailable(ctx, fake.NewClientset(objs...), deps, time.Second)
	if err == nil {
		t.Fatal("waited successfully for a Deployment that is missing and one that cannot pull its image")
	}
	msg := err.Error()
	for _, want := range []string{
		"timed out", stuck.Namespace + "/" + stuck.Name + ": 0 of 1 available", "ImagePullBackOff no such image",
		deps[1].Namespace + "/" + deps[1].Name + ": not found",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("error lacks %q:\n%s", want, msg)
		}
	}
	for _, d := range deps[2:] {
		if strings.Contains(msg, d.Namespace+"/"+d.Name+":") {
			t.Errorf("error names available Deployment %s/%s:\n%s", d.Namespace, d.Name, msg)
		}
	}
}

// Reset puts a scaled Deployment back although the Deployment controller wrote it between ckslab's read and its
// update (the API's conflict, seen in CI): the update is tried again on the newer version.
func TestApplyWorkloadsRetriesAConflict(t *testing.T) {
	in, err := InstanceOf(ScenarioID, "cluster1", 0)
	if err != nil {
		t.Fatal(err)
	}
	var objs []runtime.Object
	for _, d := range renderedDeployments(t) {
		d = d.DeepCopy()
		zero := int32(0)
		d.Spec.Replicas = &zero // the learner scaled it
		objs = append(objs, d)
	}
	c := fake.NewClientset(objs...)
	var updates, conflicts atomic.Int32
	c.PrependReactor("update", "deployments", func(a k8stesting.Action) (bool, runtime.Object, error) {
		updates.Add(1)
		if conflicts.Load() < 2 {
			conflicts.Add(1)
			d := a.(k8stesting.UpdateAction).GetObject().(*appsv1.Deployment)
			return true, nil, apierrors.NewConflict(appsv1.Resource("deployments"), d.Name, errors.New("the object has been modified; please apply your changes to the latest version and try again"))
		}
		return false, nil, nil
	})
	got, err := ApplyWorkloads(t.Context(), c, in, images.PublicSet())
	if err != nil {
		t.Fatalf("ApplyWorkloads: %v", err)
	}
	if conflicts.Load() != 2 || updates.Load() != int32(len(got.Deployments))+2 {
		t.Errorf("%d updates, %d conflicts; want one per Deployment and 2 more", updates.Load(), conflicts.Load())
	}
	for _, want := range got.Deployments {
		d, err := c.AppsV1().Deployments(want.Namespace).Get(t.Context(), want.Name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if *d.Spec.Replicas != *want.Spec.Replicas {
			t.Errorf("%s/%s: %d replicas, want %d back", d.Namespace, d.Name, *d.Spec.Replicas, *want.Spec.Replicas)
		}
	}
}
