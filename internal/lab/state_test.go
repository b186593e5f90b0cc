package lab

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
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

// A full disk while the state is saved: the error names the file and says what to do, the previous state is
// whole, and no temporary file is left.
func TestSaveOnAFullDiskKeepsThePreviousState(t *testing.T) {
	dir := t.TempDir()
	s := &State{Schema: StateSchema, Name: "cluster1", HintsShown: 1}
	if err := s.Save(dir); err != nil {
		t.Fatal(err)
	}
	before, err := os.ReadFile(statePath(dir, "cluster1"))
	if err != nil {
		t.Fatal(err)
	}
	orig := writeTemp
	t.Cleanup(func() { writeTemp = orig })
	writeTemp = func(f *os.File, b []byte) error {
		_, _ = f.Write(b[:len(b)/2]) // half of it fits
		return &os.PathError{Op: "write", Path: f.Name(), Err: syscall.ENOSPC}
	}
	s.HintsShown = 2
	err = s.Save(dir)
	if err == nil {
		t.Fatal("Save on a full disk succeeded")
	}
	for _, want := range []string{statePath(dir, "cluster1"), "no space left on device", "the disk is full: the lab's previous state is kept as it was; free some space and run the command again"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	after, err := os.ReadFile(statePath(dir, "cluster1"))
	if err != nil || string(after) != string(before) {
		t.Errorf("state.json after the failed save: %q, %v; want it as it was: %q", after, err, before)
	}
	if got, err := Load(dir, "cluster1"); err != nil || got.HintsShown != 1 {
		t.Errorf("Load after the failed save: %+v, %v", got, err)
	}
	left, _ := filepath.Glob(filepath.Join(Dir(dir, "cluster1"), ".state-*"))
	if len(left) > 0 {
		t.Errorf("temporary files left: %v", left)
	}
}

// A course folder replaced by a file (or a link) gets a message that says what to do, and what is there is
// left as it is; a folder, or none yet, is fine.
func TestCheckCourseDir(t *testing.T) {
	dir := t.TempDir()
	if err := CheckCourseDir(dir, "cluster1"); err != nil {
		t.Errorf("no course folder yet: %v", err)
	}
	course := CourseDir(dir, "cluster1")
	if err := os.MkdirAll(course, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := CheckCourseDir(dir, "cluster1"); err != nil {
		t.Errorf("a course folder: %v", err)
	}
	if err := os.Remove(course); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(course, []byte("my notes"), 0o644); err != nil {
		t.Fatal(err)
	}
	err := CheckCourseDir(dir, "lab2")
	if err != nil {
		t.Errorf("another lab's course folder is not this one's: %v", err)
	}
	err = CheckCourseDir(dir, "cluster1")
	kept := filepath.Join(dir, "attempts")
	want := "lab \"cluster1\": its course folder " + course + " (/opt/course in the terminal) is not a folder but a file: move it out of the lab's folder (mkdir -p " +
		kept + " && mv " + course + " " + filepath.Join(kept, "cluster1-course-file") + "), then ckslab down and ckslab up make the lab again"
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("a course folder replaced by a file: %v\nwant %q", err, want)
	}
	if b, _ := os.ReadFile(course); string(b) != "my notes" {
		t.Errorf("the file in the course folder's place changed: %q", b)
	}
}
