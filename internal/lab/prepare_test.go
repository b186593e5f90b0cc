package lab

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	examimages "github.com/ckslab/ckslab/images"
)

func TestRunConcurrentlyRunsTasksDuringCreate(t *testing.T) {
	// The tasks wait for something only create makes (as the real ones wait
	// for the worker or the API server), and create waits for a task: the
	// run can only end if they really run at the same time.
	apiUp := make(chan struct{})
	terminalReady := make(chan struct{})
	var mu sync.Mutex
	var order []string
	note := func(s string) { mu.Lock(); order = append(order, s); mu.Unlock() }
	create := func(ctx context.Context) error {
		close(apiUp)
		select {
		case <-terminalReady:
		case <-ctx.Done():
			return ctx.Err()
		}
		note("create done")
		return nil
	}
	waitAPI := func(ctx context.Context) error {
		select {
		case <-apiUp:
		case <-ctx.Done():
			return ctx.Err()
		}
		note("workloads applied")
		return nil
	}
	terminal := func(context.Context) error { note("terminal ready"); close(terminalReady); return nil }
	var logged []string
	logf := func(f string, a ...any) { mu.Lock(); logged = append(logged, fmt.Sprintf(f, a...)); mu.Unlock() }
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := runConcurrently(ctx, []task{{"create", create}, {"the workloads", waitAPI}, {"the terminal", terminal}}, logf); err != nil {
		t.Fatal(err)
	}
	if len(order) != 3 || len(logged) != 3 {
		t.Errorf("order %v, logged %v", order, logged)
	}
	for _, l := range logged {
		if !strings.HasPrefix(l, "Done after ") {
			t.Errorf("log line %q", l)
		}
	}
}

func TestRunConcurrentlyFailures(t *testing.T) {
	boom := errors.New("no such image")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	waitForever := func(ctx context.Context) error { <-ctx.Done(); return fmt.Errorf("stopped waiting: %w", ctx.Err()) }
	noLog := func(string, ...any) {}

	// A task fails: its error names it, the other tasks' waits end, and
	// create still runs to its end.
	createEnded := false
	create := func(context.Context) error { createEnded = true; return nil }
	err := runConcurrently(ctx, []task{{"create", create}, {"the exam terminal", func(context.Context) error { return boom }}, {"the workloads", waitForever}}, noLog)
	if !errors.Is(err, boom) || !strings.Contains(err.Error(), "the exam terminal: no such image") {
		t.Errorf("task failure reads %v", err)
	}
	if !createEnded {
		t.Error("create was not waited for")
	}

	// create fails: its error is the one returned, and the waits end.
	kindErr := errors.New("creating kind cluster \"cluster1\": boom")
	err = runConcurrently(ctx, []task{{"create", func(context.Context) error { return kindErr }}, {"the node", waitForever}, {"the workloads", waitForever}}, noLog)
	if !errors.Is(err, kindErr) {
		t.Errorf("create failure reads %v", err)
	}
}

func TestAwait(t *testing.T) {
	ctx := context.Background()
	// On an existing cluster: asked once; what it saw is the error.
	existing := &preparation{}
	calls := 0
	err := existing.await(ctx, time.Millisecond, "the worker container's address", func(context.Context) (bool, string, error) {
		calls++
		return false, "no such container", nil
	})
	if calls != 1 || err == nil || err.Error() != "the worker container's address: no such container" {
		t.Errorf("existing cluster: %d calls, err %v", calls, err)
	}
	if err := existing.await(ctx, time.Millisecond, "x", func(context.Context) (bool, string, error) { return true, "", nil }); err != nil {
		t.Errorf("existing cluster, done: %v", err)
	}
	// While creating: polled until done.
	creating := &preparation{poll: true}
	calls = 0
	err = creating.await(ctx, time.Millisecond, "x", func(context.Context) (bool, string, error) {
		calls++
		return calls == 3, "not yet", nil
	})
	if err != nil || calls != 3 {
		t.Errorf("creating: %d calls, err %v", calls, err)
	}
}

// nodeImagesOutput is NodeImagesScript's output on a worker of the local
// image set (trimmed), with a CNI manifest as kind's node images carry.
const nodeImagesOutput = `ckslab.local/coredns:v1.14.6
ckslab.local/etcd:3.7.0-0
ckslab.local/httpd:cde5f30db1d3
ckslab.local/kindnet-lite:710746bd6703
ckslab.local/kube-apiserver:v1.37.2
ckslab.local/kube-proxy:v1.37.2
ckslab.local/nginx:c46779f753b9
ckslab.local/pause:3.10.2
import-2026-11-27@sha256:5004c6921d922ec0eaf765a2b2e15f161b8f6c4ef295f1080278aab3aa1492f6
sha256:0e7dc2c043ab6bf5f55d023846cce512f80bfea17a8560e38310143d36ce2bd7
---
# The image is filled in by images/steps/node-image.sh; the next line is a marker kind looks for.
# would you kindly patch this file
---
apiVersion: apps/v1
kind: DaemonSet
spec:
  template:
    spec:
      containers:
      - name: kindnet-lite
        image: ckslab.local/kindnet-lite:710746bd6703
      initContainers:
      - image: "example.test/cni-plugins:v1"
        name: install
`

func TestWorkerImageOrder(t *testing.T) {
	workloads := []string{"ckslab.local/nginx:c46779f753b9", "ckslab.local/httpd:cde5f30db1d3"}
	cases := []struct {
		name, out string
		want      []string
	}{
		{"local node", nodeImagesOutput, []string{
			"ckslab.local/pause:3.10.2",
			"ckslab.local/kindnet-lite:710746bd6703", "example.test/cni-plugins:v1",
			"ckslab.local/nginx:c46779f753b9", "ckslab.local/httpd:cde5f30db1d3",
			"ckslab.local/kube-proxy:v1.37.2",
		}},
		{"no manifest, registry with a port", "example.test:5000/k8s/pause:3.10\nexample.test/kube-proxy:v1.37.0\n---\n",
			append(append([]string{"example.test:5000/k8s/pause:3.10"}, workloads...), "example.test/kube-proxy:v1.37.0")},
		{"nothing listed (the node could not be read)", "", workloads},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := WorkerImageOrder(c.out, workloads)
			if strings.Join(got, " ") != strings.Join(c.want, " ") {
				t.Errorf("WorkerImageOrder:\n got  %q\n want %q", got, c.want)
			}
		})
	}
}

// The bash set-up up gives the public terminal is the local image's, and starts with the line that makes
// adding it idempotent.
func TestTerminalBashrc(t *testing.T) {
	b := string(examimages.TerminalBashrc)
	if !strings.HasPrefix(b, "# ckslab exam terminal\n") || !strings.Contains(terminalBashrcScript, "'# ckslab exam terminal'") {
		t.Errorf("the marker line differs between the file and the script:\n%s\n%s", b, terminalBashrcScript)
	}
	for _, want := range []string{"alias k=kubectl", "kubectl completion bash", "complete -o default -F __start_kubectl k"} {
		if !strings.Contains(b, want) {
			t.Errorf("bash.bashrc.ckslab lacks %q", want)
		}
	}
}
