//go:build linux

package main

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ckslab/ckslab/falco"
)

// The real Falco 0.40.0 output of a ckslab lab (falco/testdata/real/README.md): the stand-in's lines
// must be shaped exactly like these.
const (
	realSyslog     = "../../falco/testdata/real/syslog-falco.txt"
	realForeground = "../../falco/testdata/real/foreground-edited-output.txt"
	realStderr     = "../../falco/testdata/real/foreground-stderr.txt"
	examRules      = "../../falco/files/ckslab-exam-rules.yaml"
)

// labRules loads the stand-in's falco_rules.yaml with the lab's rules appended, as ckslab up leaves it.
func labRules(t *testing.T, edit func(string) string) *ruleset {
	t.Helper()
	base, err := os.ReadFile("files/falco_rules.yaml")
	if err != nil {
		t.Fatal(err)
	}
	exam, err := os.ReadFile(examRules)
	if err != nil {
		t.Fatal(err)
	}
	text := string(base) + string(exam)
	if edit != nil {
		text = edit(text)
	}
	path := filepath.Join(t.TempDir(), "falco_rules.yaml")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	rs, err := loadRules([]string{path})
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

// labConfig is the stand-in's falco.yaml as the lab's configure() leaves it: suggested_output off.
func labConfig(t *testing.T, overrides ...string) *config {
	t.Helper()
	c, err := loadConfig("files/falco.yaml", append([]string{"config_files=[]"}, overrides...))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func realLine(t *testing.T, path, contains string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.Contains(line, contains) {
			if i := strings.Index(line, " falco: "); i >= 0 && path == realSyslog {
				return line[i+len(" falco: "):]
			}
			return line
		}
	}
	t.Fatalf("no line with %q in %s", contains, path)
	return ""
}

func at(t *testing.T, tod string) time.Time {
	t.Helper()
	v, err := time.ParseInLocation("15:04:05.000000000", tod, time.Local)
	if err != nil {
		t.Fatal(err)
	}
	return time.Date(2026, 12, 2, v.Hour(), v.Minute(), v.Second(), v.Nanosecond(), time.Local)
}

func realContainer(short, name, repo, tag string) *container {
	return &container{id: short + strings.Repeat("0", 52), name: name, repository: repo, tag: tag}
}

func TestAlertLinesAreShapedLikeRealFalco(t *testing.T) {
	nginx := realContainer("b0bc937e9ca6", "nginx", "library/import-2026-12-02", "ee0bc0f314dc")
	httpd := realContainer("9aa97145ebce", "httpd", "library/import-2026-12-02", "")
	outer := ancestor{comm: "sh", args: []string{"sh", "-c", `trap 'exit 0' INT QUIT TERM WINCH; httpd-foreground & server=$!; while kill -0 "$server" 2>/dev/null; do echo hacker >> /etc/passwd; sed -i '$d' /etc/passwd; sleep 5 & wait $!; done; echo 'httpd exited' >&2; exit 1`}}
	shim := ancestor{comm: "containerd-shim", args: []string{"/usr/local/bin/containerd-shim-runc-v2", "-namespace", "k8s.io", "-id", "911f34b7c532e0715f2e0009525113a446c6074777e5922fd8c2695b95768e01", "-address", "/run/containerd/containerd.sock"}}
	for _, tt := range []struct {
		name  string
		rule  string
		edit  func(string) string
		event *event
		want  string
	}{{
		name: "case 1, the lab's output",
		rule: rulePackageManager,
		event: &event{time: at(t, "16:01:31.054171567"), evtType: "execve", ctr: nginx,
			proc: &process{comm: "apk", args: []string{"/bin/sh", "/usr/sbin/apk", "info"}, loginuid: -1}},
		want: realLine(t, realSyslog, "16:01:31.054171567: Error"),
	}, {
		name: "case 1, the output edited as in the walkthrough",
		rule: rulePackageManager,
		edit: walkthroughEdit,
		event: &event{time: at(t, "16:03:26.211309349"), evtType: "execve", ctr: nginx,
			proc: &process{comm: "apk", args: []string{"/bin/sh", "/usr/sbin/apk", "info"}, loginuid: -1}},
		want: realLine(t, realForeground, "16:03:26.211309349: Error"),
	}, {
		name: "case 2, sed's temporary file, no ancestors known",
		rule: ruleWriteEtc,
		event: &event{time: at(t, "16:03:26.509443219"), evtType: "openat", ctr: httpd,
			fd:   &fdInfo{name: "/etc/passwdBYXSkm", flags: 0o302, num: -1},
			proc: &process{comm: "sed", args: []string{"sed", "-i", "$d", "/etc/passwd"}, loginuid: -1}},
		want: realLine(t, realForeground, "16:03:26.509443219: Error"),
	}, {
		name: "case 2, the offender's shell, whose parent is the shim",
		rule: ruleWriteEtc,
		event: &event{time: at(t, "16:04:28.984703088"), evtType: "openat", fd: &fdInfo{name: "/etc/passwd", flags: 0o2101, num: -1},
			ctr:  realContainer("3e7705350eb5", "httpd", "library/import-2026-12-02", ""),
			proc: &process{comm: "sh", args: outer.args, loginuid: -1, ancestors: []ancestor{shim}}},
		want: realLine(t, realSyslog, "16:04:28.984703088: Error"),
	}} {
		t.Run(tt.name, func(t *testing.T) {
			rs := labRules(t, tt.edit)
			r := rs.active(tt.rule, priority(7))
			if r == nil {
				t.Fatalf("no rule %q", tt.rule)
			}
			got := alertLine(labConfig(t, "append_output[0].suggested_output=false"), r, tt.event)
			if got != tt.want {
				t.Fatalf("the stand-in prints\n%s\nreal Falco printed\n%s", got, tt.want)
			}
			// and the grader reads it as it reads Falco's
			a, err := falco.ParseLine("2026-12-02T16:01:31.059705+00:00 cluster1-node1 falco: " + got)
			if err != nil {
				t.Fatal(err)
			}
			if a.ContainerID != tt.event.ctr.shortID() || a.Time.String() != timeOfDay(tt.event.time) {
				t.Fatalf("parsed %+v", a)
			}
		})
	}
}

// walkthroughEdit is the walkthrough's vim edit of the rule's output.
func walkthroughEdit(rules string) string {
	re := regexp.MustCompile(`(?s)    Package management process launched in container \(user=%user\.name.*?%container\.image\.tag\)\n`)
	return re.ReplaceAllString(rules, "    Package management process launched in container %evt.time,%container.id,%container.name,%user.name\n")
}

func TestSuggestedOutputIsAppendedUntilTheLabTurnsItOff(t *testing.T) {
	rs := labRules(t, walkthroughEdit)
	r := rs.active(rulePackageManager, priority(7))
	e := &event{time: at(t, "06:38:28.077150666"), proc: &process{comm: "apk"},
		ctr: &container{id: "090aad374a0a" + strings.Repeat("1", 52), name: "nginx", repository: "docker.io/library/nginx", tag: "1.19.2-alpine", podName: "webapi-1", namespace: "team-blue"}}
	got := alertLine(labConfig(t), r, e) // files/falco.yaml as packaged: suggested_output: true
	want := "06:38:28.077150666: Error Package management process launched in container 06:38:28.077150666,090aad374a0a,nginx,root container_id=090aad374a0a container_name=nginx container_image_repository=docker.io/library/nginx container_image_tag=1.19.2-alpine k8s_pod_name=webapi-1 k8s_ns_name=team-blue"
	if got != want {
		t.Fatalf("got\n%s\nwant (as Falco 0.41+ with suggested_output: true, falco-facts.md §3)\n%s", got, want)
	}
}

func TestFieldsOfTheHostAndUnknownFields(t *testing.T) {
	e := &event{time: at(t, "10:00:00.000000001"), proc: &process{comm: "sshd", pid: 7, ppid: 1, loginuid: -1, uid: 1000}}
	got := expand("%container.id %container.name %user.name %proc.pname %fd.name %no.such.field %proc.aname[x] 100% %(proc.name) %evt.time", e)
	want := "host host <NA> <NA> <NA> <NA> <NA> 100% sshd 10:00:00.000000001"
	if got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}

func TestSyslogMessageIsSyslog3s(t *testing.T) {
	s := newSyslogWriter("/nonexistent")
	s.now = func() time.Time { return time.Date(2026, 12, 2, 16, 1, 31, 0, time.Local) }
	if got, want := s.message(3, "16:01:31.054171567: Error x"), "<11>Dec  2 16:01:31 falco: 16:01:31.054171567: Error x"; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}

func TestSyslogReachesTheSocket(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "log")
	conn, err := listenUnixgram(sock)
	if err != nil {
		t.Skip("no unix datagram socket here:", err)
	}
	defer conn.Close()
	s := newSyslogWriter(sock)
	s.write(severityInfo, "Falco version: x")
	buf := make([]byte, 512)
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, _, err := conn.ReadFrom(buf)
	if err != nil {
		t.Fatal(err)
	}
	if got := string(buf[:n]); !regexp.MustCompile(`^<14>\w{3} [ \d]\d \d\d:\d\d:\d\d falco: Falco version: x$`).MatchString(got) {
		t.Fatalf("sent %q", got)
	}
}

func TestStartUpLinesFollowRealFalco(t *testing.T) {
	dir := t.TempDir()
	rules := filepath.Join(dir, "falco_rules.yaml")
	local := filepath.Join(dir, "falco_rules.local.yaml")
	copyFile(t, "files/falco_rules.yaml", rules)
	copyFile(t, "files/falco_rules.local.yaml", local)
	var stdout, stderr bytes.Buffer
	a := newApp(options{configFile: "files/falco.yaml", overrides: []string{"config_files=[]", "rules_files=[" + rules + "," + local + "," + filepath.Join(dir, "rules.d") + "]", "webserver.listen_port=0", "log_syslog=false"}}, &stdout, &stderr)
	cfg, rs, err := a.load()
	if err != nil {
		t.Fatal(err)
	}
	a.out.setConfig(cfg)
	if err := a.start(cfg, rs); err != nil {
		t.Fatal(err)
	}
	a.web.Close()
	lines := strings.Split(strings.TrimSuffix(stderr.String(), "\n"), "\n")
	stamp := regexp.MustCompile(`^[A-Z][a-z]{2} [A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d \d{4}: `)
	var msgs []string
	for _, l := range lines {
		if !stamp.MatchString(l) {
			t.Fatalf("%q does not start with Falco's ctime stamp", l)
		}
		msgs = append(msgs, stamp.ReplaceAllString(l, ""))
	}
	if !strings.HasPrefix(msgs[0], "This is ckslab's e2e stand-in for Falco, not Falco: ") {
		t.Fatalf("the first line does not say what the program is: %q", msgs[0])
	}
	// Real Falco's lines, with this run's paths and port, in order; the stand-in leaves out those about
	// the kernel driver (syscall buffer, ring buffers) and says what it opens instead of a BPF probe.
	b, err := os.ReadFile(realStderr)
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, l := range strings.Split(string(b), "\n") {
		if !stamp.MatchString(l) {
			continue
		}
		m := stamp.ReplaceAllString(l, "")
		switch {
		case strings.Contains(m, "syscall buffer dimension"), strings.Contains(m, "ring buffer"), strings.Contains(m, "SIGINT"):
			continue
		case strings.HasPrefix(m, "Opening 'syscall' source"):
			m = "Opening 'syscall' source with the stand-in's fanotify watch of the node's containers (no BPF probe)."
		}
		m = strings.NewReplacer("0.40.0 (x86_64)", Version+" ("+machine()+")", "/etc/falco/falco.yaml", "files/falco.yaml",
			"/etc/falco/falco_rules.yaml", rules, "/etc/falco/falco_rules.local.yaml", local, "0.0.0.0:8765", "0.0.0.0:0").Replace(m)
		m = regexp.MustCompile(`threadiness \d+`).ReplaceAllString(m, "threadiness "+itoa(cfgThreads(cfg)))
		if strings.HasPrefix(m, "System info: ") {
			m = "System info: " + systemInfo()
		}
		want = append(want, m)
	}
	got := msgs[2:]
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("start-up lines:\n%s\nwant (real Falco's, adapted):\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestSummaryIsFalcos(t *testing.T) {
	var stdout, stderr bytes.Buffer
	o := newOutputs(&stdout, &stderr, true, nil)
	o.setConfig(&config{})
	pm := &rule{name: rulePackageManager, priority: 3}
	we := &rule{name: ruleWriteEtc, priority: 3}
	for i := 0; i < 9; i++ {
		o.alert(pm, "x")
	}
	for i := 0; i < 17; i++ {
		o.alert(we, "x")
	}
	o.summary()
	b, err := os.ReadFile(realForeground)
	if err != nil {
		t.Fatal(err)
	}
	want := string(b[bytes.Index(b, []byte("Events detected")):])
	if stdout.String() != want {
		t.Fatalf("stdout:\n%s\nwant:\n%s", stdout.String(), want)
	}
	b, err = os.ReadFile(realStderr)
	if err != nil {
		t.Fatal(err)
	}
	if want := string(b[bytes.Index(b, []byte("Syscall event drop")):]); stderr.String() != want {
		t.Fatalf("stderr:\n%s\nwant:\n%s", stderr.String(), want)
	}
}

func cfgThreads(c *config) int {
	if c.webserver.threadiness > 0 {
		return c.webserver.threadiness
	}
	return numCPU()
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o644); err != nil {
		t.Fatal(err)
	}
}
