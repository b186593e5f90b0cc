// Package images says which container images a lab runs: the kind node image, the workload images and the
// exam terminal's image, plus the kubeadm patches that go with the node image. It is configuration that the
// provisioning code reads; the public and the locally built sets go through the same code path.
//
// The mode comes from `ckslab up --images public|local` or the environment variable CKSLAB_IMAGES (default:
// public). The local set is described by local-set.json in the cache (see LocalSetPath), written by
// `make images`.
package images

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	kinddefaults "sigs.k8s.io/kind/pkg/apis/config/defaults"
)

// Mode selects an image set.
type Mode string

const (
	// Public is the default: kind's own node image and Docker Hub workload images, pulled on demand.
	Public Mode = "public"
	// Local is the set built on this machine by `make images`, for machines without a registry.
	Local Mode = "local"

	// EnvMode is the environment variable that selects the mode when no flag does.
	EnvMode = "CKSLAB_IMAGES"
	// EnvCacheDir overrides the cache directory.
	EnvCacheDir = "CKSLAB_CACHE_DIR"
	// LocalSetSchema is the schema version of local-set.json this code reads.
	LocalSetSchema = 1
)

// Public workload images, as Docker Hub short names (no registry host).
const (
	PublicNginx = "nginx:1.27-alpine"
	PublicHttpd = "httpd:2.4-alpine"
)

// Set is one resolved image set.
type Set struct {
	// Name says where the set comes from ("public", or "local (built <time>)").
	Name string
	Mode Mode
	// Node is the kind node image.
	Node string
	// Nginx and Httpd are the scenario's workload images.
	Nginx string
	Httpd string
	// Terminal is the image of the exam terminal container (`ckslab shell`). In the public set it is the node
	// image: it is already on the machine once the cluster exists and carries bash, kubectl, ssh's client side
	// tools and the usual text tools, so the terminal costs no extra pull.
	Terminal string
	// KubeadmConfigPatches are kind kubeadmConfigPatches the node image needs (for example an image repository).
	KubeadmConfigPatches []string
	// KubernetesVersion is the node image's Kubernetes version when known ("" for the public set).
	KubernetesVersion string
	// ImageRepository is the repository of the control-plane images when the set has its own ("" otherwise).
	ImageRepository string
	// BuiltAt is when the local set was built (zero for the public set).
	BuiltAt time.Time
	// Source is the file the set was read from ("" for the public set).
	Source string
}

// Images returns every image of the set, in a fixed order, without duplicates.
func (s *Set) Images() []string {
	var out []string
	seen := map[string]bool{}
	for _, img := range []string{s.Node, s.Nginx, s.Httpd, s.Terminal} {
		if img != "" && !seen[img] {
			seen[img] = true
			out = append(out, img)
		}
	}
	return out
}

// Inspector tells whether an image is present in the container engine (internal/docker.Engine is one).
type Inspector interface {
	ImagePresent(ctx context.Context, ref string) (bool, error)
}

// ParseMode parses "public" or "local".
func ParseMode(s string) (Mode, error) {
	switch m := Mode(strings.ToLower(strings.TrimSpace(s))); m {
	case Public, Local:
		return m, nil
	}
	return "", fmt.Errorf("unknown image set %q: use public or local", s)
}

// ModeFrom picks the mode: flag when it is not empty, else $CKSLAB_IMAGES (looked up with getenv), else Public.
func ModeFrom(flag string, getenv func(string) string) (Mode, error) {
	if flag != "" {
		return ParseMode(flag)
	}
	if v := getenv(EnvMode); v != "" {
		m, err := ParseMode(v)
		if err != nil {
			return "", fmt.Errorf("%s: %w", EnvMode, err)
		}
		return m, nil
	}
	return Public, nil
}

// CacheDir is ckslab's cache directory: $CKSLAB_CACHE_DIR, else $XDG_CACHE_HOME/ckslab, else
// $HOME/.cache/ckslab (on Linux and macOS alike), on Windows %LocalAppData%\ckslab before that (getenv is
// os.Getenv in production).
func CacheDir(getenv func(string) string) (string, error) { return cacheDir(runtime.GOOS, getenv) }

func cacheDir(goos string, getenv func(string) string) (string, error) {
	if d := getenv(EnvCacheDir); d != "" {
		return d, nil
	}
	if d := getenv("XDG_CACHE_HOME"); d != "" {
		return filepath.Join(d, "ckslab"), nil
	}
	if d := getenv("LocalAppData"); goos == "windows" && d != "" {
		return filepath.Join(d, "ckslab"), nil
	}
	if h := getenv("HOME"); h != "" {
		return filepath.Join(h, ".cache", "ckslab"), nil
	}
	if goos == "windows" {
		return "", errors.New("cannot find a cache directory: set LocalAppData or " + EnvCacheDir)
	}
	return "", errors.New("cannot find a cache directory: set HOME or " + EnvCacheDir)
}

// LocalSetPath is where `make images` writes the description of the local set.
func LocalSetPath(cacheDir string) string { return filepath.Join(cacheDir, "images", "local-set.json") }

type options struct {
	cacheDir  string
	inspector Inspector
}

// Option configures Resolve.
type Option func(*options)

// WithCacheDir sets the cache directory (default: CacheDir(os.Getenv)).
func WithCacheDir(dir string) Option { return func(o *options) { o.cacheDir = dir } }

// WithInspector makes Resolve check that every image of a local set is present in the engine.
func WithInspector(i Inspector) Option { return func(o *options) { o.inspector = i } }

// Resolve returns the image set for mode.
func Resolve(ctx context.Context, mode Mode, opts ...Option) (*Set, error) {
	o := options{}
	for _, opt := range opts {
		opt(&o)
	}
	switch mode {
	case Public, "":
		return PublicSet(), nil
	case Local:
	default:
		return nil, fmt.Errorf("unknown image set %q: use public or local", mode)
	}
	if o.cacheDir == "" {
		d, err := CacheDir(os.Getenv)
		if err != nil {
			return nil, err
		}
		o.cacheDir = d
	}
	set, err := ReadLocalSet(LocalSetPath(o.cacheDir))
	if err != nil {
		return nil, err
	}
	if o.inspector != nil {
		if err := verifyPresent(ctx, set, o.inspector); err != nil {
			return nil, err
		}
	}
	return set, nil
}

// PublicSet is the set for users online: kind's default node image and Docker Hub workloads.
func PublicSet() *Set {
	return &Set{
		Name:     string(Public),
		Mode:     Public,
		Node:     kinddefaults.Image,
		Nginx:    PublicNginx,
		Httpd:    PublicHttpd,
		Terminal: kinddefaults.Image,
	}
}

// localSetFile is local-set.json, schema 1.
type localSetFile struct {
	Schema               int               `json:"schema"`
	KubernetesVersion    string            `json:"kubernetes_version"`
	NodeImage            string            `json:"node_image"`
	ImageRepository      string            `json:"image_repository"`
	Workloads            map[string]string `json:"workloads"`
	TerminalImage        string            `json:"terminal_image"`
	KubeadmConfigPatches []string          `json:"kubeadm_config_patches"`
	BuiltAt              string            `json:"built_at"`
}

// ReadLocalSet reads and checks a local-set.json; unknown fields, a missing image or another schema version are
// errors. Every error names `make images`.
func ReadLocalSet(path string) (*Set, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("the local image set has not been built (%s does not exist): run `make images` in the ckslab source tree first", path)
	}
	if err != nil {
		return nil, fmt.Errorf("reading the local image set: %w", err)
	}
	set, err := decodeLocalSet(data)
	if err != nil {
		return nil, fmt.Errorf("the local image set %s is not usable (%w): run `make images` again", path, err)
	}
	set.Source = path
	return set, nil
}

func decodeLocalSet(data []byte) (*Set, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var f localSetFile
	if err := dec.Decode(&f); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, errors.New("trailing data after the JSON object")
	}
	if f.Schema != LocalSetSchema {
		return nil, fmt.Errorf("schema %d, this ckslab reads schema %d", f.Schema, LocalSetSchema)
	}
	var missing []string
	for field, v := range map[string]string{
		"node_image": f.NodeImage, "workloads.nginx": f.Workloads["nginx"], "workloads.httpd": f.Workloads["httpd"],
		"terminal_image": f.TerminalImage, "kubernetes_version": f.KubernetesVersion,
	} {
		if strings.TrimSpace(v) == "" {
			missing = append(missing, field)
		}
	}
	for k := range f.Workloads {
		if k != "nginx" && k != "httpd" {
			missing = append(missing, "unknown workloads."+k)
		}
	}
	if len(missing) > 0 {
		slices.Sort(missing)
		return nil, fmt.Errorf("missing or wrong fields: %s", strings.Join(missing, ", "))
	}
	set := &Set{
		Name:                 string(Local),
		Mode:                 Local,
		Node:                 f.NodeImage,
		Nginx:                f.Workloads["nginx"],
		Httpd:                f.Workloads["httpd"],
		Terminal:             f.TerminalImage,
		KubeadmConfigPatches: f.KubeadmConfigPatches,
		KubernetesVersion:    f.KubernetesVersion,
		ImageRepository:      f.ImageRepository,
	}
	if f.BuiltAt != "" {
		t, err := time.Parse(time.RFC3339, f.BuiltAt)
		if err != nil {
			return nil, fmt.Errorf("built_at: %w", err)
		}
		set.BuiltAt = t
		set.Name = fmt.Sprintf("local (built %s)", t.UTC().Format(time.RFC3339))
	}
	return set, nil
}

func verifyPresent(ctx context.Context, set *Set, inspector Inspector) error {
	var missing []string
	for _, img := range set.Images() {
		ok, err := inspector.ImagePresent(ctx, img)
		if err != nil {
			return fmt.Errorf("checking the local image set: %w", err)
		}
		if !ok {
			missing = append(missing, img)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("the local image set (%s) names images the Docker engine does not have: %s: run `make images` to build them",
			set.Source, strings.Join(missing, ", "))
	}
	return nil
}
