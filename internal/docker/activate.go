package docker

import (
	"context"
	"errors"
	"fmt"
	"os"
	osexec "os/exec"
	"path/filepath"
	"strconv"
	"sync"

	"github.com/ckslab/ckslab/internal/docker/shim"
)

// Shim is the `docker` shim activated in this process (see package shim).
type Shim struct {
	// Dir holds the `docker` link and shim.json; it is first in PATH while the shim is active.
	Dir string
	// Config is what the shim rewrites with.
	Config shim.Config

	oldPath   string
	oldDirEnv string
	hadDirEnv bool
}

var (
	activeMu sync.Mutex
	active   *Shim
)

// PrepareForKind makes kind's `docker run --privileged` and `docker exec --privileged` work on this engine:
// it probes (see ProbePrivileged, with images as candidates for a test container) and activates the shim when
// --privileged is refused. It returns nil when no shim is needed. Calling it again is cheap.
func (e *Engine) PrepareForKind(ctx context.Context, images ...string) (*Shim, error) {
	activeMu.Lock()
	if active != nil {
		defer activeMu.Unlock()
		return active, nil
	}
	activeMu.Unlock()
	p, err := e.ProbePrivileged(ctx, images...)
	if err != nil {
		return nil, err
	}
	if p.Works {
		e.logger.V(1).Infof("docker run --privileged works here (%s): no shim", p.How)
		return nil, nil
	}
	e.logger.V(1).Infof("docker run --privileged is refused here (%s): using ckslab's docker shim", p.How)
	libModules := ""
	if _, err := os.Stat("/lib/modules"); err != nil && e.Local() {
		libModules = filepath.Join(e.stateDir(), "empty-lib-modules")
	}
	return ActivateShim(e.cacheDir, shim.Config{CapAdd: p.CapAdd, LibModules: libModules})
}

// ActivateShim links `docker` to this executable in a directory under cacheDir, writes cfg next to it (with the
// real docker CLI filled in), and puts that directory first in this process's PATH, so that every `docker` that
// kind's library runs goes through shim.Main. The executable's main must call shim.Dispatch first.
func ActivateShim(cacheDir string, cfg shim.Config) (*Shim, error) {
	activeMu.Lock()
	defer activeMu.Unlock()
	if active != nil {
		return active, nil
	}
	self, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("docker shim: %w", err)
	}
	if self, err = filepath.EvalSymlinks(self); err != nil {
		return nil, fmt.Errorf("docker shim: %w", err)
	}
	if cfg.RealDocker == "" {
		if cfg.RealDocker, err = realDocker(self); err != nil {
			return nil, err
		}
	}
	if cfg.LibModules != "" {
		if err := os.MkdirAll(cfg.LibModules, 0o755); err != nil {
			return nil, fmt.Errorf("docker shim: %w", err)
		}
	}
	base := filepath.Join(cacheDir, "docker-shim")
	sweepStale(base)
	dir := filepath.Join(base, strconv.Itoa(os.Getpid()))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("docker shim: %w", err)
	}
	link := filepath.Join(dir, "docker")
	_ = os.Remove(link)
	if err := os.Symlink(self, link); err != nil {
		return nil, fmt.Errorf("docker shim: %w", err)
	}
	if err := shim.WriteConfig(dir, cfg); err != nil {
		return nil, fmt.Errorf("docker shim: %w", err)
	}
	cfg.Schema = 1
	s := &Shim{Dir: dir, Config: cfg, oldPath: os.Getenv("PATH")}
	s.oldDirEnv, s.hadDirEnv = os.LookupEnv(shim.EnvDir)
	os.Setenv("PATH", dir+string(os.PathListSeparator)+s.oldPath)
	os.Setenv(shim.EnvDir, dir)
	active = s
	return s, nil
}

// ActiveShim returns the shim active in this process, or nil.
func ActiveShim() *Shim {
	activeMu.Lock()
	defer activeMu.Unlock()
	return active
}

// Deactivate restores PATH and removes the shim's directory. It is safe on a nil Shim.
func (s *Shim) Deactivate() error {
	if s == nil {
		return nil
	}
	activeMu.Lock()
	defer activeMu.Unlock()
	os.Setenv("PATH", s.oldPath)
	if s.hadDirEnv {
		os.Setenv(shim.EnvDir, s.oldDirEnv)
	} else {
		os.Unsetenv(shim.EnvDir)
	}
	if active == s {
		active = nil
	}
	return os.RemoveAll(s.Dir)
}

// realDocker finds the docker CLI on PATH, skipping any `docker` that is this executable or another ckslab's
// shim: a ckslab started by one whose shim is active (the e2e suite runs ckslab so) inherits that shim's folder
// first in PATH, and taking its `docker` for the real one makes each shim exec the other, for ever.
func realDocker(self string) (string, error) {
	for _, d := range filepath.SplitList(os.Getenv("PATH")) {
		if d == "" {
			continue
		}
		if _, err := os.Stat(filepath.Join(d, shim.ConfigFile)); err == nil {
			continue
		}
		p := filepath.Join(d, "docker")
		target, err := filepath.EvalSymlinks(p)
		if err != nil || target == self {
			continue
		}
		if st, err := os.Stat(target); err == nil && !st.IsDir() && st.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	if _, err := osexec.LookPath("docker"); err != nil {
		return "", errors.New("docker shim: no docker CLI on PATH: " + installHint())
	}
	return "", errors.New("docker shim: the only docker on PATH is ckslab itself")
}

// sweepStale removes shim directories of processes that are gone.
func sweepStale(base string) {
	entries, err := os.ReadDir(base)
	if err != nil {
		return
	}
	for _, ent := range entries {
		pid, err := strconv.Atoi(ent.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		if _, err := os.Stat(filepath.Join("/proc", ent.Name())); err == nil {
			continue
		}
		_ = os.RemoveAll(filepath.Join(base, ent.Name()))
	}
}
