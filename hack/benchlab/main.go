// Command benchlab measures what users feel of the lab, on this machine, in
// one run: a bare kind create (kind's library, the same node image and
// configuration) against `ckslab up`; `ckslab reset` against `down` + `up`;
// `ckslab grade` on a live lab; and the lab's memory at rest (the sum over its
// containers). Each is measured -runs times; it prints the median and the
// spread (min-max). Before each timed step it lets the machine settle (settle),
// so that no step pays for the writes and deletes of the one before. Run it
// with `make bench-lab`.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/ckslab/ckslab/internal/cluster"
	"github.com/ckslab/ckslab/internal/docker"
	"github.com/ckslab/ckslab/internal/docker/shim"
	"github.com/ckslab/ckslab/internal/exec"
	"github.com/ckslab/ckslab/internal/images"
	"github.com/ckslab/ckslab/internal/lab"
)

const name = "ckslab-bench"

func main() {
	shim.Dispatch()
	runs := flag.Int("runs", 3, "how many times to measure each thing")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *runs); err != nil {
		fmt.Fprintln(os.Stderr, "benchlab:", err)
		os.Exit(1)
	}
}

type series struct {
	what string
	xs   []float64
	unit string
}

func (s series) String() string {
	xs := slices.Clone(s.xs)
	slices.Sort(xs)
	med := xs[len(xs)/2]
	if len(xs)%2 == 0 {
		med = (xs[len(xs)/2-1] + xs[len(xs)/2]) / 2
	}
	return fmt.Sprintf("| %s | %.2f %s | %.2f–%.2f | %d |", s.what, med, s.unit, xs[0], xs[len(xs)-1], len(xs))
}

func median(xs []float64) float64 {
	xs = slices.Clone(xs)
	slices.Sort(xs)
	return xs[len(xs)/2]
}

func run(ctx context.Context, runs int) error {
	cache, err := images.CacheDir(os.Getenv)
	if err != nil {
		return err
	}
	mode, err := images.ModeFrom("", os.Getenv)
	if err != nil {
		return err
	}
	engine, err := docker.Ensure(ctx, docker.Options{})
	if err != nil {
		return err
	}
	set, err := images.Resolve(ctx, mode, images.WithInspector(engine))
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "benchlab-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	kubeconfig := filepath.Join(tmp, "kubeconfig")
	opts := lab.Options{Name: name, Images: mode, CacheDir: cache, Kubeconfig: kubeconfig}
	down := func() error {
		if err := lab.Down(ctx, opts); err != nil && !errors.Is(err, lab.ErrNothingToRemove) {
			return err
		}
		return nil
	}
	if err := down(); err != nil {
		return err
	}
	defer down()
	provider := cluster.NewProvider(engine)

	kind := series{what: "bare kind create (kind library, same node image and config), s", unit: "s"}
	up := series{what: "`ckslab up` (cluster + context + node prep + Falco preflight + workloads + terminal), s", unit: "s"}
	grade := series{what: "`ckslab grade` on a live lab, s", unit: "s"}
	reset := series{what: "`ckslab reset`, s", unit: "s"}
	downUp := series{what: "`ckslab down` + `ckslab up`, s", unit: "s"}
	mem := series{what: "the lab's memory at rest (sum over its containers), MiB", unit: "MiB"}

	for i := 0; i < runs; i++ {
		fmt.Fprintf(os.Stderr, "run %d of %d\n", i+1, runs)
		settle(ctx)
		start := time.Now()
		if err := provider.Create(ctx, name, cluster.CreateWithImages(set), cluster.CreateWithKubeconfigPath(kubeconfig)); err != nil {
			return err
		}
		kind.xs = append(kind.xs, time.Since(start).Seconds())
		if err := provider.Delete(ctx, name, kubeconfig); err != nil {
			return err
		}

		settle(ctx)
		start = time.Now()
		if _, err := lab.Up(ctx, opts); err != nil {
			return err
		}
		up.xs = append(up.xs, time.Since(start).Seconds())

		// At rest: the workloads have run for a while after up.
		m, err := labMemory(ctx)
		if err != nil {
			return err
		}
		mem.xs = append(mem.xs, m)

		start = time.Now()
		if _, err := lab.Grade(ctx, cache, name); err != nil {
			return err
		}
		grade.xs = append(grade.xs, time.Since(start).Seconds())

		settle(ctx)
		start = time.Now()
		if err := lab.Reset(ctx, cache, name, nil, os.Stderr); err != nil {
			return err
		}
		reset.xs = append(reset.xs, time.Since(start).Seconds())

		settle(ctx)
		start = time.Now()
		if err := down(); err != nil {
			return err
		}
		if _, err := lab.Up(ctx, opts); err != nil {
			return err
		}
		downUp.xs = append(downUp.xs, time.Since(start).Seconds())
		if err := down(); err != nil {
			return err
		}
	}
	fmt.Printf("Image set: %s. Machine: %d runs on %s.\n\n", set.Name, runs, machine(ctx))
	fmt.Println("| what | median | spread (min–max) | runs |")
	fmt.Println("|---|---|---|---|")
	for _, s := range []series{kind, up, reset, downUp, grade, mem} {
		fmt.Println(s)
	}
	fmt.Printf("\nckslab up / bare kind create: %.2fx (what ckslab adds: %.0f%% of what kind takes). reset / (down + up): %.2f.\n",
		median(up.xs)/median(kind.xs), 100*(median(up.xs)-median(kind.xs))/median(kind.xs), median(reset.xs)/median(downUp.xs))
	return nil
}

// settle waits for the machine to be quiet before a timed step: it writes
// out what is buffered (sync), then waits until the CPUs are less than a
// quarter busy (waiting for the disk counts) over two seconds (a lab at rest stays below that), at most a
// minute. Deleting a cluster leaves a second or more of disk and CPU work
// behind it that would otherwise be billed to the next step.
func settle(ctx context.Context) {
	start := time.Now()
	_ = exec.Command("sync").Run(ctx)
	prev, ok := cpuTimes()
	for ok && time.Since(start) < time.Minute {
		select {
		case <-ctx.Done():
			return
		case <-time.After(2 * time.Second):
		}
		cur, _ := cpuTimes()
		busy, total := cur[0]-prev[0], cur[1]-prev[1]
		prev = cur
		if total > 0 && busy/total < 0.25 {
			break
		}
	}
	fmt.Fprintf(os.Stderr, "  settled in %.1f s\n", time.Since(start).Seconds())
}

// cpuTimes reads the busy and total CPU time from /proc/stat (Linux); ok is
// false where there is none.
func cpuTimes() (t [2]float64, ok bool) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return t, false
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return t, false
	}
	// user nice system idle iowait irq softirq steal (guest time is in user)
	for i, v := range f[1:9] {
		x, _ := strconv.ParseFloat(v, 64)
		t[1] += x
		if i != 3 { // idle; waiting for the disk counts as busy
			t[0] += x
		}
	}
	return t, true
}

// labMemory sums the memory use docker reports for the lab's containers.
func labMemory(ctx context.Context) (float64, error) {
	lines, err := exec.Lines(ctx, "docker", "stats", "--no-stream", "--format", "{{.Name}} {{.MemUsage}}",
		lab.ControlPlaneContainer(name), lab.WorkerContainer(name), lab.TerminalName(name))
	if err != nil {
		return 0, err
	}
	var total float64
	for _, l := range lines {
		f := strings.Fields(l)
		if len(f) < 2 {
			continue
		}
		v, err := parseMem(f[1])
		if err != nil {
			return 0, err
		}
		total += v
	}
	return total, nil
}

// parseMem reads docker's "123.4MiB" into MiB.
func parseMem(s string) (float64, error) {
	for _, u := range []struct {
		suffix string
		mib    float64
	}{{"GiB", 1024}, {"MiB", 1}, {"KiB", 1.0 / 1024}, {"B", 1.0 / (1 << 20)}} {
		if strings.HasSuffix(s, u.suffix) {
			v, err := strconv.ParseFloat(strings.TrimSuffix(s, u.suffix), 64)
			return v * u.mib, err
		}
	}
	return 0, fmt.Errorf("unknown memory amount %q", s)
}

func machine(ctx context.Context) string {
	cpus, _ := exec.Output(ctx, "nproc")
	mem, _ := exec.Output(ctx, "sh", "-c", "free -g | awk '/Mem:/ {print $2}'")
	kernel, _ := exec.Output(ctx, "uname", "-r")
	return fmt.Sprintf("%s CPUs, %s GiB, Linux %s", strings.TrimSpace(string(cpus)), strings.TrimSpace(string(mem)), strings.TrimSpace(string(kernel)))
}
