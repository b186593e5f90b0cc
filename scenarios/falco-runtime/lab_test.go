package falcoruntime

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/ckslab/ckslab/falco"
	"github.com/ckslab/ckslab/grader"
	"github.com/ckslab/ckslab/grader/answerfile"
	"github.com/ckslab/ckslab/manifests"
	"github.com/ckslab/ckslab/scenarios"
	"github.com/ckslab/ckslab/scenarios/scenariotest"
)

func instance(t testing.TB) *scenarios.Instance {
	t.Helper()
	return scenariotest.Instance(t, "falco-runtime", 0)
}

// node stands for the worker: a few files and the answers of the commands this package runs there. Falco cannot
// run on this machine; the syslog it would write is the real one in falco/testdata/real.
type node struct {
	files   map[string]string
	falco   string // what systemctl is-active falco prints
	ran     []string
	failing string // a command prefix that fails
}

func newNode() *node { return &node{files: map[string]string{}, falco: "active"} }

func (n *node) String() string { return "cluster1-worker" }

func (n *node) Exec(_ context.Context, stdin io.Reader, argv ...string) ([]byte, error) {
	cmd := strings.Join(argv, " ")
	n.ran = append(n.ran, cmd)
	if n.failing != "" && strings.HasPrefix(cmd, n.failing) {
		return nil, &falco.ExecError{Node: n.String(), Argv: argv, Err: errors.New("exit status 1")}
	}
	switch {
	case len(argv) == 2 && argv[0] == "cat":
		s, ok := n.files[argv[1]]
		if !ok {
			return nil, &falco.ExecError{Node: n.String(), Argv: argv, Output: "cat: " + argv[1] + ": No such file or directory", Err: errors.New("exit status 1")}
		}
		return []byte(s), nil
	case len(argv) == 5 && argv[0] == "sh" && strings.Contains(argv[2], "cat > \"$1\""): // falco.WriteFile
		b, err := io.ReadAll(stdin)
		if err != nil {
			return nil, err
		}
		n.files[argv[4]] = string(b)
		return nil, nil
	case len(argv) == 3 && argv[0] == "sh" && strings.HasPrefix(argv[2], ": > "):
		n.files[strings.TrimPrefix(argv[2], ": > ")] = ""
		return nil, nil
	case len(argv) == 3 && argv[0] == "sh" && strings.Contains(argv[2], "/var/log/syslog"):
		// grep -aF ' falco': only Falco's lines
		var out strings.Builder
		for _, l := range strings.SplitAfter(n.files["/var/log/syslog"], "\n") {
			if strings.Contains(l, " falco") {
				out.WriteString(l)
			}
		}
		return []byte(out.String()), nil
	case cmd == "systemctl is-active falco":
		if n.falco != "active" {
			return []byte(n.falco + "\n"), &falco.ExecError{Node: n.String(), Argv: argv, Err: errors.New("exit status 3")}
		}
		return []byte("active\n"), nil
	case argv[0] == "systemctl":
		return nil, nil
	}
	return nil, fmt.Errorf("the test's node does not know %q", cmd)
}

func id64(c byte) string { return strings.Repeat(string(c), 64) }

// pod is a running Pod of w whose container has the given containerd id.
func pod(w scenarios.Workload, name, id string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: w.Namespace, Labels: map[string]string{manifests.LabelApp: w.Deployment}},
		Status: corev1.PodStatus{Phase: corev1.PodRunning, ContainerStatuses: []corev1.ContainerStatus{
			{Name: w.Container, ContainerID: "containerd://" + id},
		}},
	}
}

func offender(t *testing.T, in *scenarios.Instance, cs int) scenarios.Workload {
	t.Helper()
	w, ok := in.Offender(cs)
	if !ok {
		t.Fatalf("no offender of case %d", cs)
	}
	return w
}

// The truth comes from the state saved at up, the recorder's log on the node and the Pods running now: every id
// once, in Falco's 12-character form, sorted; lines of the log that are not "case id" are left out.
func TestTruthEverySource(t *testing.T) {
	in := instance(t)
	n := newNode()
	n.files[truthLog] = "1 containerd://" + id64('b') + "\n1 " + id64('a') + "\n2 " + id64('c') + "\nbroken\nx " + id64('e') + "\n"
	c := fake.NewClientset(pod(offender(t, in, 1), "p1", id64('d')))
	got, err := Truth(t.Context(), n, c, in, map[int][]string{1: {id64('a')}})
	if err != nil {
		t.Fatal(err)
	}
	want := map[int][]string{1: {"aaaaaaaaaaaa", "bbbbbbbbbbbb", "dddddddddddd"}, 2: {"cccccccccccc"}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("truth %v, want %v", got, want)
	}
}

// Up keeps a truth only when every offender has an id: a lab whose grade could not judge case 1 fails at up.
func TestRecordTruthNeedsEveryOffender(t *testing.T) {
	in := instance(t)
	n := newNode()
	n.files[truthLog] = "1 " + id64('a') + "\n"
	_, err := RecordTruth(t.Context(), n, fake.NewClientset(), in)
	if w := offender(t, in, 2); err == nil || !strings.Contains(err.Error(), "offender "+w.Key()) {
		t.Fatalf("error %v, want one naming offender %s", err, w.Key())
	}
	n.files[truthLog] += "2 " + id64('c') + "\n"
	truth, err := RecordTruth(t.Context(), n, fake.NewClientset(), in)
	if err != nil || len(truth[1]) != 1 || len(truth[2]) != 1 {
		t.Fatalf("truth %v, error %v", truth, err)
	}
}

// Reset's truth: the old ids forgotten, the recorder written and restarted for the instance's offenders, the ids of
// the Pods running now.
func TestRearm(t *testing.T) {
	in := instance(t)
	n := newNode()
	n.files[truthLog] = "1 " + id64('a') + "\n"
	c := fake.NewClientset(pod(offender(t, in, 1), "p1", id64('d')), pod(offender(t, in, 2), "p2", id64('f')))
	truth, err := Rearm(t.Context(), n, c, in)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(truth) != fmt.Sprint(map[int][]string{1: {"dddddddddddd"}, 2: {"ffffffffffff"}}) {
		t.Errorf("truth %v: the id recorded before reset is still there, or a running one is missing", truth)
	}
	if n.files[truthLog] != "" {
		t.Errorf("the recorder's log kept %q", n.files[truthLog])
	}
	var spec strings.Builder
	for _, w := range in.Offenders {
		fmt.Fprintf(&spec, "%d %s %s\n", w.Case, w.Namespace, w.Container)
	}
	if n.files[truthOffenders] != spec.String() {
		t.Errorf("offenders file %q, want %q", n.files[truthOffenders], spec.String())
	}
	if n.files[truthScript] != truthScriptText || n.files["/etc/systemd/system/"+TruthUnit] != truthUnitText {
		t.Error("the recorder's script or unit was not written as is")
	}
	var systemctl []string
	for _, r := range n.ran {
		if strings.HasPrefix(r, "systemctl ") {
			systemctl = append(systemctl, r)
		}
	}
	want := []string{"systemctl daemon-reload", "systemctl enable " + TruthUnit, "systemctl restart " + TruthUnit}
	if !slices.Equal(systemctl, want) {
		t.Errorf("ran %q, want %q", systemctl, want)
	}
	n2 := newNode()
	n2.failing = "systemctl restart"
	if _, err := Rearm(t.Context(), n2, c, in); err == nil || !strings.Contains(err.Error(), "starting the truth recorder") {
		t.Errorf("a recorder that does not start: error %v", err)
	}
}

func realSyslog(t testing.TB) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "falco", "testdata", "real", "syslog-falco.txt"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// The alerts are read from what a real Falco 0.40 wrote to a lab's syslog, among other programs' lines: 137 alert
// lines (grep -cE 'falco: [0-9:]{8}\.[0-9]{9}: ' on the fixture), 29 of the nginx container b0bc937e9ca6 (20 with
// container_id=, 9 in the edited output's CSV) and 29 of the httpd container 9aa97145ebce; the start-up messages
// are not alerts.
func TestReadAlertsRealSyslog(t *testing.T) {
	n := newNode()
	n.files["/var/log/syslog"] = "2026-12-02T16:01:24.000001+00:00 cluster1-node1 kubelet[212]: I1202 Started\n" + realSyslog(t) +
		"2026-12-02T16:09:00.000001+00:00 cluster1-node1 containerd[90]: time=\"...\" level=info msg=\"falco-like text\"\n"
	alerts, err := ReadAlerts(t.Context(), n)
	if err != nil {
		t.Fatal(err)
	}
	by := map[string]int{}
	for _, a := range alerts {
		by[a.ContainerID]++
	}
	if len(alerts) != 137 || by["b0bc937e9ca6"] != 29 || by["9aa97145ebce"] != 29 {
		t.Errorf("%d alerts, %d of nginx, %d of httpd; want 137, 29, 29", len(alerts), by["b0bc937e9ca6"], by["9aa97145ebce"])
	}
	n.failing = "sh -c test -r /var/log/syslog"
	if _, err := ReadAlerts(t.Context(), n); err == nil || !strings.Contains(err.Error(), "/var/log/syslog on cluster1-worker") {
		t.Errorf("an unreadable syslog: error %v", err)
	}
}

func TestFalcoHealth(t *testing.T) {
	in := instance(t)
	n := newNode()
	l := Lab{Worker: n, Falco: Falco{Installed: true}}
	if r := falcoHealth(t.Context(), l, in); r.Status != grader.Pass || r.ID != IDFalcoRunning {
		t.Errorf("active: %+v", r)
	}
	n.falco = "inactive"
	r := falcoHealth(t.Context(), l, in)
	if r.Status != grader.Fail || r.Actual != "service falco inactive" || !strings.Contains(r.Remediation, "ssh "+in.WorkerNode) {
		t.Errorf("inactive: %+v", r)
	}
	n.ran = nil
	r = falcoHealth(t.Context(), Lab{Worker: n, Falco: Falco{Missing: "the kernel has no BTF"}}, in)
	if r.Status != grader.Skip || !strings.Contains(r.Message, "the kernel has no BTF") || len(n.ran) != 0 {
		t.Errorf("no Falco: %+v, ran %q", r, n.ran)
	}
}

// Without Falco, the reason is said once: the answer-real check refers to falco-running.
func TestGradeNoFalcoSaidOnce(t *testing.T) {
	const why = "Falco cannot run on this machine: the kernel refuses to raise RLIMIT_MEMLOCK for eBPF maps."
	in := instance(t)
	l := Lab{Worker: newNode(), ClientErr: errors.New("no kubeconfig"), Falco: Falco{Missing: why}, AnswerFile: filepath.Join(t.TempDir(), "falco.log")}
	results, health, err := Grade(t.Context(), l, in, true)
	if err != nil {
		t.Fatal(err)
	}
	r := &grader.Report{Name: "falco-runtime", Subject: "lab cluster1", Results: results, Health: health}
	for _, f := range []grader.Format{grader.Text, grader.JSON, grader.JUnit} {
		var b strings.Builder
		if err := grader.Render(&b, r, f, grader.RenderOptions{}); err != nil {
			t.Fatal(err)
		}
		if n := strings.Count(b.String(), "RLIMIT_MEMLOCK"); n != 1 {
			t.Errorf("%s: the reason is said %d times:\n%s", f, n, b.String())
		}
		if !strings.Contains(b.String(), "this lab has no Falco (falco-running under Environment says why)") {
			t.Errorf("%s: answer-real does not refer to falco-running:\n%s", f, b.String())
		}
	}
}

// A fresh lab: every check of the scenario is there with its title and points, none passes but decoys-untouched,
// and what the learner is to find (the offenders' namespaces, Deployments, container ids) is in no message.
func TestGradeFreshLabWithholds(t *testing.T) {
	in := instance(t)
	live, ids := freshLab(t, in, "")
	n := newNode()
	n.files["/var/log/syslog"] = realSyslog(t)
	l := Lab{Worker: n, Client: fake.NewClientset(live...), AnswerFile: filepath.Join(t.TempDir(), "falco.log"), Falco: Falco{Installed: true}}
	results, health, err := Grade(t.Context(), l, in, true)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range results {
		def, ok := in.Check(r.ID)
		if !ok || r.Title != def.Title || r.Points != def.Points {
			t.Errorf("%s: title %q, points %d; the scenario says %+v", r.ID, r.Title, r.Points, def)
		}
		if r.ID == "decoys-untouched" {
			if r.Status != grader.Pass {
				t.Errorf("decoys-untouched: %s %s", r.Status, r.Message)
			}
		} else if r.Status == grader.Pass {
			t.Errorf("%s passes on a fresh lab: %s", r.ID, r.Message)
		}
		got = append(got, r.ID)
		for _, w := range in.Offenders {
			for _, secret := range []string{w.Namespace, w.Deployment, ids[w.Key()]} {
				if strings.Contains(r.Message+r.Remediation+r.Expected+r.Actual, secret) {
					t.Errorf("%s names %q of the case-%d offender: %s", r.ID, secret, w.Case, r.Message)
				}
			}
		}
	}
	want := []string{answerfile.IDFile, answerfile.IDFormat, answerfile.IDCase1, answerfile.IDSpan, "answer-real", "offender-1-scaled", "offender-2-scaled", "decoys-untouched"}
	if !slices.Equal(got, want) {
		t.Errorf("checks %q, want %q", got, want)
	}
	var healthIDs []string
	for _, h := range health {
		healthIDs = append(healthIDs, h.ID)
	}
	if !slices.Contains(healthIDs, IDFalcoRunning) || !slices.Contains(healthIDs, "node-ready") {
		t.Errorf("health %q", healthIDs)
	}
}

// Reset moves the answer file aside and never over an earlier copy; no file is nothing to do.
func TestMoveAnswerAside(t *testing.T) {
	dir := t.TempDir()
	answer := filepath.Join(dir, "falco.log")
	now := time.Date(2026, 12, 4, 18, 30, 5, 0, time.UTC)
	var out strings.Builder
	if err := MoveAnswerAside(answer, "/opt/course/2/falco.log", now, &out); err != nil || out.Len() != 0 {
		t.Fatalf("no answer file: error %v, said %q", err, out.String())
	}
	for i, content := range []string{"first\n", "second\n", "third\n"} {
		if err := os.WriteFile(answer, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		out.Reset()
		if err := MoveAnswerAside(answer, "/opt/course/2/falco.log", now, &out); err != nil {
			t.Fatal(err)
		}
		kept := answer + ".20261204-183005"
		if i > 0 {
			kept += fmt.Sprintf("-%d", i+1)
		}
		if b, err := os.ReadFile(kept); err != nil || string(b) != content {
			t.Errorf("reset %d: %s holds %q (%v), want %q", i+1, kept, b, err, content)
		}
		if want := "in the terminal: /opt/course/2/falco.log." + strings.TrimPrefix(kept, answer+".") + ")"; !strings.Contains(out.String(), want) {
			t.Errorf("reset %d said %q, want it to name %s", i+1, out.String(), want)
		}
	}
	if _, err := os.Stat(answer); !os.IsNotExist(err) {
		t.Errorf("the answer file is still there: %v", err)
	}
}

// freshLab is the lab's cluster right after up: its namespaces, its Deployments available, a running Pod of each
// with a container id of its own (ids, by workload, in Falco's form); case1ID, when set, is case 1's container's.
func freshLab(t testing.TB, in *scenarios.Instance, case1ID string) ([]runtime.Object, map[string]string) {
	t.Helper()
	objs, err := manifests.Render(in, manifests.Images{Nginx: "nginx:1.27-alpine", Httpd: "httpd:2.4-alpine"})
	if err != nil {
		t.Fatal(err)
	}
	var live []runtime.Object
	for _, ns := range objs.Namespaces {
		live = append(live, ns)
	}
	ids := map[string]string{}
	for i, d := range objs.Deployments {
		d.Status.Replicas, d.Status.ReadyReplicas, d.Status.AvailableReplicas = *d.Spec.Replicas, *d.Spec.Replicas, *d.Spec.Replicas
		live = append(live, d)
		for _, w := range in.Workloads() {
			if w.Key() == d.Namespace+"/"+d.Name {
				id := id64(byte('a' + i%6))
				id = fmt.Sprintf("%02d%s", i, id[2:])
				if w.Role == scenarios.Offender && w.Case == 1 && case1ID != "" {
					id = case1ID + id[len(case1ID):]
				}
				ids[w.Key()] = id[:12]
				live = append(live, pod(w, d.Name+"-0", id))
			}
		}
	}
	return live, ids
}

// BenchmarkGrade is one grade's judging of a lab where case 1 is answered from Falco's own lines: the truth from
// the recorder, the state and the Pods, the real syslog fixture (320 lines) parsed, the answer file (the 9 lines
// the walkthrough cuts from its capture, passing every answer check) checked against both, and the cluster checks on a fake cluster. Reaching
// the node and the API server is the lab's, not this.
func BenchmarkGrade(b *testing.B) {
	in := instance(b)
	syslog := realSyslog(b)
	var answer strings.Builder
	for _, line := range strings.Split(syslog, "\n") {
		if strings.Contains(line, ",b0bc937e9ca6,nginx,") {
			f := strings.Fields(line)
			answer.WriteString(f[len(f)-1] + "\n")
		}
	}
	path := filepath.Join(b.TempDir(), "falco.log")
	if err := os.WriteFile(path, []byte(answer.String()), 0o644); err != nil {
		b.Fatal(err)
	}
	live, _ := freshLab(b, in, "b0bc937e9ca6")
	n := newNode()
	n.files["/var/log/syslog"] = syslog
	l := Lab{Worker: n, Client: fake.NewClientset(live...), AnswerFile: path, Falco: Falco{Installed: true}}
	b.ReportAllocs()
	for b.Loop() {
		results, _, err := Grade(b.Context(), l, in, true)
		if err != nil || len(results) != 8 {
			b.Fatalf("%d results, error %v", len(results), err)
		}
		for _, r := range results[:5] { // the answer file's checks, answer-real included
			if r.Status != grader.Pass {
				b.Fatalf("%s: %s %s", r.ID, r.Status, r.Message)
			}
		}
	}
}
