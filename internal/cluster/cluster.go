// Package cluster creates and deletes a lab's kind cluster through kind's Go library (never a kind binary):
// a control plane and one worker whose Kubernetes node name is `<name>-node1`, on the nodes of an image set
// (internal/images), on an engine that internal/docker has made ready. `ckslab up` builds on it.
package cluster

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"sigs.k8s.io/kind/pkg/apis/config/v1alpha4"
	kindcluster "sigs.k8s.io/kind/pkg/cluster"
	"sigs.k8s.io/kind/pkg/cluster/nodes"
	"sigs.k8s.io/kind/pkg/cluster/nodeutils"
	"sigs.k8s.io/kind/pkg/log"

	"github.com/ckslab/ckslab/internal/docker"
	"github.com/ckslab/ckslab/internal/exec"
	"github.com/ckslab/ckslab/internal/images"
)

// LabelKey is the label kind puts on every container of a cluster (value: the cluster name).
const LabelKey = "io.x-k8s.kind.cluster"

// kindNetwork is the docker network kind puts all clusters on.
const kindNetwork = "kind"

// networkSettle bounds the wait for removed containers to leave kind's network.
const networkSettle = 10 * time.Second

// Provider creates and deletes lab clusters on one engine.
type Provider struct {
	engine *docker.Engine
	logger log.Logger
	kind   *kindcluster.Provider
}

// ProviderOption configures a Provider.
type ProviderOption func(*Provider)

// ProviderWithLogger sets the logger kind and ckslab write progress to (default: none).
func ProviderWithLogger(l log.Logger) ProviderOption { return func(p *Provider) { p.logger = l } }

// NewProvider returns a Provider for clusters on engine (from docker.Ensure).
func NewProvider(engine *docker.Engine, opts ...ProviderOption) *Provider {
	p := &Provider{engine: engine, logger: log.NoopLogger{}}
	for _, o := range opts {
		o(p)
	}
	p.kind = kindcluster.NewProvider(kindcluster.ProviderWithDocker(), kindcluster.ProviderWithLogger(p.logger))
	return p
}

// Kind is the underlying kind provider, for what this package does not wrap (KubeConfig, ListNodes, ...).
func (p *Provider) Kind() *kindcluster.Provider { return p.kind }

// createOptions are the settings of one Create.
type createOptions struct {
	set            *images.Set
	retain         bool
	kubeconfigPath string
	waitForReady   time.Duration
	host           *Host
	nodesOnly      bool // stop after the nodes and kubeadm's config exist (tests with fake node images)
}

// CreateOption configures Create.
type CreateOption func(*createOptions)

// CreateWithImages sets the image set (default: images.PublicSet()).
func CreateWithImages(set *images.Set) CreateOption { return func(o *createOptions) { o.set = set } }

// CreateWithRetain keeps the nodes of a cluster whose creation failed, for debugging.
func CreateWithRetain(retain bool) CreateOption { return func(o *createOptions) { o.retain = retain } }

// CreateWithKubeconfigPath writes the cluster's kubeconfig entry there instead of $KUBECONFIG or ~/.kube/config.
func CreateWithKubeconfigPath(path string) CreateOption {
	return func(o *createOptions) { o.kubeconfigPath = path }
}

// CreateWithWaitForReady makes kind wait up to d for the control plane to be Ready (default: no wait).
func CreateWithWaitForReady(d time.Duration) CreateOption {
	return func(o *createOptions) { o.waitForReady = d }
}

// CreateWithHost sets the host facts instead of detecting them (for tests and dry runs).
func CreateWithHost(h Host) CreateOption { return func(o *createOptions) { o.host = &h } }

// Config returns the kind configuration Create would use with these options.
func (p *Provider) Config(name string, opts ...CreateOption) *v1alpha4.Cluster {
	o := p.createOptions(opts)
	return Config(name, o.set, *o.host)
}

func (p *Provider) createOptions(opts []CreateOption) *createOptions {
	o := &createOptions{}
	for _, opt := range opts {
		opt(o)
	}
	if o.set == nil {
		o.set = images.PublicSet()
	}
	if o.host == nil {
		h := DetectHost(p.engine.CgroupVersion)
		o.host = &h
	}
	return o
}

// Create creates cluster name. It makes sure the node image is in the engine (pulling it only when absent),
// makes the engine ready for kind's privileged nodes (internal/docker.PrepareForKind), and creates the nodes
// with kind. An existing cluster of that name is an error.
func (p *Provider) Create(ctx context.Context, name string, opts ...CreateOption) error {
	o := p.createOptions(opts)
	if exists, err := p.Exists(name); err != nil {
		return err
	} else if exists {
		return fmt.Errorf("a kind cluster named %q already exists", name)
	}
	if err := p.engine.Pull(ctx, o.set.Node); err != nil {
		return err
	}
	if _, err := p.engine.PrepareForKind(ctx, o.set.Node); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	cfg := Config(name, o.set, *o.host)
	createOpts := []kindcluster.CreateOption{
		kindcluster.CreateWithV1Alpha4Config(cfg),
		kindcluster.CreateWithRetain(o.retain),
		kindcluster.CreateWithKubeconfigPath(o.kubeconfigPath),
		kindcluster.CreateWithDisplayUsage(false),
		kindcluster.CreateWithDisplaySalutation(false),
		kindcluster.CreateWithStopBeforeSettingUpKubernetes(o.nodesOnly),
	}
	if o.waitForReady > 0 {
		createOpts = append(createOpts, kindcluster.CreateWithWaitForReady(o.waitForReady))
	}
	if err := p.kind.Create(name, createOpts...); err != nil {
		return fmt.Errorf("creating kind cluster %q: %w", name, err)
	}
	return nil
}

// Exists reports whether a kind cluster of that name exists (any of its nodes, running or not).
func (p *Provider) Exists(name string) (bool, error) {
	clusters, err := p.kind.List()
	if err != nil {
		return false, fmt.Errorf("listing kind clusters: %w", err)
	}
	return slices.Contains(clusters, name), nil
}

// Nodes returns the cluster's node containers.
func (p *Provider) Nodes(name string) ([]nodes.Node, error) { return p.kind.ListNodes(name) }

// Worker returns the node container of the cluster's worker (Kubernetes node WorkerNodeName(name)).
func (p *Provider) Worker(name string) (nodes.Node, error) {
	all, err := p.kind.ListNodes(name)
	if err != nil {
		return nil, err
	}
	workers, err := nodeutils.SelectNodesByRole(all, "worker")
	if err != nil {
		return nil, err
	}
	if len(workers) != 1 {
		return nil, fmt.Errorf("cluster %q has %d workers, want 1", name, len(workers))
	}
	return workers[0], nil
}

// LoadImages puts images from the engine into every node of the cluster that does not have them yet (like
// `kind load docker-image`), pulling an image into the engine first only when it is absent there.
func (p *Provider) LoadImages(ctx context.Context, name string, refs ...string) error {
	all, err := p.kind.ListNodes(name)
	if err != nil {
		return err
	}
	if len(all) == 0 {
		return fmt.Errorf("cluster %q has no nodes", name)
	}
	if err := p.PrepareNodeCommands(ctx, name); err != nil {
		return err
	}
	for _, ref := range refs {
		if err := p.engine.Pull(ctx, ref); err != nil {
			return err
		}
		id, err := exec.Output(ctx, "docker", "image", "inspect", "--format", "{{.Id}}", ref)
		if err != nil {
			return err
		}
		var missing []nodes.Node
		for _, n := range all {
			if got, err := nodeutils.ImageID(n, ref); err != nil || got != strings.TrimSpace(string(id)) {
				missing = append(missing, n)
			}
		}
		if len(missing) == 0 {
			continue
		}
		p.logger.V(1).Infof("Loading %s into %d node(s)", ref, len(missing))
		if err := loadArchive(ctx, ref, missing); err != nil {
			return err
		}
	}
	return nil
}

// loadArchive saves ref from the engine to a temporary file and imports it into each node.
func loadArchive(ctx context.Context, ref string, into []nodes.Node) error {
	dir, err := os.MkdirTemp("", "ckslab-image-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	archive := filepath.Join(dir, "image.tar")
	if err := exec.Command("docker", "save", "--output", archive, ref).Run(ctx); err != nil {
		return fmt.Errorf("saving %s: %w", ref, err)
	}
	for _, n := range into {
		f, err := os.Open(archive)
		if err != nil {
			return err
		}
		err = nodeutils.LoadImageArchive(n, f)
		f.Close()
		if err != nil {
			return fmt.Errorf("loading %s into node %s: %w", ref, n.String(), err)
		}
	}
	return nil
}

// ExportLogs writes kind's logs of the cluster (nodes, containers, journal) to dir.
func (p *Provider) ExportLogs(name, dir string) error {
	if err := p.PrepareNodeCommands(context.Background(), name); err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	return p.kind.CollectLogs(name, dir)
}

// PrepareNodeCommands makes kind's node commands (node.Command runs `docker exec --privileged`) work in this
// process on an engine that refuses --privileged, by activating the docker shim when the engine needs it. Create
// does it itself; a process that only runs commands on an existing cluster's nodes calls this first.
func (p *Provider) PrepareNodeCommands(ctx context.Context, name string) error {
	all, err := p.kind.ListNodes(name)
	if err != nil {
		return err
	}
	var candidates []string
	for _, n := range all {
		img, err := exec.Output(ctx, "docker", "inspect", "--format", "{{.Config.Image}}", n.String())
		if err == nil {
			candidates = append(candidates, strings.TrimSpace(string(img)))
			break
		}
	}
	_, err = p.engine.PrepareForKind(ctx, candidates...)
	return err
}

// Leftovers are what remains of a cluster on the engine.
type Leftovers struct {
	Containers []string
	Volumes    []string
	Networks   []string
}

// Empty reports whether nothing is left.
func (l Leftovers) Empty() bool {
	return len(l.Containers) == 0 && len(l.Volumes) == 0 && len(l.Networks) == 0
}

func (l Leftovers) String() string {
	var parts []string
	for _, x := range []struct {
		what  string
		names []string
	}{{"containers", l.Containers}, {"volumes", l.Volumes}, {"networks", l.Networks}} {
		if len(x.names) > 0 {
			parts = append(parts, x.what+" "+strings.Join(x.names, ", "))
		}
	}
	if len(parts) == 0 {
		return "nothing"
	}
	return strings.Join(parts, "; ")
}

// Delete deletes the cluster and its kubeconfig entry (from kubeconfigPath, or $KUBECONFIG / ~/.kube/config when
// empty), removes kind's network when no other kind cluster and no container uses it, and then checks that
// nothing of the cluster is left: containers or volumes with its label, the nodes' anonymous volumes. Deleting
// a cluster that does not exist is not an error.
func (p *Provider) Delete(ctx context.Context, name, kubeconfigPath string) error {
	volumes, err := p.NodeVolumes(ctx, name)
	if err != nil {
		return err
	}
	if err := p.kind.Delete(name, kubeconfigPath); err != nil {
		if err := p.thawAndRetry(ctx, name, kubeconfigPath, err); err != nil {
			return err
		}
	}
	if err := p.removeNetworkIfUnused(ctx); err != nil {
		return err
	}
	left, err := p.Leftovers(ctx, name, volumes...)
	if err != nil {
		return err
	}
	if !left.Empty() {
		return fmt.Errorf("cluster %q was deleted but left behind %s", name, left)
	}
	return nil
}

// Leftovers lists what of cluster name is on the engine: containers and volumes with its label, the given
// volumes (the nodes' anonymous volumes, recorded before deletion) if they still exist, and kind's network when
// no kind cluster is left to use it.
func (p *Provider) Leftovers(ctx context.Context, name string, volumes ...string) (Leftovers, error) {
	var l Leftovers
	var err error
	label := "label=" + LabelKey + "=" + name
	if l.Containers, err = exec.Lines(ctx, "docker", "ps", "--all", "--filter", label, "--format", "{{.Names}}"); err != nil {
		return l, err
	}
	labelled, err := exec.Lines(ctx, "docker", "volume", "ls", "--quiet", "--filter", label)
	if err != nil {
		return l, err
	}
	all, err := exec.Lines(ctx, "docker", "volume", "ls", "--quiet")
	if err != nil {
		return l, err
	}
	for _, v := range volumes {
		if slices.Contains(all, v) && !slices.Contains(labelled, v) {
			labelled = append(labelled, v)
		}
	}
	l.Volumes = labelled
	labelledNets, err := exec.Lines(ctx, "docker", "network", "ls", "--filter", label, "--format", "{{.Name}}")
	if err != nil {
		return l, err
	}
	l.Networks = labelledNets
	clusters, err := p.kind.List()
	if err != nil {
		return l, err
	}
	if len(clusters) == 0 {
		if used, exists, err := networkUsed(ctx, kindNetwork); err != nil {
			return l, err
		} else if exists && !used {
			l.Networks = append(l.Networks, kindNetwork)
		}
	}
	slices.Sort(l.Containers)
	slices.Sort(l.Volumes)
	slices.Sort(l.Networks)
	return l, nil
}

// NodeVolumes lists the volumes mounted into the cluster's node containers (kind gives each node an
// anonymous /var volume).
func (p *Provider) NodeVolumes(ctx context.Context, name string) ([]string, error) {
	all, err := p.kind.ListNodes(name)
	if err != nil || len(all) == 0 {
		return nil, err
	}
	args := []string{"inspect", "--format", `{{range .Mounts}}{{if eq .Type "volume"}}{{.Name}}{{"\n"}}{{end}}{{end}}`}
	for _, n := range all {
		args = append(args, n.String())
	}
	return exec.Lines(ctx, "docker", args...)
}

// removeNetworkIfUnused removes kind's network when no kind cluster is left and no container is attached.
func (p *Provider) removeNetworkIfUnused(ctx context.Context) error {
	clusters, err := p.kind.List()
	if err != nil {
		return err
	}
	if len(clusters) > 0 {
		return nil
	}
	// The engine detaches a removed container from its networks a moment
	// after `docker rm` returns: give the nodes (and a lab's terminal) that
	// moment before deciding that something else uses the network.
	used, exists, err := networkUsed(ctx, kindNetwork)
	deadline := time.Now().Add(networkSettle)
	for err == nil && exists && used && time.Now().Before(deadline) {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
		used, exists, err = networkUsed(ctx, kindNetwork)
	}
	if err != nil || !exists || used {
		return err
	}
	if err := exec.Command("docker", "network", "rm", kindNetwork).Run(ctx); err != nil {
		if strings.Contains(strings.ToLower(exec.OutputOf(err)), "not found") {
			return nil
		}
		return fmt.Errorf("removing kind's network: %w", err)
	}
	return nil
}

// networkUsed reports whether the network exists and has containers attached.
func networkUsed(ctx context.Context, network string) (used, exists bool, err error) {
	out, err := exec.Output(ctx, "docker", "network", "inspect", "--format", "{{len .Containers}}", network)
	if err != nil {
		text := strings.ToLower(exec.OutputOf(err))
		if strings.Contains(text, "no such network") || strings.Contains(text, "not found") {
			return false, false, nil
		}
		return false, false, err
	}
	return strings.TrimSpace(string(out)) != "0", true, nil
}
