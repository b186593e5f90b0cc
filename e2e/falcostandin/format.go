//go:build linux

package main

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// event is what the stand-in saw: a process that started (execve) or opened a file for writing.
type event struct {
	time    time.Time
	evtType string // execve, open, openat, openat2, creat
	proc    *process
	fd      *fdInfo    // for opens
	ctr     *container // nil: a process of the node itself (the host)
}

type fdInfo struct {
	name  string // the path as the process sees it
	flags uint64 // open(2) flags
	num   int    // -1: not known (the open had not returned)
}

// process is a process as Falco's fields name it; ancestors[0] is the parent.
type process struct {
	pid, ppid, vpid int
	comm            string
	args            []string // argv
	exe             string   // /proc/<pid>/exe, as the process sees it
	uid, gid        int64
	loginuid        int64 // -1: unset
	tty             int
	cwd             string
	user            string // the name of uid in the container's /etc/passwd, or ""
	ancestors       []ancestor
	cgroups         []string // the 64-hex ids in its cgroup paths, innermost last
	rootDev         uint64   // the device of its root directory
}

type ancestor struct {
	pid  int
	comm string
	args []string
	exe  string
}

// cmdline is Falco's proc.cmdline: the process name (comm), then the arguments after argv[0].
func cmdline(comm string, args []string) string {
	if len(args) <= 1 {
		return comm
	}
	return comm + " " + strings.Join(args[1:], " ")
}

const na = "<NA>"

// expand renders a rule output as Falco does: each %field (or %field[arg], or %(field)) replaced by its
// value, <NA> where the field has none or the stand-in does not know it.
func expand(format string, e *event) string {
	var b strings.Builder
	for i := 0; i < len(format); {
		c := format[i]
		if c != '%' || i+1 >= len(format) {
			b.WriteByte(c)
			i++
			continue
		}
		name, arg, n := fieldAt(format[i+1:])
		if n == 0 {
			b.WriteByte(c)
			i++
			continue
		}
		b.WriteString(e.field(name, arg))
		i += 1 + n
	}
	return b.String()
}

// fieldAt reads a field reference at the start of s: name[.part...] with an optional [arg], or
// (name[arg]). It returns the field, its argument and how many bytes it took (0: not a field).
func fieldAt(s string) (name, arg string, n int) {
	if strings.HasPrefix(s, "(") {
		end := strings.IndexByte(s, ')')
		if end < 0 {
			return "", "", 0
		}
		name, arg, m := fieldAt(s[1:end])
		if m != end-1 {
			return "", "", 0
		}
		return name, arg, end + 1
	}
	i := 0
	for i < len(s) && (isAlnum(s[i]) || s[i] == '_' || (s[i] == '.' && i > 0 && i+1 < len(s) && isAlnum(s[i+1]))) {
		i++
	}
	if i == 0 || !isAlpha(s[0]) {
		return "", "", 0
	}
	name = s[:i]
	if i < len(s) && s[i] == '[' {
		if end := strings.IndexByte(s[i:], ']'); end > 0 {
			return name, s[i+1 : i+end], i + end + 1
		}
	}
	return name, "", i
}

func isAlpha(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
func isAlnum(c byte) bool { return isAlpha(c) || c >= '0' && c <= '9' }

// timeOfDay is %evt.time: HH:MM:SS.nnnnnnnnn in the process's local time.
func timeOfDay(t time.Time) string { return t.Format("15:04:05.000000000") }

// field returns the value Falco prints for a field of this event.
func (e *event) field(name, arg string) string {
	p := e.proc
	switch name {
	case "evt.time":
		return timeOfDay(e.time)
	case "evt.time.s":
		return e.time.Format("15:04:05")
	case "evt.time.iso8601":
		return e.time.UTC().Format("2006-01-02T15:04:05.000000000") + "+0000"
	case "evt.datetime":
		return e.time.Format("2006-01-02 15:04:05.000000000")
	case "evt.datetime.s":
		return e.time.Format("2006-01-02 15:04:05")
	case "evt.rawtime":
		return strconv.FormatInt(e.time.UnixNano(), 10)
	case "evt.type":
		return e.evtType
	case "evt.dir":
		return "<"
	case "evt.is_open_write":
		return strconv.FormatBool(e.fd != nil && isWrite(e.fd.flags))
	case "evt.arg.flags", "evt.rawarg.flags":
		if e.fd != nil {
			return openFlags(e.fd.flags)
		}
	case "proc.name":
		return p.comm
	case "proc.exe":
		if len(p.args) > 0 {
			return p.args[0]
		}
	case "proc.exepath":
		return p.exe
	case "proc.cmdline":
		return cmdline(p.comm, p.args)
	case "proc.args":
		if len(p.args) > 1 {
			return strings.Join(p.args[1:], " ")
		}
		return ""
	case "proc.pid":
		return strconv.Itoa(p.pid)
	case "proc.vpid":
		return strconv.Itoa(p.vpid)
	case "proc.ppid":
		return strconv.Itoa(p.ppid)
	case "proc.tty":
		return strconv.Itoa(p.tty)
	case "proc.cwd":
		return p.cwd + "/"
	case "proc.pname":
		return p.ancestorComm(1)
	case "proc.pcmdline":
		if a, ok := p.ancestor(1); ok {
			return cmdline(a.comm, a.args)
		}
	case "proc.pexepath":
		if a, ok := p.ancestor(1); ok {
			return a.exe
		}
	case "proc.aname":
		n := 1
		if arg != "" {
			var err error
			if n, err = strconv.Atoi(arg); err != nil {
				return na
			}
		}
		return p.ancestorComm(n)
	case "proc.apid":
		n, _ := strconv.Atoi(arg)
		if a, ok := p.ancestor(n); ok {
			return strconv.Itoa(a.pid)
		}
	case "user.uid":
		return strconv.FormatInt(p.uid, 10)
	case "user.name":
		switch {
		case p.user != "":
			return p.user
		case p.uid == 0:
			return "root" // as Falco: root even when the container has no /etc/passwd
		}
	case "user.loginuid":
		return strconv.FormatInt(p.loginuid, 10)
	case "group.gid":
		return strconv.FormatInt(p.gid, 10)
	case "fd.name":
		if e.fd != nil {
			return e.fd.name
		}
	case "fd.directory":
		if e.fd != nil {
			if i := strings.LastIndexByte(e.fd.name, '/'); i > 0 {
				return e.fd.name[:i]
			}
			return "/"
		}
	case "fd.filename":
		if e.fd != nil {
			return e.fd.name[strings.LastIndexByte(e.fd.name, '/')+1:]
		}
	case "fd.num":
		if e.fd != nil {
			return strconv.Itoa(e.fd.num)
		}
	case "fd.typechar":
		if e.fd != nil {
			return "f"
		}
	case "fd.type":
		if e.fd != nil {
			return "file"
		}
	case "container.id":
		if e.ctr == nil {
			return "host"
		}
		return e.ctr.shortID()
	case "container.full_id":
		if e.ctr == nil {
			return "host"
		}
		return e.ctr.id
	case "container.name":
		if e.ctr == nil {
			return "host"
		}
		return orNA(e.ctr.name)
	case "container.image":
		if e.ctr != nil {
			return orNA(e.ctr.image)
		}
	case "container.image.repository":
		if e.ctr != nil {
			return orNA(e.ctr.repository)
		}
	case "container.image.tag":
		if e.ctr != nil {
			return orNA(e.ctr.tag)
		}
	case "container.image.digest":
		if e.ctr != nil {
			return orNA(e.ctr.digest)
		}
	case "container.type":
		if e.ctr == nil {
			return "host"
		}
		return "containerd"
	case "container.info":
		return "" // Falco prints nothing for it without -pc/-pk
	case "k8s.pod.name":
		if e.ctr != nil {
			return orNA(e.ctr.podName)
		}
	case "k8s.ns.name":
		if e.ctr != nil {
			return orNA(e.ctr.namespace)
		}
	case "k8s.pod.uid":
		if e.ctr != nil {
			return orNA(e.ctr.podUID)
		}
	}
	return na
}

func orNA(s string) string {
	if s == "" {
		return na
	}
	return s
}

func (p *process) ancestor(n int) (ancestor, bool) {
	if n == 0 {
		return ancestor{pid: p.pid, comm: p.comm, args: p.args, exe: p.exe}, true
	}
	if n < 0 || n > len(p.ancestors) {
		return ancestor{}, false
	}
	return p.ancestors[n-1], true
}

func (p *process) ancestorComm(n int) string {
	if a, ok := p.ancestor(n); ok {
		return a.comm
	}
	return na
}

// isWrite is Falco's evt.is_open_write: opened write-only or read-write.
func isWrite(flags uint64) bool { return flags&3 == 1 || flags&3 == 2 }

// openFlags renders open(2) flags the way Falco prints evt.arg.flags (O_WRONLY|O_CREAT|O_APPEND ...).
func openFlags(f uint64) string {
	var parts []string
	switch f & 3 {
	case 0:
		parts = append(parts, "O_RDONLY")
	case 1:
		parts = append(parts, "O_WRONLY")
	case 2:
		parts = append(parts, "O_RDWR")
	}
	for _, fl := range []struct {
		bit  uint64
		name string
	}{{0o100, "O_CREAT"}, {0o200, "O_EXCL"}, {0o1000, "O_TRUNC"}, {0o2000, "O_APPEND"}, {0o4000, "O_NONBLOCK"}, {0o200000, "O_DIRECTORY"}, {0o2000000, "O_CLOEXEC"}} {
		if f&fl.bit != 0 {
			parts = append(parts, fl.name)
		}
	}
	return strings.Join(parts, "|")
}

// alertLine is a whole alert as Falco prints it on stdout: the prefix, the rule's output and whatever
// append_output adds.
func alertLine(c *config, r *rule, e *event) string {
	prefix := timeOfDay(e.time)
	if c.timeFormatISO8601 {
		prefix = e.field("evt.time.iso8601", "")
	}
	out := r.output
	for _, a := range c.appendOutput {
		if a.source != "" && a.source != r.source || a.rule != "" && a.rule != r.name || !hasAll(r.tags, a.tags) {
			continue
		}
		if a.suggested {
			out += " " + suggestedFields
		}
		if a.extraOutput != "" {
			out += " " + a.extraOutput
		}
	}
	return fmt.Sprintf("%s: %s %s", prefix, r.priority, expand(out, e))
}

func hasAll(have, want []string) bool {
	for _, w := range want {
		found := false
		for _, h := range have {
			found = found || h == w
		}
		if !found {
			return false
		}
	}
	return true
}
