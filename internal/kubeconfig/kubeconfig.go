// Package kubeconfig adds and removes a lab's context in the user's
// kubeconfig without touching anything else in it.
package kubeconfig

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// Prefix marks the cluster and user entries ckslab owns.
const Prefix = "ckslab-"

// DefaultPath is the kubeconfig ckslab edits: the first file of $KUBECONFIG,
// else ~/.kube/config.
func DefaultPath() (string, error) {
	if env := os.Getenv("KUBECONFIG"); env != "" {
		if first := filepath.SplitList(env)[0]; first != "" {
			return first, nil
		}
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("finding your kubeconfig: %w", err)
	}
	return filepath.Join(home, ".kube", "config"), nil
}

// entryName is the name of the cluster and user entries of a lab.
func entryName(lab string) string { return Prefix + lab }

// AddContext adds context (e.g. workload-prod) for lab to the kubeconfig at
// path, taking the server and credentials from labConfig (the kubeconfig kind
// wrote for the cluster). Other entries and the current context are left as
// they are. A context of that name that is not this lab's is an error: ckslab
// does not overwrite it.
func AddContext(path, context, lab string, labConfig []byte) error {
	src, err := clientcmd.Load(labConfig)
	if err != nil {
		return fmt.Errorf("reading the lab's kubeconfig: %w", err)
	}
	srcCtx, ok := src.Contexts[src.CurrentContext]
	if !ok || src.Clusters[srcCtx.Cluster] == nil || src.AuthInfos[srcCtx.AuthInfo] == nil {
		return errors.New("the lab's kubeconfig has no usable current context")
	}
	return edit(path, func(cfg *clientcmdapi.Config) error {
		name := entryName(lab)
		if existing, ok := cfg.Contexts[context]; ok && (existing.Cluster != name || existing.AuthInfo != name) {
			return fmt.Errorf("your kubeconfig %s already has a context %q that ckslab did not create (cluster %q); rename it (kubectl config rename-context %s %s-old) and run again",
				path, context, existing.Cluster, context, context)
		}
		cfg.Clusters[name] = src.Clusters[srcCtx.Cluster].DeepCopy()
		cfg.AuthInfos[name] = src.AuthInfos[srcCtx.AuthInfo].DeepCopy()
		c := clientcmdapi.NewContext()
		c.Cluster, c.AuthInfo = name, name
		cfg.Contexts[context] = c
		return nil
	})
}

// HasContext reports whether the kubeconfig at path holds lab's context with its cluster and user entries (a
// missing file holds none). A context of that name that is not the lab's counts as missing: AddContext then
// refuses it, saying so.
func HasContext(path, context, lab string) (bool, error) {
	cfg, err := clientcmd.LoadFromFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("reading %s: %w", path, err)
	}
	name := entryName(lab)
	c, ok := cfg.Contexts[context]
	_, cluster := cfg.Clusters[name]
	_, user := cfg.AuthInfos[name]
	return ok && c.Cluster == name && c.AuthInfo == name && cluster && user, nil
}

// RemoveContext removes lab's context and entries from the kubeconfig at
// path. A context of that name that is not the lab's is left alone. It
// reports whether anything was removed.
func RemoveContext(path, context, lab string) (bool, error) {
	removed := false
	err := edit(path, func(cfg *clientcmdapi.Config) error {
		name := entryName(lab)
		if c, ok := cfg.Contexts[context]; ok && c.Cluster == name {
			delete(cfg.Contexts, context)
			removed = true
			if cfg.CurrentContext == context {
				cfg.CurrentContext = ""
			}
		}
		if _, ok := cfg.Clusters[name]; ok {
			delete(cfg.Clusters, name)
			removed = true
		}
		if _, ok := cfg.AuthInfos[name]; ok {
			delete(cfg.AuthInfos, name)
			removed = true
		}
		return nil
	})
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	return removed, err
}

// edit loads, changes and writes the kubeconfig at path under a lock file,
// so that two ckslab processes (two labs) never lose each other's entries.
func edit(path string, change func(*clientcmdapi.Config) error) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("creating the folder of %s: %w", path, err)
	}
	unlock, err := lock(path)
	if err != nil {
		return err
	}
	defer unlock()
	cfg, err := clientcmd.LoadFromFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		cfg = clientcmdapi.NewConfig()
	case err != nil:
		return fmt.Errorf("reading your kubeconfig %s: %w (fix or move the file, then run again)", path, err)
	}
	if err := change(cfg); err != nil {
		return err
	}
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		return fmt.Errorf("writing your kubeconfig %s: %w", path, err)
	}
	return nil
}

// lock takes <path>.lock, the lock file kubectl and kind also use, waiting
// up to 10 s for another process to release it.
func lock(path string) (func(), error) {
	lockPath := path + ".lock"
	deadline := time.Now().Add(10 * time.Second)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		f, err := os.OpenFile(lockPath, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
		if err == nil {
			f.Close()
			return func() { os.Remove(lockPath) }, nil
		}
		if !errors.Is(err, fs.ErrExist) {
			return nil, fmt.Errorf("locking your kubeconfig: %w", err)
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("your kubeconfig is locked by %s; if no kubectl or ckslab is running, remove that file", lockPath)
		}
		<-tick.C
	}
}

// ContextName is the host kubeconfig context of a lab: workload-prod for the
// default lab, workload-prod-<name> for others (several labs side by side).
func ContextName(lab, defaultLab, context string) string {
	if lab == defaultLab {
		return context
	}
	return context + "-" + lab
}
