//go:build linux

package main

import (
	"context"
	"strings"
	"sync"
	"time"
)

// engine turns what the watcher sees into the lab's two rules' alerts.
type engine struct {
	proc procFS
	// containerOf returns the container a process is in, nil for the node's own processes (the host).
	containerOf func(p *process) *container
	// rules returns the loaded rules and configuration (they change on a reload).
	rules func() (*ruleset, *config)
	alert func(r *rule, e *event)

	mu      sync.Mutex
	pending map[int]*pendingExec
	wake    chan struct{}
}

// pendingExec is a process between the start of an execve (the permission event for its file) and the
// moment /proc shows the new program.
type pendingExec struct {
	pre   identity
	seen  identity // the last changed identity read, to take one only when two reads agree
	since time.Time
}

func newEngine(proc procFS, containerOf func(*process) *container, rules func() (*ruleset, *config), alert func(*rule, *event)) *engine {
	return &engine{proc: proc, containerOf: containerOf, rules: rules, alert: alert, pending: map[int]*pendingExec{}, wake: make(chan struct{}, 1)}
}

// onExec runs in the watcher's reading goroutine while pid waits: it notes what pid runs now. An
// execve opens several files (the program, a script's interpreter, the dynamic loader) before pid runs
// the new program; only the first counts. If pid already runs something other than what was noted,
// its previous execve has completed: that one is taken now, and this one noted.
func (en *engine) onExec(pid int, at time.Time) {
	id, err := en.proc.identity(pid)
	if err != nil {
		return
	}
	en.mu.Lock()
	p := en.pending[pid]
	switch {
	case p == nil:
		en.pending[pid] = &pendingExec{pre: id, since: at}
	case id != p.pre:
		en.pending[pid] = &pendingExec{pre: id, since: at}
		en.mu.Unlock()
		if proc, err := en.proc.process(pid, 6); err == nil {
			go en.spawned(proc, at)
		}
		en.mu.Lock()
	}
	en.mu.Unlock()
	select {
	case en.wake <- struct{}{}:
	default:
	}
}

// onOpen runs in the watcher's reading goroutine while pid waits in an open: if pid's execve was
// pending and /proc shows its new program, it is taken now, while the program cannot have ended.
func (en *engine) onOpen(pid int, at time.Time) {
	en.mu.Lock()
	p := en.pending[pid]
	en.mu.Unlock()
	if p == nil {
		return
	}
	id, err := en.proc.identity(pid)
	if err != nil || id == p.pre {
		return
	}
	en.mu.Lock()
	if en.pending[pid] != p {
		en.mu.Unlock()
		return
	}
	delete(en.pending, pid)
	en.mu.Unlock()
	if proc, err := en.proc.process(pid, 6); err == nil {
		go en.spawned(proc, at)
	}
}

// resolve looks at pending execs every millisecond while there are any, and takes each once /proc
// shows its new program (the same on two reads); a process that went away or kept its program for a
// second (a failed execve) is dropped.
func (en *engine) resolve(ctx context.Context) {
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for {
		en.mu.Lock()
		n := len(en.pending)
		en.mu.Unlock()
		if n == 0 {
			select {
			case <-ctx.Done():
				return
			case <-en.wake:
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		en.mu.Lock()
		var done []int
		for pid, p := range en.pending {
			id, err := en.proc.identity(pid)
			switch {
			case err != nil || time.Since(p.since) > time.Second:
				delete(en.pending, pid)
			case id != p.pre && id == p.seen:
				delete(en.pending, pid)
				done = append(done, pid)
			case id != p.pre:
				p.seen = id
			}
		}
		en.mu.Unlock()
		now := time.Now()
		for _, pid := range done {
			if proc, err := en.proc.process(pid, 6); err == nil {
				go en.spawned(proc, now)
			}
		}
	}
}

// spawned is "Launch Package Management Process in Container": a package manager started in a
// container by a user other than _apt, with no package manager among its four nearest ancestors.
func (en *engine) spawned(p *process, at time.Time) {
	rs, cfg := en.rules()
	r := rs.active(rulePackageManager, cfg.minPriority)
	if r == nil {
		return
	}
	c := en.containerOf(p)
	if c == nil {
		return
	}
	pkg := rs.packageManagers()
	if !pkg[p.comm] {
		return
	}
	for n := 1; n <= 4; n++ {
		if a, ok := p.ancestor(n); ok && pkg[a.comm] {
			return
		}
	}
	en.lookupUser(p, c)
	if p.user == "_apt" {
		return
	}
	en.alert(r, &event{time: at, evtType: "execve", proc: p, ctr: c})
}

// onWrite is "Write below etc": a process in a container opened a file below /etc for writing, and is
// neither a package manager nor sed writing its temporary file (/etc/sedXXXXXX, GNU sed -i).
func (en *engine) onWrite(pid int, path, syscall string, flags uint64, at time.Time, allow func()) {
	defer allow()
	rs, cfg := en.rules()
	r := rs.active(ruleWriteEtc, cfg.minPriority)
	if r == nil {
		return
	}
	p, err := en.proc.process(pid, 6)
	if err != nil {
		return
	}
	c := en.containerOf(p)
	if c == nil {
		return
	}
	name := containerPath(path, c.rootfs)
	if !strings.HasPrefix(name, "/etc/") {
		return
	}
	if rs.packageManagers()[p.comm] || p.comm == "sed" && strings.HasPrefix(name, "/etc/sed") {
		return
	}
	en.lookupUser(p, c)
	allow()
	en.alert(r, &event{time: at, evtType: syscall, proc: p, ctr: c, fd: &fdInfo{name: name, flags: flags, num: -1}})
}

// containerPath is a path as the container's process sees it: the node's view of it, less the
// container's root.
func containerPath(path, rootfs string) string {
	rootfs = strings.TrimSuffix(rootfs, "/")
	if rest, ok := strings.CutPrefix(path, rootfs); ok && strings.HasPrefix(rest, "/") {
		return rest
	}
	return path
}

// lookupUser names the process's user from its container's /etc/passwd (the stand-in's own open of it
// is let through by the watcher).
func (en *engine) lookupUser(p *process, c *container) {
	if p.user = en.proc.userName(p.pid, p.uid); p.user == "" && c != nil && c.pid > 0 {
		p.user = en.proc.userName(c.pid, p.uid)
	}
}
