// Command procwatch is a test tool of ckslab's e2e suite, never part of ckslab: run on a lab's node, it watches
// the descendants of one process (an offender container's main process) for a while and prints every process
// it saw, once, with its parent and the last command line it read:
//
//	procwatch -pid 4242 -for 16s
//	4301	4242	sh	sh -c echo hacker >> /etc/passwd; sed -i '$d' /etc/passwd; true
//	4302	4301	sed	sed -i $d /etc/passwd
//
// It reads /proc/<pid>/task/<tid>/children in a tight loop, so it sees even processes that live a few
// milliseconds. The suite uses it to show, from the node as Falco sees it, that each of the offenders'
// actions is a process started for it.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

type proc struct {
	pid, ppid string
	comm      string // the name; still readable while the process is a zombie, whose cmdline is empty
	cmdline   string
	order     int
}

func main() {
	root := flag.String("pid", "", "the process whose descendants to watch")
	dur := flag.Duration("for", 15*time.Second, "how long to watch")
	flag.Parse()
	if *root == "" {
		fmt.Fprintln(os.Stderr, "procwatch: -pid is required")
		os.Exit(2)
	}
	if _, err := os.Stat(filepath.Join("/proc", *root)); err != nil {
		fmt.Fprintf(os.Stderr, "procwatch: no process %s: %v\n", *root, err)
		os.Exit(1)
	}
	seen := map[string]*proc{}
	deadline := time.Now().Add(*dur)
	for time.Now().Before(deadline) {
		// breadth-first from the root: every live descendant, and its command line as it is now
		queue := []string{*root}
		for len(queue) > 0 {
			parent := queue[0]
			queue = queue[1:]
			for _, child := range children(parent) {
				p := seen[child]
				if p == nil {
					p = &proc{pid: child, ppid: parent, order: len(seen)}
					seen[child] = p
				}
				if c := cmdline(child); c != "" {
					p.cmdline = c // after fork and before exec it is the parent's; keep the latest
				}
				if c := comm(child); c != "" {
					p.comm = c
				}
				queue = append(queue, child)
			}
		}
		time.Sleep(100 * time.Microsecond) // a process that lives a millisecond is still seen
	}
	out := make([]*proc, len(seen))
	for _, p := range seen {
		out[p.order] = p
	}
	for _, p := range out {
		fmt.Printf("%s\t%s\t%s\t%s\n", p.pid, p.ppid, p.comm, p.cmdline)
	}
}

// children lists the children of every thread of pid.
func children(pid string) []string {
	tasks, _ := filepath.Glob(filepath.Join("/proc", pid, "task", "*", "children"))
	var out []string
	for _, t := range tasks {
		b, err := os.ReadFile(t)
		if err != nil {
			continue
		}
		out = append(out, strings.Fields(string(b))...)
	}
	return out
}

func comm(pid string) string {
	b, err := os.ReadFile(filepath.Join("/proc", pid, "comm"))
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

func cmdline(pid string) string {
	b, err := os.ReadFile(filepath.Join("/proc", pid, "cmdline"))
	if err != nil {
		return ""
	}
	return strings.TrimSpace(strings.ReplaceAll(string(b), "\x00", " "))
}
