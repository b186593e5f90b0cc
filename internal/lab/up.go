package lab

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"sigs.k8s.io/kind/pkg/log"

	"github.com/ckslab/ckslab/falco"
	"github.com/ckslab/ckslab/internal/cluster"
	"github.com/ckslab/ckslab/internal/docker"
	"github.com/ckslab/ckslab/internal/exec"
	"github.com/ckslab/ckslab/internal/images"
	"github.com/ckslab/ckslab/internal/kubeconfig"
	"github.com/ckslab/ckslab/internal/status"
	"github.com/ckslab/ckslab/internal/version"
	"github.com/ckslab/ckslab/scenarios"
)

// LabelKey marks the containers ckslab adds beside kind's nodes (the terminal).
const LabelKey = "dev.ckslab.lab"

// FalcoPackageEnv names a local Falco .deb when Options.FalcoPackage
// (--falco-package) is not given.
const FalcoPackageEnv = "CKSLAB_FALCO_PACKAGE"

// PreflightMode says what a Falco preflight problem does.
type PreflightMode string

// Preflight modes (--falco-preflight).
const (
	PreflightRefuse PreflightMode = "refuse"
	PreflightWarn   PreflightMode = "warn"
)

// PreflightModes lists the modes, for help and completion.
var PreflightModes = []string{string(PreflightRefuse), string(PreflightWarn)}

// ParsePreflightMode reads --falco-preflight ("" is the default, refuse).
func ParsePreflightMode(s string) (PreflightMode, error) {
	switch PreflightMode(s) {
	case "", PreflightRefuse:
		return PreflightRefuse, nil
	case PreflightWarn:
		return PreflightWarn, nil
	}
	return "", fmt.Errorf("%q is not a preflight mode: use refuse (the default) or warn", s)
}

// Options configure Up and Down.
type Options struct {
	// Name is the lab's name; up's default is the scenario's cluster name (cluster1 for the Falco scenario).
	Name string
	// Scenario is the id of the scenario up makes a lab for; empty: the lab's own when it exists (a repair),
	// else ScenarioID. A lab keeps its scenario.
	Scenario string
	Seed     int64
	// Images selects the image set (public or local).
	Images images.Mode
	// FalcoPackage is a local Falco .deb (offline classrooms); FalcoSHA256
	// overrides the pinned checksum of the download.
	FalcoPackage string
	FalcoSHA256  string
	// FalcoPreflight is what a problem the Falco preflight finds does: PreflightRefuse (the default: no
	// Falco, saying why) or PreflightWarn (install it anyway, saying which problem, for Falco builds that
	// tolerate it, e.g. a refused RLIMIT_MEMLOCK raise on kernels 5.11 and later).
	FalcoPreflight PreflightMode
	// IgnoreFalcoPreflight installs the Falco package whatever the preflight finds, as PreflightWarn does,
	// and allows the e2e suite's stand-in for Falco (e2e/falcostandin, falco.IsStandIn), which up refuses
	// without it. Only the e2e suite sets it, to install the stand-in on machines like this project's CI;
	// it is no CLI flag.
	IgnoreFalcoPreflight bool
	// Retain keeps a half-built cluster when up fails, for debugging.
	Retain bool
	// Purge makes down remove the learner's work (course folder, kept
	// grades) too, instead of moving it under <cache>/attempts.
	Purge bool
	// CacheDir is ckslab's cache (images, Falco, labs' state).
	CacheDir string
	// Kubeconfig is the user's kubeconfig that gets the lab's context
	// (default: $KUBECONFIG's first file or ~/.kube/config).
	Kubeconfig string
	Logger     log.Logger
	Status     *status.Status
	Out        io.Writer
}

func (o *Options) defaults() error {
	if o.Name == "" {
		o.Name = DefaultName
		if o.Scenario != "" {
			if sc, err := scenarios.Load(o.Scenario); err == nil {
				o.Name = sc.Spec.Cluster
			}
		}
	}
	if err := ValidateName(o.Name); err != nil {
		return err
	}
	if o.FalcoPreflight == "" {
		o.FalcoPreflight = PreflightRefuse
	}
	if o.FalcoPackage == "" {
		// The same local package for every up (make lab, the e2e suite) without a flag.
		o.FalcoPackage = os.Getenv(FalcoPackageEnv)
	}
	if v, ok := falco.VersionFromFileName(o.FalcoPackage); ok && falco.IsStandIn(v) && !o.IgnoreFalcoPreflight {
		return fmt.Errorf("%s is the e2e suite's stand-in for Falco (version %s), not Falco: ckslab installs it only in its e2e tests; give a Falco package", o.FalcoPackage, v)
	}
	if o.CacheDir == "" {
		d, err := images.CacheDir(os.Getenv)
		if err != nil {
			return err
		}
		o.CacheDir = d
	}
	if o.Kubeconfig == "" {
		p, err := kubeconfig.DefaultPath()
		if err != nil {
			return err
		}
		o.Kubeconfig = p
	}
	if o.Logger == nil {
		o.Logger = log.NoopLogger{}
	}
	if o.Status == nil {
		o.Status = status.New(io.Discard, false)
	}
	if o.Out == nil {
		o.Out = io.Discard
	}
	return nil
}

// Paths of a lab's files in its cache folder.
func kindKubeconfig(cacheDir, name string) string {
	return filepath.Join(Dir(cacheDir, name), "kubeconfig")
}

// CourseDir is the host folder the exam terminal mounts at /opt/course.
func CourseDir(cacheDir, name string) string { return filepath.Join(Dir(cacheDir, name), "course") }

// TerminalName is the exam terminal's container name.
func TerminalName(name string) string { return name + "-terminal" }

// WorkerContainer is the worker node's container (kind's name for it).
func WorkerContainer(name string) string { return name + "-worker" }

// ControlPlaneContainer is the control plane's container.
func ControlPlaneContainer(name string) string { return name + "-control-plane" }

// kindLogger is the logger kind gets: kind's own step lines would repeat
// ckslab's, so they show only with -v 1 or more.
func kindLogger(l log.Logger) log.Logger {
	if l.V(1).Enabled() {
		return l
	}
	return log.NoopLogger{}
}

// Lab is a lab being brought up or inspected.
type Lab struct {
	opts     Options
	engine   *docker.Engine
	provider *cluster.Provider
	set      *images.Set
	State    *State
}

// ErrAlreadyUp means up found the lab complete and changed nothing.
var ErrAlreadyUp = errors.New("the lab is already up")

// Up creates the lab, or converges one that an interrupted up left behind.
// A lab that is already up is left as it is (ErrAlreadyUp, with its state).
// On failure it removes what it created, unless opts.Retain.
func Up(ctx context.Context, opts Options) (*State, error) {
	if err := opts.defaults(); err != nil {
		return nil, err
	}
	release, err := hold(ctx, opts.CacheDir, opts.Name, "up", opts.Out)
	if err != nil {
		return nil, err
	}
	defer release()
	if err := CheckCourseDir(opts.CacheDir, opts.Name); err != nil {
		return nil, err
	}
	prev, err := Load(opts.CacheDir, opts.Name)
	chosen := opts.Scenario != ""
	switch {
	case chosen:
	case err == nil:
		opts.Scenario = prev.ScenarioID() // up on a lab without --scenario: that lab's
	default:
		opts.Scenario = ScenarioID
	}
	l := &Lab{opts: opts}
	st := opts.Status
	sc, serr := scenarios.Load(opts.Scenario)
	if serr != nil {
		return nil, serr
	}
	switch {
	case errors.Is(err, ErrNoLab):
		// the scenario's names for this lab, checked before anything is made (an auditing lab has no seeds)
		if _, err := InstanceOf(opts.Scenario, opts.Name, opts.Seed); err != nil {
			return nil, err
		}
	case err != nil:
		return nil, err
	case prev.ScenarioID() != opts.Scenario:
		return nil, fmt.Errorf("lab %q runs scenario %s, not %s: choose another name with --name, or remove it first with ckslab down%s",
			opts.Name, prev.ScenarioID(), opts.Scenario, nameFlag(opts.Name))
	case prev.Version != version.Get():
		return nil, fmt.Errorf("lab %q was made by ckslab %s, this is %s: remove it first with: ckslab down --name %s", opts.Name, prev.Version, version.Get(), opts.Name)
	case !prev.ReadyAt.IsZero():
		// Up already: a repair. Check the lab's containers and services, fix what is wrong, and try Falco
		// again when the lab has none (the machine, the package or the flags may differ).
		return l.repair(ctx, prev)
	}

	if err := st.Step("Checking the Docker engine", func() error {
		l.engine, err = docker.Ensure(ctx, docker.Options{CacheDir: opts.CacheDir, Logger: opts.Logger})
		if err != nil {
			return err
		}
		return checkResources(ctx, l.engine.Local())
	}); err != nil {
		return nil, err
	}
	if err := st.Step(fmt.Sprintf("Resolving the %s image set", opts.Images), func() error {
		l.set, err = images.Resolve(ctx, opts.Images, images.WithCacheDir(opts.CacheDir), images.WithInspector(l.engine))
		return err
	}); err != nil {
		return nil, err
	}
	l.provider = cluster.NewProvider(l.engine, cluster.ProviderWithLogger(kindLogger(opts.Logger)))

	exists, err := l.provider.Exists(opts.Name)
	if err != nil {
		return nil, err
	}
	if exists && prev == nil {
		if left, _ := exec.Lines(ctx, "docker", "ps", "--all", "--quiet", "--filter", "label="+LabelKey+"="+opts.Name); len(left) > 0 {
			return nil, fmt.Errorf("lab %q has a cluster and an exam terminal but its folder %s is gone (its state and your course folder with it): remove what is left with ckslab down --name %s, then run ckslab up --name %s",
				opts.Name, Dir(opts.CacheDir, opts.Name), opts.Name, opts.Name)
		}
		return nil, fmt.Errorf("a kind cluster named %q exists that is not a ckslab lab; delete it (kind delete cluster --name %s) or choose another name with --name", opts.Name, opts.Name)
	}
	if prev != nil {
		l.State = prev
	} else {
		l.State = &State{Schema: StateSchema, Version: version.Get(), Name: opts.Name, Scenario: opts.Scenario, Seed: opts.Seed, CreatedAt: time.Now().UTC()}
	}
	l.State.Images = ImagesState{Mode: string(l.set.Mode), Node: l.set.Node, Nginx: l.set.Nginx, Httpd: l.set.Httpd, Terminal: l.set.Terminal}
	l.State.Context = kubeconfig.ContextName(opts.Name, sc.Spec.Cluster, sc.Spec.Context)
	l.State.Kubeconfig = opts.Kubeconfig
	l.State.Terminal = TerminalName(opts.Name)
	l.State.CourseDir = CourseDir(opts.CacheDir, opts.Name)
	// Saved before anything is created: an interrupted up is found and converged.
	if err := l.State.Save(opts.CacheDir); err != nil {
		return nil, fmt.Errorf("saving the lab's state: %w", err)
	}

	if err := l.converge(ctx, !exists); err != nil {
		if opts.Retain {
			return nil, fmt.Errorf("%w\nThe half-built lab is kept (--retain): inspect it with ckslab ssh %s, remove it with ckslab down --name %s", err, cluster.WorkerNodeName(opts.Name), opts.Name)
		}
		opts.Logger.Warnf("up failed; removing what it created (use --retain to keep it)")
		if derr := down(context.WithoutCancel(ctx), opts); derr != nil && !errors.Is(derr, ErrNothingToRemove) {
			return nil, fmt.Errorf("%w\nCleaning up also failed: %v", err, derr)
		}
		return nil, err
	}
	l.State.ReadyAt = time.Now().UTC()
	l.State.TaskStartedAt = l.State.ReadyAt
	if err := l.State.Save(opts.CacheDir); err != nil {
		return nil, err
	}
	return l.State, nil
}

// repair checks a lab that is up: its containers running (a stopped one is started again: an engine restart
// leaves the terminal exited in labs made before it had a restart policy), the worker's rsyslog, sshd and truth
// recorder active, the kubeconfig context present, the API answering and both nodes Ready through it, the exam
// terminal's kubectl and `ssh <node>` working (checkParts), the Falco service active when the lab has Falco;
// and it tries Falco again when the lab has none. What it fixed is in the state's Repaired; it returns
// ErrAlreadyUp when it changed nothing.
func (l *Lab) repair(ctx context.Context, prev *State) (*State, error) {
	o, st := l.opts, l.opts.Status
	l.State = prev
	prev.Repaired = nil
	var err error
	if err := st.Step("Checking the Docker engine", func() error {
		l.engine, err = docker.Ensure(ctx, docker.Options{CacheDir: o.CacheDir, Logger: o.Logger})
		if err != nil {
			return err
		}
		// kind's node commands are docker exec --privileged: through the shim where the engine refuses that,
		// in this process too (a repair is often the first ckslab command after a reboot).
		_, err = l.engine.PrepareForKind(ctx, prev.Images.Node)
		return err
	}); err != nil {
		return nil, err
	}
	if err := st.Step("Checking the lab's containers", func() error {
		for _, c := range []string{ControlPlaneContainer(o.Name), WorkerContainer(o.Name), TerminalName(o.Name)} {
			state := containerState(ctx, c)
			switch state {
			case "running":
				continue
			case "missing":
				return fmt.Errorf("lab %q has lost its container %s, which up cannot make again on its own: remove the lab with ckslab down%s (your work is kept aside) and run ckslab up%s",
					o.Name, c, nameFlag(o.Name), nameFlag(o.Name))
			}
			if err := exec.Command("docker", "start", c).Run(ctx); err != nil {
				return fmt.Errorf("starting %s again (it was %s): %w", c, state, err)
			}
			prev.Repaired = append(prev.Repaired, fmt.Sprintf("started %s again (it was %s)", c, state))
		}
		return nil
	}); err != nil {
		return nil, err
	}
	l.provider = cluster.NewProvider(l.engine, cluster.ProviderWithLogger(kindLogger(o.Logger)))
	worker, err := l.provider.Worker(o.Name)
	if err != nil {
		return nil, fmt.Errorf("lab %q: its worker cannot be found: %w", o.Name, err)
	}
	n := falco.KindNode(worker)
	// Every part a learner uses, fixed where it can be: the node's services, the context, the API, the terminal.
	if err := l.checkParts(ctx, prev, n, len(prev.Repaired) > 0); err != nil {
		return nil, fmt.Errorf("%w\nThe lab could not be repaired: remove it with ckslab down%s (your work is kept aside) and run ckslab up%s", err, nameFlag(o.Name), nameFlag(o.Name))
	}
	if !HasFalco(prev) {
		// no Falco in this scenario's labs
		if err := prev.Save(o.CacheDir); err != nil {
			return nil, err
		}
		if len(prev.Repaired) == 0 {
			return prev, ErrAlreadyUp
		}
		return prev, nil
	}
	if prev.Falco.Installed {
		if out, err := n.Exec(ctx, nil, "systemctl", "is-active", falco.Service); err != nil {
			was := strings.TrimSpace(string(out))
			if err := st.Step("Starting Falco again (it was "+was+")", func() error {
				if _, err := n.Exec(ctx, nil, "systemctl", "restart", falco.Service); err != nil {
					return err
				}
				return falco.WaitRunning(ctx, n, prev.Falco.Version, 2*time.Minute)
			}); err != nil {
				return nil, err
			}
			prev.Repaired = append(prev.Repaired, "started Falco again (it was "+was+")")
		}
		if err := prev.Save(o.CacheDir); err != nil {
			return nil, err
		}
		if len(prev.Repaired) == 0 {
			return prev, ErrAlreadyUp
		}
		return prev, nil
	}
	return l.retryFalco(ctx, n)
}

func (l *Lab) converge(ctx context.Context, create bool) error {
	o, st := l.opts, l.opts.Status
	in, err := Instance(l.State)
	if err != nil {
		return err
	}
	p := newPreparation(l, in, create)
	defer p.stopWarm()
	if create {
		// Everything that needs only part of the cluster runs alongside
		// kind's create, each task waiting for the part it needs: the
		// terminal for the kind network, the node's services for the worker
		// container, the context and the workloads for the API server.
		if err := st.Step(fmt.Sprintf("Creating cluster %q (worker %s); terminal, node services, workloads alongside", o.Name, cluster.WorkerNodeName(o.Name)), func() error {
			return p.alongside(ctx, func(ctx context.Context) error {
				return l.provider.Create(ctx, o.Name,
					cluster.CreateWithImages(l.set),
					cluster.CreateWithRetain(o.Retain),
					// No wait for Ready here: the wait for the workloads covers it.
					cluster.CreateWithKubeconfigPath(kindKubeconfig(o.CacheDir, o.Name)))
			})
		}); err != nil {
			return err
		}
	} else {
		// Converging a lab an interrupted up left: the same tasks, one after the other.
		for _, t := range []struct {
			msg string
			fn  func(context.Context) error
		}{
			{"Adding kubeconfig context " + l.State.Context + " and deploying the workloads", p.kube},
			{"Starting the exam terminal", p.terminal},
			{"Preparing the worker: syslog, ssh, its name and the Falco preflight", p.node},
		} {
			if err := st.Step(t.msg, func() error { return t.fn(ctx) }); err != nil {
				return err
			}
		}
	}
	worker, err := l.provider.Worker(o.Name)
	if err != nil {
		return err
	}
	k := scenarioLabOf(in)
	if err := k.beforeWorkloads(ctx, l, p, worker); err != nil {
		return err
	}
	if err := st.Step("Waiting for the workloads to run (and checking the terminal's kubectl and ssh)", func() error {
		return runConcurrently(ctx, []task{
			{"the terminal's kubectl and ssh", p.finishTerminal},
			{"the workloads available", func(ctx context.Context) error {
				return WaitAvailable(ctx, p.client, p.objs.Deployments, 4*time.Minute)
			}},
		}, o.Logger.V(1).Infof)
	}); err != nil {
		return err
	}
	p.waitWarm()
	return k.arm(ctx, l, p, worker)
}

// startNodeServices makes the worker's services those of an exam node:
// rsyslog writes /var/log/syslog and sshd runs. The local image set has
// both; a node image without them (kind's public one) gets them from
// Debian's archive.
func startNodeServices(ctx context.Context, n falco.Node) error {
	if _, err := n.Exec(ctx, nil, "sh", "-c", "command -v rsyslogd && command -v sshd"); err != nil {
		if _, err := n.Exec(ctx, nil, "sh", "-c", "apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends rsyslog openssh-server"); err != nil {
			return fmt.Errorf("installing rsyslog and openssh-server on the node (needs Debian's archive): %w", err)
		}
	}
	// Enabled (so a restarted node has them) only when not yet: enabling
	// goes through Debian's SysV helper and takes most of a second.
	if _, err := n.Exec(ctx, nil, "sh", "-c", `for u in rsyslog ssh; do systemctl -q is-enabled "$u" 2>/dev/null || systemctl enable "$u" || exit; done; systemctl start rsyslog ssh`); err != nil {
		return fmt.Errorf("enabling and starting rsyslog and ssh on the node: %w", err)
	}
	return nil
}

// nameNode gives a node its exam name as its host name (kind names the
// containers <name>-worker and <name>-control-plane), as on the exam's nodes,
// and restarts rsyslog where it runs (it reads the host name when it starts). It runs once the worker has
// joined: kubeadm pinned the node's name then (it passes the kubelet a
// --hostname-override because the names differed), so the host name can
// change without the kubelet's node name following it.
//
// The engine gives the container its own name back each time it starts it (a restart of the engine, a
// reboot), so a unit names it again at every boot, before rsyslog and sshd start.
func nameNode(ctx context.Context, n falco.Node, hostname string) error {
	for _, f := range []struct{ path, text string }{
		{"/etc/ckslab-hostname", hostname + "\n"}, {nameScriptPath, nameScript}, {"/etc/systemd/system/" + nameUnit, nameUnitText},
	} {
		if err := falco.WriteFile(ctx, n, f.path, strings.NewReader(f.text)); err != nil {
			return fmt.Errorf("naming the node %s (%s): %w", hostname, f.path, err)
		}
	}
	if _, err := n.Exec(ctx, nil, "sh", "-c", "systemctl daemon-reload && systemctl enable --quiet "+nameUnit+" && sh "+nameScriptPath+" && systemctl try-restart rsyslog"); err != nil {
		return fmt.Errorf("naming the node %s: %w", hostname, err)
	}
	return nil
}

// kubeletFlags is where kubeadm writes the kubelet's flags on a node.
const kubeletFlags = "/var/lib/kubelet/kubeadm-flags.env"

// nameNodeIfPinned names a node hostname (nameNode) only when its kubelet's node name is pinned to that name
// (kubeadm's --hostname-override, written when the node's registration name differs from its host name): a
// kubelet that takes its name from the host name would otherwise register a second node at its next start. A
// control plane made before ckslab named it <cluster>-controlplane1 keeps kind's name. It says whether it named it.
func nameNodeIfPinned(ctx context.Context, n falco.Node, hostname string) (bool, error) {
	// node names are [a-z0-9.-]: only the dots need escaping in the pattern
	pattern := "--hostname-override=" + strings.ReplaceAll(hostname, ".", `\.`) + `([ "]|$)`
	if _, err := n.Exec(ctx, nil, "grep", "-qE", "--", pattern, kubeletFlags); err != nil {
		return false, nil
	}
	return true, nameNode(ctx, n, hostname)
}

// The unit that names the node at boot (nameNode), and its script, which reads the name from /etc/ckslab-hostname.
const (
	nameUnit       = "ckslab-hostname.service"
	nameScriptPath = "/usr/local/sbin/ckslab-hostname"
	nameScript     = `h=$(cat /etc/ckslab-hostname) && hostname "$h" && { echo "$h" > /etc/hostname || true; } && { grep -q " $h\$" /etc/hosts || echo "127.0.1.1 $h" >> /etc/hosts; }
`
	nameUnitText = `[Unit]
Description=ckslab: the node's name as its host name (the engine names the container otherwise)
DefaultDependencies=no
Before=rsyslog.service ssh.service
After=local-fs.target

[Service]
Type=oneshot
ExecStart=/bin/sh ` + nameScriptPath + `

[Install]
WantedBy=sysinit.target
`
)

// nameFlag is " --name N" for a lab that is not the default one.
func nameFlag(name string) string {
	if name == DefaultName {
		return ""
	}
	return " --name " + name
}

func containerIP(ctx context.Context, container string) (string, error) {
	out, err := exec.Output(ctx, "docker", "inspect", "--format", "{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}", container)
	if err != nil {
		return "", err
	}
	f := strings.Fields(string(out))
	if len(f) == 0 {
		return "", fmt.Errorf("container %s has no IP address", container)
	}
	return f[0], nil
}
