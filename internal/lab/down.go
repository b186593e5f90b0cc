package lab

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/ckslab/ckslab/internal/cluster"
	"github.com/ckslab/ckslab/internal/docker"
	"github.com/ckslab/ckslab/internal/exec"
	"github.com/ckslab/ckslab/internal/kubeconfig"
)

// ErrNothingToRemove means down found no trace of the lab.
var ErrNothingToRemove = errors.New("no such lab")

// Down removes the lab: the exam terminal, the cluster (nodes, volumes, and
// kind's network when no other cluster uses it), the kubeconfig context and
// the lab's folder (its state and course folder). It returns
// ErrNothingToRemove when there was no trace of the lab.
func Down(ctx context.Context, opts Options) error {
	if err := opts.defaults(); err != nil {
		return err
	}
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
	kc, context := opts.Kubeconfig, kubeconfig.ContextName(opts.Name, DefaultName, ExamContext)
	if state != nil {
		kc, context = state.Kubeconfig, state.Context
	}
	removed, err := kubeconfig.RemoveContext(kc, context, opts.Name)
	if err != nil {
		return err
	}
	found = found || removed
	if _, err := os.Stat(Dir(opts.CacheDir, opts.Name)); err == nil {
		found = true
		if err := os.RemoveAll(Dir(opts.CacheDir, opts.Name)); err != nil {
			return fmt.Errorf("removing the lab's folder: %w", err)
		}
	}
	if !found {
		return ErrNothingToRemove
	}
	return nil
}
