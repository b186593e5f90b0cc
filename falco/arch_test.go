package falco

import (
	"errors"
	"strings"
	"testing"
)

func TestForMachine(t *testing.T) {
	const sum = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	for _, tt := range []struct {
		name, machine, local, sha string
		want                      Package
		err                       string // in the error; "" for none
	}{
		{name: "x86_64 gets the pinned download", machine: "x86_64\n", want: Pinned},
		{name: "amd64 is x86_64", machine: "amd64", want: Pinned},
		{name: "aarch64 without a checksum comes from the signed repository", machine: "aarch64",
			want: Package{Version: "0.44.1", Repo: true}},
		{name: "aarch64 with the user's checksum", machine: "aarch64", sha: sum,
			want: Package{Version: "0.44.1", File: "falco-0.44.1-aarch64.deb", URL: "https://download.falco.org/packages/deb/stable/falco-0.44.1-aarch64.deb", SHA256: sum}},
		{name: "arm64 is aarch64", machine: "arm64", sha: sum,
			want: Package{Version: "0.44.1", File: "falco-0.44.1-aarch64.deb", URL: "https://download.falco.org/packages/deb/stable/falco-0.44.1-aarch64.deb", SHA256: sum}},
		{name: "a local package for the node's machine", machine: "aarch64", local: "/tmp/falco_0.44.1_arm64.deb", want: Pinned},
		{name: "a local package for another machine", machine: "aarch64", local: "/tmp/falco-0.44.1-x86_64.deb",
			err: "--falco-package /tmp/falco-0.44.1-x86_64.deb is Falco for x86_64, and this lab's node is aarch64: give Falco's aarch64 package"},
		{name: "a machine Falco does not ship", machine: "riscv64", local: "/tmp/falco-0.44.1-x86_64.deb",
			err: `Falco ships no package for this lab's node, whose architecture is "riscv64" (Falco ships x86_64 and aarch64)`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ForMachine(tt.machine, tt.local, tt.sha)
			if tt.err != "" {
				if !errors.Is(err, ErrNoPackage) || !strings.Contains(err.Error(), tt.err) || strings.Contains(err.Error(), "\n") {
					t.Fatalf("ForMachine(%q, %q) = %v; want one line wrapping ErrNoPackage with %q", tt.machine, tt.local, err, tt.err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("ForMachine(%q, %q, %q) = %+v, %v; want %+v", tt.machine, tt.local, tt.sha, got, err, tt.want)
			}
		})
	}
}

func TestPackageMachine(t *testing.T) {
	for name, want := range map[string]string{
		"falco-0.44.1-x86_64.deb": "x86_64", "falco_0.44.1_amd64.deb": "x86_64",
		"/x/falco-0.44.1-aarch64.deb": "aarch64", "falco_0.44.1_arm64.deb": "aarch64",
		"falco-0.0.0~e2e.standin-x86_64.deb": "x86_64",
	} {
		if got, ok := PackageMachine(name); !ok || got != want {
			t.Errorf("PackageMachine(%q) = %q, %v; want %q", name, got, ok, want)
		}
	}
	if _, ok := PackageMachine("falco.deb"); ok {
		t.Error("PackageMachine of a name without a machine says it has one")
	}
}
