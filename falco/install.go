package falco

import (
	"bytes"
	"context"
	_ "embed"
	"fmt"
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/ckslab/ckslab/internal/wait"
)

// The lab's rules, appended to /etc/falco/falco_rules.yaml (see the file's header), with
// NodeIDPlaceholder replaced by the node's own container id (see ExamRulesFor).
//
//go:embed files/ckslab-exam-rules.yaml
var ExamRules []byte

// NodeIDPlaceholder stands in ExamRules for the id Falco gives the node's own processes.
const NodeIDPlaceholder = "NODE_CONTAINER_ID"

// examRulesMarker identifies the block in falco_rules.yaml, so that
// installing twice appends once.
const examRulesMarker = "# Added by ckslab"

// Paths on the node.
const (
	ConfigDir       = "/etc/falco"
	RulesFile       = "/etc/falco/falco_rules.yaml"
	ConfigFile      = "/etc/falco/falco.yaml"
	nodePackagePath = "/var/cache/ckslab/falco.deb"
	// PristineConfig is all of /etc/falco as the lab made it (a tar of "falco", relative to /etc), kept
	// for reset.
	PristineConfig = "/var/lib/ckslab/etc-falco.tar"
	// HealthURL is Falco's webserver health endpoint (default config).
	HealthURL = "http://localhost:8765/healthz"
	// Service is the name the package's units are reachable by
	// (falco-modern-bpf.service has Alias=falco.service).
	Service = "falco"
	// PackageAlertText starts the output of the rule the task is about.
	PackageAlertText = "Package management process launched in container"
)

// Install installs the package on the node as the exam has it: a Debian
// package, the modern eBPF driver, a systemd service reachable as "falco",
// alerts to syslog, the task's rules in /etc/falco/falco_rules.yaml. It keeps
// a copy of all of /etc/falco as it leaves it, which RestoreConfig puts back.
// It is idempotent: an installed Falco of the same version is kept, and so is
// the copy made when it was installed.
// Call CheckNode first: Install does not re-check what Falco needs.
func Install(ctx context.Context, n Node, pkgPath, version string, logf func(string, ...any)) error {
	if logf == nil {
		logf = func(string, ...any) {}
	}
	fresh := installedVersion(ctx, n) != version
	if fresh {
		logf("copying %s to %s", pkgPath, n)
		f, err := os.Open(pkgPath)
		if err != nil {
			return fmt.Errorf("opening the Falco package: %w", err)
		}
		defer f.Close()
		if _, err := n.Exec(ctx, nil, "mkdir", "-p", "/var/cache/ckslab", "/var/lib/ckslab"); err != nil {
			return err
		}
		if _, err := n.Exec(ctx, f, "cp", "/dev/stdin", nodePackagePath); err != nil {
			return fmt.Errorf("copying the Falco package into the node: %w", err)
		}
		logf("installing Falco %s (modern eBPF)", version)
		if _, err := n.Exec(ctx, nil, "env", "FALCO_FRONTEND=noninteractive", "FALCO_DRIVER_CHOICE=modern_ebpf", "FALCOCTL_ENABLED=no",
			"DEBIAN_FRONTEND=noninteractive", "dpkg", "-i", nodePackagePath); err != nil {
			return fmt.Errorf("installing the Falco package: %w", err)
		}
		if err := checkInstalled(ctx, n, version, "the package"); err != nil {
			return err
		}
	}
	return setUp(ctx, n, fresh, logf)
}

// installedVersion is the version of the falco package installed on the node, "" when none is.
func installedVersion(ctx context.Context, n Node) string {
	out, _ := n.Exec(ctx, nil, "dpkg-query", "-W", "-f=${Version}", "falco")
	return strings.TrimSpace(string(out))
}

// checkInstalled says what an install (from, e.g. "the package") installed when it is not version.
func checkInstalled(ctx context.Context, n Node, version, from string) error {
	got, err := n.Exec(ctx, nil, "dpkg-query", "-W", "-f=${Version}", "falco")
	if err != nil {
		return fmt.Errorf("checking the installed Falco: %w", err)
	}
	if v := strings.TrimSpace(string(got)); v != version {
		return fmt.Errorf("%s installed Falco %q, expected %s", from, v, version)
	}
	return nil
}

// setUp makes an installed Falco the lab's: its rules, its configuration, the copy of /etc/falco reset puts
// back (made when fresh), the service started.
func setUp(ctx context.Context, n Node, fresh bool, logf func(string, ...any)) error {
	if err := installRules(ctx, n); err != nil {
		return err
	}
	if err := configure(ctx, n); err != nil {
		return err
	}
	if err := keepPristineConfig(ctx, n, fresh); err != nil {
		return err
	}
	logf("starting the falco service")
	if _, err := n.Exec(ctx, nil, "systemctl", "enable", "falco-modern-bpf.service"); err != nil {
		return fmt.Errorf("enabling the Falco service: %w", err)
	}
	if _, err := n.Exec(ctx, nil, "systemctl", "restart", Service); err != nil {
		return fmt.Errorf("starting the Falco service: %w", err)
	}
	return nil
}

// installRules appends the lab's rules to falco_rules.yaml once, written for
// this node's own container id.
func installRules(ctx context.Context, n Node) error {
	cur, err := n.Exec(ctx, nil, "cat", RulesFile)
	if err != nil {
		return fmt.Errorf("reading %s: %w", RulesFile, err)
	}
	if bytes.Contains(cur, []byte(examRulesMarker)) {
		return nil
	}
	id, err := NodeContainerID(ctx, n)
	if err != nil {
		return err
	}
	rules, err := ExamRulesFor(id)
	if err != nil {
		return err
	}
	if _, err := n.Exec(ctx, bytes.NewReader(rules), "tee", "-a", RulesFile); err != nil {
		return fmt.Errorf("adding the lab's rules to %s: %w", RulesFile, err)
	}
	return nil
}

// ExamRulesFor returns the lab's rules for a node whose own processes Falco
// reports as container nodeID (12 hex digits, as %container.id prints it).
func ExamRulesFor(nodeID string) ([]byte, error) {
	if !shortContainerID.MatchString(nodeID) {
		return nil, fmt.Errorf("%q is not a container id as Falco prints it (12 lowercase hex digits)", nodeID)
	}
	return bytes.ReplaceAll(ExamRules, []byte(NodeIDPlaceholder), []byte(nodeID)), nil
}

var shortContainerID = regexp.MustCompile(`^[0-9a-f]{12}$`)

// NodeContainerID returns the id Falco gives the node's own processes: the
// first 12 hex digits of the id of the container the node is (a kind node is
// a Docker container). Falco takes it from each process's cgroup path as the
// kernel has it, which a node in its own cgroup namespace (cgroup v2) sees
// only from its own root. The node's /etc/hostname, /etc/hosts and
// /etc/resolv.conf, though, are bind mounts from the container engine's
// directory for the container, named by the same id
// (/var/lib/docker/containers/<id>/hostname; Podman:
// .../overlay-containers/<id>/userdata/hostname), which /proc/self/mountinfo
// shows.
func NodeContainerID(ctx context.Context, n Node) (string, error) {
	out, err := n.Exec(ctx, nil, "cat", "/proc/self/mountinfo")
	if err != nil {
		return "", fmt.Errorf("reading /proc/self/mountinfo to learn the node's own container id: %w", err)
	}
	var ids []string
	for _, m := range engineMount.FindAllStringSubmatch(string(out), -1) {
		if !slices.Contains(ids, m[1]) {
			ids = append(ids, m[1])
		}
	}
	if len(ids) != 1 {
		return "", fmt.Errorf("cannot tell the node's own container id from /proc/self/mountinfo: it shows %d containers' "+
			"/etc/hostname, /etc/hosts or /etc/resolv.conf mounted from a container engine's directory for them, not one", len(ids))
	}
	return ids[0][:12], nil
}

// engineMount matches a mountinfo line's root and mount point for a file the
// container engine mounts from its directory for the container.
var engineMount = regexp.MustCompile(`containers/([0-9a-f]{64})(?:/userdata)?/(?:hostname|hosts|resolv\.conf) /etc/(?:hostname|hosts|resolv\.conf) `)

// configure makes the output what the exam's Falco printed: Falco 0.41+
// appends the container plugin's "suggested" fields to every rule's output
// (append_output: suggested_output: true); the exam's Falco did not. It is an
// edit of falco.yaml, not a file in config.d: config.d's files are merged
// into falco.yaml by appending to its lists (append_output is one), so a
// drop-in cannot take the entry out.
//
// Nothing here touches how Falco finds containers, though Falco takes the
// node's own processes for the node's container: no setting of 0.40's
// container_engines or of 0.44's container plugin (init_config.engines) makes
// them the host while pods keep their ids. Each engine matches cgroup paths
// by its own layouts (libs userspace/libsinsp/runc.cpp and
// container_engine/cri.cpp; plugins/container/src/matchers/), and the CRI
// engine, which the pods need, matches the node's by itself: its first
// layout ("/", "": a last component of 64 hex digits, containerd without
// systemd) takes /docker/<node id>, the cgroup the node's processes are in
// for the controllers the node's systemd does not divide, where Docker uses
// cgroupfs (as on this project's machines); its cri-dockerd layout
// ("/docker-", ".scope") takes /system.slice/docker-<node id>.scope/...
// where Docker uses systemd. Turning the docker engine off changes only which
// engine claims the id. So the lab's rules treat that id as the host instead
// (ExamRulesFor).
func configure(ctx context.Context, n Node) error {
	if _, err := n.Exec(ctx, nil, "sed", "-i", `s/^\(\s*-\s*suggested_output:\s*\)true\s*$/\1false/`, ConfigFile); err != nil {
		return fmt.Errorf("editing %s: %w", ConfigFile, err)
	}
	out, err := n.Exec(ctx, nil, "grep", "-cE", suggestedOn, ConfigFile)
	if err == nil && strings.TrimSpace(string(out)) != "0" {
		return fmt.Errorf("%s still turns suggested_output on; the lab's alerts would carry extra fields", ConfigFile)
	}
	return nil
}

// suggestedOn matches a setting (not a comment) that turns suggested output on.
const suggestedOn = `^\s*-\s*suggested_output:\s*true`

// keepPristineConfig keeps all of /etc/falco as Install leaves it, for reset:
// when Falco was installed now, or when there is no copy yet. A copy made
// earlier is kept, since /etc/falco may hold the learner's edits by now.
func keepPristineConfig(ctx context.Context, n Node, fresh bool) error {
	if !fresh {
		if _, err := n.Exec(ctx, nil, "test", "-f", PristineConfig); err == nil {
			return nil
		}
	}
	if _, err := n.Exec(ctx, nil, "mkdir", "-p", "/var/lib/ckslab"); err != nil {
		return err
	}
	if _, err := n.Exec(ctx, nil, "tar", "-C", "/etc", "-cf", PristineConfig, "falco"); err != nil {
		return fmt.Errorf("keeping a copy of %s in %s: %w", ConfigDir, PristineConfig, err)
	}
	out, err := n.Exec(ctx, nil, "tar", "-tf", PristineConfig)
	if err != nil {
		return fmt.Errorf("listing %s: %w", PristineConfig, err)
	}
	names := map[string]bool{}
	for _, l := range strings.Split(string(out), "\n") {
		names[strings.TrimSpace(l)] = true
	}
	for _, f := range []string{RulesFile, ConfigFile} {
		if !names[strings.TrimPrefix(f, "/etc/")] {
			return fmt.Errorf("the copy of %s in %s lacks %s", ConfigDir, PristineConfig, f)
		}
	}
	return nil
}

// RestoreConfig puts all of /etc/falco back as the lab made it, for reset:
// files the learner added are removed, edited and removed ones restored. It
// stops the Falco service first (Falco reloads itself when a file it watches
// changes) and starts it again; the caller waits for it to run (WaitRunning).
func RestoreConfig(ctx context.Context, n Node) error {
	if _, err := n.Exec(ctx, nil, "test", "-f", PristineConfig); err != nil {
		return fmt.Errorf("there is no copy of the lab's %s to restore (%s): the lab was made by an older ckslab; ckslab down and ckslab up make a new one", ConfigDir, PristineConfig)
	}
	if _, err := n.Exec(ctx, nil, "systemctl", "stop", Service); err != nil {
		return fmt.Errorf("stopping the Falco service: %w", err)
	}
	if _, err := n.Exec(ctx, nil, "sh", "-c", `rm -rf "$1" && tar -C "$2" -xpf "$3"`, "sh", ConfigDir, "/etc", PristineConfig); err != nil {
		return fmt.Errorf("restoring %s from %s: %w", ConfigDir, PristineConfig, err)
	}
	if _, err := n.Exec(ctx, nil, "systemctl", "start", Service); err != nil {
		return fmt.Errorf("starting the Falco service: %w", err)
	}
	return nil
}

// ConfigChanges lists how /etc/falco differs from the copy RestoreConfig puts
// back, as "added rules.d/mine.yaml", "changed falco_rules.yaml" or "removed
// falco_rules.local.yaml" (paths in /etc/falco), sorted; none when it is as
// the lab made it. The e2e suite uses it to see what a reset undid.
func ConfigChanges(ctx context.Context, n Node) ([]string, error) {
	now, err := treeManifest(ctx, n, ConfigDir)
	if err != nil {
		return nil, err
	}
	out, err := n.Exec(ctx, nil, "mktemp", "-d")
	if err != nil {
		return nil, fmt.Errorf("making a directory to read %s in: %w", PristineConfig, err)
	}
	dir := strings.TrimSpace(string(out))
	defer n.Exec(context.WithoutCancel(ctx), nil, "rm", "-rf", dir)
	if _, err := n.Exec(ctx, nil, "tar", "-C", dir, "-xf", PristineConfig); err != nil {
		return nil, fmt.Errorf("reading %s: %w", PristineConfig, err)
	}
	was, err := treeManifest(ctx, n, dir+"/falco")
	if err != nil {
		return nil, err
	}
	type change struct{ what, path string }
	var changes []change
	for p, w := range was {
		switch cur, ok := now[p]; {
		case !ok:
			changes = append(changes, change{"removed", p})
		case cur != w:
			changes = append(changes, change{"changed", p})
		}
	}
	for p := range now {
		if _, ok := was[p]; !ok {
			changes = append(changes, change{"added", p})
		}
	}
	sort.Slice(changes, func(i, j int) bool { return changes[i].path < changes[j].path })
	var list []string
	for _, c := range changes {
		list = append(list, c.what+" "+c.path)
	}
	return list, nil
}

// manifestScript prints a line for each entry below "$1" (entry, type, mode, path, link target) and each file's
// SHA-256.
const manifestScript = `cd "$1" && find . -mindepth 1 -printf 'entry\t%y\t%m\t%p\t%l\n' && find . -type f -exec sha256sum {} +`

// treeManifest describes each entry below dir by its path relative to dir:
// its type, its mode and, for a file, its SHA-256, for a symbolic link, its
// target.
func treeManifest(ctx context.Context, n Node, dir string) (map[string]string, error) {
	out, err := n.Exec(ctx, nil, "sh", "-c", manifestScript, "sh", dir)
	if err != nil {
		return nil, fmt.Errorf("listing %s: %w", dir, err)
	}
	m := map[string]string{}
	for _, l := range strings.Split(string(out), "\n") {
		if f := strings.Split(l, "\t"); len(f) == 5 && f[0] == "entry" {
			m[strings.TrimPrefix(f[3], "./")] += f[1] + " " + f[2] + " " + f[4]
		} else if h, p, ok := strings.Cut(l, "  "); ok && len(h) == 64 {
			m[strings.TrimPrefix(p, "./")] += " " + h
		}
	}
	return m, nil
}

// WaitFirstAlert waits until /var/log/syslog holds an alert containing text
// (a real one, written by Falco through rsyslog) and returns it parsed.
func WaitFirstAlert(ctx context.Context, n Node, text string, timeout time.Duration) (Alert, error) {
	var found Alert
	err := wait.Poll(ctx, 2*time.Second, timeout, fmt.Sprintf("a Falco alert %q in /var/log/syslog", text), func(ctx context.Context) (bool, string, error) {
		out, err := n.Exec(ctx, nil, "grep", "-F", "--", text, "/var/log/syslog")
		if err != nil {
			return false, "no such line yet", nil
		}
		for _, line := range strings.Split(string(out), "\n") {
			if a, err := ParseLine(line); err == nil {
				found = a
				return true, "", nil
			}
		}
		return false, "lines that are not alerts", nil
	})
	return found, err
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}
