//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"path/filepath"
	"slices"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/e2e-framework/klient"

	"github.com/ckslab/ckslab/internal/cluster"
	"github.com/ckslab/ckslab/internal/images"
	"github.com/ckslab/ckslab/internal/lab"
)

// e2eCluster never collides with a learner's cluster1.
const e2eCluster = "ckslab-e2e"

var _ = Describe("the lab's cluster", Label("smoke"), Ordered, func() {
	var (
		set        *images.Set
		provider   *cluster.Provider
		kubeconfig string
		client     klient.Client
		nodeVols   []string
		failed     bool
	)

	BeforeAll(func(ctx SpecContext) {
		set = imageSet
		provider = cluster.NewProvider(engine, cluster.ProviderWithLogger(newLogger(1)))
		kubeconfig = filepath.Join(artifactsDir, "kubeconfig-"+e2eCluster)
		// a cluster left by an interrupted run would make Create fail
		must(provider.Delete(ctx, e2eCluster, kubeconfig), "deleting a cluster left by an earlier run")
		DeferCleanup(func(ctx SpecContext) {
			if failed {
				exportLogs(provider, e2eCluster)
			}
			must(provider.Delete(ctx, e2eCluster, kubeconfig), "deleting the cluster")
		}, NodeTimeout(5*time.Minute))
	}, NodeTimeout(5*time.Minute))

	AfterEach(func() {
		if CurrentSpecReport().Failed() {
			failed = true
		}
	})

	It("creates a 2-node cluster through kind's library", func(ctx SpecContext) {
		start := time.Now()
		must(provider.Create(ctx, e2eCluster,
			cluster.CreateWithImages(set),
			cluster.CreateWithKubeconfigPath(kubeconfig),
		), "creating the cluster")
		AddReportEntry("kind create", time.Since(start).Round(time.Second).String())
		var err error
		client, err = klient.NewWithKubeConfigFile(kubeconfig)
		Expect(err).NotTo(HaveOccurred())
	}, NodeTimeout(10*time.Minute))

	It("has both nodes Ready, named as in the exam: <cluster>-controlplane1 and <cluster>-node1", func(ctx SpecContext) {
		must(waitFor(ctx, "both nodes Ready", 4*time.Minute, 2*time.Second,
			nodesReady(client, cluster.ControlPlaneNodeName(e2eCluster), cluster.WorkerNodeName(e2eCluster))), "")
	}, NodeTimeout(5*time.Minute))

	It("runs the nginx workload image on the worker and execs into it", func(ctx SpecContext) {
		must(provider.LoadImages(ctx, e2eCluster, set.Nginx), "loading the nginx image into the nodes")
		pod := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: "smoke-nginx", Namespace: "default"},
			Spec: corev1.PodSpec{
				NodeSelector: map[string]string{corev1.LabelHostname: cluster.WorkerNodeName(e2eCluster)},
				Containers: []corev1.Container{{
					Name:            "nginx",
					Image:           set.Nginx,
					ImagePullPolicy: corev1.PullIfNotPresent,
				}},
			},
		}
		Expect(client.Resources("default").Create(ctx, pod)).To(Succeed())
		must(waitFor(ctx, "pod smoke-nginx Running on "+cluster.WorkerNodeName(e2eCluster), 3*time.Minute, time.Second,
			podRunning(client, "default", "smoke-nginx")), "")

		var got corev1.Pod
		Expect(client.Resources("default").Get(ctx, "smoke-nginx", "default", &got)).To(Succeed())
		Expect(got.Spec.NodeName).To(Equal(cluster.WorkerNodeName(e2eCluster)))

		var stdout, stderr bytes.Buffer
		err := client.Resources("default").ExecInPod(ctx, "default", "smoke-nginx", "nginx",
			[]string{"sh", "-c", "echo ckslab-$((6*7)); nginx -v 2>&1"}, &stdout, &stderr)
		Expect(err).NotTo(HaveOccurred(), "exec: stderr %q", stderr.String())
		lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
		Expect(lines).To(HaveLen(2), "exec output %q", stdout.String())
		Expect(lines[0]).To(Equal("ckslab-42"))
		Expect(lines[1]).To(HavePrefix("nginx version: nginx/"), "the workload image's nginx")
	}, NodeTimeout(5*time.Minute))

	It("readies an image on a node ahead of the kubelet (up's head start)", func(ctx SpecContext) {
		node := e2eCluster + "-control-plane"
		unpacked := func() string {
			out, err := inContainer(ctx, node, "sh", "-c", "ctr -n k8s.io images check 2>/dev/null | awk -v ref=\"$1\" '$1 == ref || $1 == \"docker.io/library/\" ref {print $NF}'", "sh", set.Httpd)
			Expect(err).NotTo(HaveOccurred(), out)
			return strings.TrimSpace(out)
		}
		// The local node image has it preloaded and packed (as kind
		// preloads); a public node image lacks it and the script pulls it.
		before := unpacked()
		Expect(before).NotTo(Equal("true"), "httpd must not be unpacked on the control plane before")
		out, err := inContainer(ctx, node, "sh", "-c", lab.WarmImagesScript, "sh", set.Httpd)
		Expect(err).NotTo(HaveOccurred(), out)
		Expect(unpacked()).To(Equal("true"), "httpd unpacked on the control plane after (was %q)", before)
	}, NodeTimeout(5*time.Minute))

	It("lists, from the worker itself, what its kubelet needs first: the sandbox, the CNI, then the workloads, kube-proxy last", func(ctx SpecContext) {
		worker := e2eCluster + "-worker"
		out, err := inContainer(ctx, worker, "sh", "-c", lab.NodeImagesScript)
		Expect(err).NotTo(HaveOccurred(), out)
		workloads := []string{set.Nginx, set.Httpd}
		order := lab.WorkerImageOrder(out, workloads)
		// The order holds the references as the node's images and kind's CNI
		// manifest spell them, the same strings the DaemonSets use.
		at := func(ref string) int { return slices.Index(order, ref) }
		// The truth: the DaemonSets kind created, as the API server has them.
		var dss appsv1.DaemonSetList
		Expect(client.Resources("kube-system").List(ctx, &dss)).To(Succeed())
		Expect(dss.Items).NotTo(BeEmpty())
		for _, ds := range dss.Items {
			for _, c := range ds.Spec.Template.Spec.Containers {
				i := at(c.Image)
				Expect(i).To(BeNumerically(">=", 0), "DaemonSet %s's image %s missing from %q", ds.Name, c.Image, order)
				if ds.Name == "kube-proxy" {
					Expect(i).To(Equal(len(order)-1), "kube-proxy last in %q", order)
				} else {
					Expect(i).To(BeNumerically("<", at(set.Nginx)), "the CNI's %s before the workloads in %q", c.Image, order)
				}
			}
		}
		Expect(order[0]).To(MatchRegexp(`/pause:`), "the pod sandbox first in %q", order)
		Expect(at(set.Nginx)).To(BeNumerically("<", at(set.Httpd)))
	}, NodeTimeout(2*time.Minute))

	It("deletes the cluster and leaves no containers, volumes or networks", func(ctx SpecContext) {
		var err error
		nodeVols, err = nodeVolumes(ctx, provider)
		Expect(err).NotTo(HaveOccurred())
		Expect(nodeVols).NotTo(BeEmpty(), "the nodes' /var volumes")
		must(provider.Delete(ctx, e2eCluster, kubeconfig), "deleting the cluster")
		left, err := provider.Leftovers(ctx, e2eCluster, nodeVols...)
		Expect(err).NotTo(HaveOccurred())
		Expect(left.Empty()).To(BeTrue(), "left behind: %s", left)
		exists, err := provider.Exists(e2eCluster)
		Expect(err).NotTo(HaveOccurred())
		Expect(exists).To(BeFalse())
	}, NodeTimeout(5*time.Minute))
})

// nodeVolumes lists the volumes mounted into the e2e cluster's nodes.
func nodeVolumes(ctx context.Context, provider *cluster.Provider) ([]string, error) {
	return provider.NodeVolumes(ctx, e2eCluster)
}
