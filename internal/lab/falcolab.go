package lab

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/kind/pkg/cluster/nodes"

	"github.com/ckslab/ckslab/falco"
	"github.com/ckslab/ckslab/grader"
	"github.com/ckslab/ckslab/internal/cluster"
	"github.com/ckslab/ckslab/internal/status"
	"github.com/ckslab/ckslab/scenarios"
	falcoruntime "github.com/ckslab/ckslab/scenarios/falco-runtime"
)

// falcoLab is the Falco task's side of scenarioLab: Falco and the truth recorder on the worker, the offenders, the
// answer file. This file also holds up's install of Falco on the worker. What the task needs on the node and in its
// grade (the truth recorder, the alerts, the checks) is scenarios/falco-runtime's; Falco's package, preflight,
// install and start are package falco's.
type falcoLab struct{}

// prepareNodes starts the worker's truth recorder (it notes the offenders' container ids from their first start
// on, whenever that comes) and runs the Falco preflight.
func (falcoLab) prepareNodes(ctx context.Context, p *preparation, worker falco.Node) error {
	if err := falcoruntime.StartTruthRecorder(ctx, worker, p.in); err != nil {
		return err
	}
	pre, err := falco.CheckNode(ctx, worker, falco.Pinned)
	if err != nil {
		return err
	}
	p.preflight = pre
	return nil
}

// beforeWorkloads installs Falco on the worker (or records why the lab has none).
func (falcoLab) beforeWorkloads(ctx context.Context, l *Lab, p *preparation, worker nodes.Node) error {
	return l.installFalco(ctx, worker, p.preflight)
}

// arm records the offenders' container ids and waits for Falco's first alert of case 1.
func (falcoLab) arm(ctx context.Context, l *Lab, p *preparation, worker nodes.Node) error {
	st := l.opts.Status
	if err := st.Step("Recording the offenders' container ids", func() error {
		return l.recordTruth(ctx, falco.KindNode(worker), p.client, p.in)
	}); err != nil {
		return err
	}
	if l.State.Falco.Installed {
		// Falco's health: a first real alert of the task's rule, through rsyslog.
		if err := st.Step("Waiting for Falco's first alert of case 1", func() error {
			_, err := falco.WaitFirstAlert(ctx, falco.KindNode(worker), falco.PackageAlertText, 2*time.Minute)
			return err
		}); err != nil {
			return err
		}
	}
	return nil
}

// recordTruth notes the offenders' container ids now (the recorder that
// keeps noting them while the lab runs was started with the node).
func (l *Lab) recordTruth(ctx context.Context, n falco.Node, c kubernetes.Interface, in *scenarios.Instance) error {
	truth, err := falcoruntime.RecordTruth(ctx, n, c, in)
	if err != nil {
		return err
	}
	l.State.Truth = truth
	return nil
}

// grade grades the Falco task (scenarios/falco-runtime): the answer file against the recorded truth and Falco's
// alerts, the cluster's Deployments, and the health of the node and of Falco.
func (falcoLab) grade(ctx context.Context, cacheDir string, s *State, in *scenarios.Instance, report *grader.Report) error {
	l := falcoruntime.Lab{Worker: NodeContainer(WorkerContainer(s.Name)), Truth: s.Truth, AnswerFile: AnswerPath(s, in),
		Falco: falcoruntime.Falco{Installed: s.Falco.Installed, Missing: s.Falco.Missing}}
	l.Client, l.ClientErr = Client(cacheDir, s.Name)
	if l.ClientErr != nil {
		l.Client = nil
	}
	results, health, err := falcoruntime.Grade(ctx, l, in, report.Disclosure.Withheld)
	if err != nil {
		return err
	}
	report.Results, report.Health = results, append(report.Health, health...)
	return nil
}

// reset re-arms the Falco task: the workloads and decoys back, the answer file moved aside, /etc/falco as the lab
// made it, the truth recorded again.
func (falcoLab) reset(ctx context.Context, cacheDir string, s *State, in *scenarios.Instance, c kubernetes.Interface, st *status.Status, out io.Writer) error {
	node := NodeContainer(WorkerContainer(s.Name))
	if err := putWorkloadsBack(ctx, s, in, c, st, "Putting the workloads and decoys back"); err != nil {
		return err
	}
	if err := falcoruntime.MoveAnswerAside(AnswerPath(s, in), in.AnswerFile, time.Now(), out); err != nil {
		return err
	}
	if s.Falco.Installed {
		if err := st.Step("Restoring Falco's configuration ("+falco.ConfigDir+")", func() error {
			if err := falco.RestoreConfig(ctx, node); err != nil {
				return err
			}
			return falco.WaitRunning(ctx, node, s.Falco.Version, time.Minute)
		}); err != nil {
			return err
		}
	}
	if err := st.Step("Recording the offenders' container ids again", func() error {
		truth, err := falcoruntime.Rearm(ctx, node, c, in)
		if err != nil {
			return err
		}
		s.Truth = truth
		return nil
	}); err != nil {
		return err
	}
	s.HintsShown = 0
	s.TaskStartedAt = time.Now().UTC() // the task starts again; attempts and Revealed are kept
	return s.Save(cacheDir)
}

// installFalco installs Falco on the worker when the preflight (done while
// the node was prepared) allows, or records plainly why the lab has none.
// It never pretends.
func (l *Lab) installFalco(ctx context.Context, worker nodes.Node, pre falco.Preflight) error {
	o, st := l.opts, l.opts.Status
	n := falco.KindNode(worker)
	l.State.Falco = FalcoState{}
	// The package for the node's architecture, checked before anything is installed: one Falco does not
	// ship, or one no checksum vouches for, leaves the lab without Falco, saying so in one line.
	machine, err := n.Exec(ctx, nil, "uname", "-m")
	if err != nil {
		return fmt.Errorf("reading the architecture of %s: %w", cluster.WorkerNodeName(o.Name), err)
	}
	def, err := falco.ForMachine(string(machine), o.FalcoPackage, o.FalcoSHA256)
	if err != nil {
		l.noFalco(err, nil)
		return nil
	}
	var warnings []string
	if !pre.OK() {
		if o.FalcoPreflight != PreflightWarn && !o.IgnoreFalcoPreflight {
			l.State.Falco.Missing = pre.Error()
			o.Logger.Warn("This lab has no Falco. " + pre.Error())
			return nil
		}
		for _, p := range pre.Problems {
			warnings = append(warnings, p.Problem)
		}
		how := "--falco-preflight=warn"
		if o.IgnoreFalcoPreflight {
			how = "IgnoreFalcoPreflight (the e2e suite)"
		}
		o.Logger.Warn(how + ": installing Falco although the preflight found: " + strings.Join(warnings, " "))
	}
	if def.Repo {
		return l.installFalcoFromRepo(ctx, n, def.Version, warnings)
	}
	var pkg string
	want := def.Version
	if v, ok := falco.VersionFromFileName(o.FalcoPackage); ok {
		want = v // the step names the Falco it installs, not the pinned one
	}
	fetchErr := st.Step("Getting the Falco "+want+" package", func() error {
		var err error
		pkg, err = falco.Fetch(ctx, def, falco.FetchOptions{CacheDir: o.CacheDir, LocalPackage: o.FalcoPackage, SHA256: o.FalcoSHA256})
		return err
	})
	if errors.Is(fetchErr, falco.ErrNoPackage) {
		l.noFalco(fetchErr, warnings)
		return nil
	}
	if fetchErr != nil {
		return fetchErr
	}
	version := def.Version
	if v, ok := falco.VersionFromFileName(pkg); ok {
		version = v
	}
	if err := st.Step("Installing Falco "+version+" on "+cluster.WorkerNodeName(o.Name), func() error {
		return falco.Install(ctx, n, pkg, version, o.Logger.V(1).Infof)
	}); err != nil {
		return err
	}
	return l.startFalco(ctx, n, version, warnings)
}

// installFalcoFromRepo installs Falco from its signed apt repository (an aarch64 node, for which ckslab pins no
// package checksum): the key checked against the pinned fingerprint on this machine, apt checking the rest.
// No key, or a node that cannot reach the repository, leaves the lab without Falco, saying why.
func (l *Lab) installFalcoFromRepo(ctx context.Context, n falco.Node, version string, warnings []string) error {
	o, st := l.opts, l.opts.Status
	var keyring []byte
	err := st.Step("Getting Falco's signed repository key", func() error {
		var err error
		keyring, err = falco.FetchRepoKeyring(ctx, o.CacheDir, nil)
		return err
	})
	if err == nil {
		err = st.Step("Installing Falco "+version+" on "+cluster.WorkerNodeName(o.Name)+" from Falco's signed repository", func() error {
			return falco.InstallFromRepo(ctx, n, keyring, version, o.Logger.V(1).Infof)
		})
	}
	if errors.Is(err, falco.ErrNoPackage) {
		l.noFalco(err, warnings)
		return nil
	}
	if err != nil {
		return err
	}
	return l.startFalco(ctx, n, version, warnings)
}

// noFalco records, and says, why the lab has no Falco package (falco.ErrNoPackage).
func (l *Lab) noFalco(err error, warnings []string) {
	l.State.Falco = FalcoState{Missing: err.Error(), PreflightWarnings: warnings}
	l.opts.Logger.Warn("This lab has no Falco: " + err.Error())
}

// startFalco starts an installed Falco and records whether it runs.
func (l *Lab) startFalco(ctx context.Context, n falco.Node, version string, warnings []string) error {
	o, st := l.opts, l.opts.Status
	// A Falco that installs but does not run (a kernel or a machine it does not support) leaves a lab without
	// Falco, saying why in Falco's own words; it is noticed within seconds when the service fails.
	var startErr *falco.StartError
	err := st.Step("Starting Falco "+version, func() error { return falco.WaitRunning(ctx, n, version, 2*time.Minute) })
	switch {
	case errors.As(err, &startErr):
		if serr := falco.StopService(context.WithoutCancel(ctx), n, ""); serr != nil {
			o.Logger.Warn(serr.Error())
		}
		l.State.Falco = FalcoState{Version: version, PreflightWarnings: warnings,
			Missing: startErr.Summary() + ". ckslab up" + nameFlag(o.Name) + " tries again"}
		o.Logger.Warn("This lab has no Falco: " + startErr.Error() + ".\nFalco's last lines (its journal on " +
			cluster.WorkerNodeName(o.Name) + ", then a run in the foreground when that did not say why):\n  " + strings.Join(lastN(startErr.Lines, 12), "\n  ") +
			"\nThe lab runs without Falco; ckslab up" + nameFlag(o.Name) + " tries Falco again.")
		return nil
	case err != nil:
		return err
	}
	l.State.Falco = FalcoState{Installed: true, Version: version, PreflightWarnings: warnings}
	return nil
}

func lastN(lines []string, n int) []string {
	if len(lines) > n {
		return lines[len(lines)-n:]
	}
	return lines
}

// retryFalco runs the Falco part of up again on a lab that is up without Falco: the preflight, the package,
// the install and the start. It returns ErrAlreadyUp (and the state, with the reason updated) when the lab
// still has no Falco and nothing else was repaired, and the state otherwise.
func (l *Lab) retryFalco(ctx context.Context, n falco.Node) (*State, error) {
	o, st := l.opts, l.opts.Status
	worker, err := l.provider.Worker(o.Name)
	if err != nil {
		return nil, err
	}
	var pre falco.Preflight
	if err := st.Step("This lab has no Falco; trying again: the Falco preflight", func() error {
		pre, err = falco.CheckNode(ctx, n, falco.Pinned)
		return err
	}); err != nil {
		return nil, err
	}
	if err := l.installFalco(ctx, worker, pre); err != nil {
		return nil, err
	}
	if l.State.Falco.Installed {
		if err := st.Step("Waiting for Falco's first alert of case 1", func() error {
			_, err := falco.WaitFirstAlert(ctx, n, falco.PackageAlertText, 2*time.Minute)
			return err
		}); err != nil {
			return nil, err
		}
	}
	if err := l.State.Save(o.CacheDir); err != nil {
		return nil, err
	}
	if !l.State.Falco.Installed && len(l.State.Repaired) == 0 {
		return l.State, ErrAlreadyUp
	}
	if l.State.Falco.Installed {
		l.State.Repaired = append(l.State.Repaired, "installed Falco "+l.State.Falco.Version+", which runs now")
	}
	return l.State, nil
}
