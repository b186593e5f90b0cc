package falco

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"sigs.k8s.io/yaml"
)

// fakeNode answers commands from a script; Falco itself cannot run on this
// machine (see README), so the install plan is tested against it here and
// on a real node in the e2e suite.
type fakeNode struct {
	mu      sync.Mutex
	answers map[string]func(stdin []byte) (string, error)
	calls   []string
	stdins  map[string][]byte
}

func newFakeNode() *fakeNode {
	return &fakeNode{answers: map[string]func([]byte) (string, error){}, stdins: map[string][]byte{}}
}

func (f *fakeNode) String() string { return "cluster1-node1" }

func (f *fakeNode) on(cmd string, out string, err error) {
	f.answers[cmd] = func([]byte) (string, error) { return out, err }
}

func (f *fakeNode) Exec(_ context.Context, stdin io.Reader, argv ...string) ([]byte, error) {
	cmd := strings.Join(argv, " ")
	var in []byte
	if stdin != nil {
		in, _ = io.ReadAll(stdin)
	}
	f.mu.Lock()
	f.calls = append(f.calls, cmd)
	f.stdins[cmd] = in
	answer, ok := f.answers[cmd]
	f.mu.Unlock()
	if !ok {
		return nil, nil
	}
	out, err := answer(in)
	return []byte(out), err
}

func failed(msg string) error {
	return &ExecError{Node: "cluster1-node1", Err: errors.New("exit status 1"), Output: msg}
}

const (
	goodStatus   = "Name:\tsh\nCapEff:\t000001ffffffffff\nCapBnd:\t000001ffffffffff\n"
	noResStatus  = "Name:\tsh\nCapEff:\t000001fffeffffff\nCapBnd:\t000001fffeffffff\n"
	unprivStatus = "Name:\tsh\nCapEff:\t00000000a80425fb\nCapBnd:\t00000000a80425fb\n"
	memlockCmd   = "sh -c ulimit -H -l unlimited && ulimit -S -l unlimited"
)

func TestCheckNode(t *testing.T) {
	for _, tt := range []struct {
		name   string
		setup  func(*fakeNode)
		checks []string
	}{
		{"capable node", func(n *fakeNode) {}, nil},
		{"this machine: no CAP_SYS_RESOURCE", func(n *fakeNode) {
			n.on("cat /proc/self/status", noResStatus, nil)
			n.on(memlockCmd, "", failed("sh: ulimit: error setting limit (Operation not permitted)"))
		}, []string{"memlock"}},
		{"no BTF", func(n *fakeNode) { n.on("test -r /sys/kernel/btf/vmlinux", "", failed("")) }, []string{"btf"}},
		{"unprivileged node", func(n *fakeNode) { n.on("cat /proc/self/status", unprivStatus, nil) }, []string{"ebpf"}},
		{"old kernel", func(n *fakeNode) { n.on("uname -r", "5.4.0-150-generic\n", nil) }, []string{"kernel"}},
		{"linux 7", func(n *fakeNode) { n.on("uname -r", "7.0.1-arch1\n", nil) }, []string{"kernel"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			n := newFakeNode()
			n.on("uname -r", "6.18.44-fc-v669\n", nil)
			n.on("cat /proc/self/status", goodStatus, nil)
			tt.setup(n)
			p, err := CheckNode(context.Background(), n, Pinned)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, pr := range p.Problems {
				got = append(got, pr.Check)
				if pr.Problem == "" || pr.Fix == "" {
					t.Errorf("problem without text or fix: %+v", pr)
				}
			}
			if strings.Join(got, ",") != strings.Join(tt.checks, ",") {
				t.Fatalf("problems %v, want %v", got, tt.checks)
			}
			if p.OK() != (len(tt.checks) == 0) {
				t.Errorf("OK() = %v", p.OK())
			}
		})
	}
	n := newFakeNode()
	n.on("cat /proc/self/status", noResStatus, nil)
	n.on(memlockCmd, "", failed("not permitted"))
	n.on("uname -r", "6.18.44\n", nil)
	p, _ := CheckNode(context.Background(), n, Pinned)
	if !strings.Contains(p.Error(), "CAP_SYS_RESOURCE is missing") || !strings.Contains(p.Error(), "Falco cannot run on this machine") {
		t.Errorf("message: %s", p.Error())
	}
	if regexp.MustCompile(`machine: [A-Z][a-z]`).MatchString(p.Error()) {
		t.Errorf("a capital after the colon: %s", p.Error())
	}
}

func TestLowerFirst(t *testing.T) {
	for in, want := range map[string]string{
		"The lab's nodes lack it.":    "the lab's nodes lack it.",
		"CAP_SYS_RESOURCE is missing": "CAP_SYS_RESOURCE is missing",
		"":                            "",
		"x":                           "x",
	} {
		if got := lowerFirst(in); got != want {
			t.Errorf("lowerFirst(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestCheckNodeExecFailure(t *testing.T) {
	n := newFakeNode()
	n.on("uname -r", "", errors.New("docker: container not running"))
	if _, err := CheckNode(context.Background(), n, Pinned); err == nil || !strings.Contains(err.Error(), "kernel version") {
		t.Errorf("err = %v", err)
	}
}

func TestKernelProblem(t *testing.T) {
	for _, tt := range []struct {
		kernel, falco string
		ok            bool
	}{
		{"6.18.44-fc-v669", "0.44.1", true},
		{"5.8.0", "0.44.1", true},
		{"5.7.19", "0.44.1", false},
		{"6.15.0", "0.40.0", false},
		{"6.14.0", "0.40.0", true},
		{"7.0.0", "0.44.1", false},
		{"7.0.0", "0.45.0", true},
		{"garbage", "0.44.1", false},
	} {
		if _, ok := kernelProblem(tt.kernel, tt.falco); ok != tt.ok {
			t.Errorf("kernel %s with Falco %s: ok=%v, want %v", tt.kernel, tt.falco, ok, tt.ok)
		}
	}
}

func writeDeb(t *testing.T, dir, name string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte("!<arch>\ndebian-binary   0           0     0     100644  4         `\n2.0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// nodeMountinfo is a kind node's /proc/self/mountinfo as Docker makes it (lines of a real container's, shortened).
const (
	nodeID        = "67b9d27fb647"
	nodeFullID    = nodeID + "5c3a0f2e1d4b6a79880c1e2f3a4b5c6d7e8f9a0b1c2d3e4f5a6b"
	nodeMountinfo = "76 75 0:52 / / rw,relatime master:1 - overlay overlay rw,lowerdir=/var/lib/docker/overlay2/l/X\n" +
		"93 76 254:0 /var/lib/docker/containers/" + nodeFullID + "/resolv.conf /etc/resolv.conf rw,relatime - ext4 /dev/vda rw\n" +
		"94 76 254:0 /var/lib/docker/containers/" + nodeFullID + "/hostname /etc/hostname rw,relatime - ext4 /dev/vda rw\n" +
		"95 76 254:0 /var/lib/docker/containers/" + nodeFullID + "/hosts /etc/hosts rw,relatime - ext4 /dev/vda rw\n" +
		"96 76 0:30 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime - cgroup2 cgroup rw\n"
)

// installNode is a node on which Falco can be installed: dpkg, the package's falco_rules.yaml, falco.yaml with
// suggested_output on until sed turns it off, tar.
type installNode struct {
	*fakeNode
	installed string // the installed Falco's version, "" for none
	rules     string // /etc/falco/falco_rules.yaml
	pristine  bool   // whether PristineConfig exists
}

func newInstallNode() *installNode {
	n := &installNode{fakeNode: newFakeNode(), rules: "- rule: stable\n"}
	n.answers["dpkg-query -W -f=${Version} falco"] = func([]byte) (string, error) {
		if n.installed == "" {
			return "", failed("dpkg-query: no packages found matching falco")
		}
		return n.installed, nil
	}
	n.answers["cat "+RulesFile] = func([]byte) (string, error) { return n.rules, nil }
	n.answers["tee -a "+RulesFile] = func(in []byte) (string, error) { n.rules += string(in); return string(in), nil }
	n.on("cat /proc/self/mountinfo", nodeMountinfo, nil)
	n.on("grep -cE "+suggestedOn+" "+ConfigFile, "0\n", failed(""))
	n.answers["test -f "+PristineConfig] = func([]byte) (string, error) {
		if !n.pristine {
			return "", failed("")
		}
		return "", nil
	}
	n.answers["tar -C /etc -cf "+PristineConfig+" falco"] = func([]byte) (string, error) { n.pristine = true; return "", nil }
	n.on("tar -tf "+PristineConfig, "falco/\nfalco/falco.yaml\nfalco/falco_rules.yaml\nfalco/falco_rules.local.yaml\nfalco/rules.d/\nfalco/config.d/\n", nil)
	return n
}

// dpkg installs version when asked.
func (n *installNode) dpkgInstalls(version string) {
	n.answers["env FALCO_FRONTEND=noninteractive FALCO_DRIVER_CHOICE=modern_ebpf FALCOCTL_ENABLED=no DEBIAN_FRONTEND=noninteractive dpkg -i /var/cache/ckslab/falco.deb"] = func([]byte) (string, error) {
		n.installed = version
		return "", nil
	}
}

// index is the position of the first call that starts with prefix, or -1.
func (f *fakeNode) index(prefix string) int {
	for i, c := range f.calls {
		if strings.HasPrefix(c, prefix) {
			return i
		}
	}
	return -1
}

// Falco 0.40.0 (engines built into its libraries) and 0.44.1 (the container plugin) get the same configuration:
// the suggested_output edit of falco.yaml, no file in config.d and no container-engine setting (see configure),
// the lab's rules with the node's own id as the host, then the copy of /etc/falco that reset restores.
func TestInstall(t *testing.T) {
	for _, version := range []string{"0.40.0", "0.44.1"} {
		t.Run(version, func(t *testing.T) {
			pkg := writeDeb(t, t.TempDir(), "falco-"+version+"-x86_64.deb")
			n := newInstallNode()
			n.dpkgInstalls(version)
			if err := Install(context.Background(), n, pkg, version, nil); err != nil {
				t.Fatal(err)
			}
			first := strings.Join(n.calls, "\n")
			for _, want := range []string{"cp /dev/stdin /var/cache/ckslab/falco.deb", "dpkg -i", "tee -a " + RulesFile, "sed -i ",
				"tar -C /etc -cf " + PristineConfig + " falco", "systemctl enable falco-modern-bpf.service", "systemctl restart falco"} {
				if !strings.Contains(first, want) {
					t.Errorf("install did not run %q:\n%s", want, first)
				}
			}
			if strings.Contains(first, "config.d") || strings.Contains(first, "container_engines") || strings.Contains(first, "engines") {
				t.Errorf("install wrote a container-engine setting:\n%s", first)
			}
			if got := n.calls[n.index("sed -i ")]; got != "sed -i "+`s/^\(\s*-\s*suggested_output:\s*\)true\s*$/\1false/`+" "+ConfigFile {
				t.Errorf("falco.yaml edit: %q", got)
			}
			// the copy is of /etc/falco as install leaves it: after the rules and the edit, before Falco starts
			keep := n.index("tar -C /etc -cf ")
			if keep < n.index("tee -a "+RulesFile) || keep < n.index("grep -cE ") || keep > n.index("systemctl restart") {
				t.Errorf("the copy of /etc/falco was not made between the configuration and the start:\n%s", first)
			}
			if got := n.stdins["cp /dev/stdin /var/cache/ckslab/falco.deb"]; !strings.HasPrefix(string(got), "!<arch>") {
				t.Errorf("the package was not streamed into the node: %q", got)
			}
			for _, want := range []string{"- rule: Launch Package Management Process in Container",
				`condition: (container.id != host and container.id != "` + nodeID + `")`, "- macro: container\n"} {
				if !strings.Contains(n.rules, want) {
					t.Errorf("the rules appended lack %q", want)
				}
			}
			if strings.Contains(n.rules, NodeIDPlaceholder) {
				t.Error("the rules appended still hold the placeholder")
			}

			// Again: nothing is installed, appended or copied twice (the learner may have edited /etc/falco by now).
			n.calls = nil
			if err := Install(context.Background(), n, pkg, version, nil); err != nil {
				t.Fatal(err)
			}
			second := strings.Join(n.calls, "\n")
			for _, not := range []string{"dpkg -i", "tee -a", "tar -C /etc -cf", "cat /proc/self/mountinfo"} {
				if strings.Contains(second, not) {
					t.Errorf("second install ran %q again:\n%s", not, second)
				}
			}
			if strings.Count(n.rules, examRulesMarker) != 1 {
				t.Errorf("rules appended %d times", strings.Count(n.rules, examRulesMarker))
			}
		})
	}
}

// A Falco already installed but without the copy (an install stopped before it): the copy is made.
func TestInstallMakesMissingPristineCopy(t *testing.T) {
	n := newInstallNode()
	n.installed = "0.44.1"
	if err := Install(context.Background(), n, "unused.deb", "0.44.1", nil); err != nil {
		t.Fatal(err)
	}
	if n.index("tar -C /etc -cf ") < 0 || !n.pristine {
		t.Errorf("no copy made:\n%s", strings.Join(n.calls, "\n"))
	}
}

func TestInstallFailsWithoutTheNodeID(t *testing.T) {
	n := newInstallNode()
	n.installed = "0.44.1"
	n.on("cat /proc/self/mountinfo", "76 75 0:52 / / rw,relatime - overlay overlay rw\n", nil)
	err := Install(context.Background(), n, "unused.deb", "0.44.1", nil)
	if err == nil || !strings.Contains(err.Error(), "/proc/self/mountinfo") {
		t.Fatalf("err = %v, want one naming /proc/self/mountinfo", err)
	}
	if n.index("tee -a") >= 0 {
		t.Error("rules appended without the node's id")
	}
}

func TestInstallRefusesWrongVersion(t *testing.T) {
	pkg := writeDeb(t, t.TempDir(), "falco-0.43.1-x86_64.deb")
	n := newFakeNode()
	n.on("dpkg-query -W -f=${Version} falco", "0.43.1", nil)
	err := Install(context.Background(), n, pkg, "0.44.1", nil)
	if err == nil || !strings.Contains(err.Error(), `installed Falco "0.43.1", expected 0.44.1`) {
		t.Errorf("err = %v", err)
	}
}

// A failed edit, or one that did not take, is an error naming the file.
func TestConfigureFailedEditNamesTheFile(t *testing.T) {
	for name, setup := range map[string]func(*fakeNode){
		"sed fails": func(n *fakeNode) {
			n.on("sed -i "+`s/^\(\s*-\s*suggested_output:\s*\)true\s*$/\1false/`+" "+ConfigFile, "", failed("sed: couldn't open temporary file /etc/falco/sedAbc: Read-only file system"))
		},
		"the edit did not take": func(n *fakeNode) { n.on("grep -cE "+suggestedOn+" "+ConfigFile, "1\n", nil) },
	} {
		t.Run(name, func(t *testing.T) {
			n := newFakeNode()
			setup(n)
			if err := configure(context.Background(), n); err == nil || !strings.Contains(err.Error(), ConfigFile) {
				t.Errorf("err = %v, want one naming %s", err, ConfigFile)
			}
		})
	}
}

func TestKeepPristineConfigChecksTheCopy(t *testing.T) {
	n := newInstallNode()
	n.on("tar -tf "+PristineConfig, "falco/\nfalco/falco.yaml\n", nil)
	err := keepPristineConfig(context.Background(), n, true)
	if err == nil || !strings.Contains(err.Error(), PristineConfig) || !strings.Contains(err.Error(), RulesFile) {
		t.Errorf("err = %v, want one naming the copy and the file it lacks", err)
	}
	n = newInstallNode()
	n.on("tar -C /etc -cf "+PristineConfig+" falco", "", failed("tar: /var/lib/ckslab: Cannot open: No space left on device"))
	if err := keepPristineConfig(context.Background(), n, true); err == nil || !strings.Contains(err.Error(), PristineConfig) {
		t.Errorf("err = %v, want one naming %s", err, PristineConfig)
	}
}

func TestNodeContainerID(t *testing.T) {
	podman := "88 70 0:44 /containers/storage/overlay-containers/" + nodeFullID + "/userdata/hostname /etc/hostname rw - tmpfs tmpfs rw\n"
	rootless := "90 70 8:2 /home/u/.local/share/docker/containers/" + nodeFullID + "/hosts /etc/hosts rw - ext4 /dev/sda2 rw\n"
	for name, mountinfo := range map[string]string{"docker": nodeMountinfo, "podman": podman, "rootless docker": rootless} {
		n := newFakeNode()
		n.on("cat /proc/self/mountinfo", mountinfo, nil)
		if id, err := NodeContainerID(context.Background(), n); err != nil || id != nodeID {
			t.Errorf("%s: %q, %v; want %s", name, id, err, nodeID)
		}
	}
	other := strings.Replace(nodeMountinfo, nodeFullID+"/hosts", strings.Repeat("a", 64)+"/hosts", 1)
	for name, mountinfo := range map[string]string{
		"not a container":     "76 75 0:52 / / rw,relatime - ext4 /dev/vda rw\n",
		"two containers":      other,
		"a file of its own":   "93 76 254:0 /srv/containers/" + nodeFullID + "/hostname /srv/hostname rw - ext4 /dev/vda rw\n",
		"an id that is short": "93 76 254:0 /var/lib/docker/containers/" + nodeID + "/hostname /etc/hostname rw - ext4 /dev/vda rw\n",
	} {
		n := newFakeNode()
		n.on("cat /proc/self/mountinfo", mountinfo, nil)
		if id, err := NodeContainerID(context.Background(), n); err == nil || !strings.Contains(err.Error(), "/proc/self/mountinfo") {
			t.Errorf("%s: %q, %v; want an error naming /proc/self/mountinfo", name, id, err)
		}
	}
}

func TestExamRules(t *testing.T) {
	var rules []map[string]any
	if err := yaml.Unmarshal(ExamRules, &rules); err != nil {
		t.Fatalf("the lab's rules are not valid YAML: %v", err)
	}
	outputs := map[string]string{}
	for _, r := range rules {
		if name, ok := r["rule"].(string); ok {
			outputs[name] = r["output"].(string)
			for _, k := range []string{"desc", "condition", "priority"} {
				if r[k] == nil {
					t.Errorf("rule %q has no %s", name, k)
				}
			}
		}
	}
	for name, prefix := range map[string]string{
		"Launch Package Management Process in Container": "Package management process launched in container (user=%user.name ",
		"Write below etc": "File below /etc opened for writing (user=%user.name ",
	} {
		out, ok := outputs[name]
		if !ok {
			t.Errorf("rule %q missing", name)
			continue
		}
		if !strings.HasPrefix(out, prefix) || strings.Contains(strings.TrimSpace(out), "\n") {
			t.Errorf("rule %q output %q: want one line starting %q", name, out, prefix)
		}
	}
	if !strings.Contains(outputs["Launch Package Management Process in Container"], "container_id=%container.id container_name=%container.name") {
		t.Error("package-manager rule output lacks the container fields")
	}
}

// The node's own id is the host for the lab's two rules and for every rule that asks for "container", as
// container.id=host is on the exam's node.
func TestExamRulesFor(t *testing.T) {
	b, err := ExamRulesFor(nodeID)
	if err != nil {
		t.Fatal(err)
	}
	var items []map[string]any
	if err := yaml.Unmarshal(b, &items); err != nil {
		t.Fatalf("not valid YAML: %v", err)
	}
	macros := map[string]string{}
	conditions := map[string]string{}
	for _, it := range items {
		if m, ok := it["macro"].(string); ok {
			macros[m] = it["condition"].(string)
		}
		if r, ok := it["rule"].(string); ok {
			conditions[r] = it["condition"].(string)
		}
	}
	if got, want := macros["ckslab_in_container"], `(container.id != host and container.id != "`+nodeID+`")`; got != want {
		t.Errorf("ckslab_in_container = %q, want %q", got, want)
	}
	if got := macros["container"]; got != "(ckslab_in_container)" {
		t.Errorf("container = %q: the stable rules' macro must treat the node as the host too", got)
	}
	for _, r := range []string{"Launch Package Management Process in Container", "Write below etc"} {
		if !strings.Contains(conditions[r], "ckslab_in_container") {
			t.Errorf("rule %q does not ask for ckslab_in_container: %q", r, conditions[r])
		}
	}
	if bytes.Contains(b, []byte(NodeIDPlaceholder)) || !bytes.Contains(b, []byte("node's: "+nodeID+".")) {
		t.Error("the placeholder is left, or the comment does not name the node's id")
	}
	for _, bad := range []string{"", "host", nodeFullID, "67B9D27FB647", `67b9d27fb64"`} {
		if _, err := ExamRulesFor(bad); err == nil {
			t.Errorf("ExamRulesFor(%q) accepted it", bad)
		}
	}
}

const restoreCmd = `sh -c rm -rf "$1" && tar -C "$2" -xpf "$3" sh /etc/falco /etc ` + PristineConfig

// Reset's restore: Falco stopped, /etc/falco removed and extracted from the copy, Falco started, in that order.
func TestRestoreConfig(t *testing.T) {
	n := newFakeNode()
	if err := RestoreConfig(context.Background(), n); err != nil {
		t.Fatal(err)
	}
	want := []string{"test -f " + PristineConfig, "systemctl stop falco", restoreCmd, "systemctl start falco"}
	if strings.Join(n.calls, "\n") != strings.Join(want, "\n") {
		t.Errorf("calls:\n%s\nwant:\n%s", strings.Join(n.calls, "\n"), strings.Join(want, "\n"))
	}
}

func TestRestoreConfigFailures(t *testing.T) {
	for name, tt := range map[string]struct {
		cmd       string
		want      []string
		notCalled string
	}{
		"no copy (a lab of an older ckslab)": {"test -f " + PristineConfig, []string{PristineConfig, "ckslab down and ckslab up"}, "systemctl stop"},
		"extraction fails":                   {restoreCmd, []string{"restoring /etc/falco from " + PristineConfig, "No space left"}, "systemctl start"},
		"Falco does not stop":                {"systemctl stop falco", []string{"stopping the Falco service"}, "rm -rf"},
	} {
		t.Run(name, func(t *testing.T) {
			n := newFakeNode()
			n.on(tt.cmd, "", failed("tar: falco/falco.yaml: Cannot write: No space left on device"))
			err := RestoreConfig(context.Background(), n)
			for _, w := range tt.want {
				if err == nil || !strings.Contains(err.Error(), w) {
					t.Errorf("err = %v, want one containing %q", err, w)
				}
			}
			if strings.Contains(strings.Join(n.calls, "\n"), tt.notCalled) {
				t.Errorf("ran %q after the failure:\n%s", tt.notCalled, strings.Join(n.calls, "\n"))
			}
		})
	}
}

// What the learner changed in /etc/falco, against the copy: an edited rules file, a file's mode, a link's
// target, added files, a removed file; an untouched tree has no changes.
func TestConfigChanges(t *testing.T) {
	const tmp = "/tmp/tmp.Xb12"
	h := func(c byte) string { return strings.Repeat(string(c), 64) }
	pristine := "entry\td\t755\t./rules.d\t\nentry\tf\t644\t./falco.yaml\t\nentry\tf\t644\t./falco_rules.yaml\t\nentry\tf\t644\t./falco_rules.local.yaml\t\n" +
		"entry\tl\t777\t./current\tfalco.yaml\n" +
		h('a') + "  ./falco.yaml\n" + h('b') + "  ./falco_rules.yaml\n" + h('c') + "  ./falco_rules.local.yaml\n"
	edited := "entry\td\t755\t./rules.d\t\nentry\tf\t644\t./rules.d/mine.yaml\t\nentry\tf\t600\t./falco.yaml\t\nentry\tf\t644\t./falco_rules.yaml\t\n" +
		"entry\tf\t644\t./falco_rules.yaml_ori\t\nentry\tl\t777\t./current\tfalco_rules.yaml\n" +
		h('a') + "  ./falco.yaml\n" + h('d') + "  ./falco_rules.yaml\n" + h('b') + "  ./falco_rules.yaml_ori\n" + h('e') + "  ./rules.d/mine.yaml\n"
	for name, tt := range map[string]struct {
		now  string
		want []string
	}{
		"edited":  {edited, []string{"changed current", "changed falco.yaml", "removed falco_rules.local.yaml", "changed falco_rules.yaml", "added falco_rules.yaml_ori", "added rules.d/mine.yaml"}},
		"as made": {pristine, nil},
	} {
		t.Run(name, func(t *testing.T) {
			n := newFakeNode()
			n.on("sh -c "+manifestScript+" sh "+ConfigDir, tt.now, nil)
			n.on("mktemp -d", tmp+"\n", nil)
			n.on("sh -c "+manifestScript+" sh "+tmp+"/falco", pristine, nil)
			got, err := ConfigChanges(context.Background(), n)
			if err != nil {
				t.Fatal(err)
			}
			if strings.Join(got, "; ") != strings.Join(tt.want, "; ") {
				t.Errorf("changes %q, want %q", got, tt.want)
			}
			calls := strings.Join(n.calls, "\n")
			if !strings.Contains(calls, "tar -C "+tmp+" -xf "+PristineConfig) || !strings.HasSuffix(calls, "rm -rf "+tmp) {
				t.Errorf("the copy was not read in, or the directory not removed:\n%s", calls)
			}
		})
	}
}

func TestWaitFirstAlert(t *testing.T) {
	n := newFakeNode()
	var calls atomic.Int32
	line := "Jun 15 06:38:28 cluster1-node1 falco: 06:38:28.077150666: Error Package management process launched in container (user=root user_loginuid=-1 command=apk info container_id=090aad374a0a container_name=nginx image=library/nginx:1.27-alpine)"
	n.answers["grep -F -- "+PackageAlertText+" /var/log/syslog"] = func([]byte) (string, error) {
		if calls.Add(1) < 2 {
			return "", failed("")
		}
		return line + "\n", nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	a, err := WaitFirstAlert(ctx, n, PackageAlertText, 20*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if a.ContainerID != "090aad374a0a" || a.Host != "cluster1-node1" {
		t.Errorf("alert %+v", a)
	}
}

// Downloads: against a local server standing in for the download site,
// which this machine cannot reach.

func sum(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

func TestFetchDownloadsOnceAndVerifies(t *testing.T) {
	body := []byte("!<arch>\nfalco package bytes")
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Write(body)
	}))
	defer srv.Close()
	cache := t.TempDir()
	pkg := Package{Version: "0.44.1", File: "falco-0.44.1-x86_64.deb", URL: srv.URL + "/falco.deb", SHA256: sum(body)}
	var progressed int64
	path, err := Fetch(context.Background(), pkg, FetchOptions{CacheDir: cache, Progress: func(r, _ int64) { progressed = r }})
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(path); string(got) != string(body) || progressed != int64(len(body)) {
		t.Errorf("downloaded %q, progress %d", got, progressed)
	}
	if _, err := Fetch(context.Background(), pkg, FetchOptions{CacheDir: cache}); err != nil || hits.Load() != 1 {
		t.Errorf("second fetch: err %v, %d downloads (want 1)", err, hits.Load())
	}
	// A corrupted cache entry is replaced.
	os.WriteFile(path, []byte("garbage"), 0o644)
	if _, err := Fetch(context.Background(), pkg, FetchOptions{CacheDir: cache}); err != nil || hits.Load() != 2 {
		t.Errorf("after corruption: err %v, %d downloads (want 2)", err, hits.Load())
	}
}

func TestFetchChecksumMismatchLeavesNothing(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("tampered")) }))
	defer srv.Close()
	cache := t.TempDir()
	pkg := Package{Version: "0.44.1", File: "falco-0.44.1-x86_64.deb", URL: srv.URL, SHA256: sum([]byte("original"))}
	_, err := Fetch(context.Background(), pkg, FetchOptions{CacheDir: cache})
	if !errors.Is(err, ErrNoPackage) || !strings.Contains(err.Error(), "checksum mismatch") || !strings.Contains(err.Error(), "--falco-sha256 "+sum([]byte("tampered"))) {
		t.Fatalf("err = %v", err)
	}
	entries, _ := os.ReadDir(filepath.Join(cache, "falco"))
	if len(entries) != 0 {
		t.Errorf("left in the cache: %v", entries)
	}
	if _, err := Fetch(context.Background(), pkg, FetchOptions{CacheDir: cache, SHA256: sum([]byte("tampered"))}); err != nil {
		t.Errorf("with the override: %v", err)
	}
}

func TestFetchOfflineSaysWhatToDo(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	defer srv.Close()
	_, err := Fetch(context.Background(), Package{File: "f.deb", URL: srv.URL, SHA256: strings.Repeat("a", 64)}, FetchOptions{CacheDir: t.TempDir()})
	if !errors.Is(err, ErrNoPackage) || !strings.Contains(err.Error(), "404") || !strings.Contains(err.Error(), "--falco-package PATH") {
		t.Errorf("err = %v", err)
	}
}

func TestFetchLocalPackage(t *testing.T) {
	dir := t.TempDir()
	good := writeDeb(t, dir, "falco_0.44.1_amd64.deb")
	if p, err := Fetch(context.Background(), Pinned, FetchOptions{LocalPackage: good}); err != nil || p != good {
		t.Errorf("good package: %q, %v", p, err)
	}
	notDeb := filepath.Join(dir, "falco-0.44.1-x86_64.deb")
	os.WriteFile(notDeb, []byte("<html>not found</html>"), 0o644)
	for path, want := range map[string]string{
		notDeb:                                  "not a .deb archive",
		writeDeb(t, dir, "nginx_1.0_amd64.deb"): "not named like a Falco .deb",
		filepath.Join(dir, "missing.deb"):       "no such file",
		dir:                                     "not a file",
	} {
		_, err := Fetch(context.Background(), Pinned, FetchOptions{LocalPackage: path})
		if !errors.Is(err, ErrNoPackage) || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: err = %v, want %q", path, err, want)
		}
	}
}

func TestVersionFromFileName(t *testing.T) {
	for name, want := range map[string]string{
		"falco-0.44.1-x86_64.deb":             "0.44.1",
		"/x/falco_0.43.1_amd64.deb":           "0.43.1",
		"falco-0.0.0~e2e.standin-x86_64.deb":  "0.0.0~e2e.standin",
		"falco_0.0.0~e2e.exits_arm64.deb":     "0.0.0~e2e.exits",
		"falco-0.44.1~rc1+b2-aarch64.deb":     "0.44.1~rc1+b2",
		"falco.deb":                           "",
		"falco-0.44.1~-x86_64.deb":            "", // an empty suffix
		"falco-0.44.1~a/b-x86_64.deb":         "", // not a file name's version
		"falco-0.44.1-e2e-x86_64.deb":         "", // only "~" starts a suffix
		"falco-0.44.1~e2e.standin-x86_64.rpm": "",
	} {
		if got, _ := VersionFromFileName(name); got != want {
			t.Errorf("%s: %q, want %q", name, got, want)
		}
	}
}

func TestIsStandIn(t *testing.T) {
	for version, want := range map[string]bool{"0.0.0~e2e.standin": true, "0.0.0~e2e.exits": true, "0.44.1": false, "0.44.1~rc1": false, "": false} {
		if got := IsStandIn(version); got != want {
			t.Errorf("IsStandIn(%q) = %v, want %v", version, got, want)
		}
	}
}

// A Falco whose service fails at start-up is noticed within a poll, with its journal lines and what they mean.
func TestWaitRunningServiceFailsAtStart(t *testing.T) {
	n := newFakeNode()
	n.on("systemctl show --property=Id,ActiveState,SubState,Result falco",
		"Id=falco-modern-bpf.service\nActiveState=activating\nSubState=auto-restart\nResult=exit-code\n", nil)
	n.on("journalctl --lines 30 --no-pager --output cat _SYSTEMD_UNIT=falco-modern-bpf.service + UNIT=falco-modern-bpf.service + SYSLOG_IDENTIFIER=falco",
		"Thu Dec  3 10:00:00 2026: Falco version: 0.40.0\nlibpman: unable to bump RLIMIT_MEMLOCK to unlimited (errno: 1 | message: Operation not permitted)\n"+
			"Thu Dec  3 10:00:00 2026: An error occurred in an event source, forcing termination...\n", nil)
	start := time.Now()
	err := WaitRunning(context.Background(), n, "0.40.0", 2*time.Minute)
	var se *StartError
	if !errors.As(err, &se) {
		t.Fatalf("err = %v (%T), want a *StartError", err, err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("took %s: a failed service must be noticed at once, not after the timeout", d)
	}
	for _, want := range []string{"Falco 0.40.0 is installed but does not run", "stopped at start-up (activating (auto-restart), result exit-code)", "RLIMIT_MEMLOCK", "CAP_SYS_RESOURCE"} {
		if !strings.Contains(se.Error(), want) {
			t.Errorf("error %q lacks %q", se.Error(), want)
		}
	}
	if !strings.Contains(se.Summary(), `Falco said: "libpman: unable to bump RLIMIT_MEMLOCK`) {
		t.Errorf("summary %q does not quote Falco's line", se.Summary())
	}
	if len(se.Lines) != 3 {
		t.Errorf("lines %q, want the 3 journal lines", se.Lines)
	}
}

// The other known start-up failures are each explained; an unknown one quotes Falco's last line.
func TestStartErrorMeanings(t *testing.T) {
	for line, want := range map[string]string{
		"libbpf: prog 'signal_deliver': failed to resolve CO-RE relocation <byte_off> [42] struct kernfs_node.parent": "CO-RE relocation failed",
		"R5 invalid mem access 'scalar'": "BPF verifier rejected",
		"something new went wrong":       "",
	} {
		e := &StartError{Version: "0.40.0", Reason: "its service stopped at start-up (failed)", Lines: []string{"Falco version: 0.40.0", line}}
		e.Meaning = explain(e.Lines)
		if want == "" {
			if e.Meaning != "" {
				t.Errorf("%q: meaning %q, want none", line, e.Meaning)
			}
		} else if !strings.Contains(e.Meaning, want) {
			t.Errorf("%q: meaning %q lacks %q", line, e.Meaning, want)
		}
		if !strings.Contains(e.Summary(), line) {
			t.Errorf("summary %q does not quote %q", e.Summary(), line)
		}
	}
}

func TestWaitRunningHealthy(t *testing.T) {
	n := newFakeNode()
	n.on("systemctl show --property=Id,ActiveState,SubState,Result falco",
		"Id=falco-modern-bpf.service\nActiveState=active\nSubState=running\nResult=success\n", nil)
	n.on("curl -fsS --max-time 2 "+HealthURL, `{"status": "ok"}`, nil)
	if err := WaitRunning(context.Background(), n, "0.44.1", time.Minute); err != nil {
		t.Fatal(err)
	}
}

// Active but never healthy: a StartError after the timeout, saying what was last seen.
func TestWaitRunningNeverHealthy(t *testing.T) {
	n := newFakeNode()
	n.on("systemctl show --property=Id,ActiveState,SubState,Result falco",
		"Id=falco-modern-bpf.service\nActiveState=active\nSubState=running\nResult=success\n", nil)
	n.on("curl -fsS --max-time 2 "+HealthURL, "", failed("curl: (7) Failed to connect to localhost port 8765"))
	err := WaitRunning(context.Background(), n, "0.44.1", 50*time.Millisecond)
	var se *StartError
	if !errors.As(err, &se) || !strings.Contains(se.Reason, "Failed to connect") {
		t.Fatalf("err = %v, want a StartError saying what was last seen", err)
	}
}

// With no known line, the summary quotes Falco's last line, not systemd's.
func TestStartErrorQuotesFalcoNotSystemd(t *testing.T) {
	e := &StartError{Version: "0.40.0", Reason: "its service stopped at start-up (failed)",
		Lines: []string{"Falco version: 0.40.0", "Runtime error: something new. Exiting.", "falco-modern-bpf.service: Failed with result 'exit-code'."}}
	if got := e.Summary(); !strings.Contains(got, `Falco said: "Runtime error: something new. Exiting."`) {
		t.Errorf("summary %q", got)
	}
}

// The unit sends Falco's stderr to null: when the journal does not explain the failure, Falco is run once in
// the foreground and its own lines explain it.
func TestWaitRunningAsksFalcoInTheForeground(t *testing.T) {
	n := newFakeNode()
	n.on("systemctl show --property=Id,ActiveState,SubState,Result falco",
		"Id=falco-modern-bpf.service\nActiveState=failed\nSubState=failed\nResult=exit-code\n", nil)
	n.on("journalctl --lines 30 --no-pager --output cat _SYSTEMD_UNIT=falco-modern-bpf.service + UNIT=falco-modern-bpf.service + SYSLOG_IDENTIFIER=falco",
		"Opening 'syscall' source with modern BPF probe.\nAn error occurred in an event source, forcing termination...\nfalco-modern-bpf.service: Failed with result 'exit-code'.\n", nil)
	n.on("sh -c timeout 20 falco -o engine.kind=modern_ebpf -o webserver.enabled=false -M 3 2>&1 | tail -n 30",
		"libpman: unable to bump RLIMIT_MEMLOCK to RLIM_INFINITY (errno: 1 | message: Operation not permitted)\n", nil)
	var se *StartError
	if err := WaitRunning(context.Background(), n, "0.40.0", time.Minute); !errors.As(err, &se) {
		t.Fatalf("err = %v, want a StartError", err)
	}
	if !strings.Contains(se.Meaning, "RLIMIT_MEMLOCK") || !strings.Contains(se.Summary(), `Falco said: "libpman: unable to bump`) {
		t.Errorf("meaning %q, summary %q: the foreground run's line is not used", se.Meaning, se.Summary())
	}
}
