package lab

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/ckslab/ckslab/falco"
	examimages "github.com/ckslab/ckslab/images"
	"github.com/ckslab/ckslab/internal/cluster"
	"github.com/ckslab/ckslab/internal/exec"
	"github.com/ckslab/ckslab/internal/kubeconfig"
	"github.com/ckslab/ckslab/internal/wait"
	"github.com/ckslab/ckslab/manifests"
	"github.com/ckslab/ckslab/scenarios"
)

// How long a task prepared alongside kind's create waits for the part of
// the cluster it needs. kind's create takes well under a minute on a laptop;
// these only bound a create that hangs.
const alongsideTimeout = 5 * time.Minute

// preparation is what up does besides kind's create: the exam terminal, the
// worker's services and Falco preflight, the kubeconfig context and the
// workloads. When up creates the cluster these run alongside kind's create,
// each polling for the part of the cluster it needs (the worker's address,
// the booted worker, the API server); when up converges an existing cluster
// they run one after the other and find everything there.
type preparation struct {
	l  *Lab
	in *scenarios.Instance
	// poll: the cluster is being created; wait for its parts.
	poll bool

	// Results, each written by one task.
	pub       []byte        // the terminal's public ssh key
	pubReady  chan struct{} // closed when pub is set
	apiReady  chan struct{} // closed when the API server answers ready
	preflight falco.Preflight
	client    kubernetes.Interface
	objs      *manifests.Objects

	// waitWarm waits for the readying of the nodes' images to end, stopWarm
	// ends it early; both are no-ops when there is none.
	waitWarm, stopWarm func()
}

func newPreparation(l *Lab, in *scenarios.Instance, creating bool) *preparation {
	return &preparation{l: l, in: in, poll: creating, pubReady: make(chan struct{}), apiReady: make(chan struct{}),
		waitWarm: func() {}, stopWarm: func() {}}
}

// alongside runs create and the preparation's tasks at the same time. It
// also starts readying the nodes' images, which may go on after the create
// (waitWarm waits for that; stopWarm ends it early).
func (p *preparation) alongside(ctx context.Context, create func(context.Context) error) error {
	wctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		// Only a head start, never fatal (warmImages): the error is nil.
		_ = runConcurrently(wctx, []task{
			{"the images on the worker", p.warmImages(WorkerContainer(p.l.opts.Name), true)},
			// The control plane runs two decoys: only their images. Giving
			// it the worker's order too (sandbox, CNI, workloads,
			// kube-proxy) was measured (bench-lab, 3 runs each): up took
			// 37.5 s and 65 core-s of CPU against 34.6 s and 59 with this;
			// its kubelet starts the CNI Pod when kind applies the CNI
			// manifest, a few seconds after the API server answers, and
			// unpacking that image twice at once is likely what it cost.
			{"the workloads' images on the control plane", p.warmImages(ControlPlaneContainer(p.l.opts.Name), false)},
		}, p.l.opts.Logger.V(1).Infof)
	}()
	p.waitWarm = func() { <-done }
	p.stopWarm = func() { cancel(); <-done }
	return runConcurrently(ctx, []task{
		{"the cluster (kind's create)", create},
		{"the exam terminal", p.terminal},
		{"the worker's services, name and Falco preflight", p.node},
		{"the kubeconfig context and the workloads", p.kube},
	}, p.l.opts.Logger.V(1).Infof)
}

// task is one piece of work run concurrently with others.
type task struct {
	what string
	fn   func(context.Context) error
}

// runConcurrently runs the tasks at the same time and returns the first
// failure, naming its task. A failure cancels the context the others run
// with, so their waits end; every task is waited for in every case (kind's
// create takes no context, and one cut short would leave containers nobody
// knows of). logf notes how long each task took.
func runConcurrently(ctx context.Context, tasks []task, logf func(string, ...any)) error {
	g, gctx := errgroup.WithContext(ctx)
	start := time.Now()
	for _, t := range tasks {
		g.Go(func() error {
			if err := t.fn(gctx); err != nil {
				return fmt.Errorf("%s: %w", t.what, err)
			}
			logf("Done after %s: %s", time.Since(start).Round(100*time.Millisecond), t.what)
			return nil
		})
	}
	return g.Wait()
}

// kube adds the exam's context to the user's kubeconfig and creates the
// workloads. While the cluster is created it waits for the control plane's
// kubeconfig and for the API server to be ready; the workloads' Pods then
// wait in the scheduler for the worker to join.
func (p *preparation) kube(ctx context.Context) error {
	o := p.l.opts
	kind := p.l.provider.Kind()
	var cfg string
	get := func(ctx context.Context) (bool, string, error) {
		var err error
		cfg, err = kind.KubeConfig(o.Name, false)
		if err != nil {
			return false, err.Error(), nil
		}
		return true, "", nil
	}
	if err := p.await(ctx, time.Second, "the control plane's kubeconfig", get); err != nil {
		return err
	}
	rest, err := clientcmd.RESTConfigFromKubeConfig([]byte(cfg))
	if err != nil {
		return fmt.Errorf("reading lab %q's kubeconfig: %w", o.Name, err)
	}
	c, err := kubernetes.NewForConfig(rest)
	if err != nil {
		return err
	}
	p.client = c
	if p.poll {
		if err := p.await(ctx, 250*time.Millisecond, "the API server to be ready", func(ctx context.Context) (bool, string, error) {
			body, err := c.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx)
			if err != nil {
				return false, strings.TrimSpace(err.Error() + " " + string(body)), nil
			}
			return true, "", nil
		}); err != nil {
			return err
		}
		close(p.apiReady)
	}
	if err := kubeconfig.AddContext(o.Kubeconfig, p.l.State.Context, o.Name, []byte(cfg)); err != nil {
		return err
	}
	if !p.poll {
		p.objs, err = ApplyWorkloads(ctx, c, p.in, p.l.set)
		return err
	}
	return p.await(ctx, 500*time.Millisecond, "the API server to accept the workloads", func(ctx context.Context) (bool, string, error) {
		var err error
		p.objs, err = ApplyWorkloads(ctx, c, p.in, p.l.set)
		if err != nil {
			// A control plane this young may still refuse (its
			// controllers start); the creates are idempotent.
			return false, err.Error(), nil
		}
		return true, "", nil
	})
}

// await waits for cond while the cluster is being created (polling every
// interval); on a cluster that exists it asks once, and what cond saw is
// the error.
func (p *preparation) await(ctx context.Context, interval time.Duration, what string, cond func(context.Context) (bool, string, error)) error {
	if p.poll {
		return wait.Poll(ctx, interval, alongsideTimeout, what, cond)
	}
	done, seen, err := cond(ctx)
	if err != nil || done {
		return err
	}
	return fmt.Errorf("%s: %s", what, seen)
}

// node prepares the worker (rsyslog, sshd, the truth recorder), checks
// whether Falco can run on it, authorises the terminal's key there and
// gives it the node's name as host name.
// While the cluster is created it first waits for its turn (waitTurn).
func (p *preparation) node(ctx context.Context) error {
	o := p.l.opts
	if err := p.waitTurn(ctx, WorkerContainer(o.Name)); err != nil {
		return err
	}
	w, err := p.l.provider.Worker(o.Name)
	if err != nil {
		return err
	}
	n := falco.KindNode(w)
	if err := startNodeServices(ctx, n); err != nil {
		return err
	}
	if err := scenarioLabOf(p.in).prepareNodes(ctx, p, n); err != nil {
		return err
	}
	select {
	case <-p.pubReady:
	case <-ctx.Done():
		return ctx.Err()
	}
	// the terminal's key on every node the task reaches with ssh
	for _, node := range SSHNodes(p.in) {
		if err := authorise(ctx, NodeContainer(nodeContainer(p.in, node)), p.pub, node); err != nil {
			return err
		}
	}
	// The host name changes once the worker has registered: its kubelet's
	// flags are written by then (nameNode says why that matters).
	if p.poll {
		if err := p.await(ctx, 250*time.Millisecond, "node "+cluster.WorkerNodeName(o.Name)+" to register", func(ctx context.Context) (bool, string, error) {
			_, err := p.client.CoreV1().Nodes().Get(ctx, cluster.WorkerNodeName(o.Name), metav1.GetOptions{})
			if err != nil {
				return false, err.Error(), nil
			}
			return true, "", nil
		}); err != nil {
			return err
		}
	}
	if err := nameNode(ctx, n, cluster.WorkerNodeName(o.Name)); err != nil {
		return err
	}
	// The control plane gets its exam name as host name too, for the prompt after ssh (the auditing task's
	// terminal, ckslab ssh); the worker's registration means the control plane's kubelet has its flags by then.
	_, err = nameNodeIfPinned(ctx, NodeContainer(ControlPlaneContainer(o.Name)), p.in.ControlPlaneNode)
	return err
}

// nodeContainer is the container of the node the task calls node (one of SSHNodes).
func nodeContainer(in *scenarios.Instance, node string) string {
	if node == in.ControlPlaneNode {
		return ControlPlaneContainer(in.Cluster)
	}
	return WorkerContainer(in.Cluster)
}

// authorise lets the exam terminal's key (pub) in as root on node n (named node in the task).
func authorise(ctx context.Context, n falco.Node, pub []byte, node string) error {
	if _, err := n.Exec(ctx, strings.NewReader(string(pub)), "sh", "-c", "mkdir -p /root/.ssh && chmod 700 /root/.ssh && cat > /root/.ssh/authorized_keys && chmod 600 /root/.ssh/authorized_keys"); err != nil {
		return fmt.Errorf("authorising the exam terminal's key on %s: %w", node, err)
	}
	return nil
}

// waitTurn is where a task alongside the create waits: until the API
// server is ready (kind has set up the control plane and goes on to join
// the worker) and the node container has booted. kind's first phase (node
// containers, kubeadm init) keeps both cores busy; the join leaves them
// mostly idle. Work started in the first phase only slowed kind down.
func (p *preparation) waitTurn(ctx context.Context, container string) error {
	if !p.poll {
		return nil
	}
	select {
	case <-p.apiReady:
	case <-ctx.Done():
		return ctx.Err()
	}
	return waitBooted(ctx, container)
}

// waitBooted waits until a node container exists and its systemd has
// finished starting.
func waitBooted(ctx context.Context, container string) error {
	return wait.Poll(ctx, 500*time.Millisecond, alongsideTimeout, "container "+container+" to boot", func(ctx context.Context) (bool, string, error) {
		out, err := exec.Output(ctx, "docker", "exec", container, "systemctl", "is-system-running", "--wait")
		state := strings.TrimSpace(string(out))
		if state == "running" || state == "degraded" {
			return true, "", nil
		}
		if err != nil {
			return false, strings.TrimSpace(state + " " + exec.OutputOf(err) + " " + err.Error()), nil
		}
		return false, state, nil
	})
}

// WarmImagesScript (sh -c, the images as arguments) makes each image given ready to run on a node before the
// kubelet asks for it: an image the node has (a node image with it
// preloaded, as kind preloads, still packed) is unpacked; one it lacks is
// pulled the way the kubelet would. Either is what makes a Pod's first
// container slow to create; done while kind still sets up Kubernetes, the
// workloads start sooner.
//
// containerd holds a name without a host under docker.io (nginx:T is docker.io/library/nginx:T), as the
// kubelet's requests name it.
const WarmImagesScript = `set -e
for img; do
  ref=
  for name in "$img" "docker.io/$img" "docker.io/library/$img"; do
    if ctr -n k8s.io images ls -q | grep -qxF "$name"; then ref=$name; break; fi
  done
  if [ -n "$ref" ]; then
    d=$(mktemp -d)
    ctr -n k8s.io images mount "$ref" "$d" >/dev/null
    ctr -n k8s.io images unmount --rm "$d" >/dev/null
    rmdir "$d"
  else
    crictl pull "$img" >/dev/null
  fi
done`

// warmImages readies the workloads' images on a node (WarmImagesScript)
// once it is its turn. On the worker it readies first what the node needs
// to become Ready, and kube-proxy last (WorkerImageOrder). A failure is
// noted (-v 1), not fatal.
func (p *preparation) warmImages(container string, worker bool) func(context.Context) error {
	return func(ctx context.Context) error {
		if err := p.waitTurn(ctx, container); err != nil {
			return err
		}
		imgs := []string{p.l.set.Nginx, p.l.set.Httpd}
		if worker {
			// Read from the node rather than from the API: kind creates the
			// DaemonSets only at the end of its control-plane phase, after
			// this starts.
			out, err := exec.Output(ctx, "docker", "exec", container, "sh", "-c", NodeImagesScript)
			if err != nil {
				p.l.opts.Logger.V(1).Infof("Could not list the images on %s: %v", container, err)
			}
			imgs = WorkerImageOrder(string(out), imgs)
		}
		if _, err := exec.Output(ctx, "docker", append([]string{"exec", container, "sh", "-c", WarmImagesScript, "sh"}, imgs...)...); err != nil && ctx.Err() == nil {
			// Only a head start: the kubelet pulls or unpacks them anyway,
			// and says so in the Pods' events if it cannot.
			p.l.opts.Logger.V(1).Infof("Could not ready the images %s on %s ahead of the kubelet: %v", strings.Join(imgs, ", "), container, err)
		}
		return ctx.Err()
	}
}

// NodeImagesScript prints the images a kind node holds, a line "---", and
// the CNI manifest kind applies (kind's node images keep it at this path).
const NodeImagesScript = `ctr -n k8s.io images ls -q; echo ---; cat /kind/manifests/default-cni.yaml 2>/dev/null || true`

// WorkerImageOrder orders the images to ready on the worker by when its
// kubelet needs them, from NodeImagesScript's output: the pod sandbox and
// the CNI's images first (the node is Ready only once its CNI Pod has
// written the network config, and the workloads are scheduled only then),
// then the workloads, then kube-proxy (which nothing here waits for). An
// image the output does not name is left out; workloads are always kept.
func WorkerImageOrder(out string, workloads []string) []string {
	var sandbox, proxy, cni []string
	inManifest := false
	for _, line := range strings.Split(out, "\n") {
		line = strings.TrimSpace(line)
		switch {
		case line == "---" && !inManifest:
			inManifest = true
		case !inManifest:
			if strings.Contains(line, "@") || strings.HasPrefix(line, "sha256:") {
				continue
			}
			switch imageBase(line) {
			case "pause":
				sandbox = append(sandbox, line)
			case "kube-proxy":
				proxy = append(proxy, line)
			}
		default:
			k, v, ok := strings.Cut(strings.TrimPrefix(line, "- "), ":")
			if ok && k == "image" {
				if ref := strings.Trim(strings.TrimSpace(v), `"'`); ref != "" {
					cni = append(cni, ref)
				}
			}
		}
	}
	var imgs []string
	for _, group := range [][]string{sandbox, cni, workloads, proxy} {
		for _, ref := range group {
			if !slices.Contains(imgs, ref) {
				imgs = append(imgs, ref)
			}
		}
	}
	return imgs
}

// imageBase is an image reference's last path element without its tag:
// "pause" for "example.test/pause:3.10".
func imageBase(ref string) string {
	name := ref[strings.LastIndex(ref, "/")+1:]
	name, _, _ = strings.Cut(name, ":")
	return name
}

// terminal runs the exam terminal: a container on kind's network that
// knows the worker by its node name, with the learner's tools, /opt/course
// from the host's course folder, and an ssh key for the node. While the
// cluster is created it first waits for its turn (waitTurn).
func (p *preparation) terminal(ctx context.Context) error {
	o := p.l.opts
	name := TerminalName(o.Name)
	if err := os.MkdirAll(filepath.Join(CourseDir(o.CacheDir, o.Name), "2"), 0o777); err != nil {
		return fmt.Errorf("creating the course folder: %w", err)
	}
	var ip string
	addr := func(ctx context.Context) (bool, string, error) {
		var err error
		ip, err = containerIP(ctx, WorkerContainer(o.Name))
		if err != nil {
			return false, err.Error(), nil
		}
		return true, "", nil
	}
	if err := p.waitTurn(ctx, WorkerContainer(o.Name)); err != nil {
		return err
	}
	if err := p.await(ctx, 250*time.Millisecond, "the worker container's address", addr); err != nil {
		return err
	}
	hosts := []string{"--add-host", cluster.WorkerNodeName(o.Name) + ":" + ip}
	for _, node := range SSHNodes(p.in) {
		if node == p.in.WorkerNode {
			continue
		}
		nodeIP, err := containerIP(ctx, nodeContainer(p.in, node))
		if err != nil {
			return err
		}
		hosts = append(hosts, "--add-host", node+":"+nodeIP)
	}
	running, err := exec.Output(ctx, "docker", "inspect", "--format", "{{.State.Running}}", name)
	switch {
	case err == nil && strings.TrimSpace(string(running)) == "true":
	case err == nil:
		if err := exec.Command("docker", "start", name).Run(ctx); err != nil {
			return err
		}
	default:
		argv := append([]string{"run", "--detach", "--name", name, "--hostname", name,
			// unless-stopped: the terminal comes back when the engine restarts (a laptop's reboot), as kind's nodes do
			"--restart", "unless-stopped",
			"--network", "kind", "--label", LabelKey + "=" + o.Name}, hosts...)
		argv = append(argv, "--volume", CourseDir(o.CacheDir, o.Name)+":/opt/course", "--workdir", "/root",
			"--entrypoint", "sleep", p.l.set.Terminal, "infinity")
		if err := exec.Command("docker", argv...).Run(ctx); err != nil {
			return fmt.Errorf("starting the exam terminal: %w", err)
		}
	}
	// Tools a learner expects; the local terminal image has them all.
	if _, err := p.inTerminal(ctx, nil, "sh", "-c", "command -v ssh && command -v vim && command -v jq && command -v less && test -f /usr/share/bash-completion/bash_completion"); err != nil {
		if _, err := p.inTerminal(ctx, nil, "sh", "-c", "apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends openssh-client vim less jq gawk procps bash-completion"); err != nil {
			return fmt.Errorf("installing the terminal's tools (needs Debian's archive): %w", err)
		}
	}
	// alias k=kubectl with completion, as the exam's terminal has (the local image has it already)
	if _, err := p.inTerminal(ctx, examimages.TerminalBashrc, "sh", "-c", terminalBashrcScript); err != nil {
		return fmt.Errorf("setting up the terminal's bash (alias k=kubectl): %w", err)
	}
	// ssh: a key made in the terminal; node authorises it.
	// HostName: the worker container's name, which the engine's DNS resolves on the kind network, so ssh still
	// finds the node when a restart of the engine gave it another address than /etc/hosts holds
	var sshConfig string
	for _, node := range SSHNodes(p.in) {
		sshConfig += sshHost(node, nodeContainer(p.in, node))
	}
	pub, err := p.inTerminal(ctx, []byte(sshConfig), "sh", "-c", "mkdir -p /root/.kube /root/.ssh && cat > /root/.ssh/config && chmod 600 /root/.ssh/config && "+
		"{ test -f /root/.ssh/id_ed25519 || ssh-keygen -q -t ed25519 -N '' -C ckslab-terminal -f /root/.ssh/id_ed25519; } && cat /root/.ssh/id_ed25519.pub")
	if err != nil {
		return fmt.Errorf("making the terminal's ssh key: %w", err)
	}
	p.pub = pub
	close(p.pubReady)
	return nil
}

// sshHost is the terminal's ssh configuration for a node known as node in the task, whose container is container.
func sshHost(node, container string) string {
	return fmt.Sprintf("Host %s\n  HostName %s\n  HostKeyAlias %s\n  User root\n  StrictHostKeyChecking accept-new\n", node, container, node)
}

// terminalBashrcScript appends its standard input (images.TerminalBashrc) to /etc/bash.bashrc once.
const terminalBashrcScript = `grep -qxF '# ckslab exam terminal' /etc/bash.bashrc 2>/dev/null || cat >> /etc/bash.bashrc`

// finishTerminal gives the terminal its kubeconfig (the cluster's internal
// address, context workload-prod; known only once the cluster exists) and
// checks that `ssh <name>-node1` works from it.
func (p *preparation) finishTerminal(ctx context.Context) error {
	o := p.l.opts
	internal, err := p.l.provider.Kind().KubeConfig(o.Name, true)
	if err != nil {
		return err
	}
	cfg, err := clientcmd.Load([]byte(internal))
	if err != nil {
		return err
	}
	c := cfg.Contexts[cfg.CurrentContext]
	delete(cfg.Contexts, cfg.CurrentContext)
	cfg.Contexts[p.in.Context] = c
	cfg.CurrentContext = p.in.Context
	kc, err := clientcmd.Write(*cfg)
	if err != nil {
		return err
	}
	if _, err := p.inTerminal(ctx, kc, "sh", "-c", "cat > /root/.kube/config && chmod 600 /root/.kube/config"); err != nil {
		return err
	}
	for _, node := range SSHNodes(p.in) {
		if _, err := p.inTerminal(ctx, nil, "ssh", "-o", "BatchMode=yes", "-o", "ConnectTimeout=10", node, "true"); err != nil {
			return fmt.Errorf("ssh %s from the exam terminal does not work: %w", node, err)
		}
	}
	return nil
}

// SSHNodes are the nodes the exam terminal reaches with ssh <node> (scenarios.Instance.SSHNodes).
func SSHNodes(in *scenarios.Instance) []string { return in.SSHNodes() }

func (p *preparation) inTerminal(ctx context.Context, stdin []byte, argv ...string) ([]byte, error) {
	c := exec.Command("docker", append([]string{"exec", "--interactive", TerminalName(p.l.opts.Name)}, argv...)...)
	c.Stdin = stdin
	return c.Output(ctx)
}
