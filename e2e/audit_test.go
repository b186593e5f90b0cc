//go:build e2e

package e2e

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"k8s.io/client-go/kubernetes"

	"github.com/ckslab/ckslab/grader"
	"github.com/ckslab/ckslab/grader/audit"
	"github.com/ckslab/ckslab/internal/images"
	"github.com/ckslab/ckslab/internal/lab"
	"github.com/ckslab/ckslab/internal/status"
	"github.com/ckslab/ckslab/scenarios"
	auditlogging "github.com/ckslab/ckslab/scenarios/audit-logging"
)

// e2eAuditLab is the auditing scenario's lab in the suite.
const e2eAuditLab = "ckslab-e2e-audit"

// The checks of the auditing scenario, by what they look at.
var (
	auditFlagChecks      = []string{audit.IDPolicyFlag, audit.IDLogPath, audit.IDRetention}
	auditBehaviourChecks = []string{"audit-namespaces", "audit-webapps-deployments", "audit-configmaps-secrets", "audit-catch-all"}
)

// wrongPolicyRules are rules a learner might append: Secrets at RequestResponse (ConfigMaps right), and the
// Deployment rule for every namespace.
const wrongPolicyRules = `  - level: RequestResponse
    resources:
      - group: ""
        resources: ["namespaces"]
  - level: Request
    resources:
      - group: "apps"
        resources: ["deployments"]
  - level: RequestResponse
    resources:
      - group: ""
        resources: ["secrets"]
  - level: Metadata
    resources:
      - group: ""
        resources: ["configmaps"]
  - level: Metadata
`

var _ = Describe("the API server auditing scenario", Label("audit"), Ordered, func() {
	var (
		opts     lab.Options
		state    *lab.State
		in       *scenarios.Instance
		cacheDir string
		client   kubernetes.Interface
		failed   bool
	)
	cp := lab.ControlPlaneContainer(e2eAuditLab)
	cpNode := lab.NodeContainer(cp)

	onCP := func(ctx context.Context, script string) string {
		GinkgoHelper()
		out, err := inContainer(ctx, cp, "sh", "-c", script)
		Expect(err).NotTo(HaveOccurred(), "on the control plane: %s\n%s", script, out)
		return out
	}
	apiPID := func(ctx context.Context) string {
		out, _ := inContainer(ctx, cp, "pgrep", "-n", "-x", "kube-apiserver")
		return strings.TrimSpace(out)
	}
	// restart moves a manifest made by script (which writes /root/next.yaml) into place, as a learner would, and
	// waits until the API server that ran before is gone; running says whether the new one must come up.
	restart := func(ctx context.Context, script string, running bool) {
		GinkgoHelper()
		old := apiPID(ctx)
		onCP(ctx, script+"\nmv /root/next.yaml /etc/kubernetes/manifests/kube-apiserver.yaml")
		must(waitFor(ctx, "the API server (pid "+old+") to be replaced", 3*time.Minute, time.Second, func(ctx context.Context) (bool, string, error) {
			pid := apiPID(ctx)
			return pid != old, "pid " + pid, nil
		}), "restarting the API server")
		if running {
			_, _, err := auditlogging.Running(ctx, cpNode, client, 3*time.Minute)
			must(err, "the API server to run with the new manifest")
		}
	}
	grade := func(ctx context.Context) *grader.Report {
		GinkgoHelper()
		start := time.Now()
		r, err := lab.Grade(ctx, cacheDir, e2eAuditLab)
		Expect(err).NotTo(HaveOccurred())
		AddReportEntry("ckslab grade (audit)", time.Since(start).Round(100*time.Millisecond).String())
		_, err = lab.SaveAttempt(cacheDir, e2eAuditLab, r)
		Expect(err).NotTo(HaveOccurred())
		return r
	}
	// expectOnly checks that exactly the checks in failing fail and every other scored check passes.
	expectOnly := func(r *grader.Report, failing ...string) {
		GinkgoHelper()
		for _, res := range r.Results {
			want := grader.Pass
			for _, f := range failing {
				if f == res.ID {
					want = grader.Fail
				}
			}
			Expect(res.Status).To(Equal(want), "check %s: %s", res.ID, text(res))
		}
	}

	BeforeAll(func(ctx SpecContext) {
		var err error
		cacheDir, err = images.CacheDir(os.Getenv)
		Expect(err).NotTo(HaveOccurred())
		opts = lab.Options{Name: e2eAuditLab, Scenario: "audit-logging", Images: imageSet.Mode, CacheDir: cacheDir, Purge: true,
			Kubeconfig: filepath.Join(GinkgoT().TempDir(), "kubeconfig"), Logger: newLogger(1), Status: status.New(GinkgoWriter, false)}
		if err := lab.Down(ctx, opts); err != nil && !errors.Is(err, lab.ErrNothingToRemove) {
			Fail("removing a lab left by an earlier run: " + err.Error())
		}
		DeferCleanup(func(ctx SpecContext) {
			if failed {
				exportLogs(clusterProvider(), e2eAuditLab)
			}
			if err := lab.Down(ctx, opts); err != nil && !errors.Is(err, lab.ErrNothingToRemove) {
				Fail("removing the lab: " + err.Error())
			}
		}, NodeTimeout(5*time.Minute))
		start := time.Now()
		state, err = lab.Up(ctx, opts)
		must(err, "ckslab up --scenario audit-logging")
		AddReportEntry("ckslab up (audit)", time.Since(start).Round(time.Second).String())
		in, err = lab.Instance(state)
		Expect(err).NotTo(HaveOccurred())
		client, err = lab.Client(cacheDir, e2eAuditLab)
		Expect(err).NotTo(HaveOccurred())
	}, NodeTimeout(10*time.Minute))

	AfterEach(func() {
		if CurrentSpecReport().Failed() {
			failed = true
		}
	})

	It("is a lab of its own scenario: its context, the basic policy on the control plane, ssh to the control plane from the terminal", func(ctx SpecContext) {
		Expect(state.ScenarioID()).To(Equal("audit-logging"))
		Expect(state.Context).To(Equal("infra-prod-" + e2eAuditLab))
		Expect(in.ControlPlaneNode).To(Equal(e2eAuditLab + "-controlplane1"))
		out, err := inContainer(ctx, state.Terminal, "kubectl", "config", "current-context")
		Expect(err).NotTo(HaveOccurred(), out)
		Expect(strings.TrimSpace(out)).To(Equal("infra-prod"))
		out, err = inContainer(ctx, state.Terminal, "ssh", "-o", "BatchMode=yes", in.ControlPlaneNode, "cat", in.Audit.PolicyFile)
		Expect(err).NotTo(HaveOccurred(), out)
		Expect(out).To(Equal(string(in.Audit.Policy)), "the basic policy, read over ssh from the exam terminal")
		out, err = inContainer(ctx, state.Terminal, "ssh", "-o", "BatchMode=yes", in.ControlPlaneNode, "hostname")
		Expect(err).NotTo(HaveOccurred(), out)
		Expect(strings.TrimSpace(out)).To(Equal(in.ControlPlaneNode), "the prompt after ssh names the control plane as the exam does")
		out, err = inContainer(ctx, state.Terminal, "kubectl", "get", "node", in.ControlPlaneNode, "-o", "name")
		Expect(err).NotTo(HaveOccurred(), out)
		out, err = inContainer(ctx, state.Terminal, "kubectl", "get", "configmap", "-n", "team-ledger", "ledger-config", "-o", "name")
		Expect(err).NotTo(HaveOccurred(), out)
		Expect(onCP(ctx, "test -e "+in.Audit.LogPath+" && echo there || echo none")).To(Equal("none\n"), "nothing is audited at the start")
	})

	It("is repaired by up: the control plane's sshd, which the task needs, and its host name", func(ctx SpecContext) {
		// as after the engine restarted it, before the node's unit named it again
		onCP(ctx, "systemctl stop ssh && hostname "+cp)
		repair := opts
		repair.Scenario = "" // as `ckslab up --name <lab>`: the lab's own scenario
		s, err := lab.Up(ctx, repair)
		must(err, "ckslab up on the auditing lab")
		Expect(s.Repaired).To(ContainElement("started ssh on " + in.ControlPlaneNode + " again (it was not running)"))
		Expect(s.Repaired).To(ContainElement(fmt.Sprintf("named %s again (its host name was %q)", in.ControlPlaneNode, cp)))
		Expect(onCP(ctx, "hostname")).To(Equal(in.ControlPlaneNode + "\n"))
		out, err := inContainer(ctx, state.Terminal, "ssh", "-o", "BatchMode=yes", in.ControlPlaneNode, "true")
		Expect(err).NotTo(HaveOccurred(), out)
		_, err = lab.Up(ctx, opts)
		Expect(err).To(MatchError(lab.ErrAlreadyUp))
	})

	It("fails every check of a fresh lab, each saying what it saw", func(ctx SpecContext) {
		r := grade(ctx)
		Expect(r.Summary().ExitCode).To(Equal(grader.ExitFail))
		Expect(result(r, audit.IDRunning).Status).To(Equal(grader.Pass))
		for _, id := range append(auditFlagChecks, auditBehaviourChecks...) {
			Expect(result(r, id).Status).To(Equal(grader.Fail), "%s: %s", id, text(result(r, id)))
		}
		Expect(result(r, audit.IDPolicyExtends).Status).To(Equal(grader.Skip))
		Expect(result(r, audit.IDPolicyFlag).Message).To(ContainSubstring("has no audit policy file"))
		Expect(result(r, audit.IDRetention).Message).To(ContainSubstring("no limit on the old log files it keeps"))
		Expect(result(r, "audit-namespaces").Message).To(ContainSubstring("no audit log at " + in.Audit.LogPath))
		// the grade teaches without handing over the answer: no flag the learner has not written is named
		Expect(r.Disclosure.Withheld).To(BeTrue())
		Expect(rendered(r)).NotTo(ContainSubstring("--audit-"))
		Expect(rendered(r)).To(ContainSubstring("The flags the task needs are withheld"))
	})

	It("passes the reference solution, performed in the exam terminal", func(ctx SpecContext) {
		start := time.Now()
		results, err := lab.Solve(ctx, cacheDir, e2eAuditLab, status.New(GinkgoWriter, false), GinkgoWriter)
		for _, res := range results {
			fmt.Fprintf(GinkgoWriter, "step %s: err %v\n%s\n", res.Step.ID, res.Err, res.Output)
		}
		must(err, "ckslab solve")
		AddReportEntry("ckslab solve (audit)", time.Since(start).Round(time.Second).String())
		r := grade(ctx)
		Expect(r.Summary().ExitCode).To(Equal(grader.ExitPass), rendered(r))
		s := r.Summary()
		Expect(s.Score).To(Equal(s.MaxScore))
		// the starting point of the wrong solutions below
		onCP(ctx, "cp /etc/kubernetes/manifests/kube-apiserver.yaml /root/solved.yaml && cp "+in.Audit.PolicyFile+" /root/solved-policy.yaml")
	})

	It("passes the solution with the log backend in batch mode, whose events come with the next batch", func(ctx SpecContext) {
		// --audit-log-mode=batch alone, as a learner adds it: batches are written at the latest every 30 s (the
		// default --audit-log-batch-max-wait), and grading waits that long for the probes' events.
		restart(ctx, `sed 's|^\( *\)- --audit-log-path=.*|&\n\1- --audit-log-mode=batch|' /root/solved.yaml > /root/next.yaml`, true)
		Expect(onCP(ctx, "cat /proc/$(pgrep -n -x kube-apiserver)/cmdline | tr '\\0' '\\n'")).To(ContainSubstring("--audit-log-mode=batch"))
		r := grade(ctx)
		Expect(r.Summary().ExitCode).To(Equal(grader.ExitPass), rendered(r))
		Expect(r.Summary().Score).To(Equal(r.Summary().MaxScore))
	})

	It("fails exactly the checks a wrong policy and a missing --audit-log-maxbackup break, and says when the file is right but not read", func(ctx SpecContext) {
		policy := string(in.Audit.Policy) + wrongPolicyRules
		_, err := cpNode.Exec(ctx, strings.NewReader(policy), "sh", "-c", "cat > "+in.Audit.PolicyFile)
		Expect(err).NotTo(HaveOccurred())
		restart(ctx, "sed '/--audit-log-maxbackup/d' /root/solved.yaml > /root/next.yaml", true)
		r := grade(ctx)
		expectOnly(r, audit.IDRetention, "audit-webapps-deployments", "audit-configmaps-secrets")
		Expect(text(result(r, "audit-configmaps-secrets"))).To(ContainSubstring("Secret in namespace webapps (ckslab made it as a dry run) was logged at level RequestResponse"))
		Expect(text(result(r, "audit-webapps-deployments"))).To(ContainSubstring("Deployment in namespace team-ledger"))
		// withheld (lab.Solve, unlike ckslab solve, does not reveal): the flag the learner's manifest lacks is said in words
		Expect(result(r, audit.IDRetention).Message).To(ContainSubstring("no limit on the old log files it keeps"))
		Expect(result(r, audit.IDRetention).Message).NotTo(ContainSubstring("--audit-log-maxbackup"))

		// the right policy written, the API server not restarted: it still logs by the one it read at start
		onCP(ctx, "cp /root/solved-policy.yaml "+in.Audit.PolicyFile)
		r = grade(ctx)
		Expect(result(r, "audit-configmaps-secrets").Status).To(Equal(grader.Fail))
		Expect(result(r, "audit-configmaps-secrets").Message).To(ContainSubstring("reads its policy only when it starts"))
	})

	It("fails the log's path when the log goes elsewhere, and the levels with it", func(ctx SpecContext) {
		restart(ctx, `sed 's|--audit-log-path=.*|--audit-log-path=/var/log/kubernetes/elsewhere.txt|' /root/solved.yaml > /root/next.yaml`, true)
		r := grade(ctx)
		expectOnly(r, append([]string{audit.IDLogPath}, auditBehaviourChecks...)...)
		Expect(result(r, audit.IDLogPath).Message).To(ContainSubstring("--audit-log-path=/var/log/kubernetes/elsewhere.txt, not " + in.Audit.LogPath))
	})

	It("fails the policy check when the API server uses no policy", func(ctx SpecContext) {
		restart(ctx, `sed '/--audit-policy-file/d' /root/solved.yaml > /root/next.yaml`, true)
		r := grade(ctx)
		Expect(result(r, audit.IDPolicyFlag).Status).To(Equal(grader.Fail))
		Expect(result(r, audit.IDPolicyFlag).Message).To(ContainSubstring("has no audit policy file"))
		Expect(result(r, audit.IDPolicyExtends).Status).To(Equal(grader.Skip))
		// revealed, as after ckslab solve: the flag is named
		rev, err := lab.Grade(ctx, cacheDir, e2eAuditLab, lab.WithReveal(true))
		Expect(err).NotTo(HaveOccurred())
		Expect(result(rev, audit.IDPolicyFlag).Message).To(ContainSubstring("has no --audit-policy-file"))
		for _, id := range auditBehaviourChecks {
			Expect(result(r, id).Status).To(Equal(grader.Fail), "%s: %s", id, text(result(r, id)))
		}
		Expect(result(r, audit.IDRetention).Status).To(Equal(grader.Pass))
	})

	It("cannot grade an API server a broken manifest keeps from running, and says where to look", func(ctx SpecContext) {
		// the policy's volume points at an empty folder: the API server cannot read its policy and stops
		restart(ctx, `sed 's|path: /etc/kubernetes/logpolicy$|path: /etc/kubernetes/logpolicy-missing|' /root/solved.yaml > /root/next.yaml`, false)
		r := grade(ctx)
		Expect(r.Summary().ExitCode).To(Equal(grader.ExitCannotGrade), rendered(r))
		for _, res := range r.Results {
			Expect(res.Status).To(Equal(grader.Error), res.ID)
			Expect(res.Message).To(HavePrefix("Could not grade: the API server is not running"))
			Expect(res.Remediation).To(ContainSubstring("journalctl -u kubelet"))
		}
		Expect(result(r, audit.IDRunning).Status).To(Equal(grader.Fail))
	})

	It("re-arms on reset: the original manifest and the basic policy back, the log gone, the learner's files kept aside", func(ctx SpecContext) {
		onCP(ctx, "cp /root/solved-policy.yaml "+in.Audit.PolicyFile+" && touch /etc/kubernetes/manifests/kube-apiserver.yaml.bak")
		start := time.Now()
		var out strings.Builder
		must(lab.Reset(ctx, cacheDir, e2eAuditLab, status.New(GinkgoWriter, false), &out), "ckslab reset")
		AddReportEntry("ckslab reset (audit)", time.Since(start).Round(100*time.Millisecond).String())
		Expect(out.String()).To(ContainSubstring(auditlogging.ResetDir))
		Expect(out.String()).To(ContainSubstring("manifests-kube-apiserver.yaml.bak"))
		Expect(onCP(ctx, "cat "+in.Audit.PolicyFile)).To(Equal(string(in.Audit.Policy)))
		Expect(onCP(ctx, "ls /etc/kubernetes/manifests")).NotTo(ContainSubstring(".bak"), "the kubelet runs every file there")
		Expect(onCP(ctx, "ls "+auditlogging.ResetDir+"-*")).To(And(ContainSubstring("kube-apiserver.yaml"), ContainSubstring("audit-policy.yaml")))
		Expect(onCP(ctx, "test -e "+in.Audit.LogPath+" && echo there || echo none")).To(Equal("none\n"))
		r := grade(ctx)
		Expect(r.Summary().ExitCode).To(Equal(grader.ExitFail))
		for _, id := range append(auditFlagChecks, auditBehaviourChecks...) {
			Expect(result(r, id).Status).To(Equal(grader.Fail), id)
		}
	})
})
