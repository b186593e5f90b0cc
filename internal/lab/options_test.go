package lab

import (
	"strings"
	"testing"
)

func TestFalcoPackageFromEnvironment(t *testing.T) {
	const env = "/srv/falco-0.40.0-x86_64.deb"
	t.Setenv(FalcoPackageEnv, env)
	for _, tt := range []struct{ flag, want string }{
		{"", env}, // no --falco-package: the environment's
		{"/x/falco-0.44.1-x86_64.deb", "/x/falco-0.44.1-x86_64.deb"}, // the flag wins
	} {
		o := Options{FalcoPackage: tt.flag, CacheDir: t.TempDir(), Kubeconfig: "kubeconfig"}
		if err := o.defaults(); err != nil {
			t.Fatal(err)
		}
		if o.FalcoPackage != tt.want {
			t.Errorf("--falco-package %q: FalcoPackage = %q, want %q", tt.flag, o.FalcoPackage, tt.want)
		}
	}
}

func TestParsePreflightMode(t *testing.T) {
	for in, want := range map[string]PreflightMode{"": PreflightRefuse, "refuse": PreflightRefuse, "warn": PreflightWarn} {
		got, err := ParsePreflightMode(in)
		if err != nil || got != want {
			t.Errorf("ParsePreflightMode(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := ParsePreflightMode("ignore"); err == nil || !strings.Contains(err.Error(), "use refuse (the default) or warn") {
		t.Errorf("ParsePreflightMode(ignore): %v", err)
	}
}

func TestStandInPackageOnlyForTheE2ESuite(t *testing.T) {
	const standin = "/tmp/e2e/falco-0.0.0~e2e.standin-x86_64.deb"
	o := Options{FalcoPackage: standin, CacheDir: t.TempDir(), Kubeconfig: "kubeconfig"}
	err := o.defaults()
	if err == nil || !strings.Contains(err.Error(), "stand-in for Falco") || !strings.Contains(err.Error(), standin) {
		t.Fatalf("defaults() = %v, want a refusal naming the stand-in package", err)
	}
	t.Setenv(FalcoPackageEnv, standin)
	o = Options{CacheDir: t.TempDir(), Kubeconfig: "kubeconfig"}
	if err := o.defaults(); err == nil {
		t.Fatal("the stand-in from the environment was accepted")
	}
	o = Options{CacheDir: t.TempDir(), Kubeconfig: "kubeconfig", IgnoreFalcoPreflight: true}
	if err := o.defaults(); err != nil || o.FalcoPackage != standin {
		t.Fatalf("with IgnoreFalcoPreflight: err %v, package %q", err, o.FalcoPackage)
	}
}
