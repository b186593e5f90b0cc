// Package falcoruntime is the lab side of the Falco runtime-security scenario (scenario.yaml next to this file):
// the truth recorder on the worker (the offenders' container ids, restarts included), the truth from every
// source there is, Falco's alerts as the worker's syslog holds them, the grade of a lab (the answer file against
// the truth and Falco's own alerts, the Deployments, Falco's health) and reset's moving the answer file aside.
// The checks themselves are grader/answerfile's and grader/cluster's; installing and starting Falco is package
// falco's; the lab's life (up, reset, the lock) is internal/lab's, which calls this package with the lab's
// worker, cluster and what its state recorded.
package falcoruntime

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/ckslab/ckslab/falco"
	"github.com/ckslab/ckslab/grader"
	"github.com/ckslab/ckslab/grader/answerfile"
	gradercluster "github.com/ckslab/ckslab/grader/cluster"
	"github.com/ckslab/ckslab/manifests"
	"github.com/ckslab/ckslab/scenarios"
)

// The truth recorder runs on the worker node while the lab runs: whenever a
// container starts there it notes the ids of the offenders' containers
// (restarts included), so that grading knows them after the learner scaled
// the Pods away.
const (
	truthScript = "/usr/local/sbin/ckslab-truth"
	// TruthUnit is the recorder's systemd unit on the worker (a repair checks that it runs).
	TruthUnit      = "ckslab-truth.service"
	truthOffenders = "/etc/ckslab/offenders"
	truthLog       = "/var/lib/ckslab/truth"
)

const truthScriptText = `#!/bin/bash
# ckslab: records the container ids of the lab's offenders while the lab runs
# (the grader's truth). /etc/ckslab/offenders has one "case namespace container"
# line per offender; ids are appended to /var/lib/ckslab/truth as "case id".
# It looks when it starts, whenever a container starts on this node (containerd's
# events), and after 30 s without any event. When the event stream ends
# (containerd restarted) it exits, and systemd starts it again.
out=/var/lib/ckslab/truth
mkdir -p /var/lib/ckslab
touch "$out"
scan() {
  while read -r c ns name; do
    [ -n "$name" ] || continue
    for id in $(crictl ps -a --namespace "$ns" --name "^$name\$" -q 2>/dev/null); do
      grep -qx "$c $id" "$out" || echo "$c $id" >> "$out"
    done
  done < /etc/ckslab/offenders
}
scan
ctr -n k8s.io events 2>/dev/null | {
  scan # a container that started while the stream was being opened
  while :; do
    if IFS= read -r -t 30 line; then
      case "$line" in *" /tasks/start "*) scan ;; esac
    elif [ $? -gt 128 ]; then
      scan
    else
      exit 1
    fi
  done
}
`

const truthUnitText = `[Unit]
Description=ckslab: record the offenders' container ids for grading
After=containerd.service
StartLimitIntervalSec=0

[Service]
ExecStart=/bin/bash /usr/local/sbin/ckslab-truth
Restart=always
RestartSec=2

[Install]
WantedBy=multi-user.target
`

// StartTruthRecorder installs and (re)starts the recorder for in's offenders.
func StartTruthRecorder(ctx context.Context, n falco.Node, in *scenarios.Instance) error {
	var spec strings.Builder
	for _, w := range in.Offenders {
		fmt.Fprintf(&spec, "%d %s %s\n", w.Case, w.Namespace, w.Container)
	}
	for _, f := range []struct{ path, text string }{
		{truthScript, truthScriptText}, {"/etc/systemd/system/" + TruthUnit, truthUnitText}, {truthOffenders, spec.String()},
	} {
		if err := falco.WriteFile(ctx, n, f.path, strings.NewReader(f.text)); err != nil {
			return fmt.Errorf("installing the truth recorder (%s): %w", f.path, err)
		}
	}
	for _, argv := range [][]string{{"systemctl", "daemon-reload"}, {"systemctl", "enable", TruthUnit}, {"systemctl", "restart", TruthUnit}} {
		if _, err := n.Exec(ctx, nil, argv...); err != nil {
			return fmt.Errorf("starting the truth recorder: %w", err)
		}
	}
	return nil
}

// ClearTruth forgets the recorded ids (reset).
func ClearTruth(ctx context.Context, n falco.Node) error {
	_, err := n.Exec(ctx, nil, "sh", "-c", ": > "+truthLog)
	return err
}

// RecordTruth is the truth as up and reset keep it in the lab's state: the ids of the offenders' containers now
// (the recorder keeps noting them while the lab runs), an error when an offender has none.
func RecordTruth(ctx context.Context, n falco.Node, c kubernetes.Interface, in *scenarios.Instance) (map[int][]string, error) {
	truth, err := Truth(ctx, n, c, in, nil)
	if err != nil {
		return nil, err
	}
	for _, w := range in.Offenders {
		if len(truth[w.Case]) == 0 {
			return nil, fmt.Errorf("no container id of offender %s could be recorded", w.Key())
		}
	}
	return truth, nil
}

// Rearm is reset's truth: the recorded ids forgotten, the recorder installed and started again, the ids now.
func Rearm(ctx context.Context, n falco.Node, c kubernetes.Interface, in *scenarios.Instance) (map[int][]string, error) {
	if err := ClearTruth(ctx, n); err != nil {
		return nil, err
	}
	if err := StartTruthRecorder(ctx, n, in); err != nil {
		return nil, err
	}
	return Truth(ctx, n, c, in, nil)
}

// Truth is the offenders' container ids, by case, in Falco's 12-character
// form, from every source there is: the recorder on the node, the state
// saved at up, and the Pods running now.
func Truth(ctx context.Context, n falco.Node, c kubernetes.Interface, in *scenarios.Instance, saved map[int][]string) (map[int][]string, error) {
	out := map[int][]string{}
	add := func(cs int, id string) {
		if short, err := falco.NormalizeContainerID(id); err == nil && !slices.Contains(out[cs], short) {
			out[cs] = append(out[cs], short)
		}
	}
	for cs, ids := range saved {
		for _, id := range ids {
			add(cs, id)
		}
	}
	if b, err := n.Exec(ctx, nil, "cat", truthLog); err == nil {
		sc := bufio.NewScanner(strings.NewReader(string(b)))
		for sc.Scan() {
			f := strings.Fields(sc.Text())
			if len(f) != 2 {
				continue
			}
			if cs, err := strconv.Atoi(f[0]); err == nil {
				add(cs, f[1])
			}
		}
	}
	for _, w := range in.Offenders {
		ids, err := gradercluster.ContainerIDs(ctx, c, w)
		if err != nil {
			continue
		}
		for _, id := range ids {
			add(w.Case, id)
		}
	}
	for cs := range out {
		slices.Sort(out[cs])
	}
	return out, nil
}

// ReadAlerts reads the alerts Falco wrote to the node's /var/log/syslog.
func ReadAlerts(ctx context.Context, n falco.Node) ([]falco.Alert, error) {
	// Only Falco's lines: the node's syslog also holds kubelet's and others'.
	b, err := n.Exec(ctx, nil, "sh", "-c", "test -r /var/log/syslog && { grep -aF ' falco' /var/log/syslog || true; }")
	if err != nil {
		return nil, fmt.Errorf("reading /var/log/syslog on %s: %w", n, err)
	}
	var out []falco.Alert
	sc := bufio.NewScanner(strings.NewReader(string(b)))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if a, err := falco.ParseLine(sc.Text()); err == nil {
			out = append(out, a)
		}
	}
	return out, nil
}

// IDFalcoRunning is the health check of Falco on the worker.
const IDFalcoRunning = "falco-running"

// Falco is what up recorded of Falco on the worker.
type Falco struct {
	Installed bool
	// Missing says plainly why the lab has no Falco.
	Missing string
}

// Lab is what grading a lab of this scenario starts from: its worker and cluster, and what up recorded.
type Lab struct {
	// Worker is the worker node, where Falco, its syslog and the truth recorder are.
	Worker falco.Node
	// Client is the lab's cluster; nil when it cannot be reached, and ClientErr says why.
	Client    kubernetes.Interface
	ClientErr error
	// Truth is the offenders' container ids the lab's state keeps (recorded at up or reset).
	Truth map[int][]string
	// AnswerFile is where the answer file is on this machine (the lab's course folder stands for /opt/course).
	AnswerFile string
	Falco      Falco
}

// Grade judges the task in l: the answer file against the truth (the recorder's, the state's and the running
// Pods' container ids) and Falco's alerts, the cluster's Deployments, and the health of the node and of Falco.
// withhold keeps what the task asks the learner to find out of the messages. Titles and points come from the
// scenario. The error is one that keeps the answer file from being read at all.
func Grade(ctx context.Context, l Lab, in *scenarios.Instance, withhold bool) (results, health []grader.Result, err error) {
	truth := l.Truth
	if l.Client != nil {
		if t, err := Truth(ctx, l.Worker, l.Client, in, l.Truth); err == nil {
			truth = t
		}
	}
	case1, _ := in.Offender(1)
	opts := answerfile.Options{
		ContainerIDs:     append([]string{}, truth[1]...),
		ContainerName:    case1.Container,
		Interval:         case1.Interval,
		MinSpan:          in.MinSpan,
		MissingIsFailure: true,
		DisplayPath:      in.AnswerFile,
		Known:            known(ctx, l.Client, in, truth),
		Withhold:         withhold,
	}
	var res answerfile.Result
	if len(opts.ContainerIDs) == 0 {
		for _, id := range []string{answerfile.IDFile, answerfile.IDFormat, answerfile.IDCase1, answerfile.IDSpan} {
			res.Checks = append(res.Checks, grader.Result{ID: id, Status: grader.Error,
				Message:     "ckslab recorded no container id of the case-1 offender, so the answer file cannot be judged.",
				Remediation: "Re-arm the lab with `ckslab reset` (the truth is recorded again) and redo the task."})
		}
	} else if res, err = answerfile.Check(l.AnswerFile, opts); err != nil {
		return nil, nil, err
	}
	results = append(res.Checks, answerfile.CheckReal(res, alertRecord(ctx, l), 0, 0))
	if l.Client == nil {
		why := "no client"
		if l.ClientErr != nil {
			why = l.ClientErr.Error()
		}
		for _, w := range in.Offenders {
			results = append(results, grader.Result{ID: gradercluster.OffenderCheckID(w.Case), Status: grader.Error,
				Message: "Cannot reach the lab's cluster: " + why, Remediation: "Check that the lab is up: ckslab status."})
		}
	} else {
		results = append(results, gradercluster.Check(ctx, l.Client, in, gradercluster.Withhold(withhold))...)
		health = append(health, gradercluster.Health(ctx, l.Client, in)...)
	}
	health = append(health, falcoHealth(ctx, l, in))
	for i := range results {
		if def, ok := in.Check(results[i].ID); ok {
			results[i].Title, results[i].Points = def.Title, def.Points
		}
	}
	return results, health, nil
}

// known describes the containers whose lines do not belong in the answer
// file: case 2's offender and the decoys.
func known(ctx context.Context, c kubernetes.Interface, in *scenarios.Instance, truth map[int][]string) map[string]string {
	out := map[string]string{}
	for _, w := range in.Offenders {
		if w.Case == 1 {
			continue
		}
		for _, id := range truth[w.Case] {
			out[id] = fmt.Sprintf("the %s offender of case %d (%s)", w.Image, w.Case, w.Key())
		}
	}
	if c == nil {
		return out
	}
	for _, w := range in.Decoys {
		pods, err := c.CoreV1().Pods(w.Namespace).List(ctx, metav1.ListOptions{LabelSelector: manifests.LabelApp + "=" + w.Deployment})
		if err != nil {
			continue
		}
		for _, p := range pods.Items {
			for _, cs := range p.Status.ContainerStatuses {
				if id, err := falco.NormalizeContainerID(cs.ContainerID); err == nil {
					out[id] = fmt.Sprintf("a decoy (%s)", w.Key())
				}
			}
		}
	}
	return out
}

// alertRecord reads the alerts Falco recorded, or says why there are none.
func alertRecord(ctx context.Context, l Lab) answerfile.Record {
	if !l.Falco.Installed {
		// Why is said once, by the falco-running check.
		return answerfile.Record{Missing: "this lab has no Falco (" + IDFalcoRunning + " under Environment says why)."}
	}
	alerts, err := ReadAlerts(ctx, l.Worker)
	if err != nil {
		return answerfile.Record{Missing: err.Error()}
	}
	return answerfile.Record{Alerts: alerts, Source: l.Worker.String() + ":/var/log/syslog"}
}

// falcoHealth is whether Falco's service runs on the worker.
func falcoHealth(ctx context.Context, l Lab, in *scenarios.Instance) grader.Result {
	r := grader.Result{ID: IDFalcoRunning, Title: "Falco runs on node " + in.WorkerNode}
	if def, ok := in.Check(IDFalcoRunning); ok {
		r.Title = def.Title
	}
	start := time.Now()
	defer func() { r.Duration = time.Since(start) }()
	if !l.Falco.Installed {
		r.Status, r.Message = grader.Skip, "This lab has no Falco: "+l.Falco.Missing
		return r
	}
	out, _ := l.Worker.Exec(ctx, nil, "systemctl", "is-active", falco.Service)
	state := string(bytes.TrimSpace(out))
	r.Expected, r.Actual = "service falco active", "service falco "+state
	if state == "active" {
		r.Status, r.Message = grader.Pass, "The falco service is active."
		return r
	}
	r.Status = grader.Fail
	r.Message = "The falco service is " + state + "."
	r.Remediation = fmt.Sprintf("Start it again on the node: ssh %s, then service falco start (after a foreground falco, stop that one first).", in.WorkerNode)
	return r
}

// MoveAnswerAside is reset's step for the answer file at path (display is its path in the terminal): renamed to
// path.<time>, never deleted, and said on out. No file is nothing to do.
func MoveAnswerAside(path, display string, now time.Time, out io.Writer) error {
	if _, err := os.Lstat(path); err != nil {
		if os.IsNotExist(err) {
			return nil
		}
		return fmt.Errorf("the answer file %s: %w", path, err)
	}
	suffix := now.Format("20060102-150405")
	kept := path + "." + suffix
	if _, err := os.Lstat(kept); err == nil {
		// a second reset within the second: never overwrite the first one's copy
		for i := 2; ; i++ {
			if _, err := os.Lstat(fmt.Sprintf("%s.%s-%d", path, suffix, i)); os.IsNotExist(err) {
				suffix = fmt.Sprintf("%s-%d", suffix, i)
				kept = path + "." + suffix
				break
			}
		}
	}
	if err := os.Rename(path, kept); err != nil {
		return fmt.Errorf("moving the answer file aside: %w", err)
	}
	fmt.Fprintf(out, "Your answer file was moved to %s (in the terminal: %s.%s).\n", kept, display, suffix)
	return nil
}
