package manifests

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"text/template"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/ckslab/ckslab/internal/images"
	"github.com/ckslab/ckslab/scenarios"
	"github.com/ckslab/ckslab/scenarios/scenariotest"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// public are the public set's workload images, local stands for a set written by `make images` (tags are cache
// keys).
var (
	public = Images{Nginx: images.PublicNginx, Httpd: images.PublicHttpd}
	local  = Images{Nginx: "ckslab.local/nginx:5a4b3c2d1e0f", Httpd: "ckslab.local/httpd:a1b2c3d4e5f6"}
)

func instance(t *testing.T, seed int64) *scenarios.Instance {
	t.Helper()
	return scenariotest.Instance(t, "falco-runtime", seed)
}

func TestRenderGolden(t *testing.T) {
	tests := []struct {
		golden string
		seed   int64
		img    Images
	}{
		{"seed0-public.yaml", 0, public},
		{"seed0-local.yaml", 0, local},
		{"seed7-public.yaml", 7, public},
	}
	for _, tt := range tests {
		t.Run(tt.golden, func(t *testing.T) {
			objs, err := Render(instance(t, tt.seed), tt.img)
			if err != nil {
				t.Fatal(err)
			}
			got, err := YAML(objs)
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join("testdata", tt.golden)
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test ./manifests -update to write it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s differs from the rendering (run go test ./manifests -update and review the diff):\n%s", path, got)
			}
		})
	}
}

func TestRenderWorkloads(t *testing.T) {
	for _, seed := range []int64{0, 1, 2, 3, 99} {
		in := instance(t, seed)
		objs, err := Render(in, public)
		if err != nil {
			t.Fatal(err)
		}
		if len(objs.Namespaces) != len(in.Namespaces()) || len(objs.Deployments) != len(in.Workloads()) {
			t.Fatalf("seed %d: %d namespaces, %d Deployments", seed, len(objs.Namespaces), len(objs.Deployments))
		}
		for _, ns := range objs.Namespaces {
			if ns.Labels[LabelManagedBy] != ManagedBy {
				t.Errorf("namespace %s lacks %s", ns.Name, LabelManagedBy)
			}
		}
		for i, w := range in.Workloads() {
			d := objs.Deployments[i]
			checkDeployment(t, seed, w, d)
		}
	}
}

func checkDeployment(t *testing.T, seed int64, w scenarios.Workload, d *appsv1.Deployment) {
	t.Helper()
	if d.Namespace != w.Namespace || d.Name != w.Deployment || *d.Spec.Replicas != w.Replicas {
		t.Errorf("seed %d: Deployment %s/%s replicas %d for %s", seed, d.Namespace, d.Name, *d.Spec.Replicas, w.Key())
	}
	// The labels must not give the answer away: offenders and decoys carry the same keys.
	for _, labels := range []map[string]string{d.Labels, d.Spec.Template.Labels} {
		if labels[LabelManagedBy] != ManagedBy || labels[LabelScenario] != "falco-runtime" {
			t.Errorf("seed %d: %s labels %v", seed, w.Key(), labels)
		}
		for k, v := range labels {
			if k != LabelManagedBy && k != LabelScenario && k != LabelApp {
				t.Errorf("seed %d: %s has label %s=%s, which could tell offenders from decoys", seed, w.Key(), k, v)
			}
		}
	}
	if d.Spec.Selector.MatchLabels[LabelApp] != w.Deployment || d.Spec.Template.Labels[LabelApp] != w.Deployment {
		t.Errorf("seed %d: %s selector %v", seed, w.Key(), d.Spec.Selector)
	}
	pod := d.Spec.Template.Spec
	switch w.Placement {
	case scenarios.Worker:
		if pod.NodeSelector["kubernetes.io/hostname"] != "cluster1-node1" || len(pod.Tolerations) != 0 {
			t.Errorf("seed %d: %s on the worker: nodeSelector %v tolerations %v", seed, w.Key(), pod.NodeSelector, pod.Tolerations)
		}
	case scenarios.ControlPlane:
		_, sel := pod.NodeSelector["node-role.kubernetes.io/control-plane"]
		if !sel || len(pod.Tolerations) != 1 || pod.Tolerations[0].Key != "node-role.kubernetes.io/control-plane" ||
			pod.Tolerations[0].Effect != corev1.TaintEffectNoSchedule {
			t.Errorf("seed %d: %s on the control plane: nodeSelector %v tolerations %v", seed, w.Key(), pod.NodeSelector, pod.Tolerations)
		}
	}
	if len(pod.Containers) != 1 {
		t.Fatalf("seed %d: %s has %d containers", seed, w.Key(), len(pod.Containers))
	}
	c := pod.Containers[0]
	if c.Name != w.Container || c.ImagePullPolicy != corev1.PullIfNotPresent {
		t.Errorf("seed %d: %s container %s pull %s", seed, w.Key(), c.Name, c.ImagePullPolicy)
	}
	// Ready when the server answers, checked every second; no readiness
	// probe (its first run can come up to a period late on a fresh node).
	if p := c.StartupProbe; p == nil || p.HTTPGet == nil || p.HTTPGet.Port.StrVal != "http" || p.PeriodSeconds != 1 || c.ReadinessProbe != nil {
		t.Errorf("seed %d: %s startup probe %+v, readiness probe %+v; want an HTTP startup probe every second and no readiness probe", seed, w.Key(), p, c.ReadinessProbe)
	}
	wantImage := map[scenarios.Image]string{scenarios.Nginx: images.PublicNginx, scenarios.Httpd: images.PublicHttpd}[w.Image]
	if c.Image != wantImage {
		t.Errorf("seed %d: %s image %s, want %s", seed, w.Key(), c.Image, wantImage)
	}
	cmd := strings.Join(c.Command, " ")
	misbehaves := strings.Contains(cmd, "apk") || strings.Contains(cmd, "/etc")
	if w.Role == scenarios.Decoy && misbehaves {
		t.Errorf("seed %d: decoy %s misbehaves: %s", seed, w.Key(), cmd)
	}
	if w.Role == scenarios.Offender && !misbehaves {
		t.Errorf("seed %d: offender %s behaves: %s", seed, w.Key(), cmd)
	}
}

func TestCommand(t *testing.T) {
	tests := []struct {
		name string
		w    scenarios.Workload
		want []string
	}{
		{"nginx decoy", scenarios.Workload{Image: scenarios.Nginx, Behaviour: scenarios.Serve}, []string{"nginx", "-g", "daemon off;"}},
		{"httpd decoy", scenarios.Workload{Image: scenarios.Httpd, Behaviour: scenarios.Serve}, []string{"httpd-foreground"}},
		{"package manager", scenarios.Workload{Image: scenarios.Nginx, Behaviour: scenarios.PackageManager, Interval: 3e9}, []string{"sh", "-c",
			`trap 'exit 0' INT QUIT TERM WINCH; nginx -g 'daemon off;' & server=$!; while kill -0 "$server" 2>/dev/null; do apk info >/dev/null 2>&1; sleep 3 & wait $!; done; echo 'nginx exited' >&2; exit 1`}},
		{"write /etc/passwd", scenarios.Workload{Image: scenarios.Httpd, Behaviour: scenarios.WriteEtcPasswd, Interval: 5e9}, []string{"sh", "-c",
			`trap 'exit 0' INT QUIT TERM WINCH; httpd-foreground & server=$!; while kill -0 "$server" 2>/dev/null; do sh -c "echo hacker >> /etc/passwd; sed -i '\$d' /etc/passwd; true"; sleep 5 & wait $!; done; echo 'httpd exited' >&2; exit 1`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Command(tt.w)
			if err != nil {
				t.Fatal(err)
			}
			if strings.Join(got, "\x00") != strings.Join(tt.want, "\x00") {
				t.Errorf("Command = %q\nwant      %q", got, tt.want)
			}
		})
	}
}

func TestCommandErrors(t *testing.T) {
	tests := []struct {
		name string
		w    scenarios.Workload
		want string
	}{
		{"unknown behaviour", scenarios.Workload{Namespace: "a", Deployment: "b", Behaviour: "dance"}, `a/b: unknown behaviour "dance"`},
		{"unknown image", scenarios.Workload{Namespace: "a", Deployment: "b", Behaviour: scenarios.Serve, Image: "redis"}, `a/b: no server command for image "redis"`},
		{"fast interval", scenarios.Workload{Namespace: "a", Deployment: "b", Behaviour: scenarios.PackageManager, Interval: 1e8}, "a/b: interval 100ms is shorter than 1s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Command(tt.w)
			if err == nil || err.Error() != tt.want {
				t.Fatalf("error %v, want %s", err, tt.want)
			}
		})
	}
}

func TestRenderNeedsImages(t *testing.T) {
	in := instance(t, 0)
	for _, img := range []Images{{}, {Nginx: "nginx"}, {Httpd: "httpd"}} {
		if _, err := Render(in, img); err == nil || !strings.Contains(err.Error(), "names no nginx or httpd image") {
			t.Errorf("Render(%v) error %v", img, err)
		}
	}
}

// Rendered YAML is decoded strictly: a field the API does not have is an error that shows the YAML.
func TestExecDecodeIsStrict(t *testing.T) {
	tmpl := template.Must(template.New("x.yaml").Parse("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {{.}}\nspec:\n  replica: 1\n"))
	var d appsv1.Deployment
	err := execDecode(tmpl, "x.yaml", "web", &d)
	if err == nil || !strings.Contains(err.Error(), `unknown field "replica"`) || !strings.Contains(err.Error(), "name: web") {
		t.Fatalf("error %v", err)
	}
}

func TestAllOrder(t *testing.T) {
	objs, err := Render(instance(t, 0), public)
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, o := range objs.All() {
		switch o.(type) {
		case *corev1.Namespace:
			kinds = append(kinds, "ns/"+o.GetName())
		case *appsv1.Deployment:
			kinds = append(kinds, "deploy/"+o.GetNamespace()+"/"+o.GetName())
		}
	}
	want := "ns/team-blue ns/team-green ns/team-orange ns/team-purple ns/team-red ns/team-yellow " +
		"deploy/team-blue/webapi deploy/team-purple/rating-service deploy/team-green/storefront deploy/team-orange/intranet " +
		"deploy/team-red/edge-proxy deploy/team-yellow/legacy-portal"
	if got := strings.Join(kinds, " "); got != want {
		t.Errorf("All() = %s\nwant   %s", got, want)
	}
}
