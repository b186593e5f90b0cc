//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/ckslab/ckslab/falco"
)

// The e2e stand-in for Falco (e2e/falcostandin), packed as Falco packages: where Falco cannot run (this
// project's CI machine), the specs labelled falco-standin install it in their lab instead of Falco and
// prove the plumbing around Falco. Specs labelled falco never get it: they need a real Falco.
const (
	standInVersion = "0.0.0~e2e.standin"
	exitsVersion   = "0.0.0~e2e.exits"
)

// standInPackages are the two packages buildStandIns makes.
type standInPackages struct {
	// StandIn watches the node's containers and alerts, as a Falco service and in the foreground.
	StandIn string
	// Exits stops at start-up as a Falco whose libraries refuse this kernel does, and exits 1.
	Exits string
	// ExitsBinary is the exits build's /usr/bin/falco, to run here.
	ExitsBinary string
}

// buildStandIns builds the stand-in for the nodes' architecture (this machine's: kind's nodes are
// containers on it) and packs falco-<version>-<arch>.deb files in dir, each with /usr/bin/falco, the
// /etc/falco files of a Falco package (shaped like the real defaults; the lab appends its rules and edits
// falco.yaml) and falco-modern-bpf.service, aliased falco.service.
func buildStandIns(ctx context.Context, dir string) (standInPackages, error) {
	var p standInPackages
	debArch, fileArch := runtime.GOARCH, map[string]string{"amd64": "x86_64", "arm64": "aarch64"}[runtime.GOARCH]
	if fileArch == "" {
		return p, fmt.Errorf("no Falco package name for architecture %s", runtime.GOARCH)
	}
	for _, v := range []struct {
		version, variant string
		out              *string
	}{{standInVersion, "standin", &p.StandIn}, {exitsVersion, "exits", &p.Exits}} {
		root := filepath.Join(dir, v.variant)
		bin := filepath.Join(root, "usr", "bin", "falco")
		build := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags", "-s -w -X main.variant="+v.variant, "-o", bin, "./falcostandin")
		build.Env = append(os.Environ(), "GOOS=linux", "GOARCH="+runtime.GOARCH, "CGO_ENABLED=0")
		if out, err := build.CombinedOutput(); err != nil {
			return p, fmt.Errorf("building the stand-in (%s): %v\n%s", v.variant, err, out)
		}
		for _, f := range []struct{ from, to string }{
			{"falco.yaml", "etc/falco/falco.yaml"},
			{"falco_rules.yaml", "etc/falco/falco_rules.yaml"},
			{"falco_rules.local.yaml", "etc/falco/falco_rules.local.yaml"},
			{"falco-modern-bpf.service", "usr/lib/systemd/system/falco-modern-bpf.service"},
		} {
			b, err := os.ReadFile(filepath.Join("falcostandin", "files", f.from))
			if err != nil {
				return p, err
			}
			to := filepath.Join(root, f.to)
			if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
				return p, err
			}
			if err := os.WriteFile(to, b, 0o644); err != nil {
				return p, err
			}
		}
		for _, d := range []string{"etc/falco/rules.d", "etc/falco/config.d", "DEBIAN"} {
			if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
				return p, err
			}
		}
		control := strings.Join([]string{
			"Package: falco",
			"Version: " + v.version,
			"Architecture: " + debArch,
			"Maintainer: ckslab e2e suite <e2e@ckslab.invalid>",
			"Section: utils",
			"Priority: optional",
			"Description: ckslab's e2e stand-in for Falco, not Falco",
			" A test program that ckslab's e2e suite installs as /usr/bin/falco where Falco",
			" cannot run (e2e/falcostandin). Never in a lab a user gets.",
		}, "\n") + "\n"
		if err := os.WriteFile(filepath.Join(root, "DEBIAN", "control"), []byte(control), 0o644); err != nil {
			return p, err
		}
		deb := filepath.Join(dir, "falco-"+v.version+"-"+fileArch+".deb")
		if out, err := exec.CommandContext(ctx, "dpkg-deb", "--root-owner-group", "-Zgzip", "--build", root, deb).CombinedOutput(); err != nil {
			return p, fmt.Errorf("packing %s: %v\n%s", deb, err, out)
		}
		if got, ok := falco.VersionFromFileName(deb); !ok || got != v.version || !falco.IsStandIn(got) {
			return p, fmt.Errorf("ckslab reads the version of %s as %q", deb, got)
		}
		*v.out = deb
		if v.variant == "exits" {
			p.ExitsBinary = bin
		}
	}
	return p, nil
}
