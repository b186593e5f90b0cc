// Command benchlab measures what users feel of the lab, on this machine, in
// one run: a bare kind create (kind's library, the same node image and
// configuration) against `ckslab up`, both in seconds and in the CPU time the
// machine spent, with the bare cluster also timed until every node is Ready;
// `ckslab reset` against `down` + `up`; `ckslab grade` on a live lab; and the
// lab's memory at rest (the sum over its containers). Each is measured -runs
// times; it prints each run's create and up on stderr, then the median and the
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

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/ckslab/ckslab/internal/cluster"
	"github.com/ckslab/ckslab/internal/docker"
	"github.com/ckslab/ckslab/internal/docker/shim"
	"github.com/ckslab/ckslab/internal/exec"
	"github.com/ckslab/ckslab/internal/images"
	"github.com/ckslab/ckslab/internal/lab"
	"github.com/ckslab/ckslab/internal/wait"
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
	return fmt.Sprintf("| %s | %.2f %s | %.2f–%.2f | %d |", s.what, median(s.xs), s.unit, slices.Min(s.xs), slices.Max(s.xs), len(s.xs))
}

// median of xs (the mean of the middle two for an even count).
func median(xs []float64) float64 {
	xs = slices.Clone(xs)
	slices.Sort(xs)
	if len(xs)%2 == 0 {
		return (xs[len(xs)/2-1] + xs[len(xs)/2]) / 2
	}
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
	// The CPU time the whole machine spent during a step (both cores, the
	// engine and the nodes included): the work a step costs, which varies
	// far less from run to run than its duration on a busy 2-core machine.
	kindCPU := series{what: "CPU time during the bare kind create (all cores, whole machine), core-s", unit: "core-s"}
	kindReady := series{what: "bare kind create until every node is Ready (what `kind create --wait` waits for, and for the worker too), s", unit: "s"}
	kindReadyCPU := series{what: "CPU time until every node of the bare cluster is Ready (all cores, whole machine), core-s", unit: "core-s"}
	upCPU := series{what: "CPU time during `ckslab up` (all cores, whole machine), core-s", unit: "core-s"}

	for i := 0; i < runs; i++ {
		fmt.Fprintf(os.Stderr, "run %d of %d\n", i+1, runs)
		settle(ctx)
		start, cpu0 := time.Now(), busySeconds()
		if err := provider.Create(ctx, name, cluster.CreateWithImages(set), cluster.CreateWithKubeconfigPath(kubeconfig)); err != nil {
			return err
		}
		kind.xs = append(kind.xs, time.Since(start).Seconds())
		kindCPU.xs = append(kindCPU.xs, cpuSince(cpu0))
		if err := nodesReady(ctx, kubeconfig); err != nil {
			return err
		}
		kindReady.xs = append(kindReady.xs, time.Since(start).Seconds())
		kindReadyCPU.xs = append(kindReadyCPU.xs, cpuSince(cpu0))
		if err := provider.Delete(ctx, name, kubeconfig); err != nil {
			return err
		}

		settle(ctx)
		start, cpu0 = time.Now(), busySeconds()
		if _, err := lab.Up(ctx, opts); err != nil {
			return err
		}
		up.xs = append(up.xs, time.Since(start).Seconds())
		upCPU.xs = append(upCPU.xs, cpuSince(cpu0))
		fmt.Fprintf(os.Stderr, "  bare kind create %.1f s (%.1f core-s of CPU; every node Ready at %.1f s, %.1f core-s), ckslab up %.1f s (%.1f core-s): %.2fx\n",
			kind.xs[i], kindCPU.xs[i], kindReady.xs[i], kindReadyCPU.xs[i], up.xs[i], upCPU.xs[i], up.xs[i]/kind.xs[i])

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
	all := []series{kind, kindReady, up, reset, downUp, grade, mem}
	if len(kindCPU.xs) > 0 && !slices.Contains(kindCPU.xs, -1) && !slices.Contains(kindReadyCPU.xs, -1) && !slices.Contains(upCPU.xs, -1) {
		all = append(all, kindCPU, kindReadyCPU, upCPU)
	}
	for _, s := range all {
		fmt.Println(s)
	}
	fmt.Printf("\nckslab up / bare kind create: %.2fx (what ckslab adds: %.0f%% of what kind takes). reset / (down + up): %.2f.\n",
		median(up.xs)/median(kind.xs), 100*(median(up.xs)-median(kind.xs))/median(kind.xs), median(reset.xs)/median(downUp.xs))
	fmt.Printf("ckslab up / bare kind create until every node is Ready: %.2fx.\n", median(up.xs)/median(kindReady.xs))
	if len(all) > 7 {
		fmt.Printf("CPU time, ckslab up / bare kind create: %.2fx; / bare kind create until every node is Ready: %.2fx.\n",
			median(upCPU.xs)/median(kindCPU.xs), median(upCPU.xs)/median(kindReadyCPU.xs))
	}
	return nil
}

// nodesReady waits until every node of the cluster the kubeconfig points
// at is Ready, looking every 250 ms, at most 5 minutes.
func nodesReady(ctx context.Context, kubeconfig string) error {
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return err
	}
	c, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	return wait.Poll(ctx, 250*time.Millisecond, 5*time.Minute, "every node Ready", func(ctx context.Context) (bool, string, error) {
		nodes, err := c.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, err.Error(), nil
		}
		var notReady []string
		for _, n := range nodes.Items {
			ready := false
			for _, cond := range n.Status.Conditions {
				ready = ready || cond.Type == corev1.NodeReady && cond.Status == corev1.ConditionTrue
			}
			if !ready {
				notReady = append(notReady, n.Name)
			}
		}
		if len(nodes.Items) == 0 || len(notReady) > 0 {
			return false, fmt.Sprintf("%d nodes, not Ready: %v", len(nodes.Items), notReady), nil
		}
		return true, "", nil
	})
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

// cpuStat is the first line of /proc/stat (Linux): the ticks all CPUs have
// spent in user, nice, system, idle, iowait, irq, softirq and steal time
// since boot (guest time is in user); ok is false where there is none.
func cpuStat() (ticks [8]float64, ok bool) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return ticks, false
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return ticks, false
	}
	for i := range ticks {
		if ticks[i], err = strconv.ParseFloat(f[i+1], 64); err != nil {
			return ticks, false
		}
	}
	return ticks, true
}

// cpuTimes is the busy and total CPU time (cpuStat); waiting for the disk
// counts as busy.
func cpuTimes() (t [2]float64, ok bool) {
	ticks, ok := cpuStat()
	for i, x := range ticks {
		t[1] += x
		if i != 3 { // idle
			t[0] += x
		}
	}
	return t, ok
}

// busySeconds is the CPU time all cores have spent running code since boot
// (user, nice, system, irq and softirq of cpuStat, counted in USER_HZ, 100 a
// second on Linux; waiting for the disk and time stolen by the hypervisor
// are not work), in seconds; -1 where there is none.
func busySeconds() float64 {
	ticks, ok := cpuStat()
	if !ok {
		return -1
	}
	return (ticks[0] + ticks[1] + ticks[2] + ticks[5] + ticks[6]) / 100
}

// cpuSince is the CPU time spent since busySeconds returned from, or -1.
func cpuSince(from float64) float64 {
	now := busySeconds()
	if from < 0 || now < 0 {
		return -1
	}
	return now - from
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
