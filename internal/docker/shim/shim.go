// Package shim is the `docker` command ckslab puts first in its own PATH on hosts where the engine refuses
// `docker run --privileged` (the capability bounding set lacks a capability that --privileged asks runc for).
//
// The ckslab binary acts as the shim busybox style: internal/docker.ActivateShim links `docker` to
// os.Executable() in a directory it prepends to PATH, and main() calls Dispatch first, which, when the process
// was started under the name `docker`, rewrites the argv (Rewrite) and execs the real docker CLI. kind's library
// runs `docker` through os/exec, so kind itself stays unmodified. On a normal machine none of this is activated.
package shim

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

const (
	// ConfigFile is the name of the shim's configuration, next to the `docker` link.
	ConfigFile = "shim.json"
	// EnvDir names the shim directory; ActivateShim sets it so that the shim finds its configuration even when
	// argv[0] is the bare name `docker`.
	EnvDir = "CKSLAB_DOCKER_SHIM_DIR"
	// EnvLog, when set to a file path, makes the shim append each rewritten command line to it.
	EnvLog = "CKSLAB_DOCKER_SHIM_LOG"
	// schemaVersion is the version of Config's JSON form.
	schemaVersion = 1
)

// Config is what the shim needs to rewrite a command. It is written by internal/docker when the shim is
// activated and read by every shim process.
type Config struct {
	Schema int `json:"schema"`
	// RealDocker is the absolute path of the docker CLI to exec.
	RealDocker string `json:"real_docker"`
	// CapAdd are the capabilities (without the CAP_ prefix) that replace --privileged: the engine host's
	// bounding set minus those the engine rejects.
	CapAdd []string `json:"cap_add"`
	// LibModules, when not empty, replaces the source of kind's /lib/modules bind mount (for hosts without
	// /lib/modules, where docker would otherwise create the directory on the host).
	LibModules string `json:"lib_modules,omitempty"`
}

// WriteConfig writes cfg to dir/ConfigFile atomically.
func WriteConfig(dir string, cfg Config) error {
	cfg.Schema = schemaVersion
	data, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, ConfigFile+".tmp-*")
	if err != nil {
		return err
	}
	if _, err := tmp.Write(append(data, '\n')); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return err
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	return os.Rename(tmp.Name(), filepath.Join(dir, ConfigFile))
}

// ReadConfig reads dir/ConfigFile, rejecting unknown fields and other schema versions.
func ReadConfig(dir string) (Config, error) {
	var cfg Config
	f, err := os.Open(filepath.Join(dir, ConfigFile))
	if err != nil {
		return cfg, err
	}
	defer f.Close()
	dec := json.NewDecoder(f)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&cfg); err != nil {
		return cfg, fmt.Errorf("%s: %w", f.Name(), err)
	}
	if cfg.Schema != schemaVersion {
		return cfg, fmt.Errorf("%s: schema %d, want %d", f.Name(), cfg.Schema, schemaVersion)
	}
	return cfg, nil
}

// Invoked reports whether this process was started under the name `docker`.
func Invoked() bool { return filepath.Base(os.Args[0]) == "docker" }

// Dispatch runs the shim and does not return when this process was started under the name `docker`; otherwise
// it returns at once. Call it first thing in main() (and in a test binary's TestMain).
func Dispatch() {
	if !Invoked() {
		return
	}
	os.Exit(Main(os.Args))
}

// Main rewrites argv[1:] and execs the real docker. It only returns when that fails, with an exit code.
func Main(argv []string) int {
	dir, err := findDir()
	if err != nil {
		fmt.Fprintf(os.Stderr, "ckslab docker shim: %v\n", err)
		return 127
	}
	cfg, err := ReadConfig(dir)
	if err != nil {
		fmt.Fprintf(os.Stderr, "ckslab docker shim: %v\n", err)
		return 127
	}
	args := Rewrite(argv[1:], cfg)
	if logPath := os.Getenv(EnvLog); logPath != "" {
		if f, err := os.OpenFile(logPath, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644); err == nil {
			fmt.Fprintf(f, "%s docker %s\n", time.Now().UTC().Format(time.RFC3339), strings.Join(args, " "))
			f.Close()
		}
	}
	err = syscall.Exec(cfg.RealDocker, append([]string{"docker"}, args...), os.Environ())
	fmt.Fprintf(os.Stderr, "ckslab docker shim: exec %s: %v\n", cfg.RealDocker, err)
	return 127
}

// findDir locates the shim directory: $CKSLAB_DOCKER_SHIM_DIR, else the PATH entry whose `docker` is a link to
// this executable and has a shim.json next to it.
func findDir() (string, error) {
	if d := os.Getenv(EnvDir); d != "" {
		return d, nil
	}
	self, err := os.Executable()
	if err != nil {
		return "", err
	}
	self, _ = filepath.EvalSymlinks(self)
	for _, d := range filepath.SplitList(os.Getenv("PATH")) {
		target, err := filepath.EvalSymlinks(filepath.Join(d, "docker"))
		if err != nil || target != self {
			continue
		}
		if _, err := os.Stat(filepath.Join(d, ConfigFile)); err == nil {
			return d, nil
		}
	}
	return "", errors.New("started as `docker` but no shim directory found (set " + EnvDir + ")")
}
