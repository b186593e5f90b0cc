//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/ckslab/ckslab/falco"
	"github.com/ckslab/ckslab/grader"
	"github.com/ckslab/ckslab/internal/images"
	"github.com/ckslab/ckslab/internal/lab"
	"github.com/ckslab/ckslab/internal/status"
	"github.com/ckslab/ckslab/scenarios"
)

// e2eStandInLab is the lab whose worker runs the e2e stand-in for Falco.
const e2eStandInLab = "ckslab-e2e-standin"

// outputIn runs argv in a container and returns its standard output; the error keeps its standard error.
func outputIn(ctx context.Context, container string, argv ...string) (string, error) {
	var stderr bytes.Buffer
	c := exec.CommandContext(ctx, "docker", append([]string{"exec", container}, argv...)...)
	c.Stderr = &stderr
	out, err := c.Output()
	if err != nil {
		return string(out), fmt.Errorf("%q in %s: %w: %s", strings.Join(argv, " "), container, err, strings.TrimSpace(stderr.String()))
	}
	return string(out), nil
}

// crictlColumn returns the value of a column of crictl's table output in each row: crictl aligns its
// columns, and a value (CREATED: "2 minutes ago") may hold spaces, so the value starts where its header
// does and ends at the next run of two spaces.
func crictlColumn(table, header string) []string {
	lines := strings.Split(strings.TrimRight(table, "\n"), "\n")
	if len(lines) == 0 {
		return nil
	}
	at := strings.Index(lines[0], header)
	if at < 0 {
		return nil
	}
	var out []string
	for _, row := range lines[1:] {
		if len(row) <= at {
			out = append(out, "")
			continue
		}
		v := row[at:]
		if end := strings.Index(v, "  "); end >= 0 {
			v = v[:end]
		}
		out = append(out, strings.TrimSpace(v))
	}
	return out
}

// The published walkthrough of the task (killer.sh CKS, "Runtime Security with Falco"), word for word,
// on a lab whose worker runs the e2e stand-in for Falco; then the reference solution with it.
var _ = Describe("the walkthrough and the reference solution, with the e2e stand-in for Falco", Label("falco-standin"), Ordered, func() {
	var (
		opts     lab.Options
		state    *lab.State
		in       *scenarios.Instance
		pkgs     standInPackages
		cacheDir string
		answer   string
		node     string
		failed   bool
	)
	// ssh runs a command line on the node from the exam terminal, as the learner does: ssh NODE 'LINE'.
	ssh := func(ctx context.Context, line string) (string, error) {
		return outputIn(ctx, state.Terminal, "ssh", node, line)
	}
	// terminal runs a command line in the exam terminal's shell.
	terminal := func(ctx context.Context, line string) (string, error) {
		return outputIn(ctx, state.Terminal, "bash", "-c", line)
	}
	grade := func(ctx context.Context) *grader.Report {
		GinkgoHelper()
		r, err := lab.Grade(ctx, cacheDir, e2eStandInLab)
		Expect(err).NotTo(HaveOccurred())
		return r
	}
	// fullMarks expects every scored check to pass.
	fullMarks := func(r *grader.Report) {
		GinkgoHelper()
		var b strings.Builder
		Expect(grader.Render(&b, r, grader.Text, grader.RenderOptions{})).To(Succeed())
		s := r.Summary()
		Expect(s.ExitCode).To(Equal(grader.ExitPass), b.String())
		Expect(s.Score).To(Equal(s.MaxScore), b.String())
		Expect(s.MaxScore).To(Equal(13), b.String())
	}

	BeforeAll(func(ctx SpecContext) {
		var err error
		cacheDir, err = images.CacheDir(os.Getenv)
		Expect(err).NotTo(HaveOccurred())
		start := time.Now()
		pkgs, err = buildStandIns(ctx, GinkgoT().TempDir())
		must(err, "building the stand-in's packages")
		AddReportEntry("building the stand-in's packages", time.Since(start).Round(100*time.Millisecond).String())
		opts = lab.Options{Name: e2eStandInLab, Images: imageSet.Mode, CacheDir: cacheDir, Purge: true,
			Kubeconfig: filepath.Join(GinkgoT().TempDir(), "kubeconfig"), Logger: newLogger(1), Status: status.New(GinkgoWriter, false),
			FalcoPackage: pkgs.StandIn, IgnoreFalcoPreflight: true}
		if err := lab.Down(ctx, opts); err != nil && !errors.Is(err, lab.ErrNothingToRemove) {
			Fail("removing a lab left by an earlier run: " + err.Error())
		}
		DeferCleanup(func(ctx SpecContext) {
			if failed {
				exportLogs(clusterProvider(), e2eStandInLab)
			}
			if err := lab.Down(ctx, opts); err != nil && !errors.Is(err, lab.ErrNothingToRemove) {
				Fail("removing the lab: " + err.Error())
			}
		}, NodeTimeout(5*time.Minute))
		start = time.Now()
		state, err = lab.Up(ctx, opts) // waits for the service's health and its first alert of case 1 in syslog
		must(err, "ckslab up with the stand-in for Falco")
		AddReportEntry("ckslab up with the stand-in", time.Since(start).Round(time.Second).String())
		Expect(state.Falco.Installed).To(BeTrue(), "no Falco installed: %s", state.Falco.Missing)
		Expect(state.Falco.Version).To(Equal(standInVersion))
		in, err = lab.Instance(state)
		Expect(err).NotTo(HaveOccurred())
		answer = lab.AnswerPath(state, in)
		node = in.WorkerNode
	}, NodeTimeout(10*time.Minute))

	AfterEach(func() {
		if CurrentSpecReport().Failed() {
			failed = true
		}
	})

	It("runs the stand-in as the lab runs Falco: a service, /etc/falco, syslog_output, and it says what it is", func(ctx SpecContext) {
		out, err := ssh(ctx, "service falco status")
		Expect(err).NotTo(HaveOccurred(), out)
		Expect(out).To(ContainSubstring("active (running)"))
		out, err = ssh(ctx, "cd /etc/falco && ls")
		Expect(err).NotTo(HaveOccurred(), out)
		Expect(strings.Fields(out)).To(ContainElements("falco.yaml", "falco_rules.local.yaml", "falco_rules.yaml", "rules.d"))
		out, err = ssh(ctx, "grep -A1 '^syslog_output:' /etc/falco/falco.yaml")
		Expect(err).NotTo(HaveOccurred(), out)
		Expect(out).To(ContainSubstring("enabled: true"))
		out, err = ssh(ctx, "grep suggested_output: /etc/falco/falco.yaml")
		Expect(err).NotTo(HaveOccurred(), out)
		Expect(out).To(ContainSubstring("- suggested_output: false"), "the lab turns the suggested fields off")
		out, err = ssh(ctx, "curl -fsS http://localhost:8765/healthz")
		Expect(err).NotTo(HaveOccurred(), out)
		Expect(out).To(Equal(`{"status": "ok"}`))

		out, err = ssh(ctx, "cat /var/log/syslog | grep falco")
		Expect(err).NotTo(HaveOccurred(), out)
		Expect(out).To(ContainSubstring(node + " falco: This is ckslab's e2e stand-in for Falco, not Falco: "))
		alerts := 0
		for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
			if !strings.Contains(line, " falco: ") {
				continue // another program's line that mentions falco (systemd's, containerd's)
			}
			a, err := falco.ParseLine(line)
			if errors.Is(err, falco.ErrNotAlert) {
				continue
			}
			Expect(err).NotTo(HaveOccurred(), line)
			Expect(a.Format).To(Equal(falco.FormatSyslogRFC3339), line)
			Expect(a.Host).To(Equal(node), line)
			alerts++
		}
		Expect(alerts).To(BeNumerically(">", 0), "the service's alerts reach /var/log/syslog")
	}, NodeTimeout(time.Minute))

	It("finds both offenders the walkthrough's way: syslog, crictl ps -id, crictl pods -id", func(ctx SpecContext) {
		for _, c := range []struct {
			n    int
			grep string
		}{{1, "cat /var/log/syslog | grep falco | grep nginx | grep process"}, {2, "cat /var/log/syslog | grep falco | grep httpd | grep passwd"}} {
			w, _ := in.Offender(c.n)
			// the offenders act every 5 s, and the lab may be a few seconds old
			var out string
			must(waitFor(ctx, fmt.Sprintf("case %d: %s to find an alert", c.n, c.grep), 30*time.Second, time.Second, func(ctx context.Context) (bool, string, error) {
				var err error
				out, err = ssh(ctx, c.grep)
				found := err == nil && strings.TrimSpace(out) != "" && (c.n == 1 || strings.Contains(out, "program=sed"))
				return found, fmt.Sprintf("%q (%v)", out, err), nil
			}), "")
			lines := strings.Split(strings.TrimSpace(out), "\n")
			var id string
			for _, line := range lines {
				a, err := falco.ParseLine(line)
				Expect(err).NotTo(HaveOccurred(), line)
				Expect(state.Truth[c.n]).To(ContainElement(a.ContainerID), "case %d: %s finds an alert of another container: %s", c.n, c.grep, line)
				for _, unknown := range []string{" user=<NA>", "command=<NA>", " parent=<NA>", "pcmdline=<NA>", "program=<NA>", "container_name=<NA>", "image=<NA>", "container_id= "} {
					Expect(line).NotTo(ContainSubstring(unknown), "every alert names its process, its parent and its container: %s", line)
				}
				id = a.ContainerID
			}
			if c.n == 2 {
				// each round is a fresh sh -c, as in the exam's alert
				Expect(out).To(ContainSubstring(`program=sed`))
				Expect(out).To(ContainSubstring(`parent=sh pcmdline=sh -c echo hacker >> /etc/passwd; sed -i '$d' /etc/passwd; true`))
			}
			out, err := ssh(ctx, "crictl ps -id "+id)
			Expect(err).NotTo(HaveOccurred(), out)
			Expect(crictlColumn(out, "NAME")).To(Equal([]string{w.Container}), out)
			pods := crictlColumn(out, "POD ID")
			Expect(pods).To(HaveLen(1), out)
			out, err = ssh(ctx, "crictl pods -id "+pods[0])
			Expect(err).NotTo(HaveOccurred(), out)
			Expect(crictlColumn(out, "NAMESPACE")).To(Equal([]string{w.Namespace}), out)
			names := crictlColumn(out, "NAME")
			Expect(names).To(HaveLen(1), out)
			Expect(names[0]).To(HavePrefix(w.Deployment+"-"), out)
		}
	}, NodeTimeout(time.Minute))

	It("edits the rule, runs falco in the foreground after service falco stop, and cuts the answer with cut -d\" \" -f 9", func(ctx SpecContext) {
		out, err := ssh(ctx, `cd /etc/falco/ && grep -r "Package management process launched" .`)
		Expect(err).NotTo(HaveOccurred(), out)
		Expect(out).To(HavePrefix("./falco_rules.yaml:    Package management process launched in container (user=%user.name"))
		// cp falco_rules.yaml falco_rules.yaml_ori, then the walkthrough's vim edit of the rule's output
		out, err = ssh(ctx, `cd /etc/falco/ && cp falco_rules.yaml falco_rules.yaml_ori && `+
			`sed -i '/^    Package management process launched in container (user=%user.name$/,/%container.image.tag)$/c\    Package management process launched in container %evt.time,%container.id,%container.name,%user.name' falco_rules.yaml && `+
			`grep -c '^    Package management process launched in container %evt.time,%container.id,%container.name,%user.name$' falco_rules.yaml`)
		Expect(err).NotTo(HaveOccurred(), out)
		Expect(strings.TrimSpace(out)).To(Equal("1"))

		// service falco stop; falco | grep "Package management", saved in the terminal as the .dirty file
		fg := exec.CommandContext(ctx, "docker", "exec", state.Terminal, "bash", "-c",
			`ssh `+node+` 'service falco stop; falco' | grep "Package management" > /opt/course/2/falco.log.dirty`)
		var fgStderr bytes.Buffer
		fg.Stderr = &fgStderr
		Expect(fg.Start()).To(Succeed())
		fgDone := make(chan error, 1)
		go func() { fgDone <- fg.Wait() }()
		// Until the foreground falco has raised 9 alerts of case 1 (a capture of 40 s at one every 5 s).
		var pid string
		must(waitFor(ctx, "the foreground falco's 9th alert of case 1 in syslog", 2*time.Minute, time.Second, func(ctx context.Context) (bool, string, error) {
			out, err := outputIn(ctx, lab.WorkerContainer(e2eStandInLab), "sh", "-c",
				`systemctl is-active falco; pidof falco; awk '/ falco: This is ckslab.s e2e stand-in/ {n = 0} / falco: [0-9:.]+: Error Package management process launched in container [0-9]/ {n++} END {print n + 0}' /var/log/syslog`)
			f := strings.Split(strings.TrimSpace(out), "\n")
			if len(f) != 3 || f[0] != "inactive" || len(strings.Fields(f[1])) != 1 {
				return false, fmt.Sprintf("service, falco pids, alerts since the last start: %q (%v)", out, err), nil
			}
			pid = f[1]
			n, _ := strconv.Atoi(f[2])
			return n >= 9, fmt.Sprintf("%d alerts of case 1 since the foreground falco started", n), nil
		}), "")
		// Ctrl-C
		out, err = outputIn(ctx, lab.WorkerContainer(e2eStandInLab), "kill", "-INT", pid)
		Expect(err).NotTo(HaveOccurred(), out)
		select {
		case err := <-fgDone:
			Expect(err).NotTo(HaveOccurred(), fgStderr.String())
		case <-time.After(30 * time.Second):
			Fail("the foreground falco did not stop on SIGINT: " + fgStderr.String())
		}
		Expect(fgStderr.String()).To(MatchRegexp(`^\w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \d{4}: This is ckslab's e2e stand-in for Falco, not Falco: `))
		Expect(fgStderr.String()).To(ContainSubstring(": SIGINT received, exiting...\n"))

		_, err = terminal(ctx, `cat /opt/course/2/falco.log.dirty | cut -d" " -f 9 > /opt/course/2/falco.log`)
		Expect(err).NotTo(HaveOccurred())
		out, err = ssh(ctx, "service falco start")
		Expect(err).NotTo(HaveOccurred(), out)

		b, err := os.ReadFile(answer)
		Expect(err).NotTo(HaveOccurred())
		lines := strings.Split(strings.TrimSpace(string(b)), "\n")
		Expect(len(lines)).To(BeNumerically(">=", 9), string(b))
		w, _ := in.Offender(1)
		format := regexp.MustCompile(`^\d\d:\d\d:\d\d\.\d{9},([0-9a-f]{12}),` + regexp.QuoteMeta(w.Container) + `,root$`)
		for _, l := range lines {
			m := format.FindStringSubmatch(l)
			Expect(m).NotTo(BeNil(), "an answer line not in the task's format: %q", l)
			Expect(state.Truth[1]).To(ContainElement(m[1]))
		}
	}, NodeTimeout(4*time.Minute))

	It("scales both Deployments to 0 as the walkthrough does, and ckslab grade gives every point", func(ctx SpecContext) {
		for _, n := range []int{1, 2} {
			w, _ := in.Offender(n)
			out, err := terminal(ctx, "kubectl get pod -A | grep "+w.Deployment)
			Expect(err).NotTo(HaveOccurred(), out)
			Expect(out).To(HavePrefix(w.Namespace))
			out, err = terminal(ctx, fmt.Sprintf("kubectl -n %s scale deploy %s --replicas 0", w.Namespace, w.Deployment))
			Expect(err).NotTo(HaveOccurred(), out)
			Expect(out).To(ContainSubstring("deployment.apps/" + w.Deployment + " scaled"))
		}
		must(waitFor(ctx, "the offenders' Pods to be gone", 2*time.Minute, time.Second, func(ctx context.Context) (bool, string, error) {
			out, err := terminal(ctx, "kubectl get pod -A --no-headers")
			for _, n := range []int{1, 2} {
				w, _ := in.Offender(n)
				if strings.Contains(out, " "+w.Deployment+"-") || strings.HasPrefix(out, w.Namespace+" ") && strings.Contains(out, w.Deployment) {
					return false, out, err
				}
			}
			return err == nil, out, err
		}), "")
		r := grade(ctx)
		fullMarks(r)
		Expect(result(r, "answer-real").Message).To(MatchRegexp(`^All \d+ lines match alerts Falco recorded in ` + lab.WorkerContainer(e2eStandInLab) + `:/var/log/syslog`))
	}, NodeTimeout(3*time.Minute))

	It("fails check 5 for a changed line and a made-up one, naming each", func(ctx SpecContext) {
		orig, err := os.ReadFile(answer)
		Expect(err).NotTo(HaveOccurred())
		defer func() { Expect(os.WriteFile(answer, orig, 0o644)).To(Succeed()) }()
		lines := strings.Split(strings.TrimSpace(string(orig)), "\n")
		Expect(len(lines)).To(BeNumerically(">=", 6))
		// line 3: one nanosecond later; after line 5, a line at a time between it and the next
		t3, err := falco.ParseTimeOfDay(lines[2][:18])
		Expect(err).NotTo(HaveOccurred())
		changed := (t3 + 1).String() + lines[2][18:]
		t5, _ := falco.ParseTimeOfDay(lines[4][:18])
		t6, _ := falco.ParseTimeOfDay(lines[5][:18])
		madeUp := (t5 + (t6-t5)/2).String() + lines[4][18:]
		edited := append(append(append([]string{}, lines[:2]...), changed), lines[3:5]...)
		edited = append(append(edited, madeUp), lines[5:]...)
		Expect(os.WriteFile(answer, []byte(strings.Join(edited, "\n")+"\n"), 0o644)).To(Succeed())

		r := grade(ctx)
		for _, id := range []string{"answer-file", "answer-format", "answer-case-1", "answer-span"} {
			Expect(result(r, id).Status).To(Equal(grader.Pass), text(result(r, id)))
		}
		res := result(r, "answer-real")
		Expect(res.Status).To(Equal(grader.Fail), text(res))
		Expect(res.Message).To(HavePrefix(fmt.Sprintf("2 of %d lines match no alert Falco recorded in %s:/var/log/syslog", len(edited), lab.WorkerContainer(e2eStandInLab))))
		Expect(res.Findings).To(HaveLen(2), text(res))
		for i, f := range []struct {
			line int
			text string
		}{{3, changed}, {6, madeUp}} {
			Expect(res.Findings[i].Line).To(Equal(f.line), text(res))
			Expect(res.Findings[i].Text).To(Equal(strings.Join(strings.Split(f.text, ",")[:2], ",")), text(res))
			Expect(res.Findings[i].Problem).To(ContainSubstring("Falco recorded no alert of container"), text(res))
		}
	}, NodeTimeout(time.Minute))

	It("gives every point after ckslab solve on the re-armed lab", func(ctx SpecContext) {
		worker := lab.NodeContainer(lab.WorkerContainer(e2eStandInLab))
		// the walkthrough edited falco_rules.yaml and kept falco_rules.yaml_ori; a file in rules.d as a newer variant
		_, err := ssh(ctx, `printf -- '- list: ckslab_e2e_mine\n  items: []\n' > /etc/falco/rules.d/mine.yaml`)
		Expect(err).NotTo(HaveOccurred())
		changes, err := falco.ConfigChanges(ctx, worker)
		Expect(err).NotTo(HaveOccurred())
		Expect(changes).To(ContainElements("changed falco_rules.yaml", "added falco_rules.yaml_ori", "added rules.d/mine.yaml"))
		must(lab.Reset(ctx, cacheDir, e2eStandInLab, status.New(GinkgoWriter, false), GinkgoWriter), "ckslab reset")
		changes, err = falco.ConfigChanges(ctx, worker)
		Expect(err).NotTo(HaveOccurred())
		Expect(changes).To(BeEmpty(), "reset restores all of /etc/falco as the lab made it")
		state, err = lab.Load(cacheDir, e2eStandInLab)
		Expect(err).NotTo(HaveOccurred())
		out, err := ssh(ctx, `grep -c '%evt.time,%container.id,%container.name,%user.name' /etc/falco/falco_rules.yaml || true`)
		Expect(err).NotTo(HaveOccurred())
		Expect(strings.TrimSpace(out)).To(Equal("0"), "reset restores the rule's output")
		// as `ckslab solve` does
		must(lab.MarkRevealed(cacheDir, e2eStandInLab, lab.RevealedBySolve), "recording that the solution was shown")
		start := time.Now()
		results, err := lab.Solve(ctx, cacheDir, e2eStandInLab, status.New(GinkgoWriter, false), GinkgoWriter)
		must(err, "ckslab solve")
		AddReportEntry("ckslab solve with the stand-in", time.Since(start).Round(time.Second).String())
		for _, res := range results {
			Expect(res.Skipped).To(BeEmpty(), "step %q was skipped", res.Step.Title)
		}
		b, err := os.ReadFile(answer)
		Expect(err).NotTo(HaveOccurred(), "the reference solution writes the answer file")
		Expect(strings.Count(string(b), "\n")).To(BeNumerically(">=", 8), string(b))
		fullMarks(grade(ctx))
	}, NodeTimeout(6*time.Minute))

	It("has an exits-at-start build that stops as a Falco whose libraries refuse the kernel", func(ctx SpecContext) {
		out, err := exec.CommandContext(ctx, "dpkg-deb", "-f", pkgs.Exits, "Package", "Version").Output()
		Expect(err).NotTo(HaveOccurred())
		Expect(string(out)).To(Equal("Package: falco\nVersion: " + exitsVersion + "\n"))
		dir := GinkgoT().TempDir()
		cmd := exec.CommandContext(ctx, pkgs.ExitsBinary, "-c", "falcostandin/files/falco.yaml", "-o", "config_files=[]", "-o", "log_syslog=false",
			"-r", "falcostandin/files/falco_rules.yaml", "-o", "file_output.filename="+filepath.Join(dir, "events.txt"))
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		err = cmd.Run()
		var ee *exec.ExitError
		Expect(errors.As(err, &ee)).To(BeTrue(), "it exits with an error: %v", err)
		Expect(ee.ExitCode()).To(Equal(1))
		Expect(stderr.String()).To(MatchRegexp(`^\w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \d{4}: This is ckslab's e2e stand-in for Falco, not Falco: this build stands in for a Falco that stops at start-up`))
		Expect(stderr.String()).To(ContainSubstring("\nlibpman: unable to bump RLIMIT_MEMLOCK to RLIM_INFINITY (errno: 1 | message: Operation not permitted)\n"))
		Expect(stderr.String()).To(HaveSuffix("Error: Initialization issues during scap_init\n"))
	}, NodeTimeout(time.Minute))
})
