//go:build linux

package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestWatchSeesTheOffendersOfAContainer runs the offenders' commands in a container made here (an
// overlay root filesystem, its own mount and pid namespaces, BusyBox as the exam's Alpine images have it)
// and checks the alerts the stand-in raises from what the kernel tells it. It needs root (fanotify,
// mounts); elsewhere it says why it skips.
func TestWatchSeesTheOffendersOfAContainer(t *testing.T) {
	busybox, err := exec.LookPath("busybox")
	if os.Geteuid() != 0 || err != nil {
		t.Skip("needs root and busybox (a container's root filesystem is made with it)")
	}
	if _, err := exec.LookPath("unshare"); err != nil {
		t.Skip("needs unshare (util-linux)")
	}
	dir := t.TempDir()
	lower := filepath.Join(dir, "lower")
	for _, d := range []string{"bin", "sbin", "etc", "upper", "work", "rootfs"} {
		p := filepath.Join(lower, d)
		if d == "upper" || d == "work" || d == "rootfs" {
			p = filepath.Join(dir, d)
		}
		if err := os.MkdirAll(p, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	copyFile(t, busybox, filepath.Join(lower, "bin", "busybox"))
	if err := os.Chmod(filepath.Join(lower, "bin", "busybox"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, applet := range []string{"sh", "sed", "true", "sleep"} {
		if err := os.Symlink("busybox", filepath.Join(lower, "bin", applet)); err != nil {
			t.Fatal(err)
		}
	}
	// apk as a script, as in ckslab's local nginx image: Falco names it apk, with the interpreter's argv
	writeFile(t, filepath.Join(lower, "sbin", "apk"), "#!/bin/sh\nexit 0\n", 0o755)
	writeFile(t, filepath.Join(lower, "etc", "passwd"), "root:x:0:0:root:/root:/bin/sh\n", 0o644)
	rootfs := filepath.Join(dir, "rootfs")
	if err := unix.Mount("overlay", rootfs, "overlay", 0, "lowerdir="+lower+",upperdir="+filepath.Join(dir, "upper")+",workdir="+filepath.Join(dir, "work")); err != nil {
		t.Skip("cannot mount an overlay here:", err)
	}
	defer unix.Unmount(rootfs, unix.MNT_DETACH)

	var mu sync.Mutex
	var lines []string
	logf := func(f string, a ...any) { t.Logf(f, a...) }
	w, err := newWatcher(procFS{root: "/proc"}, logf)
	if err != nil {
		t.Skip("no fanotify here:", err)
	}
	defer w.close()
	if err := w.watch(rootfs); err != nil {
		t.Fatal(err)
	}
	ctr := &container{id: "0123456789ab" + strings.Repeat("c", 52), name: "nginx", repository: "docker.io/library/nginx", tag: "e2e", rootfs: rootfs}
	rootDev, err := deviceOf(rootfs)
	if err != nil {
		t.Fatal(err)
	}
	rs := labRules(t, nil)
	cfg := labConfig(t, "append_output[0].suggested_output=false")
	en := newEngine(procFS{root: "/proc"}, func(p *process) *container {
		if p.rootDev == rootDev {
			return ctr
		}
		return nil
	}, func() (*ruleset, *config) { return rs, cfg }, func(r *rule, e *event) {
		mu.Lock()
		defer mu.Unlock()
		lines = append(lines, alertLine(cfg, r, e))
	})
	w.onExec, w.onOpen, w.onWrite = en.onExec, en.onOpen, en.onWrite
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go w.run()
	go en.resolve(ctx)

	// The offenders' rounds: apk, and a fresh sh -c that appends to /etc/passwd and trims it with sed.
	script := `apk info; sh -c "echo hacker >> /etc/passwd; sed -i '\$d' /etc/passwd; true"; sleep 0.2`
	cmd := exec.CommandContext(ctx, "unshare", "--mount", "--pid", "--fork", "chroot", rootfs, "/bin/sh", "-c", script)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("running the offenders' commands: %v\n%s", err, out)
	}
	want := []string{
		"Error Package management process launched in container (user=root user_loginuid=-1 command=apk /sbin/apk info container_id=0123456789ab container_name=nginx image=docker.io/library/nginx:e2e)",
		`Error File below /etc opened for writing (user=root user_loginuid=-1 command=sh -c echo hacker >> /etc/passwd; sed -i '$d' /etc/passwd; true parent=sh pcmdline=sh -c ` + script + ` file=/etc/passwd program=sh gparent=`,
		`Error File below /etc opened for writing (user=root user_loginuid=-1 command=sed -i $d /etc/passwd parent=sh pcmdline=sh -c echo hacker >> /etc/passwd; sed -i '$d' /etc/passwd; true file=/etc/passwd`,
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		mu.Lock()
		got := append([]string(nil), lines...)
		mu.Unlock()
		missing := ""
		for _, w := range want {
			found := false
			for _, l := range got {
				found = found || strings.Contains(l, w)
			}
			if !found {
				missing = w
				break
			}
		}
		if missing == "" {
			if len(got) != len(want) {
				t.Fatalf("%d alerts, want %d:\n%s", len(got), len(want), strings.Join(got, "\n"))
			}
			for _, l := range got {
				if !strings.Contains(l, "container_id=0123456789ab") {
					t.Errorf("an alert without the container's id: %s", l)
				}
				if _, err := time.Parse("15:04:05.000000000", l[:18]); err != nil || l[18:20] != ": " {
					t.Errorf("an alert without Falco's time prefix: %s", l)
				}
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no alert containing\n%s\nin:\n%s", missing, strings.Join(got, "\n"))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func writeFile(t *testing.T, path, content string, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
}
