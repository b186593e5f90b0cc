// Package lab is the lab a learner works in: `ckslab up` creates it (a kind
// cluster, Falco on the worker, the scenario's workloads, the exam terminal),
// `ckslab down` removes every trace of it, and its state on disk lets the
// other commands find it.
package lab

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"time"

	"github.com/ckslab/ckslab/grader"
)

// DefaultName is the lab's name, as the exam's cluster is called.
const DefaultName = "cluster1"

// StateSchema is the version of state.json's layout.
const StateSchema = 1

var nameRE = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,28}[a-z0-9])?$`)

// ValidateName checks a lab name: it names containers, a kubeconfig context
// and Kubernetes nodes.
func ValidateName(name string) error {
	if !nameRE.MatchString(name) {
		return fmt.Errorf("lab name %q: use 1 to 30 lowercase letters, digits and dashes, starting and ending with a letter or digit", name)
	}
	return nil
}

// State is what ckslab keeps about a lab, in <cache>/labs/<name>/state.json.
type State struct {
	Schema  int    `json:"schema"`
	Version string `json:"ckslab_version"`
	Name    string `json:"name"`
	// Scenario is the id of the lab's scenario; empty in labs made before scenarios could be chosen, which
	// run ScenarioID.
	Scenario string `json:"scenario,omitempty"`
	Seed     int64  `json:"seed"`
	// Images is the image set's mode and images.
	Images ImagesState `json:"images"`
	// Context is the lab's context in the user's kubeconfig at Kubeconfig.
	Context    string `json:"context"`
	Kubeconfig string `json:"kubeconfig"`
	// Terminal is the exam terminal's container.
	Terminal string `json:"terminal"`
	// CourseDir is the host folder mounted at /opt/course in the terminal.
	CourseDir string     `json:"course_dir"`
	Falco     FalcoState `json:"falco"`
	// Truth holds the offenders' container ids by case, as recorded at up.
	Truth map[int][]string `json:"truth,omitempty"`
	// HintsShown counts the hints `ckslab hint` gave.
	HintsShown int `json:"hints_shown,omitempty"`
	// Revealed says why every grade of this lab names what the task asks the
	// learner to find ("ckslab solve was run", "the last hint was shown");
	// empty while the puzzle is kept. Set by solve and the last hint; reset
	// keeps it, since it brings back the same names.
	Revealed  string    `json:"revealed,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	// ReadyAt is when `up` finished; zero while it has not (yet).
	ReadyAt time.Time `json:"ready_at,omitzero"`
	// TaskStartedAt is when the task started: when up finished, or the last
	// reset. Zero in labs made before it was recorded: ReadyAt stands in.
	TaskStartedAt time.Time `json:"task_started_at,omitzero"`
	// Repaired lists what the last `up` on this lab fixed (not stored).
	Repaired []string `json:"-"`
}

// ScenarioID is the id of the lab's scenario.
func (s *State) ScenarioID() string {
	if s.Scenario == "" {
		return ScenarioID
	}
	return s.Scenario
}

// TaskStart is when the task started, or zero while up has not finished.
func (s *State) TaskStart() time.Time {
	if !s.TaskStartedAt.IsZero() {
		return s.TaskStartedAt
	}
	return s.ReadyAt
}

// TaskTime is the time spent on the task at now against budget, or nil
// while the task has not started.
func (s *State) TaskTime(now time.Time, budget time.Duration) *grader.TaskTime {
	start := s.TaskStart()
	if start.IsZero() {
		return nil
	}
	return &grader.TaskTime{StartedAt: start, Elapsed: max(now.Sub(start), 0), Budget: budget}
}

// Reasons a lab's grades reveal everything.
const (
	RevealedBySolve    = "ckslab solve was run"
	RevealedByLastHint = "the last hint was shown"
)

// MarkRevealed records that every later grade of the lab names what the task
// asks to find, and why. A reason already recorded is kept.
func MarkRevealed(cacheDir, name, reason string) error {
	s, err := Load(cacheDir, name)
	if err != nil {
		return err
	}
	if s.Revealed != "" {
		return nil
	}
	s.Revealed = reason
	if err := s.Save(cacheDir); err != nil {
		return fmt.Errorf("recording that lab %q's answers were shown: %w", name, err)
	}
	return nil
}

// ImagesState records the image set a lab was made with.
type ImagesState struct {
	Mode     string `json:"mode"`
	Node     string `json:"node"`
	Nginx    string `json:"nginx"`
	Httpd    string `json:"httpd"`
	Terminal string `json:"terminal"`
}

// FalcoState says whether the lab has Falco, and why not.
type FalcoState struct {
	Installed bool   `json:"installed"`
	Version   string `json:"version,omitempty"`
	// Missing says plainly why the lab has no Falco.
	Missing string `json:"missing,omitempty"`
	// PreflightWarnings are the preflight's problems up installed Falco despite (--falco-preflight=warn).
	PreflightWarnings []string `json:"preflight_warnings,omitempty"`
}

// Dir is a lab's folder in the cache.
func Dir(cacheDir, name string) string { return filepath.Join(cacheDir, "labs", name) }

func statePath(cacheDir, name string) string { return filepath.Join(Dir(cacheDir, name), "state.json") }

// ErrNoLab means no lab of that name exists.
var ErrNoLab = errors.New("no such lab")

// Load reads a lab's state.
func Load(cacheDir, name string) (*State, error) {
	b, err := os.ReadFile(statePath(cacheDir, name))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: %q (create it with: ckslab up --name %s)", ErrNoLab, name, name)
	}
	if err != nil {
		return nil, fmt.Errorf("reading the state of lab %q: %w", name, err)
	}
	var s State
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("the state of lab %q (%s) is damaged: %v; remove the lab with: ckslab down --name %s", name, statePath(cacheDir, name), err, name)
	}
	if s.Schema != StateSchema {
		return nil, fmt.Errorf("lab %q was made by a ckslab with another state layout (schema %d, this ckslab reads %d); remove it with that version's ckslab down, or: ckslab down --name %s",
			name, s.Schema, StateSchema, name)
	}
	return &s, nil
}

// writeTemp writes the state's bytes to its temporary file; a test swaps it to fill the disk.
var writeTemp = func(f *os.File, b []byte) error {
	_, err := f.Write(b)
	return err
}

// Save writes the state atomically: into a temporary file beside state.json, then renamed over it, so that a
// full disk or a crash leaves the previous state whole. Its error names the file and, for a full disk, what to do.
func (s *State) Save(cacheDir string) error {
	dir := Dir(cacheDir, s.Name)
	fail := func(err error) error {
		msg := fmt.Sprintf("saving the state of lab %q (%s): %v", s.Name, statePath(cacheDir, s.Name), err)
		if errors.Is(err, syscall.ENOSPC) {
			msg += "; the disk is full: the lab's previous state is kept as it was; free some space and run the command again"
		}
		return errors.New(msg)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fail(err)
	}
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return fail(err)
	}
	tmp, err := os.CreateTemp(dir, ".state-*")
	if err != nil {
		return fail(err)
	}
	defer os.Remove(tmp.Name())
	if err := writeTemp(tmp, append(b, '\n')); err != nil {
		tmp.Close()
		return fail(err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fail(err)
	}
	if err := tmp.Close(); err != nil {
		return fail(err)
	}
	if err := os.Rename(tmp.Name(), statePath(cacheDir, s.Name)); err != nil {
		return fail(err)
	}
	return nil
}

// CheckCourseDir says what to do when the lab's course folder (/opt/course in the terminal) is not a folder:
// replaced by a file, say. It never moves or removes what is there. nil when it is a folder or not made yet.
func CheckCourseDir(cacheDir, name string) error {
	course := CourseDir(cacheDir, name)
	fi, err := os.Lstat(course)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return fmt.Errorf("lab %q: its course folder %s cannot be read: %v", name, course, err)
	case fi.IsDir():
		return nil
	}
	// aside is outside the lab's folder, which down removes
	aside := filepath.Join(KeptDir(cacheDir), name+"-course-"+strings.ReplaceAll(fileKind(fi.Mode()), " ", "-"))
	return fmt.Errorf("lab %q: its course folder %s (/opt/course in the terminal) is not a folder but a %s: move it out of the lab's folder "+
		"(mkdir -p %s && mv %s %s), then ckslab down%s and ckslab up%s make the lab again (what you moved is yours; ckslab does not touch it)",
		name, course, fileKind(fi.Mode()), KeptDir(cacheDir), course, aside, nameFlag(name), nameFlag(name))
}

func fileKind(m fs.FileMode) string {
	switch {
	case m&fs.ModeSymlink != 0:
		return "symbolic link"
	case m.IsRegular():
		return "file"
	}
	return "special file"
}

// List returns the names of the labs with state in the cache, sorted.
func List(cacheDir string) ([]string, error) {
	entries, err := os.ReadDir(filepath.Join(cacheDir, "labs"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range entries {
		if _, err := os.Stat(statePath(cacheDir, e.Name())); err == nil {
			out = append(out, e.Name())
		}
	}
	return out, nil
}
