// Package scenariotest helps the tests of the packages that judge or set up a scenario: it loads one as a lab
// would, failing the test when the embedded data does not load.
package scenariotest

import (
	"testing"

	"github.com/ckslab/ckslab/scenarios"
)

// Instance is scenario id instantiated with seed, as `ckslab up` makes it for lab cluster1.
func Instance(t testing.TB, id string, seed int64) *scenarios.Instance {
	t.Helper()
	s, err := scenarios.Load(id)
	if err != nil {
		t.Fatalf("loading scenario %s: %v", id, err)
	}
	in, err := s.Instantiate(seed)
	if err != nil {
		t.Fatalf("instantiating scenario %s with seed %d: %v", id, seed, err)
	}
	return in
}
