package images

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	kinddefaults "sigs.k8s.io/kind/pkg/apis/config/defaults"
)

const goodSet = `{"schema": 1, "kubernetes_version": "v1.37.2", "node_image": "ckslab.local/node:v1.37.2-k1", "image_repository": "ckslab.local",
 "workloads": {"nginx": "ckslab.local/nginx:k2", "httpd": "ckslab.local/httpd:k3"}, "terminal_image": "ckslab.local/terminal:k4",
 "kubeadm_config_patches": ["kind: ClusterConfiguration\nimageRepository: ckslab.local\n"], "built_at": "2026-11-26T23:00:00Z"}`

func writeSet(t *testing.T, body string) string {
	t.Helper()
	dir := t.TempDir()
	if body != "" {
		p := LocalSetPath(dir)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

type fakeEngine map[string]bool

func (f fakeEngine) ImagePresent(_ context.Context, ref string) (bool, error) {
	if ref == "broken" {
		return false, errors.New("engine broke")
	}
	return f[ref], nil
}

func TestResolveLocal(t *testing.T) {
	dir := writeSet(t, goodSet)
	engine := fakeEngine{"ckslab.local/node:v1.37.2-k1": true, "ckslab.local/nginx:k2": true, "ckslab.local/httpd:k3": true, "ckslab.local/terminal:k4": true}
	got, err := Resolve(context.Background(), Local, WithCacheDir(dir), WithInspector(engine))
	if err != nil {
		t.Fatal(err)
	}
	want := &Set{
		Name: "local (built 2026-11-26T23:00:00Z)", Mode: Local,
		Node: "ckslab.local/node:v1.37.2-k1", Nginx: "ckslab.local/nginx:k2", Httpd: "ckslab.local/httpd:k3", Terminal: "ckslab.local/terminal:k4",
		KubeadmConfigPatches: []string{"kind: ClusterConfiguration\nimageRepository: ckslab.local\n"},
		KubernetesVersion:    "v1.37.2", ImageRepository: "ckslab.local",
		BuiltAt: time.Date(2026, 11, 26, 23, 0, 0, 0, time.UTC), Source: LocalSetPath(dir),
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Resolve(local) (-want +got):\n%s", diff)
	}
}

func TestResolveLocalErrors(t *testing.T) {
	tests := []struct {
		name    string
		body    string
		engine  fakeEngine
		wantErr []string
	}{
		{name: "not built", body: "", wantErr: []string{"has not been built", "make images", "local-set.json"}},
		{name: "unknown field", body: strings.Replace(goodSet, `"schema": 1,`, `"schema": 1, "nodeImage": "x",`, 1), wantErr: []string{"unknown field", "make images"}},
		{name: "other schema", body: strings.Replace(goodSet, `"schema": 1`, `"schema": 2`, 1), wantErr: []string{"schema 2", "make images"}},
		{name: "missing node image", body: strings.Replace(goodSet, `"node_image": "ckslab.local/node:v1.37.2-k1",`, ``, 1), wantErr: []string{"node_image", "make images"}},
		{name: "missing workload", body: strings.Replace(goodSet, `"httpd": "ckslab.local/httpd:k3"`, `"apache": "x"`, 1), wantErr: []string{"workloads.httpd", "unknown workloads.apache"}},
		{name: "not JSON", body: "schema: 1", wantErr: []string{"not usable", "make images"}},
		{name: "trailing data", body: goodSet + "{}", wantErr: []string{"trailing data"}},
		{name: "bad time", body: strings.Replace(goodSet, "2026-11-26T23:00:00Z", "yesterday", 1), wantErr: []string{"built_at"}},
		{
			name: "images missing from the engine", body: goodSet,
			engine:  fakeEngine{"ckslab.local/node:v1.37.2-k1": true, "ckslab.local/httpd:k3": true},
			wantErr: []string{"ckslab.local/nginx:k2, ckslab.local/terminal:k4", "make images"},
		},
		{name: "engine error", body: strings.Replace(goodSet, "ckslab.local/nginx:k2", "broken", 1), engine: fakeEngine{}, wantErr: []string{"engine broke"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := []Option{WithCacheDir(writeSet(t, tt.body))}
			if tt.engine != nil {
				opts = append(opts, WithInspector(tt.engine))
			}
			set, err := Resolve(context.Background(), Local, opts...)
			if err == nil {
				t.Fatalf("Resolve succeeded with %+v", set)
			}
			for _, w := range tt.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

func TestResolvePublic(t *testing.T) {
	set, err := Resolve(context.Background(), Public, WithCacheDir(t.TempDir()), WithInspector(fakeEngine{}))
	if err != nil {
		t.Fatal(err)
	}
	if set.Node != kinddefaults.Image || set.Terminal != set.Node || set.Nginx != PublicNginx || set.Httpd != PublicHttpd {
		t.Errorf("public set = %+v", set)
	}
	for _, img := range set.Images() {
		// public images are short names resolved by the engine's default registry: no host in them
		if first, _, _ := strings.Cut(img, "/"); strings.ContainsAny(first, ".:") && strings.Contains(img, "/") {
			t.Errorf("public image %q names a registry host", img)
		}
	}
	if got := set.Images(); len(got) != 3 {
		t.Errorf("Images() = %q, want 3 distinct images (terminal = node)", got)
	}
}

func TestModeFrom(t *testing.T) {
	env := func(v string) func(string) string {
		return func(k string) string {
			if k == EnvMode {
				return v
			}
			return ""
		}
	}
	tests := []struct {
		flag, env string
		want      Mode
		wantErr   bool
	}{
		{"", "", Public, false},
		{"", "local", Local, false},
		{"public", "local", Public, false},
		{"LOCAL", "", Local, false},
		{"", "offline", "", true},
		{"privat", "", "", true},
	}
	for _, tt := range tests {
		got, err := ModeFrom(tt.flag, env(tt.env))
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("ModeFrom(%q, env %q) = %q, %v; want %q (error %v)", tt.flag, tt.env, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestCacheDir(t *testing.T) {
	tests := []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"CKSLAB_CACHE_DIR": "/c", "XDG_CACHE_HOME": "/x", "HOME": "/h"}, "/c"},
		{map[string]string{"XDG_CACHE_HOME": "/x", "HOME": "/h"}, "/x/ckslab"},
		{map[string]string{"HOME": "/h"}, "/h/.cache/ckslab"},
	}
	for _, tt := range tests {
		got, err := CacheDir(func(k string) string { return tt.env[k] })
		if err != nil || got != tt.want {
			t.Errorf("CacheDir(%v) = %q, %v; want %q", tt.env, got, err, tt.want)
		}
	}
	if _, err := CacheDir(func(string) string { return "" }); err == nil {
		t.Error("CacheDir with no HOME succeeded")
	}
}

// The cache folder on each host: ~/.cache/ckslab on Linux and macOS, %LocalAppData%\ckslab on Windows (where HOME
// is seldom set); the overrides first everywhere.
func TestCacheDirByHost(t *testing.T) {
	j := filepath.Join
	for _, tt := range []struct {
		goos string
		env  map[string]string
		want string
	}{
		{"linux", map[string]string{"HOME": "/h", "LocalAppData": "/l"}, j("/h", ".cache", "ckslab")},
		{"darwin", map[string]string{"HOME": "/Users/a"}, j("/Users/a", ".cache", "ckslab")},
		{"darwin", map[string]string{"XDG_CACHE_HOME": "/x", "HOME": "/Users/a"}, j("/x", "ckslab")},
		{"windows", map[string]string{"LocalAppData": "/l", "HOME": "/h"}, j("/l", "ckslab")},
		{"windows", map[string]string{"HOME": "/h"}, j("/h", ".cache", "ckslab")},
		{"windows", map[string]string{"CKSLAB_CACHE_DIR": "/c", "LocalAppData": "/l"}, "/c"},
	} {
		got, err := cacheDir(tt.goos, func(k string) string { return tt.env[k] })
		if err != nil || got != tt.want {
			t.Errorf("%s: cacheDir(%v) = %q, %v; want %q", tt.goos, tt.env, got, err, tt.want)
		}
	}
	if _, err := cacheDir("windows", func(string) string { return "" }); err == nil || !strings.Contains(err.Error(), "set LocalAppData or CKSLAB_CACHE_DIR") {
		t.Errorf("cacheDir on Windows with nothing set: %v", err)
	}
}
