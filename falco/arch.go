package falco

import (
	"fmt"
	"path/filepath"
	"strings"
)

// Machines Falco ships packages for, as `uname -m` names them (falco-<version>-<machine>.deb: CPack names
// the file after the build's processor).
var Machines = []string{"x86_64", "aarch64"}

// NormalizeMachine maps a Debian architecture or a `uname -m` name to the machine Falco's file names use
// (amd64 is x86_64, arm64 is aarch64); other names are returned as they are.
func NormalizeMachine(m string) string {
	switch m = strings.TrimSpace(m); m {
	case "amd64", "x86_64":
		return "x86_64"
	case "arm64", "aarch64":
		return "aarch64"
	}
	return m
}

// PackageMachine returns the machine a Falco package file name is for (falco-0.44.1-aarch64.deb: aarch64).
func PackageMachine(name string) (string, bool) {
	m := debName.FindStringSubmatch(filepath.Base(name))
	if m == nil {
		return "", false
	}
	return NormalizeMachine(m[2]), true
}

// ForMachine chooses the Falco package for a node whose `uname -m` is machine: Pinned on x86_64 (its checksum
// is pinned); for aarch64, for which ckslab pins no checksum, the same release from Falco's signed apt
// repository (Repo; its key pinned by fingerprint), or the download when the user gives its checksum (sha256,
// --falco-sha256); none for a machine Falco does not ship. localPackage (--falco-package) must be for the
// node's machine. An error wraps ErrNoPackage and says, in one line, what to do.
func ForMachine(machine, localPackage, sha256 string) (Package, error) {
	m := NormalizeMachine(machine)
	if m != "x86_64" && m != "aarch64" {
		return Package{}, fmt.Errorf("%w: Falco ships no package for this lab's node, whose architecture is %q (Falco ships %s)", ErrNoPackage, machine, strings.Join(Machines, " and "))
	}
	if localPackage != "" {
		if pm, ok := PackageMachine(localPackage); ok && pm != m {
			return Package{}, fmt.Errorf("%w: --falco-package %s is Falco for %s, and this lab's node is %s: give Falco's %s package", ErrNoPackage, localPackage, pm, m, m)
		}
		return Pinned, nil // Fetch uses the local package; Pinned only names the release
	}
	if m == "x86_64" {
		return Pinned, nil
	}
	file := "falco-" + Pinned.Version + "-" + m + ".deb"
	p := Package{Version: Pinned.Version, File: file, URL: strings.TrimSuffix(Pinned.URL, Pinned.File) + file, SHA256: sha256}
	if strings.TrimSpace(sha256) == "" {
		return Package{Version: Pinned.Version, Repo: true}, nil
	}
	return p, nil
}
