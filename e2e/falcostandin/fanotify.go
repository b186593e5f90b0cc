//go:build linux

package main

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// watcher gets fanotify permission events from the root filesystems of the node's containers: the
// process that execs a file or opens one waits, in the kernel, until the stand-in answers, so that it
// can read the process in /proc as it is at that moment (the open's flags in /proc/<pid>/syscall, its
// name, arguments, parents and cgroups). Every event is answered "allow"; the stand-in only watches.
type watcher struct {
	f    *os.File
	fd   int
	self int
	proc procFS
	logf func(string, ...any)

	// onExec is told, in the reading goroutine, that pid is about to exec a file; onOpen that pid is
	// opening a file (any, for any purpose). Both may only read /proc: pid waits until they return.
	onExec func(pid int, at time.Time)
	onOpen func(pid int, at time.Time)
	// onWrite is told, in a goroutine of its own, that pid is opening path for writing; pid waits until
	// allow is called (onWrite must call it, once).
	onWrite func(pid int, path, syscall string, flags uint64, at time.Time, allow func())
}

func newWatcher(proc procFS, logf func(string, ...any)) (*watcher, error) {
	fd, err := unix.FanotifyInit(unix.FAN_CLASS_CONTENT|unix.FAN_CLOEXEC|unix.FAN_NONBLOCK|unix.FAN_UNLIMITED_QUEUE,
		unix.O_RDONLY|unix.O_LARGEFILE|unix.O_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("fanotify_init: %w (the stand-in needs CAP_SYS_ADMIN)", err)
	}
	return &watcher{f: os.NewFile(uintptr(fd), "fanotify"), fd: fd, self: os.Getpid(), proc: proc, logf: logf}, nil
}

// watch adds a container's root filesystem (a mount of its own: the whole filesystem is marked, so
// every path in it counts, through whichever mount the container sees it).
func (w *watcher) watch(root string) error {
	if err := unix.FanotifyMark(w.fd, unix.FAN_MARK_ADD|unix.FAN_MARK_FILESYSTEM,
		unix.FAN_OPEN_PERM|unix.FAN_OPEN_EXEC_PERM, unix.AT_FDCWD, root); err != nil {
		return fmt.Errorf("fanotify_mark %s: %w", root, err)
	}
	return nil
}

func (w *watcher) close() error { return w.f.Close() }

// run reads events until the watcher is closed.
func (w *watcher) run() error {
	buf := make([]byte, 256*unix.FAN_EVENT_METADATA_LEN)
	for {
		n, err := w.f.Read(buf)
		if err != nil {
			if errors.Is(err, os.ErrClosed) {
				return nil
			}
			if errors.Is(err, unix.EINTR) || errors.Is(err, unix.EAGAIN) {
				continue
			}
			return fmt.Errorf("reading fanotify events: %w", err)
		}
		at := time.Now()
		for off := 0; off+unix.FAN_EVENT_METADATA_LEN <= n; {
			m := *(*unix.FanotifyEventMetadata)(unsafe.Pointer(&buf[off]))
			if m.Event_len < unix.FAN_EVENT_METADATA_LEN {
				break
			}
			off += int(m.Event_len)
			w.handle(m, at)
		}
	}
}

func (w *watcher) handle(m unix.FanotifyEventMetadata, at time.Time) {
	if m.Mask&unix.FAN_Q_OVERFLOW != 0 {
		w.logf("stand-in: the fanotify queue overflowed; events were lost")
		return
	}
	if m.Fd < 0 {
		return
	}
	fd := int(m.Fd)
	var once sync.Once
	allow := func() {
		once.Do(func() {
			resp := unix.FanotifyResponse{Fd: m.Fd, Response: unix.FAN_ALLOW}
			_, _ = unix.Write(w.fd, (*[unsafe.Sizeof(resp)]byte)(unsafe.Pointer(&resp))[:])
			unix.Close(fd)
		})
	}
	pid := int(m.Pid)
	// The stand-in's own reads (a container's /etc/passwd, for user names) are let through at once:
	// the goroutine that opens them waits for this answer.
	if pid == w.self || m.Mask&(unix.FAN_OPEN_PERM|unix.FAN_OPEN_EXEC_PERM) == 0 {
		allow()
		return
	}
	if m.Mask&unix.FAN_OPEN_EXEC_PERM != 0 {
		if w.onExec != nil {
			w.onExec(pid, at)
		}
		allow()
		return
	}
	// FAN_OPEN_PERM: the process is blocked in the open, so its syscall and flags can be read. A
	// program's first opens after an execve (the dynamic loader's cache, a script read by its
	// interpreter) show it with its new name and arguments, however short it runs.
	if w.onOpen != nil {
		w.onOpen(pid, at)
	}
	name, flags, ok := w.proc.openSyscall(pid)
	if !ok || !isWrite(flags) || w.onWrite == nil {
		allow()
		return
	}
	path, err := os.Readlink(fmt.Sprintf("/proc/self/fd/%d", fd))
	if err != nil || strings.HasSuffix(path, " (deleted)") {
		allow()
		return
	}
	go w.onWrite(pid, path, name, flags, at, allow)
}
