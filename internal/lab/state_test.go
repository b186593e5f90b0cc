package lab

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestValidateName(t *testing.T) {
	for _, ok := range []string{"cluster1", "a", "lab-2", "x1234567890123456789012345678y"} {
		if err := ValidateName(ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for _, bad := range []string{"", "-lab", "lab-", "Lab", "lab_2", "lab.2", strings.Repeat("a", 31), "a b"} {
		if err := ValidateName(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestStateRoundTrip(t *testing.T) {
	dir := t.TempDir()
	s := &State{Schema: StateSchema, Version: "v1", Name: "cluster1", Context: "workload-prod", CreatedAt: time.Unix(1, 0).UTC(),
		Falco: FalcoState{Missing: "no memlock"}}
	if err := s.Save(dir); err != nil {
		t.Fatal(err)
	}
	got, err := Load(dir, "cluster1")
	if err != nil {
		t.Fatal(err)
	}
	if got.Context != "workload-prod" || got.Falco.Missing != "no memlock" || !got.ReadyAt.IsZero() {
		t.Errorf("got %+v", got)
	}
	names, err := List(dir)
	if err != nil || len(names) != 1 || names[0] != "cluster1" {
		t.Errorf("List = %v, %v", names, err)
	}
	entries, _ := os.ReadDir(Dir(dir, "cluster1"))
	if len(entries) != 1 {
		t.Errorf("temporary files left: %v", entries)
	}
}

func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := Load(dir, "cluster1"); !errors.Is(err, ErrNoLab) || !strings.Contains(err.Error(), "ckslab up --name cluster1") {
		t.Errorf("missing: %v", err)
	}
	os.MkdirAll(Dir(dir, "broken"), 0o755)
	os.WriteFile(filepath.Join(Dir(dir, "broken"), "state.json"), []byte("{not json"), 0o644)
	if _, err := Load(dir, "broken"); err == nil || !strings.Contains(err.Error(), "damaged") || !strings.Contains(err.Error(), "ckslab down --name broken") {
		t.Errorf("damaged: %v", err)
	}
	os.WriteFile(filepath.Join(Dir(dir, "broken"), "state.json"), []byte(`{"schema": 99}`), 0o644)
	if _, err := Load(dir, "broken"); err == nil || !strings.Contains(err.Error(), "schema 99") {
		t.Errorf("schema: %v", err)
	}
}
