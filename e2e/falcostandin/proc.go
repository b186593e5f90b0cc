//go:build linux

package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
)

// procFS reads processes from a /proc (a folder, so that tests can give a fake one).
type procFS struct{ root string }

func (p procFS) path(pid int, name string) string {
	return filepath.Join(p.root, strconv.Itoa(pid), name)
}

// identity is what changes when a process calls execve: its name, arguments and executable.
type identity struct {
	comm, cmdline, exe string
}

func (p procFS) identity(pid int) (identity, error) {
	comm, err := os.ReadFile(p.path(pid, "comm"))
	if err != nil {
		return identity{}, err
	}
	args, _ := os.ReadFile(p.path(pid, "cmdline"))
	exe, _ := os.Readlink(p.path(pid, "exe"))
	return identity{comm: strings.TrimSuffix(string(comm), "\n"), cmdline: string(args), exe: exe}, nil
}

// process reads a process and up to depth of its ancestors (Falco's proc.aname[N] goes to 4 and beyond).
func (p procFS) process(pid, depth int) (*process, error) {
	a, ppid, err := p.ancestorOf(pid)
	if err != nil {
		return nil, err
	}
	proc := &process{pid: pid, ppid: ppid, vpid: pid, comm: a.comm, args: a.args, exe: a.exe, loginuid: -1}
	status, err := os.ReadFile(p.path(pid, "status"))
	if err != nil {
		return nil, err
	}
	for _, line := range strings.Split(string(status), "\n") {
		k, v, _ := strings.Cut(line, ":")
		f := strings.Fields(v)
		switch {
		case k == "Uid" && len(f) > 1:
			proc.uid, _ = strconv.ParseInt(f[1], 10, 64) // the effective uid, as Falco's user.uid
		case k == "Gid" && len(f) > 1:
			proc.gid, _ = strconv.ParseInt(f[1], 10, 64)
		case k == "NSpid" && len(f) > 0:
			proc.vpid, _ = strconv.Atoi(f[len(f)-1]) // the pid in its own (the container's) namespace
		}
	}
	if b, err := os.ReadFile(p.path(pid, "loginuid")); err == nil {
		if n, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 32); err == nil && n != 0xffffffff {
			proc.loginuid = int64(n)
		}
	}
	if stat, err := os.ReadFile(p.path(pid, "stat")); err == nil {
		if f := statFields(stat); len(f) > 4 {
			proc.tty, _ = strconv.Atoi(f[4])
		}
	}
	proc.cwd, _ = os.Readlink(p.path(pid, "cwd"))
	proc.cgroups = p.cgroupIDs(pid)
	proc.rootDev, _ = deviceOf(p.path(pid, "root") + "/")
	for next := ppid; next > 0 && len(proc.ancestors) < depth; {
		a, pp, err := p.ancestorOf(next)
		if err != nil {
			break
		}
		proc.ancestors = append(proc.ancestors, a)
		next = pp
	}
	return proc, nil
}

func (p procFS) ancestorOf(pid int) (ancestor, int, error) {
	id, err := p.identity(pid)
	if err != nil {
		return ancestor{}, 0, err
	}
	stat, err := os.ReadFile(p.path(pid, "stat"))
	if err != nil {
		return ancestor{}, 0, err
	}
	f := statFields(stat)
	if len(f) < 2 {
		return ancestor{}, 0, fmt.Errorf("%s: unexpected contents", p.path(pid, "stat"))
	}
	ppid, _ := strconv.Atoi(f[1])
	var args []string
	if id.cmdline != "" {
		args = strings.Split(strings.TrimSuffix(id.cmdline, "\x00"), "\x00")
	}
	return ancestor{pid: pid, comm: id.comm, args: args, exe: id.exe}, ppid, nil
}

// statFields returns the fields of /proc/<pid>/stat after the command name: state, ppid, pgrp, session,
// tty_nr, ... (the name, in parentheses, may hold spaces).
func statFields(stat []byte) []string {
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return nil
	}
	return strings.Fields(string(stat[i+1:]))
}

var criID = regexp.MustCompile(`[0-9a-f]{64}`)

// cgroupIDs returns the 64-hex ids in a process's cgroup paths, innermost last: a CRI container's id
// (…/kubepods/…/<id> or …/cri-containerd-<id>.scope) and the node's own Docker id (/docker/<id>/…).
func (p procFS) cgroupIDs(pid int) []string {
	b, err := os.ReadFile(p.path(pid, "cgroup"))
	if err != nil {
		return nil
	}
	var ids []string
	seen := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		for _, id := range criID.FindAllString(sc.Text(), -1) {
			if !seen[id] {
				seen[id] = true
				ids = append(ids, id)
			}
		}
	}
	return ids
}

// userName looks uid up in the process's own /etc/passwd (the container's).
func (p procFS) userName(pid int, uid int64) string {
	b, err := os.ReadFile(filepath.Join(p.path(pid, "root"), "etc", "passwd"))
	if err != nil {
		return ""
	}
	want := strconv.FormatInt(uid, 10)
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Split(line, ":")
		if len(f) > 2 && f[2] == want {
			return f[0]
		}
	}
	return ""
}

// openSyscall reads the open(2) a process is blocked in (it waits for the stand-in's answer to a
// fanotify permission event): the syscall's name and its flags. ok is false for anything but an open.
func (p procFS) openSyscall(pid int) (name string, flags uint64, ok bool) {
	b, err := os.ReadFile(p.path(pid, "syscall"))
	if err != nil {
		return "", 0, false
	}
	f := strings.Fields(string(b))
	if len(f) < 4 {
		return "", 0, false
	}
	nr, err := strconv.Atoi(f[0])
	if err != nil {
		return "", 0, false
	}
	sc, known := openSyscalls[nr]
	if !known || sc.flagsArg+1 >= len(f) {
		return "", 0, false
	}
	if sc.name == "creat" {
		return sc.name, 0o1101, true // O_CREAT|O_WRONLY|O_TRUNC
	}
	v, err := strconv.ParseUint(strings.TrimPrefix(f[sc.flagsArg+1], "0x"), 16, 64)
	if err != nil {
		return "", 0, false
	}
	if sc.name == "openat2" {
		// the flags are in the struct open_how the third argument points at
		v, ok = p.readUint64(pid, v)
		if !ok {
			return "", 0, false
		}
	}
	return sc.name, v, true
}

func (p procFS) readUint64(pid int, addr uint64) (uint64, bool) {
	f, err := os.Open(p.path(pid, "mem"))
	if err != nil {
		return 0, false
	}
	defer f.Close()
	var b [8]byte
	if _, err := f.ReadAt(b[:], int64(addr)); err != nil {
		return 0, false
	}
	return uint64(b[0]) | uint64(b[1])<<8 | uint64(b[2])<<16 | uint64(b[3])<<24 | uint64(b[4])<<32 | uint64(b[5])<<40 | uint64(b[6])<<48 | uint64(b[7])<<56, true
}
