package cluster_test

import (
	"context"
	"fmt"
	"os"

	"sigs.k8s.io/kind/pkg/log"

	"github.com/ckslab/ckslab/internal/cluster"
	"github.com/ckslab/ckslab/internal/docker"
	"github.com/ckslab/ckslab/internal/images"
)

// How `ckslab up --images MODE` provisions a lab, and how `ckslab down` removes it. (main() must call
// shim.Dispatch() first, so that the ckslab binary can act as the docker shim.)
func Example() {
	ctx := context.Background()
	var logger log.Logger = log.NoopLogger{}

	engine, err := docker.Ensure(ctx, docker.Options{Logger: logger}) // starts dockerd when ckslab may
	if err != nil {
		fmt.Println(err) // a sentence that names the fix
		return
	}
	mode, err := images.ModeFrom("" /* --images */, os.Getenv) // flag, else CKSLAB_IMAGES, else public
	if err != nil {
		fmt.Println(err)
		return
	}
	set, err := images.Resolve(ctx, mode, images.WithInspector(engine)) // local: names `make images` when missing
	if err != nil {
		fmt.Println(err)
		return
	}
	p := cluster.NewProvider(engine, cluster.ProviderWithLogger(logger))
	name := cluster.DefaultName
	if err := p.Create(ctx, name, cluster.CreateWithImages(set), cluster.CreateWithRetain(false)); err != nil {
		fmt.Println(err)
		return
	}
	// the worker is the Kubernetes node cluster.WorkerNodeName(name) == "cluster1-node1"
	if err := p.LoadImages(ctx, name, set.Nginx, set.Httpd); err != nil {
		fmt.Println(err)
		return
	}
	// ... later, `ckslab down`: deletes, removes kind's network when unused, and checks nothing is left
	if err := p.Delete(ctx, name, "" /* $KUBECONFIG or ~/.kube/config */); err != nil {
		fmt.Println(err)
	}
}
