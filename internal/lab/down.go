package lab

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/ckslab/ckslab/internal/cluster"
	"github.com/ckslab/ckslab/internal/docker"
	"github.com/ckslab/ckslab/internal/exec"
	"github.com/ckslab/ckslab/internal/kubeconfig"
	"github.com/ckslab/ckslab/scenarios"
)

// ErrNothingToRemove means down found no trace of the lab.
var ErrNothingToRemove = errors.New("no such lab")

// Down removes the lab: the exam terminal, the cluster (nodes, volumes, and
// kind's network when no other cluster uses it), the kubeconfig context and
// the lab's folder. What the learner wrote (the course folder, when it holds
// a file, and the kept grades) is first moved to a folder of its own under
// <cache>/attempts, said on opts.Out, unless opts.Purge. It returns
// ErrNothingToRemove when there was no trace of the lab.
func Down(ctx context.Context, opts Options) error {
	if err := opts.defaults(); err != nil {
		return err
	}
	release, err := hold(ctx, opts.CacheDir, opts.Name, "down", opts.Out)
	if err != nil {
		return err
	}
	defer release()
	return down(ctx, opts)
}

// down is Down for a caller that holds the lab's lock (up, removing what it made when it fails).
func down(ctx context.Context, opts Options) error {
	st := opts.Status
	found := false
	state, err := Load(opts.CacheDir, opts.Name)
	switch {
	case err == nil:
		found = true
	case errors.Is(err, ErrNoLab):
	default:
		// A damaged state file must not keep the lab from being removed.
		opts.Logger.Warnf("%v; removing the lab anyway", err)
		found = true
	}
	engine, err := docker.Ensure(ctx, docker.Options{CacheDir: opts.CacheDir, Logger: opts.Logger})
	if err != nil {
		return err
	}
	terminals, err := exec.Lines(ctx, "docker", "ps", "--all", "--quiet", "--filter", "label="+LabelKey+"="+opts.Name)
	if err != nil {
		return err
	}
	if len(terminals) > 0 {
		found = true
		if err := st.Step("Removing the exam terminal", func() error {
			return exec.Command("docker", append([]string{"rm", "--force", "--volumes"}, terminals...)...).Run(ctx)
		}); err != nil {
			return err
		}
	}
	provider := cluster.NewProvider(engine, cluster.ProviderWithLogger(kindLogger(opts.Logger)))
	exists, err := provider.Exists(opts.Name)
	if err != nil {
		return err
	}
	if exists {
		found = true
		if err := st.Step(fmt.Sprintf("Deleting cluster %q", opts.Name), func() error {
			return provider.Delete(ctx, opts.Name, kindKubeconfig(opts.CacheDir, opts.Name))
		}); err != nil {
			return err
		}
	}
	kc, contexts := opts.Kubeconfig, possibleContexts(opts.Name)
	if state != nil {
		kc, contexts = state.Kubeconfig, []string{state.Context}
	}
	for _, context := range contexts {
		removed, err := kubeconfig.RemoveContext(kc, context, opts.Name)
		if err != nil {
			return err
		}
		found = found || removed
	}
	if hasLabFolder(opts.CacheDir, opts.Name) {
		found = true
		if !opts.Purge {
			kept, err := KeepWork(opts.CacheDir, opts.Name, time.Now())
			if err != nil {
				return err
			}
			if kept != "" && opts.Out != nil {
				fmt.Fprintf(opts.Out, "Your work (course folder and grades) is kept in %s; ckslab down --purge would have removed it.\n", kept)
			}
		}
		if err := os.RemoveAll(Dir(opts.CacheDir, opts.Name)); err != nil {
			return fmt.Errorf("removing the lab's folder: %w", err)
		}
	}
	if !found {
		return ErrNothingToRemove
	}
	return nil
}

// KeptDir is where down keeps the learner's work of labs that are gone.
func KeptDir(cacheDir string) string { return filepath.Join(cacheDir, "attempts") }

// KeepWork moves the lab's course folder (when it holds any file) and its
// kept grades to <cache>/attempts/<lab>-<time>/course and .../attempts, and
// returns that folder; "" when there was nothing to keep.
func KeepWork(cacheDir, name string, now time.Time) (string, error) {
	course, attempts := CourseDir(cacheDir, name), AttemptsDir(cacheDir, name)
	var move []string
	if holdsFile(course) {
		move = append(move, course)
	}
	if holdsFile(attempts) {
		move = append(move, attempts)
	}
	if len(move) == 0 {
		return "", nil
	}
	base := filepath.Join(KeptDir(cacheDir), name+"-"+now.Format("20060102-150405"))
	dest := base
	for i := 2; ; i++ {
		err := os.MkdirAll(filepath.Dir(dest), 0o755)
		if err == nil {
			err = os.Mkdir(dest, 0o755)
		}
		if err == nil {
			break
		}
		if !errors.Is(err, fs.ErrExist) || i > 100 {
			return "", fmt.Errorf("keeping your work before removing the lab: %w", err)
		}
		dest = fmt.Sprintf("%s-%d", base, i)
	}
	for _, from := range move {
		if err := os.Rename(from, filepath.Join(dest, filepath.Base(from))); err != nil {
			return "", fmt.Errorf("keeping your work before removing the lab's folder (the folder is left as it is; run down again): %w", err)
		}
	}
	return dest, nil
}

// holdsFile reports whether dir holds anything but empty folders. A folder
// that cannot be read counts as holding something: it is kept, not lost.
func holdsFile(dir string) bool {
	found := false
	err := filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			found = true
			return fs.SkipAll
		}
		if !d.IsDir() {
			found = true
			return fs.SkipAll
		}
		return nil
	})
	return found || (err != nil && !errors.Is(err, fs.ErrNotExist))
}

// possibleContexts are the names a lab called name may have given its context, one per scenario: without its
// state, down does not know which scenario it ran. RemoveContext removes only the lab's own.
func possibleContexts(name string) []string {
	var out []string
	for _, id := range scenarios.List() {
		if sc, err := scenarios.Load(id); err == nil {
			out = append(out, kubeconfig.ContextName(name, sc.Spec.Cluster, sc.Spec.Context))
		}
	}
	return slices.Compact(out)
}
