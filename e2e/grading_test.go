//go:build e2e

package e2e

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/ckslab/ckslab/falco"
	"github.com/ckslab/ckslab/grader"
	"github.com/ckslab/ckslab/internal/cluster"
	"github.com/ckslab/ckslab/internal/images"
	"github.com/ckslab/ckslab/internal/lab"
	"github.com/ckslab/ckslab/internal/status"
	"github.com/ckslab/ckslab/manifests"
	"github.com/ckslab/ckslab/scenarios"
	falcoruntime "github.com/ckslab/ckslab/scenarios/falco-runtime"
)

// e2eGradeLab is the lab the grading specs work on.
const e2eGradeLab = "ckslab-e2e-grade"

// result returns the result of check id in r.
func result(r *grader.Report, id string) grader.Result {
	GinkgoHelper()
	for _, res := range append(append([]grader.Result{}, r.Results...), r.Health...) {
		if res.ID == id {
			return res
		}
	}
	Fail("no check " + id + " in the report")
	return grader.Result{}
}

// text is everything a learner reads about a result.
func text(res grader.Result) string {
	parts := []string{res.Message, res.Expected, res.Actual, res.Remediation}
	for _, f := range res.Findings {
		parts = append(parts, fmt.Sprintf("line %d: %s %s %s", f.Line, f.Text, f.Problem, f.Remediation))
	}
	return strings.Join(parts, "\n")
}

// answerLines makes a capture of n lines of container id, step apart.
func answerLines(start string, n int, step time.Duration, id, name string) string {
	t, err := falco.ParseTimeOfDay(start)
	Expect(err).NotTo(HaveOccurred())
	var b strings.Builder
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "%s,%s,%s,root\n", t, id, name)
		t += falco.TimeOfDay(step)
	}
	return b.String()
}

// rendered is a report as the learner reads it, in every format.
func rendered(r *grader.Report) string {
	GinkgoHelper()
	var b strings.Builder
	for _, f := range []grader.Format{grader.Text, grader.JSON, grader.JUnit} {
		Expect(grader.Render(&b, r, f, grader.RenderOptions{})).To(Succeed())
	}
	return b.String()
}

func kubectl(ctx context.Context, terminal string, args ...string) {
	GinkgoHelper()
	out, err := inContainer(ctx, terminal, append([]string{"kubectl"}, args...)...)
	Expect(err).NotTo(HaveOccurred(), out)
}

var _ = Describe("grading", Label("grading"), Ordered, func() {
	var (
		opts     lab.Options
		state    *lab.State
		in       *scenarios.Instance
		cacheDir string
		answer   string
		failed   bool
	)

	// secrets are what the task asks the learner to find, less what their work shows: the namespaces,
	// Deployments, Pods and container ids of the offenders and the decoys not in touched, less the ids in
	// the answer file.
	secrets := func(ctx context.Context, touched ...scenarios.Workload) []string {
		GinkgoHelper()
		answerText, _ := os.ReadFile(answer)
		c, err := lab.Client(cacheDir, e2eGradeLab)
		Expect(err).NotTo(HaveOccurred())
		var out []string
		for _, w := range append(append([]scenarios.Workload{}, in.Offenders...), in.Decoys...) {
			if slices.ContainsFunc(touched, func(t scenarios.Workload) bool { return t.Key() == w.Key() }) {
				continue
			}
			out = append(out, w.Namespace, w.Deployment)
			pods, err := c.CoreV1().Pods(w.Namespace).List(ctx, metav1.ListOptions{LabelSelector: manifests.LabelApp + "=" + w.Deployment})
			Expect(err).NotTo(HaveOccurred())
			for _, p := range pods.Items {
				out = append(out, p.Name)
			}
			for _, id := range state.Truth[w.Case] {
				if w.Role == scenarios.Offender && !strings.Contains(string(answerText), id) {
					out = append(out, id)
				}
			}
		}
		return out
	}
	grade := func(ctx context.Context, options ...lab.GradeOption) *grader.Report {
		GinkgoHelper()
		start := time.Now()
		r, err := lab.Grade(ctx, cacheDir, e2eGradeLab, options...)
		Expect(err).NotTo(HaveOccurred())
		AddReportEntry("ckslab grade", time.Since(start).String())
		_, err = lab.SaveAttempt(cacheDir, e2eGradeLab, r)
		Expect(err).NotTo(HaveOccurred(), "the grade is kept")
		return r
	}
	// gradeWithheld grades as `ckslab grade` does by default, and checks that no report format names a
	// secret (see secrets) other than those of touched.
	gradeWithheld := func(ctx context.Context, touched ...scenarios.Workload) *grader.Report {
		GinkgoHelper()
		r := grade(ctx)
		Expect(r.Disclosure.Withheld).To(BeTrue())
		all := rendered(r)
		for _, s := range secrets(ctx, touched...) {
			Expect(all).NotTo(ContainSubstring(s), "the default report names %q, which the task asks the learner to find", s)
		}
		return r
	}
	gradeRevealed := func(ctx context.Context) *grader.Report {
		GinkgoHelper()
		r := grade(ctx, lab.WithReveal(true))
		Expect(r.Disclosure.Withheld).To(BeFalse())
		return r
	}
	writeAnswer := func(content string) {
		GinkgoHelper()
		Expect(os.WriteFile(answer, []byte(content), 0o644)).To(Succeed())
	}
	reset := func(ctx context.Context) {
		GinkgoHelper()
		start := time.Now()
		must(lab.Reset(ctx, cacheDir, e2eGradeLab, status.New(GinkgoWriter, false), GinkgoWriter), "ckslab reset")
		AddReportEntry("ckslab reset", time.Since(start).Round(100*time.Millisecond).String())
		var err error
		state, err = lab.Load(cacheDir, e2eGradeLab)
		Expect(err).NotTo(HaveOccurred())
	}

	BeforeAll(func(ctx SpecContext) {
		var err error
		cacheDir, err = images.CacheDir(os.Getenv)
		Expect(err).NotTo(HaveOccurred())
		// Purge: the suite's answer files and grades are not kept under the cache.
		opts = lab.Options{Name: e2eGradeLab, Images: imageSet.Mode, CacheDir: cacheDir, Purge: true,
			Kubeconfig: filepath.Join(GinkgoT().TempDir(), "kubeconfig"), Logger: newLogger(1), Status: status.New(GinkgoWriter, false)}
		if err := lab.Down(ctx, opts); err != nil && !errors.Is(err, lab.ErrNothingToRemove) {
			Fail("removing a lab left by an earlier run: " + err.Error())
		}
		DeferCleanup(func(ctx SpecContext) {
			if failed {
				exportLogs(clusterProvider(), e2eGradeLab)
			}
			if err := lab.Down(ctx, opts); err != nil && !errors.Is(err, lab.ErrNothingToRemove) {
				Fail("removing the lab: " + err.Error())
			}
		}, NodeTimeout(5*time.Minute))
		state, err = lab.Up(ctx, opts)
		must(err, "ckslab up")
		in, err = lab.Instance(state)
		Expect(err).NotTo(HaveOccurred())
		answer = lab.AnswerPath(state, in)
		Expect(state.Truth[1]).NotTo(BeEmpty(), "case 1's container id was recorded")
		Expect(state.Truth[2]).NotTo(BeEmpty(), "case 2's container id was recorded")
	}, NodeTimeout(10*time.Minute))

	AfterEach(func() {
		if CurrentSpecReport().Failed() {
			failed = true
		}
	})

	It("fails every learner check of a fresh lab, saying why and keeping the puzzle", func(ctx SpecContext) {
		r := gradeWithheld(ctx)
		Expect(r.Summary().ExitCode).To(Equal(grader.ExitFail))
		Expect(r.Attempt).To(BeNumerically(">", 0))
		Expect(r.Task).NotTo(BeNil())
		Expect(r.Task.Budget).To(Equal(in.TimeBudget))
		for _, n := range []int{1, 2} {
			res := result(r, fmt.Sprintf("offender-%d-scaled", n))
			Expect(res.Status).To(Equal(grader.Fail))
			Expect(res.Message).To(ContainSubstring(fmt.Sprintf("Case %d's Deployment still runs 1 replica", n)))
			Expect(res.Remediation).To(ContainSubstring("ckslab hint"))
		}
		r = gradeRevealed(ctx)
		Expect(result(r, "answer-file").Status).To(Equal(grader.Fail))
		Expect(text(result(r, "answer-file"))).To(ContainSubstring("/opt/course/2/falco.log does not exist"))
		for _, n := range []int{1, 2} {
			w, _ := in.Offender(n)
			res := result(r, fmt.Sprintf("offender-%d-scaled", n))
			Expect(res.Status).To(Equal(grader.Fail))
			Expect(text(res)).To(ContainSubstring(fmt.Sprintf("kubectl -n %s scale deploy %s --replicas 0", w.Namespace, w.Deployment)))
		}
		Expect(result(r, "decoys-untouched").Status).To(Equal(grader.Pass))
		Expect(result(r, "node-ready").Status).To(Equal(grader.Pass))
		if !state.Falco.Installed {
			real := result(r, "answer-real")
			Expect(real.Status).To(Equal(grader.Skip))
			Expect(real.Message).To(ContainSubstring("this lab has no Falco"))
			Expect(result(r, "falco-running").Status).To(Equal(grader.Skip))
			var b strings.Builder
			Expect(grader.Render(&b, r, grader.Text, grader.RenderOptions{})).To(Succeed())
			Expect(strings.Count(b.String(), state.Falco.Missing)).To(Equal(1), "why there is no Falco is said once:\n%s", b.String())
		}
	}, NodeTimeout(time.Minute))

	It("fails the saved httpd lines as not case 1", func(ctx SpecContext) {
		writeAnswer(answerLines("06:38:28.077150666", 11, 3*time.Second, state.Truth[2][0], "httpd"))
		res := result(gradeWithheld(ctx), "answer-case-1")
		Expect(res.Status).To(Equal(grader.Fail))
		Expect(text(res)).To(ContainSubstring("container " + state.Truth[2][0] + " is not case 1's container"))
		res = result(gradeRevealed(ctx), "answer-case-1")
		w, _ := in.Offender(2)
		Expect(text(res)).To(ContainSubstring("is the httpd offender of case 2 (" + w.Key() + ")"))
	}, NodeTimeout(time.Minute))

	It("fails a fabricated container id", func(ctx SpecContext) {
		writeAnswer(answerLines("06:38:28.077150666", 11, 3*time.Second, "0123456789ab", "nginx"))
		res := result(gradeWithheld(ctx), "answer-case-1")
		Expect(res.Status).To(Equal(grader.Fail))
		Expect(text(res)).To(ContainSubstring("container 0123456789ab is not case 1's container"))
		res = result(gradeRevealed(ctx), "answer-case-1")
		Expect(text(res)).To(ContainSubstring("container 0123456789ab is not the offending container (" + state.Truth[1][0]))
	}, NodeTimeout(time.Minute))

	It("fails lines with Falco's prefix left in", func(ctx SpecContext) {
		lines := strings.Split(strings.TrimSpace(answerLines("06:38:28.077150666", 11, 3*time.Second, state.Truth[1][0], "nginx")), "\n")
		lines[3] = lines[3][:18] + ": Error " + lines[3]
		writeAnswer(strings.Join(lines, "\n") + "\n")
		res := result(gradeWithheld(ctx), "answer-format")
		Expect(res.Status).To(Equal(grader.Fail))
		Expect(res.Findings).To(HaveLen(1))
		Expect(res.Findings[0].Line).To(Equal(4))
		Expect(res.Findings[0].Problem).To(ContainSubstring("Falco's prefix"))
	}, NodeTimeout(time.Minute))

	It("fails a 10 s capture", func(ctx SpecContext) {
		writeAnswer(answerLines("06:38:28.077150666", 3, 5*time.Second, state.Truth[1][0], "nginx"))
		r := gradeWithheld(ctx)
		Expect(result(r, "answer-case-1").Status).To(Equal(grader.Pass))
		res := result(r, "answer-span")
		Expect(res.Status).To(Equal(grader.Fail))
		Expect(res.Message).To(ContainSubstring("spans 10s"))
	}, NodeTimeout(time.Minute))

	It("fails a decoy scaled instead of the offender, naming the decoy", func(ctx SpecContext) {
		decoy := in.Decoys[0]
		kubectl(ctx, state.Terminal, "-n", decoy.Namespace, "scale", "deploy", decoy.Deployment, "--replicas", "0")
		r := gradeWithheld(ctx, decoy)
		res := result(r, "decoys-untouched")
		Expect(res.Status).To(Equal(grader.Fail))
		Expect(text(res)).To(ContainSubstring(decoy.Key()), "the decoy the learner scaled is named")
		Expect(result(r, "offender-1-scaled").Status).To(Equal(grader.Fail))
	}, NodeTimeout(time.Minute))

	It("fails a deleted Deployment: deleting is not scaling", func(ctx SpecContext) {
		w, _ := in.Offender(1)
		kubectl(ctx, state.Terminal, "-n", w.Namespace, "delete", "deploy", w.Deployment, "--wait=false")
		res := result(gradeWithheld(ctx, w, in.Decoys[0]), "offender-1-scaled")
		Expect(res.Status).To(Equal(grader.Fail))
		Expect(text(res)).To(ContainSubstring("deleted"))
		Expect(text(res)).To(ContainSubstring("ckslab reset"))
		Expect(text(res)).To(ContainSubstring(w.Key()), "the Deployment the learner deleted is named")
	}, NodeTimeout(time.Minute))

	It("re-arms the scenario with reset: workloads back, answer file kept aside, truth recorded again", func(ctx SpecContext) {
		old := state.Truth[1]
		before, err := lab.Attempts(cacheDir, e2eGradeLab)
		Expect(err).NotTo(HaveOccurred())
		Expect(before).NotTo(BeEmpty())
		reset(ctx)
		after, err := lab.Attempts(cacheDir, e2eGradeLab)
		Expect(err).NotTo(HaveOccurred())
		Expect(after).To(Equal(before), "reset keeps the grades")
		Expect(state.TaskStartedAt).To(BeTemporally(">", before[len(before)-1].GradedAt), "reset starts the task's clock again")
		_, err = os.Stat(answer)
		Expect(os.IsNotExist(err)).To(BeTrue(), "the answer file is moved aside")
		kept, err := filepath.Glob(answer + ".*")
		Expect(err).NotTo(HaveOccurred())
		Expect(kept).NotTo(BeEmpty(), "the learner's answer file is kept")
		Expect(state.Truth[1]).NotTo(BeEmpty())
		Expect(state.Truth[1]).NotTo(Equal(old), "the recreated offender has a new container")
		r := gradeWithheld(ctx)
		Expect(result(r, "decoys-untouched").Status).To(Equal(grader.Pass))
		Expect(result(r, "offender-1-scaled").Status).To(Equal(grader.Fail), "case 1 is running again")
	}, NodeTimeout(5*time.Minute))

	It("records a restarted offender's new container, and still knows it once the offender is scaled away", func(ctx SpecContext) {
		w, _ := in.Offender(1)
		worker := lab.WorkerContainer(e2eGradeLab)
		running := func(ctx context.Context) (string, error) {
			out, err := inContainer(ctx, worker, "sh", "-c", `crictl ps --namespace "$1" --name "^$2\$" -q 2>/dev/null`, "sh", w.Namespace, w.Container)
			if err != nil {
				return "", fmt.Errorf("crictl ps: %w: %s", err, out)
			}
			return strings.TrimSpace(out), nil
		}
		old, err := running(ctx)
		Expect(err).NotTo(HaveOccurred())
		Expect(strings.Fields(old)).To(HaveLen(1), "one running container of %s", w.Key())
		out, err := inContainer(ctx, worker, "crictl", "stop", old)
		Expect(err).NotTo(HaveOccurred(), out)
		var restarted string
		must(waitFor(ctx, "the kubelet to restart "+w.Key()+" in a new container", 2*time.Minute, time.Second, func(ctx context.Context) (bool, string, error) {
			id, err := running(ctx)
			restarted = id
			return id != "" && id != old, "running: " + id, err
		}), "")
		kubectl(ctx, state.Terminal, "-n", w.Namespace, "scale", "deploy", w.Deployment, "--replicas", "0")
		must(waitFor(ctx, "no container of "+w.Key()+" running", 2*time.Minute, time.Second, func(ctx context.Context) (bool, string, error) {
			id, err := running(ctx)
			return id == "", "running: " + id, err
		}), "")

		// No Pod of it is left to ask the API about, and the state saved at
		// up predates the restart: only the node's recorder saw it.
		c, err := lab.Client(cacheDir, e2eGradeLab)
		Expect(err).NotTo(HaveOccurred())
		must(waitFor(ctx, "no Pod of "+w.Key()+" in the API", 2*time.Minute, time.Second, func(ctx context.Context) (bool, string, error) {
			pods, err := c.CoreV1().Pods(w.Namespace).List(ctx, metav1.ListOptions{LabelSelector: manifests.LabelApp + "=" + w.Deployment})
			if err != nil {
				return false, "", err
			}
			return len(pods.Items) == 0, fmt.Sprintf("%d Pods", len(pods.Items)), nil
		}), "")
		node, err := clusterProvider().Worker(e2eGradeLab)
		Expect(err).NotTo(HaveOccurred())
		truth, err := falcoruntime.Truth(ctx, falco.KindNode(node), c, in, nil)
		Expect(err).NotTo(HaveOccurred())
		for _, id := range []string{old, restarted} {
			short, err := falco.NormalizeContainerID(id)
			Expect(err).NotTo(HaveOccurred())
			Expect(truth[1]).To(ContainElement(short), "the recorder on the node noted %s", id)
		}
		short, _ := falco.NormalizeContainerID(restarted)
		writeAnswer(answerLines("06:38:28.077150666", 11, 3*time.Second, short, w.Container))
		// Half done: case 1 scaled, case 2 still running, and the earlier container's id is not in the file.
		r := gradeWithheld(ctx, w)
		res := result(r, "answer-case-1")
		Expect(res.Status).To(Equal(grader.Pass), text(res))
		Expect(result(r, "offender-2-scaled").Status).To(Equal(grader.Fail))
		oldShort, _ := falco.NormalizeContainerID(old)
		Expect(rendered(gradeRevealed(ctx))).To(ContainSubstring(oldShort), "revealed, the earlier container's id is named")
	}, NodeTimeout(5*time.Minute))

	It("passes the cluster checks after the reference solution, and says what it could not do", func(ctx SpecContext) {
		// As `ckslab solve` does: from now on every grade names everything.
		must(lab.MarkRevealed(cacheDir, e2eGradeLab, lab.RevealedBySolve), "recording that the solution was shown")
		results, err := lab.Solve(ctx, cacheDir, e2eGradeLab, status.New(GinkgoWriter, false), GinkgoWriter)
		must(err, "ckslab solve")
		r := grade(ctx)
		Expect(r.Disclosure).To(Equal(grader.Disclosure{Reason: lab.RevealedBySolve, LabFlag: " --name " + e2eGradeLab}))
		for _, id := range []string{"offender-1-scaled", "offender-2-scaled", "decoys-untouched"} {
			Expect(result(r, id).Status).To(Equal(grader.Pass), text(result(r, id)))
		}
		if state.Falco.Installed {
			Expect(r.Summary().ExitCode).To(Equal(grader.ExitPass), "the reference solution passes every check")
			return
		}
		skipped := 0
		for _, res := range results {
			if res.Skipped != "" {
				skipped++
				Expect(res.Skipped).To(ContainSubstring("no Falco"))
			}
		}
		Expect(skipped).To(BeNumerically(">", 0), "solve says which steps need Falco")
		Skip("this lab has no Falco, so the answer-file part of the reference solution cannot run here: " + state.Falco.Missing)
	}, NodeTimeout(5*time.Minute))
})

func clusterProvider() *cluster.Provider { return cluster.NewProvider(engine) }
