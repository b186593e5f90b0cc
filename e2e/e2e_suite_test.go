//go:build e2e

// Package e2e is ckslab's end-to-end suite: it provisions real kind clusters through ckslab's own library
// (internal/docker, internal/images, internal/cluster) and talks to them with e2e-framework's klient.
//
// Run it with the e2e build tag, for example:
//
//	go test -tags e2e ./e2e/ -timeout 40m -count=1 -v -args -ginkgo.label-filter=smoke -ginkgo.v
//
// The image set comes from CKSLAB_IMAGES (public or local; CI uses local). The JUnit report and, on failure,
// kind's logs go to $E2E_ARTIFACTS (default: _output/e2e at the repository root).
package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/ckslab/ckslab/internal/docker"
	"github.com/ckslab/ckslab/internal/docker/shim"
	"github.com/ckslab/ckslab/internal/images"
)

var (
	// artifactsDir is where the JUnit report and exported logs go.
	artifactsDir string
	// engine is the Docker engine the suite runs on, started by the suite when none ran (and then stopped again).
	engine *docker.Engine
	// imageSet is the image set chosen by CKSLAB_IMAGES.
	imageSet *images.Set
)

var _ = BeforeSuite(func(ctx SpecContext) {
	var err error
	engine, err = docker.Ensure(ctx, docker.Options{Logger: newLogger(1)})
	must(err, "the Docker engine")
	// the shim (if the engine needs one) is activated by the first cluster create; remove its directory at the end
	DeferCleanup(func() { must(docker.ActiveShim().Deactivate(), "removing the docker shim") })
	if engine.Started {
		DeferCleanup(func(ctx SpecContext) { must(engine.Stop(ctx), "stopping the Docker engine the suite started") })
	}
	mode, err := images.ModeFrom("", os.Getenv)
	must(err, "")
	// a missing image set fails the suite: CI must not go green without a cluster
	imageSet, err = images.Resolve(ctx, mode, images.WithInspector(engine))
	must(err, "the image set")
	fmt.Fprintf(GinkgoWriter, "engine %s (%s), image set %s: node %s, nginx %s, httpd %s\n",
		engine.ServerVersion, engine.Host, imageSet.Name, imageSet.Node, imageSet.Nginx, imageSet.Httpd)
}, NodeTimeout(3*time.Minute))

func TestMain(m *testing.M) {
	// kind runs `docker` through os/exec; on hosts that refuse --privileged, that `docker` is this test binary
	shim.Dispatch()
	os.Exit(m.Run())
}

func TestE2E(t *testing.T) {
	RegisterFailHandler(Fail)
	dir := os.Getenv("E2E_ARTIFACTS")
	if dir == "" {
		dir = filepath.Join("..", "_output", "e2e")
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(abs, 0o755); err != nil {
		t.Fatal(err)
	}
	artifactsDir = abs
	suiteConfig, reporterConfig := GinkgoConfiguration()
	if reporterConfig.JUnitReport == "" {
		reporterConfig.JUnitReport = filepath.Join(abs, "junit.xml")
	}
	if suiteConfig.Timeout == time.Hour { // ginkgo's default; go test's -timeout is the real bound
		suiteConfig.Timeout = 40 * time.Minute
	}
	fmt.Fprintf(os.Stderr, "e2e artifacts: %s\n", abs)
	RunSpecs(t, "ckslab e2e", suiteConfig, reporterConfig)
}
