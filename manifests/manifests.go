// Package manifests renders a scenario instance into the Kubernetes objects the lab runs: a namespace per
// workload and a Deployment per offender and decoy. The YAML templates are embedded; the rendered YAML is
// decoded strictly into typed objects, so a template that drifts from the API fails the tests, not the lab.
//
// The offenders really misbehave, with commands both image sets have:
//   - case 1 (nginx) runs `nginx -g 'daemon off;'` and, every interval, `apk info` (Alpine's apk, or the local
//     image's apk that drives dpkg): Falco's "Launch Package Management Process in Container" fires;
//   - case 2 (httpd) runs `httpd-foreground` and, every interval, `echo hacker >> /etc/passwd; sed -i '$d'
//     /etc/passwd` with the image's `sh` and `sed` (BusyBox in both sets): "Write below etc" fires.
//
// Decoys run the server directly (`nginx -g 'daemon off;'`, `httpd-foreground`): they never start a package
// manager and never write below /etc. (The public nginx image's entrypoint would edit
// /etc/nginx/conf.d/default.conf with sed at start, so decoys and offenders bypass it.)
package manifests

import (
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"strings"
	"text/template"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/yaml"

	"github.com/ckslab/ckslab/scenarios"
)

// Labels every object carries, so that grading and reset find them. Nothing
// tells an offender from a decoy: that is the learner's job (the grader knows
// the workloads by the instance's names).
const (
	LabelManagedBy = "app.kubernetes.io/managed-by"
	ManagedBy      = "ckslab"
	LabelScenario  = "ckslab.dev/scenario"
	// LabelApp is the Pod label the Deployment selects on: app=<deployment>.
	LabelApp = "app"
)

//go:embed templates
var templates embed.FS

// Object is a Kubernetes object: it satisfies controller-runtime's client.Object.
type Object interface {
	metav1.Object
	runtime.Object
}

// Objects are an instance's objects.
type Objects struct {
	// Namespaces are sorted by name.
	Namespaces []*corev1.Namespace
	// Deployments are the offenders in case order, then the decoys by namespace.
	Deployments []*appsv1.Deployment
}

// All returns the namespaces, then the Deployments: the order to create them in.
func (o *Objects) All() []Object {
	out := make([]Object, 0, len(o.Namespaces)+len(o.Deployments))
	for _, n := range o.Namespaces {
		out = append(out, n)
	}
	for _, d := range o.Deployments {
		out = append(out, d)
	}
	return out
}

// Selector is the label selector of a workload's Pods.
func Selector(w scenarios.Workload) map[string]string {
	return map[string]string{LabelApp: w.Deployment}
}

// Images are the workloads' images, as the lab's image set names them (internal/images resolves the set; this
// package only needs the two references, so that the checks that read its labels depend on no provisioning code).
type Images struct {
	Nginx string
	Httpd string
}

// Render builds the objects of in with the workload images img.
func Render(in *scenarios.Instance, img Images) (*Objects, error) {
	if img.Nginx == "" || img.Httpd == "" {
		return nil, fmt.Errorf("rendering the lab's workloads: the image set names no nginx or httpd image")
	}
	t, err := template.New("").Funcs(template.FuncMap{"json": toJSON}).ParseFS(templates, "templates/*")
	if err != nil {
		return nil, fmt.Errorf("parsing the manifest templates: %w", err)
	}
	objs := &Objects{}
	for _, ns := range in.Namespaces() {
		var n corev1.Namespace
		data := map[string]any{"Namespace": ns, "Labels": map[string]string{LabelManagedBy: ManagedBy, LabelScenario: in.ScenarioID}}
		if err := execDecode(t, "namespace.yaml", data, &n); err != nil {
			return nil, err
		}
		objs.Namespaces = append(objs.Namespaces, &n)
	}
	for _, w := range in.Workloads() {
		d, err := deployment(t, in, w, img)
		if err != nil {
			return nil, err
		}
		objs.Deployments = append(objs.Deployments, d)
	}
	return objs, nil
}

func deployment(t *template.Template, in *scenarios.Instance, w scenarios.Workload, img Images) (*appsv1.Deployment, error) {
	image := map[scenarios.Image]string{scenarios.Nginx: img.Nginx, scenarios.Httpd: img.Httpd}[w.Image]
	if image == "" {
		return nil, fmt.Errorf("rendering %s: no image for %q", w.Key(), w.Image)
	}
	command, err := Command(w)
	if err != nil {
		return nil, err
	}
	labels := map[string]string{LabelManagedBy: ManagedBy, LabelScenario: in.ScenarioID}
	pod := map[string]string{LabelApp: w.Deployment}
	for k, v := range labels {
		pod[k] = v
	}
	data := map[string]any{"W": w, "Image": image, "Command": command, "Labels": labels, "PodLabels": pod}
	var d appsv1.Deployment
	if err := execDecode(t, "deployment.yaml", data, &d); err != nil {
		return nil, fmt.Errorf("rendering %s: %w", w.Key(), err)
	}
	return &d, nil
}

// Command is the container command of a workload: the server alone for a decoy, the server plus the
// misbehaving loop (one line of sh) for an offender.
func Command(w scenarios.Workload) ([]string, error) {
	switch w.Behaviour {
	case scenarios.Serve:
		switch w.Image {
		case scenarios.Nginx:
			return []string{"nginx", "-g", "daemon off;"}, nil
		case scenarios.Httpd:
			return []string{"httpd-foreground"}, nil
		}
		return nil, fmt.Errorf("%s: no server command for image %q", w.Key(), w.Image)
	case scenarios.PackageManager, scenarios.WriteEtcPasswd:
		if w.Interval < time.Second {
			return nil, fmt.Errorf("%s: interval %s is shorter than 1s", w.Key(), w.Interval)
		}
		t, err := template.ParseFS(templates, "templates/"+string(w.Behaviour)+".sh")
		if err != nil {
			return nil, fmt.Errorf("%s: %w", w.Key(), err)
		}
		var b bytes.Buffer
		if err := t.Execute(&b, map[string]any{"W": w, "Seconds": int(w.Interval / time.Second)}); err != nil {
			return nil, fmt.Errorf("%s: %w", w.Key(), err)
		}
		return []string{"sh", "-c", strings.TrimSpace(b.String())}, nil
	}
	return nil, fmt.Errorf("%s: unknown behaviour %q", w.Key(), w.Behaviour)
}

func execDecode(t *template.Template, name string, data any, into any) error {
	var b bytes.Buffer
	if err := t.ExecuteTemplate(&b, name, data); err != nil {
		return fmt.Errorf("template %s: %w", name, err)
	}
	if err := yaml.UnmarshalStrict(b.Bytes(), into); err != nil {
		return fmt.Errorf("template %s renders invalid YAML: %w\n%s", name, err, b.String())
	}
	return nil
}

func toJSON(v any) (string, error) {
	b, err := json.Marshal(v)
	return string(b), err
}

// YAML renders objs as one multi-document YAML stream, in creation order, without the empty fields (status,
// creationTimestamp) that typed objects carry.
func YAML(objs *Objects) ([]byte, error) {
	var b bytes.Buffer
	for i, o := range objs.All() {
		data, err := json.Marshal(o)
		if err != nil {
			return nil, fmt.Errorf("encoding %s: %w", o.GetName(), err)
		}
		var m map[string]any
		if err := json.Unmarshal(data, &m); err != nil {
			return nil, fmt.Errorf("encoding %s: %w", o.GetName(), err)
		}
		prune(m)
		y, err := yaml.Marshal(m)
		if err != nil {
			return nil, fmt.Errorf("encoding %s: %w", o.GetName(), err)
		}
		if i > 0 {
			b.WriteString("---\n")
		}
		b.Write(y)
	}
	return b.Bytes(), nil
}

// prune drops empty status, spec and strategy objects and null creation timestamps, at any depth.
func prune(m map[string]any) {
	for k, v := range m {
		switch x := v.(type) {
		case nil:
			if k == "creationTimestamp" {
				delete(m, k)
			}
		case map[string]any:
			prune(x)
			if len(x) == 0 && (k == "status" || k == "spec" || k == "strategy") {
				delete(m, k)
			}
		}
	}
}
