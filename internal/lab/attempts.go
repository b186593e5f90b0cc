package lab

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ckslab/ckslab/grader"
)

// AttemptsDir is where a lab keeps its grades: <lab dir>/attempts/<n>.json,
// each the JSON report the learner was shown.
func AttemptsDir(cacheDir, name string) string { return filepath.Join(Dir(cacheDir, name), "attempts") }

// Attempt is one kept grade.
type Attempt struct {
	N        int
	GradedAt time.Time
	Score    int
	MaxScore int
	// Elapsed is the time spent on the task when it was graded; Budget the
	// scenario's time budget. Both zero when unknown.
	Elapsed, Budget time.Duration
	Withheld        bool
	Path            string
}

// SaveAttempt keeps r as the lab's next attempt and sets r.Attempt to its
// number. Two grades at once get different numbers.
func SaveAttempt(cacheDir, name string, r *grader.Report) (string, error) {
	dir := AttemptsDir(cacheDir, name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("keeping the grade: %w", err)
	}
	for tries := 0; tries < 100; tries++ {
		n, err := lastAttempt(dir)
		if err != nil {
			return "", err
		}
		r.Attempt = n + 1
		var b bytes.Buffer
		if err := grader.Render(&b, r, grader.JSON, grader.RenderOptions{}); err != nil {
			return "", fmt.Errorf("keeping the grade: %w", err)
		}
		path := filepath.Join(dir, strconv.Itoa(r.Attempt)+".json")
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if errors.Is(err, fs.ErrExist) {
			continue // another grade took this number
		}
		if err != nil {
			return "", fmt.Errorf("keeping the grade: %w", err)
		}
		_, werr := f.Write(b.Bytes())
		if cerr := f.Close(); werr == nil {
			werr = cerr
		}
		if werr != nil {
			os.Remove(path)
			return "", fmt.Errorf("keeping the grade in %s: %w", path, werr)
		}
		return path, nil
	}
	return "", fmt.Errorf("keeping the grade: no free attempt number in %s", dir)
}

// lastAttempt is the highest attempt number in dir, 0 if none.
func lastAttempt(dir string) (int, error) {
	entries, err := os.ReadDir(dir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return 0, fmt.Errorf("reading the kept grades: %w", err)
	}
	last := 0
	for _, e := range entries {
		if n, ok := attemptNumber(e.Name()); ok {
			last = max(last, n)
		}
	}
	return last, nil
}

func attemptNumber(file string) (int, bool) {
	base, ok := strings.CutSuffix(file, ".json")
	if !ok {
		return 0, false
	}
	n, err := strconv.Atoi(base)
	return n, err == nil && n > 0 && strconv.Itoa(n) == base
}

// attemptFile is the part of a kept JSON report (schema 2, README "Report
// formats") that the history shows.
type attemptFile struct {
	Schema   int       `json:"schema"`
	Attempt  int       `json:"attempt"`
	GradedAt time.Time `json:"graded_at"`
	Withheld bool      `json:"withheld"`
	Task     *struct {
		ElapsedS float64 `json:"elapsed_s"`
		BudgetS  float64 `json:"budget_s"`
	} `json:"task"`
	Summary grader.Summary `json:"summary"`
}

// Attempts lists the lab's kept grades, oldest first. A file that cannot be
// read is an error naming it.
func Attempts(cacheDir, name string) ([]Attempt, error) {
	return readAttempts(AttemptsDir(cacheDir, name))
}

func readAttempts(dir string) ([]Attempt, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the kept grades: %w", err)
	}
	var out []Attempt
	for _, e := range entries {
		n, ok := attemptNumber(e.Name())
		if !ok {
			continue
		}
		path := filepath.Join(dir, e.Name())
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("reading grade %d: %w", n, err)
		}
		var f attemptFile
		if err := json.Unmarshal(b, &f); err != nil {
			return nil, fmt.Errorf("grade %d (%s) is damaged: %v; move it away or remove it", n, path, err)
		}
		a := Attempt{N: n, GradedAt: f.GradedAt, Score: f.Summary.Score, MaxScore: f.Summary.MaxScore, Withheld: f.Withheld, Path: path}
		if f.Task != nil {
			a.Elapsed = time.Duration(f.Task.ElapsedS * float64(time.Second))
			a.Budget = time.Duration(f.Task.BudgetS * float64(time.Second))
		}
		out = append(out, a)
	}
	slices.SortFunc(out, func(a, b Attempt) int { return a.N - b.N })
	return out, nil
}

// History renders the attempts as a table for a terminal.
func History(attempts []Attempt) string {
	if len(attempts) == 0 {
		return "No grades yet: ckslab grade grades your work and keeps each grade.\n"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%-8s %-19s  %-6s  %s\n", "ATTEMPT", "GRADED", "SCORE", "TIME SPENT")
	for _, a := range attempts {
		spent := "-"
		if a.Budget > 0 || a.Elapsed > 0 {
			spent = grader.TaskTime{Elapsed: a.Elapsed, Budget: a.Budget}.String()
		}
		score := fmt.Sprintf("%d/%d", a.Score, a.MaxScore)
		fmt.Fprintf(&b, "%-8d %-19s  %-6s  %s\n", a.N, a.GradedAt.Local().Format(time.DateTime), score, spent)
	}
	return b.String()
}
