// Package auditlogging is the lab side of the API server auditing scenario (scenario.yaml next to this file):
// what up sets up on the control plane, what grading observes of the running API server (its process's flags,
// its policy as it sees it, the events it logged for requests made now), and what reset puts back. The checks
// themselves are grader/audit's; this package only looks and sets up.
package auditlogging

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"slices"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	auditv1 "k8s.io/apiserver/pkg/apis/audit/v1"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/yaml"

	"github.com/ckslab/ckslab/grader/audit"
	"github.com/ckslab/ckslab/scenarios"
)

// Node runs commands on the control plane's container (falco.Node and the lab's node containers are ones).
type Node interface {
	Exec(ctx context.Context, stdin io.Reader, argv ...string) ([]byte, error)
}

// Where things are on the control plane.
const (
	// ManifestPath is the API server's static Pod manifest.
	ManifestPath = "/etc/kubernetes/manifests/kube-apiserver.yaml"
	// KeptDir holds what up found and wrote, for reset: the original manifest, the basic policy, the list of
	// the manifests folder's files. Outside /etc/kubernetes/manifests: the kubelet runs every file there.
	KeptDir = "/var/lib/ckslab/audit"
	// ResetDir is where reset moves the learner's files it replaces (never deleted), with the time appended.
	ResetDir = "/root/ckslab-reset"
)

// probePrefix starts the names of the objects ckslab's requests create (dry runs: nothing is stored), so that
// their events are found in the log.
const probePrefix = "ckslab-probe"

// Prepare sets up the auditing task on a fresh lab: the basic policy at its path, copies of the original
// manifest and policy for reset, and the ConfigMaps and Secrets to interact with. It checks that the API
// server audits nothing yet (kind's does not).
func Prepare(ctx context.Context, cp Node, c kubernetes.Interface, in *scenarios.Instance) error {
	a := in.Audit
	script := `set -e
mkdir -p "$KEPT" "$(dirname "$POLICY")"
[ -s "$KEPT/kube-apiserver.yaml" ] || cp "$MANIFEST" "$KEPT/kube-apiserver.yaml"
[ -s "$KEPT/manifests.list" ] || ls -1 "$(dirname "$MANIFEST")" > "$KEPT/manifests.list"
cat > "$KEPT/basic-policy.yaml"
cp "$KEPT/basic-policy.yaml" "$POLICY"
`
	if _, err := cp.Exec(ctx, bytes.NewReader(a.Policy), "env", "KEPT="+KeptDir, "POLICY="+a.PolicyFile, "MANIFEST="+ManifestPath, "sh", "-c", script); err != nil {
		return fmt.Errorf("writing the basic audit policy to %s on the control plane: %w", a.PolicyFile, err)
	}
	if err := ApplyObjects(ctx, c, in); err != nil {
		return err
	}
	args, _, err := process(ctx, cp)
	if err != nil {
		return fmt.Errorf("reading the API server's flags on the control plane: %w", err)
	}
	for _, f := range []string{audit.FlagPolicyFile, audit.FlagLogPath} {
		if v, ok := audit.Flag(args, f); ok {
			return fmt.Errorf("the control plane's API server already runs with %s=%s: this node image audits already, and the task starts from an API server that does not", f, v)
		}
	}
	return nil
}

// ApplyObjects creates the task's ConfigMaps and Secrets, or puts back their data when they exist.
func ApplyObjects(ctx context.Context, c kubernetes.Interface, in *scenarios.Instance) error {
	for _, r := range in.Audit.ConfigMaps {
		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: r.Name, Namespace: r.Namespace},
			Data: map[string]string{"settings.yaml": "replicas: 1\nlog-level: info\n"}}
		api := c.CoreV1().ConfigMaps(r.Namespace)
		if err := upsert(ctx, "ConfigMap", r, cm, api.Create, api.Update); err != nil {
			return err
		}
	}
	for _, r := range in.Audit.Secrets {
		s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: r.Name, Namespace: r.Namespace},
			StringData: map[string]string{"password": "lab-" + r.Name}}
		api := c.CoreV1().Secrets(r.Namespace)
		if err := upsert(ctx, "Secret", r, s, api.Create, api.Update); err != nil {
			return err
		}
	}
	return nil
}

// upsert creates obj (a kind called what, named r), or updates it when it exists.
func upsert[T any](ctx context.Context, what string, r scenarios.ObjectRef, obj T,
	create func(context.Context, T, metav1.CreateOptions) (T, error), update func(context.Context, T, metav1.UpdateOptions) (T, error)) error {
	_, err := create(ctx, obj, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		if _, err := update(ctx, obj, metav1.UpdateOptions{}); err != nil {
			return fmt.Errorf("putting back %s %s/%s: %w", what, r.Namespace, r.Name, err)
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("creating %s %s/%s: %w", what, r.Namespace, r.Name, err)
	}
	return nil
}

// process returns the running kube-apiserver's arguments (without its name) and its pid; no process is an
// error saying so.
func process(ctx context.Context, cp Node) ([]string, string, error) {
	out, err := cp.Exec(ctx, nil, "sh", "-c", `pid=$(pgrep -n -x kube-apiserver) || { echo "no kube-apiserver process" >&2; exit 3; }; echo "$pid"; cat /proc/$pid/cmdline`)
	if err != nil {
		return nil, "", err
	}
	pid, cmdline, _ := strings.Cut(string(out), "\n")
	args := strings.Split(strings.TrimRight(cmdline, "\x00"), "\x00")
	if len(args) < 1 || path.Base(args[0]) != "kube-apiserver" {
		return nil, "", fmt.Errorf("process %s is not the API server (%q)", pid, strings.Join(args, " "))
	}
	return args[1:], strings.TrimSpace(pid), nil
}

// ready asks the API server's /readyz.
func ready(ctx context.Context, c kubernetes.Interface) error {
	rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	body, err := c.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(rctx)
	if err != nil {
		return fmt.Errorf("its /readyz does not answer ok: %s", strings.TrimSpace(firstLine(err.Error()+" "+string(body))))
	}
	return nil
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return s
}

// Running waits up to timeout for the API server to run and answer (just after a manifest's edit the kubelet
// restarts it: that takes a few seconds to a minute). It returns the process's arguments and pid, or why it
// does not run.
func Running(ctx context.Context, cp Node, c kubernetes.Interface, timeout time.Duration) (args []string, pid string, err error) {
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		args, pid, err = process(ctx, cp)
		if err == nil {
			if err = ready(ctx, c); err == nil {
				// the same process that answered: not one the kubelet was stopping
				if again, pid2, perr := process(ctx, cp); perr == nil && pid2 == pid {
					return again, pid, nil
				}
				err = errors.New("the kubelet is restarting it")
			}
		}
		if time.Now().After(deadline) {
			return nil, "", err
		}
		select {
		case <-ctx.Done():
			return nil, "", ctx.Err()
		case <-tick.C:
		}
	}
}

// Observe looks at the lab's API server for grading: whether it runs (waiting up to wait for it), its flags,
// its policy as it reads it, whether the log is on the node, and the events it logs for a set of requests
// made now (server-side dry runs: nothing is stored).
func Observe(ctx context.Context, cp Node, c kubernetes.Interface, in *scenarios.Instance, wait time.Duration) audit.Observed {
	a := in.Audit
	var o audit.Observed
	args, pid, err := Running(ctx, cp, c, wait)
	if err != nil {
		o.NotRunning = strings.TrimSpace(err.Error())
		return o
	}
	o.Running, o.Args = true, args
	if m, err := cp.Exec(ctx, nil, "cat", ManifestPath); err == nil {
		o.ManifestArgs = manifestArgs(m)
	}
	if p, ok := audit.Flag(args, audit.FlagPolicyFile); ok {
		// As the process sees it: through its own root, whatever is mounted where.
		b, err := cp.Exec(ctx, nil, "cat", "/proc/"+pid+"/root"+path.Clean("/"+p))
		if err != nil {
			o.PolicyErr = "the API server's container has no readable " + p
		} else {
			o.Policy = b
		}
	}
	if _, err := cp.Exec(ctx, nil, "test", "-f", a.LogPath); err == nil {
		o.LogOnNode = true
	}
	o.Probes = probe(ctx, c, in)
	if o.LogOnNode {
		readEvents(ctx, cp, a.LogPath, &o, EventWait(args))
	}
	return o
}

// manifestArgs is the API server container's command and args in a static Pod manifest, without the program.
func manifestArgs(m []byte) []string {
	var pod corev1.Pod
	if err := yaml.Unmarshal(m, &pod); err != nil || len(pod.Spec.Containers) == 0 {
		return nil
	}
	ctr := pod.Spec.Containers[0]
	all := append(slices.Clone(ctr.Command), ctr.Args...)
	if len(all) > 0 && path.Base(all[0]) == "kube-apiserver" {
		all = all[1:]
	}
	return all
}

// probe makes the scenario's requests, each a dry-run create of an object named after it.
func probe(ctx context.Context, c kubernetes.Interface, in *scenarios.Instance) []audit.ProbeResult {
	token := randomHex(4)
	dry := metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}}
	var out []audit.ProbeResult
	for _, p := range in.Audit.Probes {
		name := fmt.Sprintf("%s-%s-%s", probePrefix, token, p.ID)
		meta := metav1.ObjectMeta{Name: name, Namespace: p.Namespace, Labels: map[string]string{"app": name}}
		var err error
		switch p.Resource {
		case scenarios.ProbeNamespaces:
			_, err = c.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, dry)
		case scenarios.ProbeDeployments:
			var zero int32
			d := &appsv1.Deployment{ObjectMeta: meta, Spec: appsv1.DeploymentSpec{
				Replicas: &zero,
				Selector: &metav1.LabelSelector{MatchLabels: meta.Labels},
				Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: meta.Labels},
					Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "probe", Image: "probe"}}}},
			}}
			_, err = c.AppsV1().Deployments(p.Namespace).Create(ctx, d, dry)
		case scenarios.ProbeConfigMaps:
			_, err = c.CoreV1().ConfigMaps(p.Namespace).Create(ctx, &corev1.ConfigMap{ObjectMeta: meta, Data: map[string]string{"probe": "1"}}, dry)
		case scenarios.ProbeSecrets:
			_, err = c.CoreV1().Secrets(p.Namespace).Create(ctx, &corev1.Secret{ObjectMeta: meta, StringData: map[string]string{"probe": "1"}}, dry)
		case scenarios.ProbeServiceAccounts:
			_, err = c.CoreV1().ServiceAccounts(p.Namespace).Create(ctx, &corev1.ServiceAccount{ObjectMeta: meta}, dry)
		default:
			err = fmt.Errorf("ckslab cannot make a probe of %q", p.Resource)
		}
		out = append(out, audit.ProbeResult{Probe: p, Name: name, Err: err})
	}
	return out
}

// EventWait is how long grading looks for a request's event in the log. The log backend writes it as the API
// server answers (its default mode, blocking), so two seconds do; in batch mode it writes a batch at the latest
// after --audit-log-batch-max-wait (default 30 s), and grading waits that long too.
func EventWait(args []string) time.Duration {
	const grace = 2 * time.Second
	if mode, _ := audit.Flag(args, "--audit-log-mode"); mode != "batch" {
		return grace
	}
	wait := 30 * time.Second
	if v, ok := audit.Flag(args, "--audit-log-batch-max-wait"); ok {
		if d, err := time.ParseDuration(v); err == nil && d >= 0 && d <= 5*time.Minute {
			wait = d
		}
	}
	return wait + grace
}

// readEvents reads the probes' events from the log on the node, again for up to wait while a probe has none
// (one the policy logs at None never gets one).
func readEvents(ctx context.Context, cp Node, logPath string, o *audit.Observed, wait time.Duration) {
	if len(o.Probes) == 0 {
		return
	}
	token := o.Probes[0].Name[:len(probePrefix)+1+8]
	deadline := time.Now().Add(wait)
	for {
		out, _ := cp.Exec(ctx, nil, "sh", "-c", `grep -aF "$1" "$2" || true`, "sh", token, logPath)
		complete := assign(out, o)
		if complete || time.Now().After(deadline) || ctx.Err() != nil {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// assign gives each probe the events of its object in lines (JSON, one event per line) and says whether every
// probe that was made has one.
func assign(lines []byte, o *audit.Observed) bool {
	byName := map[string]int{}
	for i := range o.Probes {
		o.Probes[i].Events = nil
		byName[o.Probes[i].Name] = i
	}
	for _, line := range bytes.Split(lines, []byte("\n")) {
		var e auditv1.Event
		if len(bytes.TrimSpace(line)) == 0 || json.Unmarshal(line, &e) != nil || e.ObjectRef == nil {
			continue
		}
		i, ok := byName[e.ObjectRef.Name]
		if !ok || e.Verb != "create" || e.ObjectRef.Resource != string(o.Probes[i].Probe.Resource) {
			continue
		}
		o.Probes[i].Events = append(o.Probes[i].Events, e)
		if o.User == nil {
			o.User = &user.DefaultInfo{Name: e.User.Username, Groups: e.User.Groups}
		}
	}
	for _, p := range o.Probes {
		if p.Err == nil && len(p.Events) == 0 {
			return false
		}
	}
	return true
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on the platforms Go supports
	return hex.EncodeToString(b)
}

// Reset puts the task back as up made it: the original manifest (the learner's is moved to ResetDir first
// when it differs), files the learner added to the manifests folder moved there too, the basic policy (the
// learner's moved aside likewise), the audit log removed; then it waits for the API server to run again with
// the original flags. It says what it moved on out.
func Reset(ctx context.Context, cp Node, c kubernetes.Interface, in *scenarios.Instance, out io.Writer) error {
	a := in.Audit
	aside := ResetDir + "-" + time.Now().Format("20060102-150405")
	script := `set -e
kept="$KEPT"; mdir=$(dirname "$MANIFEST")
[ -s "$kept/kube-apiserver.yaml" ] || { echo "ckslab's copy of the original manifest ($kept/kube-apiserver.yaml) is gone" >&2; exit 3; }
moved=
keep() { mkdir -p "$ASIDE"; mv "$1" "$ASIDE/$2"; moved="$moved $ASIDE/$2"; }
for f in "$mdir"/* "$mdir"/.[!.]*; do
  [ -e "$f" ] || continue
  b=$(basename "$f")
  grep -qxF "$b" "$kept/manifests.list" || keep "$f" "manifests-$b"
done
if ! cmp -s "$kept/kube-apiserver.yaml" "$MANIFEST"; then
  [ ! -e "$MANIFEST" ] || cp "$MANIFEST" "$ASIDE.manifest.tmp"
  cp "$kept/kube-apiserver.yaml" "$kept/restore.tmp" && mv "$kept/restore.tmp" "$MANIFEST"
  if [ -e "$ASIDE.manifest.tmp" ]; then mkdir -p "$ASIDE"; mv "$ASIDE.manifest.tmp" "$ASIDE/kube-apiserver.yaml"; moved="$moved $ASIDE/kube-apiserver.yaml"; fi
fi
mkdir -p "$(dirname "$POLICY")"
if ! cmp -s "$kept/basic-policy.yaml" "$POLICY"; then
  [ ! -e "$POLICY" ] || keep "$POLICY" "$(basename "$POLICY")"
  cp "$kept/basic-policy.yaml" "$POLICY"
fi
rm -f "$LOG" "$(dirname "$LOG")/$(basename "$LOG" .txt)"-*.txt
echo "$moved"
`
	res, err := cp.Exec(ctx, nil, "env", "KEPT="+KeptDir, "MANIFEST="+ManifestPath, "POLICY="+a.PolicyFile, "LOG="+a.LogPath, "ASIDE="+aside, "sh", "-c", script)
	if err != nil {
		return fmt.Errorf("restoring the API server's manifest and the basic policy on the control plane: %w", err)
	}
	if moved := strings.Fields(string(res)); len(moved) > 0 {
		fmt.Fprintf(out, "Your files on the control plane were moved aside, not deleted: %s\n", strings.Join(moved, " "))
	}
	// The kubelet notices the restored manifest within seconds and restarts the API server; wait for one that
	// runs without the audit flags, then put the objects back through it.
	deadline := time.Now().Add(4 * time.Minute)
	for {
		args, _, err := Running(ctx, cp, c, 5*time.Second)
		if err == nil {
			if _, audits := audit.Flag(args, audit.FlagPolicyFile); !audits {
				return ApplyObjects(ctx, c, in)
			}
			err = errors.New("it still runs with " + audit.FlagPolicyFile)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the API server did not come back with its original manifest within 4 minutes (%v): look at `crictl ps -a` and `journalctl -u kubelet` on the control plane", err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Second):
		}
	}
}
