package shim

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestRewrite(t *testing.T) {
	cfg := Config{CapAdd: []string{"CHOWN", "SYS_ADMIN"}, LibModules: "/cache/empty-lib-modules"}
	priv := []string{"--cap-add=CHOWN", "--cap-add=SYS_ADMIN", "--security-opt=systempaths=unconfined", "--device-cgroup-rule=a *:* rwm"}
	cat := func(parts ...[]string) []string {
		var out []string
		for _, p := range parts {
			out = append(out, p...)
		}
		return out
	}
	s := func(a ...string) []string { return a }

	tests := []struct {
		name string
		cfg  Config
		args []string
		want []string
	}{
		{
			name: "kind node run",
			args: s("run", "--name", "c-control-plane", "--detach", "--tty", "--label", "io.x-k8s.kind.cluster=c",
				"--privileged", "--security-opt", "seccomp=unconfined", "--volume", "/var",
				"--volume", "/lib/modules:/lib/modules:ro", "-e", "KIND_EXPERIMENTAL_CONTAINERD_SNAPSHOTTER", "img:tag"),
			want: cat(s("run", "--name", "c-control-plane", "--detach", "--tty", "--label", "io.x-k8s.kind.cluster=c"),
				priv, s("--security-opt", "seccomp=unconfined", "--volume", "/var",
					"--volume", "/cache/empty-lib-modules:/lib/modules:ro", "-e", "KIND_EXPERIMENTAL_CONTAINERD_SNAPSHOTTER", "img:tag")),
		},
		{
			name: "flags after the image belong to the container",
			args: s("run", "--rm", "img", "--privileged", "-v", "/lib/modules:/x"),
			want: s("run", "--rm", "img", "--privileged", "-v", "/lib/modules:/x"),
		},
		{
			name: "a value that looks like the flag is not the flag",
			args: s("run", "--name", "--privileged", "img"),
			want: s("run", "--name", "--privileged", "img"),
		},
		{
			name: "--privileged=false is left alone, --privileged=true is rewritten",
			args: s("run", "--privileged=false", "--privileged=true", "img"),
			want: cat(s("run", "--privileged=false"), priv, s("img")),
		},
		{
			name: "volume spellings",
			args: s("run", "-v", "/lib/modules:/lib/modules:ro", "--volume=/lib/modules/:/lib/modules", "-v", "/var", "-v", "/lib/modules2:/m", "img"),
			want: s("run", "-v", "/cache/empty-lib-modules:/lib/modules:ro", "--volume=/cache/empty-lib-modules:/lib/modules", "-v", "/var", "-v", "/lib/modules2:/m", "img"),
		},
		{
			name: "host with /lib/modules keeps the bind",
			cfg:  Config{CapAdd: []string{"CHOWN", "SYS_ADMIN"}},
			args: s("run", "--volume", "/lib/modules:/lib/modules:ro", "--privileged", "img"),
			want: cat(s("run", "--volume", "/lib/modules:/lib/modules:ro"), priv, s("img")),
		},
		{
			name: "short flag clusters",
			args: s("run", "-it", "-dv", "/lib/modules:/lib/modules:ro", "--privileged", "img", "sh"),
			want: cat(s("run", "-it", "-dv", "/lib/modules:/lib/modules:ro"), priv, s("img", "sh")),
		},
		{
			name: "global flags and docker container run",
			args: s("--log-level", "warn", "-D", "container", "run", "--privileged", "img"),
			want: cat(s("--log-level", "warn", "-D", "container", "run"), priv, s("img")),
		},
		{
			name: "create is rewritten like run",
			args: s("create", "--privileged", "img"),
			want: cat(s("create"), priv, s("img")),
		},
		{
			name: "kind node exec",
			args: s("exec", "--privileged", "-i", "-e", "A=B", "c-control-plane", "kubeadm", "--privileged"),
			want: s("exec", "-i", "-e", "A=B", "c-control-plane", "kubeadm", "--privileged"),
		},
		{
			name: "other commands pass through",
			args: s("ps", "-a", "--filter", "label=io.x-k8s.kind.cluster", "--privileged"),
			want: s("ps", "-a", "--filter", "label=io.x-k8s.kind.cluster", "--privileged"),
		},
		{
			name: "-- ends the flags",
			args: s("run", "--", "img", "--privileged"),
			want: s("run", "--", "img", "--privileged"),
		},
		{name: "no arguments", args: s(), want: []string{}},
		{name: "only global flags", args: s("--version"), want: s("--version")},
		{name: "truncated value flag", args: s("run", "--name"), want: s("run", "--name")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := cfg
			if tt.cfg.CapAdd != nil {
				c = tt.cfg
			}
			got := Rewrite(tt.args, c)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Rewrite(%q) mismatch (-want +got):\n%s", tt.args, diff)
			}
		})
	}
}

func TestConfigRoundTrip(t *testing.T) {
	dir := t.TempDir()
	in := Config{RealDocker: "/usr/bin/docker", CapAdd: []string{"CHOWN"}, LibModules: "/x"}
	if err := WriteConfig(dir, in); err != nil {
		t.Fatal(err)
	}
	out, err := ReadConfig(dir)
	if err != nil {
		t.Fatal(err)
	}
	in.Schema = schemaVersion
	if diff := cmp.Diff(in, out); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
}

func TestReadConfigIsStrict(t *testing.T) {
	for name, body := range map[string]string{
		"unknown field": `{"schema":1,"real_docker":"/d","cap_add":[],"extra":1}`,
		"other schema":  `{"schema":2,"real_docker":"/d","cap_add":[]}`,
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, ConfigFile), []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
			if _, err := ReadConfig(dir); err == nil || !strings.Contains(err.Error(), ConfigFile) {
				t.Errorf("ReadConfig accepted %s (err %v)", body, err)
			}
		})
	}
}
