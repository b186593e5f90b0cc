package lab

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ckslab/ckslab/grader"
)

func gradeReport(score int) *grader.Report {
	r := &grader.Report{Tool: "ckslab", Name: "falco-runtime", Subject: "lab cluster1",
		GradedAt:   time.Date(2025, 6, 1, 10, 14, 3, 0, time.UTC),
		Task:       &grader.TaskTime{StartedAt: time.Date(2025, 6, 1, 10, 0, 0, 0, time.UTC), Elapsed: 14*time.Minute + 3*time.Second, Budget: 12 * time.Minute},
		Disclosure: grader.Disclosure{Withheld: true}}
	for i := 0; i < 3; i++ {
		st := grader.Fail
		if i < score {
			st = grader.Pass
		}
		r.Results = append(r.Results, grader.Result{ID: fmt.Sprintf("c%d", i), Points: 1, Status: st})
	}
	return r
}

func TestSaveAttemptsAndHistory(t *testing.T) {
	dir := t.TempDir()
	if a, err := Attempts(dir, "cluster1"); err != nil || a != nil {
		t.Fatalf("no grades yet: %v, %v", a, err)
	}
	if h := History(nil); !strings.Contains(h, "No grades yet") {
		t.Errorf("empty history: %q", h)
	}
	for score := 0; score < 3; score++ {
		r := gradeReport(score)
		path, err := SaveAttempt(dir, "cluster1", r)
		if err != nil {
			t.Fatal(err)
		}
		if want := filepath.Join(AttemptsDir(dir, "cluster1"), fmt.Sprintf("%d.json", score+1)); path != want || r.Attempt != score+1 {
			t.Errorf("attempt %d saved as %s (number %d), want %s", score+1, path, r.Attempt, want)
		}
	}
	got, err := Attempts(dir, "cluster1")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 {
		t.Fatalf("%d attempts, want 3", len(got))
	}
	for i, a := range got {
		if a.N != i+1 || a.Score != i || a.MaxScore != 3 || !a.Withheld || a.Elapsed != 14*time.Minute+3*time.Second || a.Budget != 12*time.Minute ||
			!a.GradedAt.Equal(time.Date(2025, 6, 1, 10, 14, 3, 0, time.UTC)) {
			t.Errorf("attempt %d: %+v", i+1, a)
		}
	}
	h := History(got)
	for _, want := range []string{"ATTEMPT", "2/3", "1/3", "0/3", "14m3s of 12m (2m3s over)"} {
		if !strings.Contains(h, want) {
			t.Errorf("history lacks %q:\n%s", want, h)
		}
	}
	// The kept file is the JSON report as shown, numbered.
	b, err := os.ReadFile(got[2].Path)
	if err != nil || !strings.Contains(string(b), `"attempt": 3`) || !strings.Contains(string(b), `"schema": 2`) {
		t.Errorf("kept report: %v\n%s", err, b)
	}
}

// Grades made at once never share a number, and none is lost.
func TestSaveAttemptConcurrent(t *testing.T) {
	dir := t.TempDir()
	var wg sync.WaitGroup
	nums := make([]int, 8)
	for i := range nums {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := gradeReport(1)
			if _, err := SaveAttempt(dir, "cluster1", r); err != nil {
				t.Error(err)
			}
			nums[i] = r.Attempt
		}()
	}
	wg.Wait()
	slices.Sort(nums)
	if want := []int{1, 2, 3, 4, 5, 6, 7, 8}; !slices.Equal(nums, want) {
		t.Errorf("attempt numbers %v, want %v", nums, want)
	}
}

func TestAttemptsDamaged(t *testing.T) {
	dir := t.TempDir()
	if _, err := SaveAttempt(dir, "cluster1", gradeReport(1)); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(AttemptsDir(dir, "cluster1"), "2.json")
	os.WriteFile(bad, []byte("{"), 0o644)
	os.WriteFile(filepath.Join(AttemptsDir(dir, "cluster1"), "notes.txt"), []byte("mine"), 0o644)
	_, err := Attempts(dir, "cluster1")
	if err == nil || !strings.Contains(err.Error(), bad) || !strings.Contains(err.Error(), "damaged") {
		t.Errorf("damaged grade: %v", err)
	}
}

func TestKeepWork(t *testing.T) {
	now := time.Date(2025, 6, 1, 10, 14, 3, 0, time.Local)
	t.Run("nothing written", func(t *testing.T) {
		dir := t.TempDir()
		os.MkdirAll(filepath.Join(CourseDir(dir, "cluster1"), "2"), 0o755)
		kept, err := KeepWork(dir, "cluster1", now)
		if err != nil || kept != "" {
			t.Errorf("an empty course folder is kept: %q, %v", kept, err)
		}
		if _, err := os.Stat(KeptDir(dir)); !os.IsNotExist(err) {
			t.Errorf("%s made for nothing: %v", KeptDir(dir), err)
		}
	})
	t.Run("answer file and grades", func(t *testing.T) {
		dir := t.TempDir()
		answer := filepath.Join(CourseDir(dir, "cluster1"), "2", "falco.log")
		os.MkdirAll(filepath.Dir(answer), 0o755)
		os.WriteFile(answer, []byte("06:38:28.077150666,090aad374a0a,nginx,root\n"), 0o644)
		if _, err := SaveAttempt(dir, "cluster1", gradeReport(2)); err != nil {
			t.Fatal(err)
		}
		var kept []string
		for range 2 { // a second down in the same second gets a folder of its own
			k, err := KeepWork(dir, "cluster1", now)
			if err != nil {
				t.Fatal(err)
			}
			kept = append(kept, k)
			if _, err := os.Stat(CourseDir(dir, "cluster1")); !os.IsNotExist(err) {
				t.Errorf("course folder still in the lab's folder: %v", err)
			}
			if _, err := os.Stat(AttemptsDir(dir, "cluster1")); !os.IsNotExist(err) {
				t.Errorf("grades still in the lab's folder: %v", err)
			}
			os.MkdirAll(filepath.Dir(answer), 0o755)
			os.WriteFile(answer, []byte("again\n"), 0o644)
		}
		if want := filepath.Join(dir, "attempts", "cluster1-20250601-101403"); kept[0] != want || kept[1] != want+"-2" {
			t.Errorf("kept in %v, want %s and %s-2", kept, want, want)
		}
		b, err := os.ReadFile(filepath.Join(kept[0], "course", "2", "falco.log"))
		if err != nil || !strings.HasPrefix(string(b), "06:38:28") {
			t.Errorf("answer file not kept: %v %q", err, b)
		}
		a, err := readAttempts(filepath.Join(kept[0], "attempts"))
		if err != nil || len(a) != 1 || a[0].Score != 2 {
			t.Errorf("grades not kept: %+v, %v", a, err)
		}
	})
}

func TestTaskTime(t *testing.T) {
	ready := time.Date(2025, 6, 1, 10, 0, 0, 0, time.UTC)
	if (&State{}).TaskTime(ready, 12*time.Minute) != nil {
		t.Error("a lab that is not up has a task time")
	}
	old := &State{ReadyAt: ready} // made before TaskStartedAt was recorded
	if tt := old.TaskTime(ready.Add(5*time.Minute), 12*time.Minute); tt == nil || tt.Elapsed != 5*time.Minute || tt.String() != "5m of 12m" {
		t.Errorf("from ReadyAt: %+v", tt)
	}
	reset := &State{ReadyAt: ready, TaskStartedAt: ready.Add(time.Hour)}
	if tt := reset.TaskTime(ready.Add(time.Hour+13*time.Minute), 12*time.Minute); tt.Elapsed != 13*time.Minute || tt.String() != "13m of 12m (1m over)" {
		t.Errorf("after reset: %+v", tt)
	}
}

func TestDisclosure(t *testing.T) {
	for _, tt := range []struct {
		name     string
		state    State
		reveal   bool
		withheld bool
		reason   string
		flag     string
	}{
		{"fresh lab", State{Name: "cluster1"}, false, true, "", ""},
		{"--reveal", State{Name: "cluster1"}, true, false, "asked for with --reveal", ""},
		{"after solve", State{Name: "lab2", Revealed: RevealedBySolve}, false, false, RevealedBySolve, " --name lab2"},
		{"after the last hint", State{Name: "cluster1", Revealed: RevealedByLastHint}, false, false, RevealedByLastHint, ""},
	} {
		d := disclosure(&tt.state, tt.reveal)
		if d.Withheld != tt.withheld || d.Reason != tt.reason || d.LabFlag != tt.flag {
			t.Errorf("%s: %+v", tt.name, d)
		}
	}
}

func TestRevealedBySolveAndLastHint(t *testing.T) {
	dir := t.TempDir()
	s := &State{Schema: StateSchema, Name: "cluster1", ReadyAt: time.Now()}
	if err := s.Save(dir); err != nil {
		t.Fatal(err)
	}
	in, err := InstanceOf(ScenarioID, "cluster1", 0)
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= len(in.Hints); i++ {
		if _, n, total, err := NextHint(dir, "cluster1"); err != nil || n != i || total != len(in.Hints) {
			t.Fatalf("hint %d: %d of %d, %v", i, n, total, err)
		}
		got, _ := Load(dir, "cluster1")
		if last := i == len(in.Hints); (got.Revealed == RevealedByLastHint) != last {
			t.Errorf("after hint %d of %d: revealed %q", i, len(in.Hints), got.Revealed)
		}
	}
	// solve keeps the first reason.
	if err := MarkRevealed(dir, "cluster1", RevealedBySolve); err != nil {
		t.Fatal(err)
	}
	if got, _ := Load(dir, "cluster1"); got.Revealed != RevealedByLastHint {
		t.Errorf("revealed %q", got.Revealed)
	}
	s.Name = "lab2"
	s.Save(dir)
	if err := MarkRevealed(dir, "lab2", RevealedBySolve); err != nil {
		t.Fatal(err)
	}
	if got, _ := Load(dir, "lab2"); got.Revealed != RevealedBySolve {
		t.Errorf("lab2 revealed %q", got.Revealed)
	}
}
