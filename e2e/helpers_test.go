//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/e2e-framework/klient"
	"sigs.k8s.io/e2e-framework/klient/wait"
	"sigs.k8s.io/kind/pkg/log"

	"github.com/ckslab/ckslab/internal/cluster"
)

// waitFor polls check every interval until it reports done, an error that is not worth retrying, or the timeout.
// check returns what it saw; on timeout the error says what was wanted and what was seen last.
func waitFor(ctx context.Context, want string, timeout, interval time.Duration, check func(ctx context.Context) (done bool, seen string, err error)) error {
	var mu sync.Mutex
	lastSeen := "nothing yet"
	err := wait.For(func(ctx context.Context) (bool, error) {
		done, seen, err := check(ctx)
		mu.Lock()
		if seen != "" {
			lastSeen = seen
		} else if err != nil {
			lastSeen = err.Error()
		}
		mu.Unlock()
		// errors while the thing comes up (API server not answering yet, object not created yet) are retried
		return done, nil
	}, wait.WithContext(ctx), wait.WithTimeout(timeout), wait.WithInterval(interval), wait.WithImmediate())
	if err != nil {
		mu.Lock()
		defer mu.Unlock()
		return fmt.Errorf("waited %s for %s; last saw: %s", timeout, want, lastSeen)
	}
	return nil
}

// nodesReady is a check that the cluster has exactly the nodes named, all Ready.
func nodesReady(client klient.Client, names ...string) func(ctx context.Context) (bool, string, error) {
	return func(ctx context.Context) (bool, string, error) {
		var list corev1.NodeList
		if err := client.Resources().List(ctx, &list); err != nil {
			return false, "", err
		}
		var seen []string
		ready := map[string]bool{}
		for _, n := range list.Items {
			status, reason := "Unknown", ""
			for _, c := range n.Status.Conditions {
				if c.Type == corev1.NodeReady {
					status, reason = string(c.Status), c.Reason
				}
			}
			ready[n.Name] = status == string(corev1.ConditionTrue)
			seen = append(seen, fmt.Sprintf("%s Ready=%s %s", n.Name, status, reason))
		}
		sort.Strings(seen)
		done := len(list.Items) == len(names)
		for _, name := range names {
			done = done && ready[name]
		}
		return done, fmt.Sprintf("%d nodes: %s", len(list.Items), strings.Join(seen, "; ")), nil
	}
}

// podRunning is a check that a pod is Running with all containers ready.
func podRunning(client klient.Client, namespace, name string) func(ctx context.Context) (bool, string, error) {
	return func(ctx context.Context) (bool, string, error) {
		var pod corev1.Pod
		if err := client.Resources(namespace).Get(ctx, name, namespace, &pod); err != nil {
			return false, "", err
		}
		seen := fmt.Sprintf("pod %s/%s phase %s on node %q", namespace, name, pod.Status.Phase, pod.Spec.NodeName)
		allReady := len(pod.Status.ContainerStatuses) > 0
		for _, cs := range pod.Status.ContainerStatuses {
			allReady = allReady && cs.Ready
			if w := cs.State.Waiting; w != nil {
				seen += fmt.Sprintf(", container %s waiting: %s %s", cs.Name, w.Reason, w.Message)
			}
			if t := cs.State.Terminated; t != nil {
				seen += fmt.Sprintf(", container %s terminated: %s (exit %d)", cs.Name, t.Reason, t.ExitCode)
			}
		}
		for _, c := range pod.Status.Conditions {
			if c.Status != corev1.ConditionTrue && c.Message != "" {
				seen += fmt.Sprintf(", %s: %s", c.Type, c.Message)
			}
		}
		return pod.Status.Phase == corev1.PodRunning && allReady, seen, nil
	}
}

// exportLogs writes kind's logs of the cluster to a fresh folder under the artifacts dir and says where.
func exportLogs(provider *cluster.Provider, name string) {
	dir := filepath.Join(artifactsDir, fmt.Sprintf("logs-%s-%s", name, time.Now().UTC().Format("20060102T150405Z")))
	if err := provider.ExportLogs(name, dir); err != nil {
		fmt.Fprintf(GinkgoWriter, "exporting kind logs of %s to %s failed: %v\n", name, dir, err)
	}
	// printed outside the spec's output so that CI logs always show it
	fmt.Fprintf(os.Stderr, "kind logs of cluster %s: %s\n", name, dir)
	AddReportEntry("kind logs", dir)
}

// ginkgoLogger is a kind log.Logger writing to GinkgoWriter (shown for failed specs, or always with -ginkgo.v).
type ginkgoLogger struct {
	w     io.Writer
	level log.Level
}

func newLogger(level log.Level) log.Logger { return &ginkgoLogger{w: GinkgoWriter, level: level} }

func (l *ginkgoLogger) Warn(m string)                     { fmt.Fprintln(l.w, "WARN:", m) }
func (l *ginkgoLogger) Warnf(f string, a ...interface{})  { l.Warn(fmt.Sprintf(f, a...)) }
func (l *ginkgoLogger) Error(m string)                    { fmt.Fprintln(l.w, "ERROR:", m) }
func (l *ginkgoLogger) Errorf(f string, a ...interface{}) { l.Error(fmt.Sprintf(f, a...)) }
func (l *ginkgoLogger) V(v log.Level) log.InfoLogger      { return infoLogger{w: l.w, on: v <= l.level} }

type infoLogger struct {
	w  io.Writer
	on bool
}

func (i infoLogger) Info(m string) {
	if i.on {
		fmt.Fprintln(i.w, time.Now().Format("15:04:05"), m)
	}
}
func (i infoLogger) Infof(f string, a ...interface{}) { i.Info(fmt.Sprintf(f, a...)) }
func (i infoLogger) Enabled() bool                    { return i.on }

// must fails the spec with err's own sentence (ckslab's errors name the fix), prefixed with what was being done.
func must(err error, doing string) {
	GinkgoHelper()
	if err == nil {
		return
	}
	if doing != "" {
		Fail(doing + ": " + err.Error())
	}
	Fail(err.Error())
}
