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

// A lab is named after its scenario's cluster unless --name says otherwise.
func TestDefaultNameIsTheScenariosCluster(t *testing.T) {
	for _, tt := range []struct{ scenario, name, want string }{
		{"", "", "cluster1"}, {ScenarioID, "", "cluster1"}, {"audit-logging", "", "cluster2"}, {"audit-logging", "lab7", "lab7"},
	} {
		o := Options{Scenario: tt.scenario, Name: tt.name, CacheDir: t.TempDir(), Kubeconfig: "kubeconfig"}
		if err := o.defaults(); err != nil {
			t.Fatal(err)
		}
		if o.Name != tt.want {
			t.Errorf("scenario %q, name %q: lab %q, want lab %q", tt.scenario, tt.name, o.Name, tt.want)
		}
	}
}

// up on a lab of another scenario stops, naming both, before it touches anything; a seed for the auditing
// scenario is refused before anything is made.
func TestUpRefusesAnotherScenarioOnALab(t *testing.T) {
	dir := t.TempDir()
	s := &State{Schema: StateSchema, Name: "cluster1", Scenario: ScenarioID}
	if err := s.Save(dir); err != nil {
		t.Fatal(err)
	}
	_, err := Up(t.Context(), Options{Name: "cluster1", Scenario: "audit-logging", CacheDir: dir, Kubeconfig: "kubeconfig"})
	if err == nil || !strings.Contains(err.Error(), `lab "cluster1" runs scenario falco-runtime, not audit-logging`) {
		t.Fatalf("up: %v", err)
	}
	_, err = Up(t.Context(), Options{Scenario: "audit-logging", Seed: 4, CacheDir: dir, Kubeconfig: "kubeconfig"})
	if err == nil || !strings.Contains(err.Error(), "one set of names") {
		t.Fatalf("up --seed 4: %v", err)
	}
	if _, err := Load(dir, "cluster2"); err == nil {
		t.Error("the refused up left a lab cluster2")
	}
	// without --scenario, up on a lab is about that lab, whatever its scenario: here it gets as far as the
	// version check (a lab of another ckslab), before anything touches the engine
	audit := &State{Schema: StateSchema, Name: "cluster2", Scenario: "audit-logging", Version: "v0.0.1-old"}
	if err := audit.Save(dir); err != nil {
		t.Fatal(err)
	}
	_, err = Up(t.Context(), Options{Name: "cluster2", CacheDir: dir, Kubeconfig: "kubeconfig"})
	if err == nil || strings.Contains(err.Error(), "runs scenario") || !strings.Contains(err.Error(), "was made by ckslab v0.0.1-old") {
		t.Fatalf("up --name cluster2 on the auditing lab: %v", err)
	}
}

// A lab made before scenarios could be chosen runs the Falco scenario.
func TestStateWithoutScenarioIsFalco(t *testing.T) {
	in, err := Instance(&State{Name: "cluster1"})
	if err != nil || in.ScenarioID != ScenarioID {
		t.Fatalf("Instance of an old state: %v, %v", in, err)
	}
}
