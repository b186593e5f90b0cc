// Command enginectl starts and stops the Docker engine the way ckslab does, for scripts such as .ci/run:
//
//	go run ./internal/docker/enginectl start            # make an engine answer; start dockerd if ckslab may
//	go run ./internal/docker/enginectl stop             # stop dockerd only if a ckslab process started it
//	go run ./internal/docker/enginectl probe [IMAGE...] # does `docker run --privileged` work here? (JSON)
//
// It exits 1 with a sentence that names the fix when it cannot.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"sigs.k8s.io/kind/pkg/log"

	"github.com/ckslab/ckslab/internal/docker"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "enginectl:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return fmt.Errorf("usage: enginectl start|stop|probe [IMAGE...]")
	}
	opts := docker.Options{Logger: stderrLogger{}}
	switch args[0] {
	case "start":
		e, err := docker.Ensure(ctx, opts)
		if err != nil {
			return err
		}
		how := "was already running"
		if e.Started {
			how = "started by ckslab; `enginectl stop` stops it"
		}
		fmt.Printf("Docker engine %s at %s (%s)\n", e.ServerVersion, e.Host, how)
		return nil
	case "stop":
		stopped, err := docker.StopStarted(ctx, opts)
		if err != nil {
			return err
		}
		if stopped {
			fmt.Println("stopped the dockerd that ckslab started")
		} else {
			fmt.Println("no dockerd started by ckslab is running: nothing stopped")
		}
		return nil
	case "probe":
		opts.NoStart = true
		e, err := docker.Ensure(ctx, opts)
		if err != nil {
			return err
		}
		p, err := e.ProbePrivileged(ctx, args[1:]...)
		if err != nil {
			return err
		}
		out, _ := json.MarshalIndent(p, "", "  ")
		fmt.Println(string(out))
		return nil
	}
	return fmt.Errorf("unknown command %q: use start, stop or probe", args[0])
}

// stderrLogger writes kind-style log messages (V(0) only) to stderr.
type stderrLogger struct{}

func (stderrLogger) Warn(m string)                    { fmt.Fprintln(os.Stderr, "WARN:", m) }
func (stderrLogger) Warnf(f string, a ...interface{}) { fmt.Fprintf(os.Stderr, "WARN: "+f+"\n", a...) }
func (stderrLogger) Error(m string)                   { fmt.Fprintln(os.Stderr, "ERROR:", m) }
func (stderrLogger) Errorf(f string, a ...interface{}) {
	fmt.Fprintf(os.Stderr, "ERROR: "+f+"\n", a...)
}
func (stderrLogger) V(l log.Level) log.InfoLogger { return infoLogger(l == 0) }

type infoLogger bool

func (i infoLogger) Info(m string) {
	if i {
		fmt.Fprintln(os.Stderr, m)
	}
}
func (i infoLogger) Infof(f string, a ...interface{}) { i.Info(fmt.Sprintf(f, a...)) }
func (i infoLogger) Enabled() bool                    { return bool(i) }
