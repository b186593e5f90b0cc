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

	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/kind/pkg/cluster/nodes"
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

// ExamContext is the kubeconfig context the task tells the learner to use.
const ExamContext = "workload-prod"

// LabelKey marks the containers ckslab adds beside kind's nodes (the terminal).
const LabelKey = "dev.ckslab.lab"

// FalcoPackageEnv names a local Falco .deb when Options.FalcoPackage
// (--falco-package) is not given.
const FalcoPackageEnv = "CKSLAB_FALCO_PACKAGE"

// Options configure Up and Down.
type Options struct {
	Name string
	Seed int64
	// Images selects the image set (public or local).
	Images images.Mode
	// FalcoPackage is a local Falco .deb (offline classrooms); FalcoSHA256
	// overrides the pinned checksum of the download.
	FalcoPackage string
	FalcoSHA256  string
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
	}
	if err := ValidateName(o.Name); err != nil {
		return err
	}
	if o.FalcoPackage == "" {
		// The same local package for every up (make lab, the e2e suite) without a flag.
		o.FalcoPackage = os.Getenv(FalcoPackageEnv)
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
	l := &Lab{opts: opts}
	st := opts.Status

	prev, err := Load(opts.CacheDir, opts.Name)
	switch {
	case errors.Is(err, ErrNoLab):
	case err != nil:
		return nil, err
	case prev.Version != version.Get():
		return nil, fmt.Errorf("lab %q was made by ckslab %s, this is %s: remove it first with: ckslab down --name %s", opts.Name, prev.Version, version.Get(), opts.Name)
	case !prev.ReadyAt.IsZero():
		return prev, ErrAlreadyUp
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
		return nil, fmt.Errorf("a kind cluster named %q exists that is not a ckslab lab; delete it (kind delete cluster --name %s) or choose another name with --name", opts.Name, opts.Name)
	}
	if prev != nil {
		l.State = prev
	} else {
		l.State = &State{Schema: StateSchema, Version: version.Get(), Name: opts.Name, Seed: opts.Seed, CreatedAt: time.Now().UTC()}
	}
	l.State.Images = ImagesState{Mode: string(l.set.Mode), Node: l.set.Node, Nginx: l.set.Nginx, Httpd: l.set.Httpd, Terminal: l.set.Terminal}
	l.State.Context = kubeconfig.ContextName(opts.Name, DefaultName, ExamContext)
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
		if derr := Down(context.WithoutCancel(ctx), opts); derr != nil && !errors.Is(derr, ErrNothingToRemove) {
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

func (l *Lab) converge(ctx context.Context, create bool) error {
	o, st := l.opts, l.opts.Status
	in, err := Instance(o.Name, l.State.Seed)
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
	if err := l.installFalco(ctx, worker, p.preflight); err != nil {
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
	if err := st.Step("Recording the offenders' container ids", func() error {
		return l.recordTruth(ctx, falco.KindNode(worker), p.client, in)
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
	truth, err := Truth(ctx, n, c, in, nil)
	if err != nil {
		return err
	}
	for _, w := range in.Offenders {
		if len(truth[w.Case]) == 0 {
			return fmt.Errorf("no container id of offender %s could be recorded", w.Key())
		}
	}
	l.State.Truth = truth
	return nil
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

// nameNode gives the worker the node's name as its host name (kind names
// the container <name>-worker), as on the exam's node, and restarts rsyslog,
// which reads the host name when it starts. It runs once the worker has
// joined: kubeadm pinned the node's name then (it passes the kubelet a
// --hostname-override because the names differed), so the host name can
// change without the kubelet's node name following it.
func nameNode(ctx context.Context, n falco.Node, hostname string) error {
	if _, err := n.Exec(ctx, nil, "sh", "-c", `hostname "$1" && echo "$1" > /etc/hostname && (grep -q " $1\$" /etc/hosts || echo "127.0.1.1 $1" >> /etc/hosts) && systemctl restart rsyslog`, "sh", hostname); err != nil {
		return fmt.Errorf("naming the node %s: %w", hostname, err)
	}
	return nil
}

// installFalco installs Falco on the worker when the preflight (done while
// the node was prepared) allows, or records plainly why the lab has none.
// It never pretends.
func (l *Lab) installFalco(ctx context.Context, worker nodes.Node, pre falco.Preflight) error {
	o, st := l.opts, l.opts.Status
	n := falco.KindNode(worker)
	l.State.Falco = FalcoState{}
	if !pre.OK() {
		l.State.Falco.Missing = pre.Error()
		o.Logger.Warn("This lab has no Falco. " + pre.Error())
		return nil
	}
	var pkg string
	want := falco.Pinned.Version
	if v, ok := falco.VersionFromFileName(o.FalcoPackage); ok {
		want = v // the step names the Falco it installs, not the pinned one
	}
	fetchErr := st.Step("Getting the Falco "+want+" package", func() error {
		var err error
		pkg, err = falco.Fetch(ctx, falco.Pinned, falco.FetchOptions{CacheDir: o.CacheDir, LocalPackage: o.FalcoPackage, SHA256: o.FalcoSHA256})
		return err
	})
	if errors.Is(fetchErr, falco.ErrNoPackage) {
		l.State.Falco.Missing = fetchErr.Error()
		o.Logger.Warn("This lab has no Falco: " + fetchErr.Error())
		return nil
	}
	if fetchErr != nil {
		return fetchErr
	}
	version := falco.Pinned.Version
	if v, ok := falco.VersionFromFileName(pkg); ok {
		version = v
	}
	if err := st.Step("Installing Falco "+version+" on "+cluster.WorkerNodeName(o.Name), func() error {
		if err := falco.Install(ctx, n, pkg, version, o.Logger.V(1).Infof); err != nil {
			return err
		}
		return falco.WaitHealthy(ctx, n, 2*time.Minute)
	}); err != nil {
		return err
	}
	l.State.Falco = FalcoState{Installed: true, Version: version}
	return nil
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
