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

	"github.com/ckslab/ckslab/internal/docker/shim"
)

// artifactsDir is where the JUnit report and exported logs go.
var artifactsDir string

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
