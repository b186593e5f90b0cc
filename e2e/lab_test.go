//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/ckslab/ckslab/internal/cluster"
	"github.com/ckslab/ckslab/internal/docker"
	"github.com/ckslab/ckslab/internal/images"
	"github.com/ckslab/ckslab/internal/kubeconfig"
	"github.com/ckslab/ckslab/internal/lab"
	"github.com/ckslab/ckslab/internal/lock"
	"github.com/ckslab/ckslab/internal/status"
	"github.com/ckslab/ckslab/scenarios"
)

// e2eLab never collides with a learner's cluster1.
const e2eLab = "ckslab-e2e-lab"

// inContainer runs argv in a container and returns its combined output.
func inContainer(ctx context.Context, container string, argv ...string) (string, error) {
	out, err := exec.CommandContext(ctx, "docker", append([]string{"exec", container}, argv...)...).CombinedOutput()
	return string(out), err
}

var _ = Describe("the lab", Label("lifecycle"), Ordered, func() {
	var (
		opts     lab.Options
		state    *lab.State
		cacheDir string
		failed   bool
	)

	BeforeAll(func(ctx SpecContext) {
		var err error
		cacheDir, err = images.CacheDir(os.Getenv)
		Expect(err).NotTo(HaveOccurred())
		opts = lab.Options{
			Name:       e2eLab,
			Images:     imageSet.Mode,
			CacheDir:   cacheDir,
			Kubeconfig: filepath.Join(GinkgoT().TempDir(), "kubeconfig"),
			Logger:     newLogger(1),
			Status:     status.New(GinkgoWriter, false),
			Purge:      true, // the suite's course files are not kept under the cache
		}
		// A lab left by an interrupted run is removed first.
		if err := lab.Down(ctx, opts); err != nil && !errors.Is(err, lab.ErrNothingToRemove) {
			Fail("removing a lab left by an earlier run: " + err.Error())
		}
		DeferCleanup(func(ctx SpecContext) {
			if failed {
				exportLogs(cluster.NewProvider(engine), e2eLab)
			}
			if err := lab.Down(ctx, opts); err != nil && !errors.Is(err, lab.ErrNothingToRemove) {
				Fail("removing the lab: " + err.Error())
			}
		}, NodeTimeout(5*time.Minute))
	}, NodeTimeout(5*time.Minute))

	AfterEach(func() {
		if CurrentSpecReport().Failed() {
			failed = true
		}
	})

	It("comes up through ckslab's library", func(ctx SpecContext) {
		start := time.Now()
		var err error
		state, err = lab.Up(ctx, opts)
		must(err, "ckslab up")
		AddReportEntry("ckslab up", time.Since(start).Round(time.Second).String())
		Expect(state.ReadyAt).NotTo(BeZero())
		// the exam's names: the nodes as kubectl lists them, the control plane's host name (ckslab ssh's prompt)
		out, err := inContainer(ctx, lab.ControlPlaneContainer(e2eLab), "sh", "-c", "hostname; kubectl --kubeconfig /etc/kubernetes/admin.conf get nodes -o name")
		Expect(err).NotTo(HaveOccurred(), out)
		Expect(strings.Fields(out)).To(Equal([]string{cluster.ControlPlaneNodeName(e2eLab), "node/" + cluster.ControlPlaneNodeName(e2eLab), "node/" + cluster.WorkerNodeName(e2eLab)}))
	}, NodeTimeout(10*time.Minute))

	It("changes nothing when up runs again", func(ctx SpecContext) {
		again, err := lab.Up(ctx, opts)
		Expect(err).To(MatchError(lab.ErrAlreadyUp))
		Expect(again.ReadyAt).To(Equal(state.ReadyAt))
	}, NodeTimeout(time.Minute))

	It("converges a lab an interrupted up left half-made", func(ctx SpecContext) {
		// What an up stopped after the cluster was created leaves: the state
		// without ReadyAt, and (here) no exam terminal.
		half, err := lab.Load(cacheDir, e2eLab)
		Expect(err).NotTo(HaveOccurred())
		half.ReadyAt = time.Time{}
		Expect(half.Save(cacheDir)).To(Succeed())
		out, err := exec.CommandContext(ctx, "docker", "rm", "--force", half.Terminal).CombinedOutput()
		Expect(err).NotTo(HaveOccurred(), string(out))
		state, err = lab.Up(ctx, opts)
		must(err, "ckslab up after an interrupted up")
		Expect(state.ReadyAt).NotTo(BeZero())
		Expect(state.CreatedAt).To(BeTemporally("==", half.CreatedAt), "the same lab, converged, not a new one")
		// The specs below check the terminal, its kubectl and ssh again.
	}, NodeTimeout(5*time.Minute))

	It("repairs a stopped exam terminal on up, and says so", func(ctx SpecContext) {
		out, err := exec.CommandContext(ctx, "docker", "inspect", "--format", "{{.HostConfig.RestartPolicy.Name}}", state.Terminal).CombinedOutput()
		Expect(err).NotTo(HaveOccurred(), string(out))
		Expect(strings.TrimSpace(string(out))).To(Equal("unless-stopped"), "the terminal comes back with the engine, as kind's nodes do")
		// What an engine restart did to labs made before the restart policy: the terminal exited.
		out, err = exec.CommandContext(ctx, "docker", "stop", "--time", "1", state.Terminal).CombinedOutput()
		Expect(err).NotTo(HaveOccurred(), string(out))
		// grade, solve and status say what is wrong and that up repairs it, never Docker's own error
		_, err = lab.Grade(ctx, cacheDir, e2eLab)
		Expect(err).To(MatchError(ContainSubstring(state.Terminal + " is exited")))
		Expect(err).To(MatchError(ContainSubstring("ckslab up --name " + e2eLab + " repairs it")))
		_, err = lab.Solve(ctx, cacheDir, e2eLab, nil, GinkgoWriter)
		Expect(err).To(MatchError(ContainSubstring("repairs it")))
		r, err := lab.Inspect(ctx, cacheDir, e2eLab)
		Expect(err).NotTo(HaveOccurred())
		Expect(r.String()).To(ContainSubstring("ckslab up --name " + e2eLab + " repairs the lab"))
		repaired, err := lab.Up(ctx, opts)
		must(err, "ckslab up on a lab whose terminal is stopped")
		Expect(repaired.Repaired).To(ContainElement(ContainSubstring("started " + state.Terminal + " again (it was exited)")))
		out2, err := inContainer(ctx, state.Terminal, "ssh", cluster.WorkerNodeName(e2eLab), "hostname")
		Expect(err).NotTo(HaveOccurred(), out2)
		Expect(strings.TrimSpace(out2)).To(Equal(cluster.WorkerNodeName(e2eLab)))
	}, NodeTimeout(3*time.Minute))

	It("says what to do when the lab's folder is gone but its cluster is not", func(ctx SpecContext) {
		dir := lab.Dir(cacheDir, e2eLab)
		aside := dir + ".aside"
		Expect(os.Rename(dir, aside)).To(Succeed())
		DeferCleanup(func() { Expect(os.Rename(aside, dir)).To(Succeed()) })
		_, err := lab.Up(ctx, opts)
		Expect(err).To(HaveOccurred())
		Expect(err.Error()).To(And(ContainSubstring("its folder "+dir+" is gone"), ContainSubstring("ckslab down --name "+e2eLab)))
	}, NodeTimeout(time.Minute))

	It("adds its own kubeconfig context and nothing else", func() {
		cfg, err := clientcmd.LoadFromFile(opts.Kubeconfig)
		Expect(err).NotTo(HaveOccurred())
		Expect(cfg.Contexts).To(HaveLen(1))
		Expect(cfg.Contexts).To(HaveKey("workload-prod-" + e2eLab))
		Expect(cfg.CurrentContext).To(BeEmpty(), "up must not switch the user's current context")
	})

	It("says plainly whether it has Falco, from a real probe of the node", Label("falco"), func(ctx SpecContext) {
		if state.Falco.Installed {
			out, err := inContainer(ctx, lab.WorkerContainer(e2eLab), "systemctl", "is-active", "falco")
			Expect(err).NotTo(HaveOccurred(), out)
			return
		}
		Expect(state.Falco.Missing).NotTo(BeEmpty())
		AddReportEntry("no Falco in this lab", state.Falco.Missing)
		r, err := lab.Inspect(ctx, cacheDir, e2eLab)
		Expect(err).NotTo(HaveOccurred())
		Expect(r.String()).To(ContainSubstring("falco:    not installed: " + state.Falco.Missing))
	}, NodeTimeout(time.Minute))

	It("has an exam terminal where kubectl uses workload-prod", func(ctx SpecContext) {
		out, err := inContainer(ctx, state.Terminal, "kubectl", "config", "current-context")
		Expect(err).NotTo(HaveOccurred(), out)
		Expect(strings.TrimSpace(out)).To(Equal("workload-prod"))
		must(waitFor(ctx, "kubectl get nodes in the terminal to list both nodes", time.Minute, time.Second, func(ctx context.Context) (bool, string, error) {
			out, err := inContainer(ctx, state.Terminal, "kubectl", "get", "nodes", "--no-headers")
			return err == nil && strings.Contains(out, cluster.WorkerNodeName(e2eLab)+" ") && strings.Count(out, " Ready ") == 2, out, nil
		}), "")
		// The walkthrough's `k get pod -A | grep ...`: alias k=kubectl, with kubectl's completion for k, in both image sets.
		out, err = inContainer(ctx, state.Terminal, "bash", "-i", "-c", "k get ns kube-system -o name && complete -p k")
		Expect(err).NotTo(HaveOccurred(), out)
		Expect(out).To(ContainSubstring("namespace/kube-system"))
		Expect(out).To(ContainSubstring("__start_kubectl k"))
	}, NodeTimeout(2*time.Minute))

	It("lets the terminal ssh to the node, where the walkthrough's tools work", func(ctx SpecContext) {
		node := cluster.WorkerNodeName(e2eLab)
		out, err := inContainer(ctx, state.Terminal, "ssh", node, "hostname; crictl ps --name kube-proxy | awk 'NR==2 {print $1}'")
		Expect(err).NotTo(HaveOccurred(), out)
		lines := strings.Split(strings.TrimSpace(out), "\n")
		Expect(lines).To(HaveLen(2), out)
		Expect(lines[0]).To(Equal(node))
		id := strings.TrimSpace(lines[1])
		Expect(id).To(MatchRegexp(`^[0-9a-f]{13}$`), "crictl ps shows 13-character ids")
		// the walkthrough: a container id (Falco prints 12 characters) to its pod
		out, err = inContainer(ctx, state.Terminal, "ssh", node, "crictl ps -id "+id[:12]+" -o json | grep -c podSandboxId && crictl pods --name kube-proxy -q | head -1")
		Expect(err).NotTo(HaveOccurred(), out)
		Expect(strings.TrimSpace(out)).NotTo(BeEmpty())
		// syslog: what Falco's alerts would go through
		out, err = inContainer(ctx, state.Terminal, "ssh", node, "logger -t falco ckslab-e2e-probe")
		Expect(err).NotTo(HaveOccurred(), out)
		must(waitFor(ctx, "the probe line in the node's /var/log/syslog", 30*time.Second, time.Second, func(ctx context.Context) (bool, string, error) {
			out, err := inContainer(ctx, state.Terminal, "ssh", node, "grep ckslab-e2e-probe /var/log/syslog")
			return err == nil && strings.Contains(out, node+" falco: ckslab-e2e-probe"), out, nil
		}), "")
	}, NodeTimeout(2*time.Minute))

	It("names the workload images nginx and httpd on the node, as crictl, kubectl describe and Falco show them", func(ctx SpecContext) {
		worker := lab.WorkerContainer(e2eLab)
		if imageSet.Mode == images.Local {
			// containerd's import names (import-<date>@sha256:...) would be what Falco prints as image=
			out, err := inContainer(ctx, worker, "ctr", "-n", "k8s.io", "images", "ls", "-q")
			Expect(err).NotTo(HaveOccurred(), out)
			Expect(out).NotTo(ContainSubstring("import-"), "the node's containerd holds import names")
		}
		in, err := lab.Instance(state)
		Expect(err).NotTo(HaveOccurred())
		for _, c := range []int{1, 2} {
			w, _ := in.Offender(c)
			repo := "docker.io/library/" + string(w.Image) // nginx or httpd, the public images' repositories
			out, err := inContainer(ctx, worker, "sh", "-c", `crictl inspect "$(crictl ps -q --name "^$1\$" --namespace "^$2\$" | head -n 1)"`,
				"sh", w.Container, w.Namespace)
			Expect(err).NotTo(HaveOccurred(), out)
			var inspect struct {
				Status struct {
					Image    struct{ Image string } `json:"image"`
					ImageRef string                 `json:"imageRef"`
				} `json:"status"`
			}
			Expect(json.Unmarshal([]byte(out), &inspect)).To(Succeed(), out)
			Expect(inspect.Status.Image.Image).To(HavePrefix(repo+":"), "crictl inspect's image of case %d", c)
			Expect(inspect.Status.ImageRef).To(HavePrefix(repo+"@sha256:"), "crictl inspect's imageRef of case %d", c)
			out, err = inContainer(ctx, state.Terminal, "kubectl", "-n", w.Namespace, "describe", "pod", "-l", "app="+w.Deployment)
			Expect(err).NotTo(HaveOccurred(), out)
			Expect(out).To(MatchRegexp(`(?m)^\s+Image:\s+(docker\.io/library/)?`+string(w.Image)+`:`), "kubectl describe pod's Image of case %d", c)
			Expect(out).To(MatchRegexp(`(?m)^\s+Image ID:\s+`+strings.ReplaceAll(repo, ".", `\.`)+`@sha256:`), "kubectl describe pod's Image ID of case %d", c)
		}
	}, NodeTimeout(time.Minute))

	It("shares /opt/course with the host folder the grader reads", func(ctx SpecContext) {
		out, err := inContainer(ctx, state.Terminal, "sh", "-c", "echo 06:38:28.077150666,090aad374a0a,nginx,root > /opt/course/2/falco.log")
		Expect(err).NotTo(HaveOccurred(), out)
		b, err := os.ReadFile(filepath.Join(state.CourseDir, "2", "falco.log"))
		Expect(err).NotTo(HaveOccurred())
		Expect(string(b)).To(Equal("06:38:28.077150666,090aad374a0a,nginx,root\n"))
	}, NodeTimeout(time.Minute))

	It("runs offenders that really misbehave, and decoys that do not", func(ctx SpecContext) {
		in, err := lab.Instance(state)
		Expect(err).NotTo(HaveOccurred())
		nginx, _ := in.Offender(1)
		httpd, _ := in.Offender(2)
		// The package manager runs for a few milliseconds every few seconds. A scan inside a container sees
		// only that container's few processes, so it can look every couple of milliseconds: apk (or the
		// dpkg-query it runs) must show up in the nginx offender within 30 s, and never in a decoy in 15 s.
		scan := func(w scenarios.Workload, seconds int) (string, error) {
			return inContainer(ctx, state.Terminal, "kubectl", "-n", w.Namespace, "exec", "deploy/"+w.Deployment, "--",
				"timeout", strconv.Itoa(seconds), "sh", "-c",
				`while :; do if grep -qx -e apk -e dpkg-query /proc/[0-9]*/comm 2>/dev/null; then echo seen; exit 0; fi; done`)
		}
		type scanResult struct {
			w   scenarios.Workload
			out string
			err error
		}
		results := make(chan scanResult, len(in.Decoys))
		var decoyHttpd []scenarios.Workload
		scanned := 0
		for _, d := range in.Decoys {
			if d.Image == scenarios.Httpd {
				decoyHttpd = append(decoyHttpd, d)
			}
			if d.Image != scenarios.Nginx {
				continue
			}
			scanned++
			go func(d scenarios.Workload) {
				out, err := scan(d, 15)
				results <- scanResult{d, out, err}
			}(d)
		}
		out, err := scan(nginx, 30)
		Expect(err).NotTo(HaveOccurred(), "no package-manager process seen in the nginx offender %s in 30 s: %s", nginx.Key(), out)
		Expect(strings.TrimSpace(out)).To(Equal("seen"))
		for i := 0; i < scanned; i++ {
			r := <-results
			Expect(strings.TrimSpace(r.out)).NotTo(ContainSubstring("seen"), "decoy %s ran a package manager", r.w.Key())
			var ee *exec.ExitError
			Expect(errors.As(r.err, &ee) && ee.ExitCode() == 124).To(BeTrue(), "the scan of decoy %s did not run its 15 s: %v %s", r.w.Key(), r.err, r.out)
		}
		// /etc/passwd: BusyBox sed -i replaces the file, so its inode changes in the offender, and not in a decoy.
		inode := func(w scenarios.Workload) string {
			GinkgoHelper()
			out, err := inContainer(ctx, state.Terminal, "kubectl", "-n", w.Namespace, "exec", "deploy/"+w.Deployment, "--", "stat", "-c", "%i", "/etc/passwd")
			Expect(err).NotTo(HaveOccurred(), out)
			return strings.TrimSpace(out)
		}
		before := map[string]string{httpd.Key(): inode(httpd)}
		for _, d := range decoyHttpd {
			before[d.Key()] = inode(d)
		}
		must(waitFor(ctx, "/etc/passwd of the httpd offender to be rewritten", 30*time.Second, time.Second, func(ctx context.Context) (bool, string, error) {
			now := inode(httpd)
			return now != before[httpd.Key()], "inode " + now, nil
		}), "")
		for _, d := range decoyHttpd {
			Expect(inode(d)).To(Equal(before[d.Key()]), "decoy %s rewrote /etc/passwd", d.Key())
		}
	}, NodeTimeout(3*time.Minute))

	It("runs each offender action in a process of its own, as seen from the node", func(ctx SpecContext) {
		// Falco knows only processes that started after it (every long-running one is unknown after the
		// walkthrough's `service falco stop; falco`): each action must be a fresh process, so that every alert
		// names its process, its parent and its container. procwatch watches a container's main process from
		// the node, as Falco does, and lists every descendant it saw.
		worker := lab.WorkerContainer(e2eLab)
		bin := filepath.Join(GinkgoT().TempDir(), "procwatch")
		build := exec.CommandContext(ctx, "go", "build", "-o", bin, "./procwatch")
		build.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux")
		b, err := build.CombinedOutput()
		Expect(err).NotTo(HaveOccurred(), "building e2e/procwatch: %s", b)
		b, err = exec.CommandContext(ctx, "docker", "cp", bin, worker+":/usr/local/bin/ckslab-e2e-procwatch").CombinedOutput()
		Expect(err).NotTo(HaveOccurred(), string(b))
		in, err := lab.Instance(state)
		Expect(err).NotTo(HaveOccurred())
		type seen struct{ pid, ppid, comm, cmd string }
		watch := func(w scenarios.Workload, d time.Duration) []seen {
			GinkgoHelper()
			out, err := inContainer(ctx, worker, "sh", "-c", `crictl inspect "$(crictl ps -q --state running --name "^$1\$" --namespace "^$2\$" | head -n 1)"`, "sh", w.Container, w.Namespace)
			Expect(err).NotTo(HaveOccurred(), out)
			var inspect struct {
				Info struct{ Pid int } `json:"info"`
			}
			Expect(json.Unmarshal([]byte(out), &inspect)).To(Succeed(), out)
			Expect(inspect.Info.Pid).To(BeNumerically(">", 1), "the main process of %s", w.Key())
			out, err = inContainer(ctx, worker, "ckslab-e2e-procwatch", "-pid", strconv.Itoa(inspect.Info.Pid), "-for", d.String())
			Expect(err).NotTo(HaveOccurred(), out)
			var ps []seen
			for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
				if f := strings.SplitN(line, "\t", 4); len(f) == 4 {
					ps = append(ps, seen{f[0], f[1], f[2], f[3]})
				}
			}
			return ps
		}
		// fresh returns the pids of processes whose command line starts with prefix, and the pids of their
		// children named childComm (a child seen only as a zombie has its name but no command line).
		fresh := func(ps []seen, prefix, childComm string) (parents, kids map[string]bool) {
			parents, kids = map[string]bool{}, map[string]bool{}
			for _, p := range ps {
				if strings.HasPrefix(p.cmd, prefix) {
					parents[p.pid] = true
				}
			}
			for _, p := range ps {
				if parents[p.ppid] && p.comm == childComm && (p.cmd == "" || strings.HasPrefix(p.cmd, "sed -i $d /etc/passwd")) {
					kids[p.pid] = true
				}
			}
			return parents, kids
		}
		nginx, _ := in.Offender(1)
		httpd, _ := in.Offender(2)
		window := 6*max(nginx.Interval, httpd.Interval) + 2*time.Second // six rounds of each
		var nginxSeen, httpdSeen []seen
		done := make(chan struct{})
		go func() {
			defer GinkgoRecover()
			defer close(done)
			nginxSeen = watch(nginx, window)
		}()
		httpdSeen = watch(httpd, window)
		<-done
		// case 2: every round a fresh `sh -c "echo hacker >> /etc/passwd; sed ..."` whose child is sed, as in the exam
		shs, seds := fresh(httpdSeen, `sh -c echo hacker >> /etc/passwd; sed -i '$d' /etc/passwd; true`, "sed")
		Expect(len(shs)).To(BeNumerically(">=", 3), "fresh sh -c rounds in the httpd offender, seen from the node: %v", httpdSeen)
		// a round's sh -c starts its own child (seen as sed, or still as sh just before its exec), and sed is seen
		// as such: at least once, since sed lives for milliseconds and a busy machine's look at /proc can miss it
		// in any one round (CI saw one round of four with its child)
		withChild := map[string]bool{}
		for _, p := range httpdSeen {
			if shs[p.ppid] {
				withChild[p.ppid] = true
			}
		}
		Expect(len(withChild)).To(BeNumerically(">=", 1), "rounds whose sh -c started a child: %v", httpdSeen)
		Expect(len(seds)).To(BeNumerically(">=", 1), "sed as the child of a round's sh -c: %v", httpdSeen)
		// case 1: every round a fresh apk
		apks := map[string]bool{}
		for _, p := range nginxSeen {
			if strings.Contains(p.cmd, "apk info") { // the local image's apk is a script: "/bin/sh /usr/sbin/apk info"
				apks[p.pid] = true
			}
		}
		Expect(len(apks)).To(BeNumerically(">=", 3), "fresh apk processes in the nginx offender, seen from the node: %v", nginxSeen)
		// decoys only serve: none of their processes is an offender's action
		for _, d := range in.Decoys {
			if d.Placement != scenarios.Worker {
				continue
			}
			for _, p := range watch(d, 6*time.Second) {
				Expect(p.cmd).NotTo(Or(ContainSubstring("passwd"), ContainSubstring("apk")), "decoy %s ran %q", d.Key(), p.cmd)
			}
		}
	}, NodeTimeout(2*time.Minute))

	It("keeps the lab, without Falco and saying why in Falco's words, when Falco installs but stops at start-up; up tries again", func(ctx SpecContext) {
		if state.Falco.Installed {
			Skip("this lab has a Falco that runs; the stand-in that exits at start is for labs without one")
		}
		// The e2e stand-in's "exits" build: it prints what an unpatched Falco prints here and exits 1.
		pkgs, err := buildStandIns(ctx, GinkgoT().TempDir())
		must(err, "building the stand-in packages")
		o := opts
		o.FalcoPackage, o.IgnoreFalcoPreflight = pkgs.Exits, true
		start := time.Now()
		again, err := lab.Up(ctx, o) // a lab without Falco: up tries Falco again
		Expect(err).To(MatchError(lab.ErrAlreadyUp), "the lab is kept and still has no Falco")
		AddReportEntry("up noticing a Falco that exits at start", time.Since(start).Round(time.Second).String())
		Expect(again.Falco.Installed).To(BeFalse())
		Expect(again.Falco.Missing).To(And(ContainSubstring("is installed but does not run"), ContainSubstring("RLIMIT_MEMLOCK"),
			ContainSubstring("ckslab up --name "+e2eLab+" tries again")))
		saved, err := lab.Load(cacheDir, e2eLab)
		Expect(err).NotTo(HaveOccurred())
		Expect(saved.Falco.Missing).To(Equal(again.Falco.Missing), "the reason is kept in the lab's state")
		// the service is stopped and disabled: no restart loop filling syslog
		out, _ := inContainer(ctx, lab.WorkerContainer(e2eLab), "systemctl", "is-active", "falco-modern-bpf.service")
		Expect(strings.TrimSpace(out)).NotTo(Equal("active"))
		out, _ = inContainer(ctx, lab.WorkerContainer(e2eLab), "systemctl", "is-enabled", "falco-modern-bpf.service")
		Expect(strings.TrimSpace(out)).To(Equal("disabled"))
		r, err := lab.Inspect(ctx, cacheDir, e2eLab)
		Expect(err).NotTo(HaveOccurred())
		Expect(r.String()).To(ContainSubstring("falco:    does not run: "))
		// the rest of the lab works: the terminal's kubectl
		out, err = inContainer(ctx, state.Terminal, "kubectl", "get", "nodes", "--no-headers")
		Expect(err).NotTo(HaveOccurred(), out)
	}, NodeTimeout(4*time.Minute))

	It("lets one command at a time change a lab: two ups of one name at once make one lab; a busy lab names its holder; a grade during a reset says so", func(ctx SpecContext) {
		// Real processes: ckslab itself, built for this spec, as a learner would run it in two terminals.
		bin := filepath.Join(GinkgoT().TempDir(), "ckslab")
		if out, err := exec.CommandContext(ctx, "go", "build", "-o", bin, "../cmd/ckslab").CombinedOutput(); err != nil {
			Fail("building ckslab: " + err.Error() + ": " + string(out))
		}
		name := e2eLab + "3"
		third := opts
		third.Name = name
		third.Kubeconfig = filepath.Join(GinkgoT().TempDir(), "kubeconfig")
		defer func() {
			if err := lab.Down(context.WithoutCancel(ctx), third); err != nil && !errors.Is(err, lab.ErrNothingToRemove) {
				Fail("removing the lab of the lock spec: " + err.Error())
			}
		}()
		ckslab := func(wait string, args ...string) *exec.Cmd {
			cmd := exec.CommandContext(ctx, bin, args...)
			cmd.Env = append(os.Environ(), "KUBECONFIG="+third.Kubeconfig, lab.LockWaitEnv+"="+wait, images.EnvMode+"="+string(imageSet.Mode))
			return cmd
		}
		type run struct {
			cmd *exec.Cmd
			out strings.Builder
		}
		ups := []*run{{}, {}}
		for _, u := range ups {
			u.cmd = ckslab("15m", "up", "--name", name)
			u.cmd.Stdout, u.cmd.Stderr = &u.out, &u.out
			must(u.cmd.Start(), "starting ckslab up")
		}
		for i, u := range ups {
			Expect(u.cmd.Wait()).To(Succeed(), "ckslab up #%d of two at once:\n%s", i+1, u.out.String())
		}
		// The second to take the lock waited for the first, named it, and found the lab it made up.
		waited := 0
		for i, u := range ups {
			other := ups[1-i].cmd.Process.Pid
			if strings.Contains(u.out.String(), "Waiting for ckslab up --name "+name+" (pid "+strconv.Itoa(other)+")") {
				waited++
				Expect(u.out.String()).To(ContainSubstring("is already up"), "the up that waited repairs or finds all well:\n%s", u.out.String())
			}
		}
		Expect(waited).To(Equal(1), "exactly one up waits for the other:\n--- first:\n%s\n--- second:\n%s", ups[0].out.String(), ups[1].out.String())
		nodes, err := exec.CommandContext(ctx, "docker", "ps", "--all", "--quiet", "--filter", "label=io.x-k8s.kind.cluster="+name).Output()
		Expect(err).NotTo(HaveOccurred())
		Expect(strings.Fields(string(nodes))).To(HaveLen(2), "one lab: two node containers")

		// Another command holds the lab (this spec, as ckslab reset would): reset waits, then stops naming it;
		// grade and status do not wait, and say what is going on.
		held, _, err := lock.Acquire(ctx, lab.LockPath(cacheDir, name), "ckslab reset --name "+name, lock.Options{})
		must(err, "taking the lab's lock")
		holder := "ckslab reset --name " + name + " (pid " + strconv.Itoa(os.Getpid()) + ")"
		out, err := ckslab("1s", "reset", "--name", name).CombinedOutput()
		Expect(err).To(HaveOccurred(), "reset of a busy lab:\n%s", out)
		Expect(string(out)).To(ContainSubstring(`lab "` + name + `" is busy: ` + holder + " is working on it"))
		grade := ckslab("1s", "grade", "--name", name)
		out, _ = grade.CombinedOutput() // exit 1: its ExitCode is checked
		Expect(grade.ProcessState.ExitCode()).To(Equal(1), "a fresh lab fails its checks:\n%s", out)
		Expect(string(out)).To(ContainSubstring("Graded while " + holder + " was re-arming the lab"))
		out, err = ckslab("1s", "status", "--name", name).CombinedOutput()
		Expect(err).NotTo(HaveOccurred(), string(out))
		Expect(string(out)).To(ContainSubstring("busy:     " + holder + " is re-arming the lab"))
		must(held.Release(), "releasing the lab's lock")

		// A lab folder whose cluster is gone (its nodes removed by hand, a prune): up and grade say so, with
		// down and up as the way out, and down still removes the rest.
		provider := cluster.NewProvider(engine)
		vols, err := provider.NodeVolumes(ctx, name)
		Expect(err).NotTo(HaveOccurred())
		out, err = exec.CommandContext(ctx, "docker", "rm", "--force", "--volumes", lab.WorkerContainer(name), lab.ControlPlaneContainer(name)).CombinedOutput()
		Expect(err).NotTo(HaveOccurred(), string(out))
		up := ckslab("1s", "up", "--name", name)
		out, _ = up.CombinedOutput()
		Expect(up.ProcessState.ExitCode()).To(Equal(1), "up on a lab whose nodes are gone:\n%s", out)
		Expect(string(out)).To(ContainSubstring("has lost its container"))
		Expect(string(out)).To(ContainSubstring("ckslab down --name " + name + " (your work is kept aside) and run ckslab up --name " + name))
		grade = ckslab("1s", "grade", "--name", name)
		out, _ = grade.CombinedOutput()
		Expect(grade.ProcessState.ExitCode()).To(Equal(2), "grade of a lab whose nodes are gone could not grade:\n%s", out)
		Expect(string(out)).To(ContainSubstring("has lost part of itself"))
		Expect(string(out)).To(ContainSubstring("ckslab down --name " + name + " (your work is kept aside) and ckslab up --name " + name + " make it again"))

		// A clean down, through the same binary.
		out, err = ckslab("1m", "down", "--name", name, "--purge").CombinedOutput()
		Expect(err).NotTo(HaveOccurred(), "ckslab down:\n%s", out)
		left, err := provider.Leftovers(ctx, name, vols...)
		Expect(err).NotTo(HaveOccurred())
		Expect(left.Empty()).To(BeTrue(), "left behind: %s", left)
		_, err = os.Stat(lab.Dir(cacheDir, name))
		Expect(os.IsNotExist(err)).To(BeTrue(), "the lab's folder is left")
	}, NodeTimeout(15*time.Minute))

	It("repairs on up what a learner's day breaks: a stopped truth recorder, a lost kubeconfig context, the terminal's kubeconfig", func(ctx SpecContext) {
		worker := lab.WorkerContainer(e2eLab)
		// (not rsyslog: its socket starts it again at the next log line, as on any systemd machine)
		out, err := inContainer(ctx, worker, "systemctl", "stop", "ckslab-truth.service")
		Expect(err).NotTo(HaveOccurred(), out)
		_, err = kubeconfig.RemoveContext(opts.Kubeconfig, state.Context, e2eLab)
		must(err, "removing the lab's context")
		out, err = inContainer(ctx, state.Terminal, "rm", "/root/.kube/config")
		Expect(err).NotTo(HaveOccurred(), out)
		repaired, err := lab.Up(ctx, opts)
		must(err, "ckslab up on a lab with a stopped truth recorder, no context and a terminal without kubeconfig")
		Expect(repaired.Repaired).To(ContainElements(
			ContainSubstring("started ckslab-truth.service on "+cluster.WorkerNodeName(e2eLab)+" again"),
			ContainSubstring("added the context "+state.Context+" to "+opts.Kubeconfig+" again"),
			ContainSubstring("set up the exam terminal's kubectl and ssh again")))
		out, err = inContainer(ctx, worker, "systemctl", "is-active", "ckslab-truth.service")
		Expect(err).NotTo(HaveOccurred(), out)
		has, err := kubeconfig.HasContext(opts.Kubeconfig, state.Context, e2eLab)
		Expect(err).NotTo(HaveOccurred())
		Expect(has).To(BeTrue(), "the context is back")
		out, err = inContainer(ctx, state.Terminal, "kubectl", "get", "nodes", "--no-headers")
		Expect(err).NotTo(HaveOccurred(), out)
		// and a lab with nothing wrong is left as it is
		_, err = lab.Up(ctx, opts)
		Expect(err).To(MatchError(lab.ErrAlreadyUp), "up on a repaired lab changes nothing")
	}, NodeTimeout(6*time.Minute))

	It("lives beside a second lab, each with its own context", func(ctx SpecContext) {
		second := opts
		second.Name = e2eLab + "2"
		defer func() {
			if err := lab.Down(context.WithoutCancel(ctx), second); err != nil && !errors.Is(err, lab.ErrNothingToRemove) {
				Fail("removing the second lab: " + err.Error())
			}
		}()
		s2, err := lab.Up(ctx, second)
		must(err, "ckslab up of a second lab")
		cfg, err := clientcmd.LoadFromFile(opts.Kubeconfig)
		Expect(err).NotTo(HaveOccurred())
		Expect(cfg.Contexts).To(HaveKey(state.Context))
		Expect(cfg.Contexts).To(HaveKey(s2.Context))
		out, err := inContainer(ctx, s2.Terminal, "ssh", cluster.WorkerNodeName(second.Name), "hostname")
		Expect(err).NotTo(HaveOccurred(), out)
		Expect(strings.TrimSpace(out)).To(Equal(cluster.WorkerNodeName(second.Name)))
		for _, name := range []string{e2eLab, second.Name} {
			r, err := lab.Grade(ctx, cacheDir, name)
			Expect(err).NotTo(HaveOccurred())
			Expect(r.Summary().ExitCode).To(Equal(1), "a fresh lab %s has failing checks", name)
		}
		must(lab.Down(ctx, second), "ckslab down of the second lab")
		out, err = inContainer(ctx, state.Terminal, "kubectl", "get", "nodes", "--no-headers")
		Expect(err).NotTo(HaveOccurred(), "the first lab still works after the second went down: %s", out)
		Expect(strings.Count(out, " Ready ")).To(Equal(2), out)
	}, NodeTimeout(10*time.Minute))

	It("comes back after the Docker engine stops and starts under it, repaired by up; the terminal's kubectl and ssh work, grade grades", Label("engine-restart"), func(ctx SpecContext) {
		if engine.Started {
			Skip("this suite started the Docker engine itself; the spec restarts only an engine an earlier ckslab started, as CI's")
		}
		stopped, err := docker.StopStarted(ctx, docker.Options{CacheDir: cacheDir, Logger: newLogger(1)})
		must(err, "stopping the Docker engine")
		if !stopped {
			Skip("the Docker engine is not one ckslab started (ckslab engine start): this spec does not stop an engine it does not own")
		}
		// What a laptop's reboot does: the engine starts again, kind's nodes and the terminal with it.
		_, err = docker.Ensure(ctx, docker.Options{CacheDir: cacheDir, Logger: newLogger(1)})
		must(err, "starting the Docker engine again")
		repaired, err := lab.Up(ctx, opts)
		if !errors.Is(err, lab.ErrAlreadyUp) {
			must(err, "ckslab up after the engine restarted")
		}
		fmt.Fprintf(GinkgoWriter, "up after the engine restart: %v\n", repaired.Repaired)
		Expect(repaired.Repaired).NotTo(ContainElement(ContainSubstring("named the worker")), "the node names itself again at boot")
		cpName := cluster.ControlPlaneNodeName(e2eLab)
		Expect(repaired.Repaired).NotTo(ContainElement(ContainSubstring("named "+cpName)), "the control plane names itself again at boot")
		cpHost, err := inContainer(ctx, lab.ControlPlaneContainer(e2eLab), "hostname")
		Expect(err).NotTo(HaveOccurred(), cpHost)
		Expect(strings.TrimSpace(cpHost)).To(Equal(cpName), "the control plane's host name after the engine restarted")
		bin := filepath.Join(GinkgoT().TempDir(), "ckslab")
		if out, err := exec.CommandContext(ctx, "go", "build", "-o", bin, "../cmd/ckslab").CombinedOutput(); err != nil {
			Fail("building ckslab: " + err.Error() + ": " + string(out))
		}
		run := func(args ...string) (string, int) {
			cmd := exec.CommandContext(ctx, bin, args...)
			cmd.Env = append(os.Environ(), "KUBECONFIG="+opts.Kubeconfig)
			out, _ := cmd.CombinedOutput()
			return string(out), cmd.ProcessState.ExitCode()
		}
		out, code := run("shell", "--name", e2eLab, "--", "kubectl", "get", "nodes", "--no-headers")
		Expect(code).To(Equal(0), out)
		Expect(strings.Count(out, " Ready ")).To(Equal(2), out)
		out, code = run("shell", "--name", e2eLab, "--", "ssh", cluster.WorkerNodeName(e2eLab), "hostname")
		Expect(code).To(Equal(0), out)
		Expect(out).To(ContainSubstring(cluster.WorkerNodeName(e2eLab)))
		out, code = run("grade", "--name", e2eLab)
		Expect(code).To(Equal(1), "a lab with the task not done fails its checks, and is graded (not 2, could not grade):\n%s", out)
	}, NodeTimeout(8*time.Minute))

	It("goes down leaving nothing behind", func(ctx SpecContext) {
		provider := cluster.NewProvider(engine)
		vols, err := provider.NodeVolumes(ctx, e2eLab)
		Expect(err).NotTo(HaveOccurred())
		must(lab.Down(ctx, opts), "ckslab down")
		left, err := provider.Leftovers(ctx, e2eLab, vols...)
		Expect(err).NotTo(HaveOccurred())
		Expect(left.Empty()).To(BeTrue(), "left behind: %s", left)
		out, err := exec.CommandContext(ctx, "docker", "ps", "--all", "--quiet", "--filter", "label="+lab.LabelKey+"="+e2eLab).Output()
		Expect(err).NotTo(HaveOccurred())
		Expect(strings.TrimSpace(string(out))).To(BeEmpty(), "the exam terminal is left")
		_, err = os.Stat(lab.Dir(cacheDir, e2eLab))
		Expect(os.IsNotExist(err)).To(BeTrue(), "the lab's folder is left")
		cfg, err := clientcmd.LoadFromFile(opts.Kubeconfig)
		Expect(err).NotTo(HaveOccurred())
		Expect(cfg.Contexts).To(BeEmpty())
		Expect(lab.Down(ctx, opts)).To(MatchError(lab.ErrNothingToRemove))
	}, NodeTimeout(5*time.Minute))
})
