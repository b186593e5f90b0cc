package lab

import (
	"bufio"
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"k8s.io/client-go/kubernetes"

	"github.com/ckslab/ckslab/falco"
	gradercluster "github.com/ckslab/ckslab/grader/cluster"
	"github.com/ckslab/ckslab/scenarios"
)

// The truth recorder runs on the worker node while the lab runs: whenever a
// container starts there it notes the ids of the offenders' containers
// (restarts included), so that grading knows them after the learner scaled
// the Pods away.
const (
	truthScript    = "/usr/local/sbin/ckslab-truth"
	truthUnit      = "ckslab-truth.service"
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
		{truthScript, truthScriptText}, {"/etc/systemd/system/" + truthUnit, truthUnitText}, {truthOffenders, spec.String()},
	} {
		if err := falco.WriteFile(ctx, n, f.path, strings.NewReader(f.text)); err != nil {
			return fmt.Errorf("installing the truth recorder (%s): %w", f.path, err)
		}
	}
	for _, argv := range [][]string{{"systemctl", "daemon-reload"}, {"systemctl", "enable", truthUnit}, {"systemctl", "restart", truthUnit}} {
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
