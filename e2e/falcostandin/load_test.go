//go:build linux

package main

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestRulesFilesLoadAsFalcoLoadsThem(t *testing.T) {
	dir := t.TempDir()
	main := filepath.Join(dir, "falco_rules.yaml")
	local := filepath.Join(dir, "falco_rules.local.yaml")
	rulesD := filepath.Join(dir, "rules.d")
	if err := os.Mkdir(rulesD, 0o755); err != nil {
		t.Fatal(err)
	}
	copyFile(t, "files/falco_rules.yaml", main)
	exam, _ := os.ReadFile(examRules)
	f, _ := os.OpenFile(main, os.O_APPEND|os.O_WRONLY, 0)
	f.Write(exam)
	f.Close()
	writeFile(t, local, "# Your custom rules!\n", 0o644)
	writeFile(t, filepath.Join(rulesD, "b.yaml"), `
- rule: Write below etc
  output: "second %fd.name"
  override:
    output: replace
`, 0o644)
	writeFile(t, filepath.Join(rulesD, "a.yml"), `
- rule: Write below etc
  output: "first %fd.name"
  override:
    output: replace
- list: package_mgmt_binaries
  items: [my-installer]
  append: true
`, 0o644)
	writeFile(t, filepath.Join(rulesD, "notes.txt"), "not a rules file", 0o644)

	rs, err := loadRules([]string{main, local, rulesD})
	if err != nil {
		t.Fatal(err)
	}
	var files []string
	for _, f := range rs.files {
		files = append(files, filepath.Base(f.path)+map[bool]string{true: " none", false: " ok"}[f.empty])
	}
	if got, want := strings.Join(files, ", "), "falco_rules.yaml ok, falco_rules.local.yaml none, a.yml ok, b.yaml ok"; got != want {
		t.Errorf("files loaded: %s, want %s", got, want)
	}
	if r := rs.active(ruleWriteEtc, 7); r == nil || r.output != "second %fd.name" || r.priority != 3 {
		t.Errorf("Write below etc: %+v (rules.d's files load in name order, the last override wins)", r)
	}
	pkg := rs.packageManagers()
	for _, name := range []string{"apk", "dpkg", "apt-get", "yum", "pip3", "75-system-updat", "my-installer"} {
		if !pkg[name] {
			t.Errorf("%s is not a package manager; the lists: %v", name, rs.lists["package_mgmt_binaries"])
		}
	}
	if pkg["rpm_binaries"] || pkg["sh"] {
		t.Error("a list's name or a shell counted as a package manager")
	}

	// the walkthrough's local-file way: a whole rule defined again replaces it; enabled: false switches it off
	writeFile(t, local, `
- rule: Launch Package Management Process in Container
  desc: mine
  condition: spawned_process and container
  output: "%evt.time,%container.id,%container.name,%user.name"
  priority: WARNING
- rule: Write below etc
  enabled: false
`, 0o644)
	rs, err = loadRules([]string{main, local})
	if err != nil {
		t.Fatal(err)
	}
	if r := rs.active(rulePackageManager, 7); r == nil || r.output != "%evt.time,%container.id,%container.name,%user.name" || r.priority.String() != "Warning" {
		t.Errorf("redefined rule: %+v", r)
	}
	if rs.active(rulePackageManager, 3) != nil {
		t.Error("a Warning rule is active with priority: error")
	}
	if rs.active(ruleWriteEtc, 7) != nil {
		t.Error("enabled: false did not switch the rule off")
	}

	writeFile(t, local, "- rule: [not, a, name\n", 0o644)
	if _, err := loadRules([]string{main, local}); err == nil || !strings.Contains(err.Error(), local) {
		t.Errorf("a broken rules file: %v", err)
	}
}

func TestConfigReadsFalcoYAML(t *testing.T) {
	dir := t.TempDir()
	cfgFile := filepath.Join(dir, "falco.yaml")
	copyFile(t, "files/falco.yaml", cfgFile)
	confD := filepath.Join(dir, "config.d")
	os.Mkdir(confD, 0o755)
	writeFile(t, filepath.Join(confD, "10-out.yaml"), "stdout_output:\n  enabled: false\nwebserver:\n  listen_port: 9000\n", 0o644)
	c, err := loadConfig(cfgFile, []string{"config_files=[" + confD + "]", "webserver.enabled=false", "append_output[0].suggested_output=false", "append_output[]={extra_output: x=%proc.name}"})
	if err != nil {
		t.Fatal(err)
	}
	if len(c.files) != 2 || c.files[1].path != filepath.Join(confD, "10-out.yaml") {
		t.Errorf("files: %+v", c.files)
	}
	if c.stdoutOutput || !c.syslogOutput || c.webserver.enabled || c.webserver.listenPort != 9000 {
		t.Errorf("stdout %v syslog %v webserver %v:%d", c.stdoutOutput, c.syslogOutput, c.webserver.enabled, c.webserver.listenPort)
	}
	want := []appendEntry{{suggested: false}, {extraOutput: "x=%proc.name"}}
	if !reflect.DeepEqual(c.appendOutput, want) {
		t.Errorf("append_output %+v, want %+v", c.appendOutput, want)
	}
	if !reflect.DeepEqual(c.rulesFiles, []string{"/etc/falco/falco_rules.yaml", "/etc/falco/falco_rules.local.yaml", "/etc/falco/rules.d"}) {
		t.Errorf("rules_files %v", c.rulesFiles)
	}
	// The lab's configure() edits the line with sed; the packaged file has it on.
	c, err = loadConfig("files/falco.yaml", []string{"config_files=[]"})
	if err != nil {
		t.Fatal(err)
	}
	if len(c.appendOutput) != 1 || !c.appendOutput[0].suggested {
		t.Errorf("the packaged falco.yaml does not turn suggested_output on: %+v", c.appendOutput)
	}
	if _, err := loadConfig(filepath.Join(dir, "missing.yaml"), nil); err == nil {
		t.Error("a missing configuration file loaded")
	}
}

func TestFlagsAreFalcos(t *testing.T) {
	o, err := parseArgs([]string{"-U", "-M", "45", "-o", "webserver.enabled=false", "-oengine.kind=modern_ebpf", "-r", "/tmp/r.yaml", "-c/etc/falco/falco.yaml", "--unbuffered"})
	if err != nil {
		t.Fatal(err)
	}
	if !o.unbuffered || o.duration != 45*time.Second || len(o.overrides) != 2 || o.rulesFiles[0] != "/tmp/r.yaml" || o.configFile != "/etc/falco/falco.yaml" {
		t.Fatalf("%+v", o)
	}
	for _, bad := range [][]string{{"-M"}, {"-M", "x"}, {"-o", "novalue"}, {"--no-such-flag"}, {"-Ux"}} {
		if _, err := parseArgs(bad); err == nil {
			t.Errorf("%q was accepted", bad)
		}
	}
}

func TestContainersFromCrictl(t *testing.T) {
	id := strings.Repeat("ab", 32)
	out := []byte(`{"status":{"id":"` + id + `","metadata":{"attempt":0,"name":"httpd"},"state":"CONTAINER_RUNNING",
	  "image":{"annotations":{},"image":"docker.io/library/httpd:2026-12-02-ab12","userSpecifiedImage":""},
	  "imageRef":"sha256:9d3a","labels":{"io.kubernetes.container.name":"httpd","io.kubernetes.pod.name":"rating-service-7f9c-x2x","io.kubernetes.pod.namespace":"team-purple","io.kubernetes.pod.uid":"u1"}},
	  "info":{"pid":4242,"sandboxID":"s"}}`)
	c, err := parseInspect(out, id, "/run/containerd/io.containerd.runtime.v2.task/k8s.io")
	if err != nil {
		t.Fatal(err)
	}
	want := &container{id: id, name: "httpd", image: "docker.io/library/httpd:2026-12-02-ab12", repository: "docker.io/library/httpd", tag: "2026-12-02-ab12",
		podName: "rating-service-7f9c-x2x", namespace: "team-purple", podUID: "u1", pid: 4242, rootfs: "/run/containerd/io.containerd.runtime.v2.task/k8s.io/" + id + "/rootfs"}
	if !reflect.DeepEqual(c, want) {
		t.Fatalf("got %+v\nwant %+v", c, want)
	}
	if _, err := parseInspect(out, strings.Repeat("cd", 32), ""); err == nil {
		t.Error("an answer about another container was taken")
	}
	for _, tt := range []struct{ image, ref, repo, tag string }{
		// what the real Falco printed in a lab whose images had containerd's import names (README of falco-real)
		{"docker.io/library/import-2026-12-02:ee0bc0f314dc", "docker.io/library/import-2026-12-02@sha256:aa", "docker.io/library/import-2026-12-02", "ee0bc0f314dc"},
		{"docker.io/library/nginx:1.19.2-alpine", "sha256:bb", "docker.io/library/nginx", "1.19.2-alpine"},
		{"localhost:5000/x/nginx", "", "localhost:5000/x/nginx", ""},
		{"sha256:cc", "sha256:cc", "", ""},
	} {
		_, repo, tag, _ := imageFields(tt.image, tt.ref, nil)
		if repo != tt.repo || tag != tt.tag {
			t.Errorf("%s (%s): repository %q tag %q, want %q %q", tt.image, tt.ref, repo, tag, tt.repo, tt.tag)
		}
	}
}

func TestCgroupIDs(t *testing.T) {
	dir := t.TempDir()
	node := strings.Repeat("1", 64)
	ctr := strings.Repeat("2", 64)
	os.MkdirAll(filepath.Join(dir, "7"), 0o755)
	writeFile(t, filepath.Join(dir, "7", "cgroup"), "12:pids:/docker/"+node+"/kubelet/kubepods/besteffort/podx/"+ctr+"\n0::/docker/"+node+"/kubelet.slice/cri-containerd-"+ctr+".scope\n", 0o644)
	if got := (procFS{root: dir}).cgroupIDs(7); !reflect.DeepEqual(got, []string{node, ctr}) {
		t.Fatalf("%v", got)
	}
	cs := newContainers("", nil, nil)
	c := &container{id: ctr}
	cs.byID[ctr] = c
	if cs.lookup([]string{node, ctr}) != c || cs.lookup([]string{node}) != nil {
		t.Fatal("a process is not in the innermost container known, or the node's own id counts as a container")
	}
}
