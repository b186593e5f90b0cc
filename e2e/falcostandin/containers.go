//go:build linux

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// container is a CRI container on the node, as Falco's container.* and k8s.* fields name it.
type container struct {
	id                      string // 64 hex
	name                    string // the Kubernetes container name (CRI metadata)
	image                   string // the image name, e.g. docker.io/library/nginx:1.27-alpine
	repository, tag, digest string
	podName, namespace      string
	podUID                  string
	pid                     int
	rootfs                  string // its root filesystem as the node sees it
	watched                 bool
}

func (c *container) shortID() string { return c.id[:12] }

// containers are the node's CRI containers, found in containerd's task folder and through crictl.
type containers struct {
	taskDir string // containerd's tasks of Kubernetes: /run/containerd/io.containerd.runtime.v2.task/k8s.io
	crictl  string
	logf    func(format string, args ...any)
	// watch is called once for each container found, to watch its root filesystem.
	watch func(c *container) error

	mu      sync.Mutex
	byID    map[string]*container
	pending map[string]bool
	skipped map[string]int // ids crictl does not know as containers (pod sandboxes), with the tries
}

func newContainers(taskDir string, watch func(*container) error, logf func(string, ...any)) *containers {
	return &containers{taskDir: taskDir, crictl: "crictl", watch: watch, logf: logf,
		byID: map[string]*container{}, pending: map[string]bool{}, skipped: map[string]int{}}
}

// lookup returns the container a process belongs to: the innermost of its cgroup ids that is a
// container of the node. Nil means the node itself (Falco's "host").
func (cs *containers) lookup(ids []string) *container {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	for i := len(ids) - 1; i >= 0; i-- {
		if c := cs.byID[ids[i]]; c != nil {
			return c
		}
	}
	return nil
}

// run finds containers as containerd creates them: it looks at the task folder every 200 ms (no process
// is started for that) and asks crictl for all running containers every 10 s, in case a task escaped it.
func (cs *containers) run(ctx context.Context) {
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	lastList := time.Time{}
	for {
		if entries, err := os.ReadDir(cs.taskDir); err == nil {
			for _, e := range entries {
				if e.IsDir() && criID.MatchString(e.Name()) && len(e.Name()) == 64 {
					cs.found(ctx, e.Name())
				}
			}
		}
		if time.Since(lastList) > 10*time.Second {
			lastList = time.Now()
			if out, err := exec.CommandContext(ctx, cs.crictl, "ps", "-q", "--no-trunc").Output(); err == nil {
				for _, id := range strings.Fields(string(out)) {
					cs.found(ctx, id)
				}
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

func (cs *containers) found(ctx context.Context, id string) {
	cs.mu.Lock()
	if cs.byID[id] != nil || cs.pending[id] || cs.skipped[id] >= 3 {
		cs.mu.Unlock()
		return
	}
	cs.pending[id] = true
	cs.mu.Unlock()
	go func() {
		c, err := cs.inspect(ctx, id)
		cs.mu.Lock()
		delete(cs.pending, id)
		if err != nil {
			cs.skipped[id]++ // a pod sandbox, or a container already gone: tried again, 3 times at most
			cs.mu.Unlock()
			return
		}
		cs.byID[id] = c
		cs.mu.Unlock()
		if err := cs.watchWhenMounted(ctx, c); err != nil {
			cs.logf("stand-in: cannot watch container %s (%s): %v", c.shortID(), c.name, err)
		}
	}()
}

// inspect asks crictl about a container.
func (cs *containers) inspect(ctx context.Context, id string) (*container, error) {
	out, err := exec.CommandContext(ctx, cs.crictl, "inspect", "-o", "json", id).Output()
	if err != nil {
		return nil, fmt.Errorf("crictl inspect %s: %w", id, err)
	}
	return parseInspect(out, id, cs.taskDir)
}

// parseInspect reads `crictl inspect -o json`.
func parseInspect(out []byte, id, taskDir string) (*container, error) {
	var v struct {
		Status struct {
			ID       string `json:"id"`
			Metadata struct {
				Name string `json:"name"`
			} `json:"metadata"`
			Image struct {
				Image string `json:"image"`
			} `json:"image"`
			ImageRef    string            `json:"imageRef"`
			Labels      map[string]string `json:"labels"`
			Annotations map[string]string `json:"annotations"`
		} `json:"status"`
		Info struct {
			Pid int `json:"pid"`
		} `json:"info"`
	}
	if err := json.Unmarshal(out, &v); err != nil {
		return nil, fmt.Errorf("crictl inspect %s: %w", id, err)
	}
	if v.Status.ID != id {
		return nil, fmt.Errorf("crictl inspect %s: answered for %q", id, v.Status.ID)
	}
	c := &container{id: id, name: v.Status.Metadata.Name, pid: v.Info.Pid,
		podName: v.Status.Labels["io.kubernetes.pod.name"], namespace: v.Status.Labels["io.kubernetes.pod.namespace"],
		podUID: v.Status.Labels["io.kubernetes.pod.uid"], rootfs: filepath.Join(taskDir, id, "rootfs")}
	if c.name == "" {
		c.name = v.Status.Labels["io.kubernetes.container.name"]
	}
	c.image, c.repository, c.tag, c.digest = imageFields(v.Status.Image.Image, v.Status.ImageRef, v.Status.Annotations)
	return c, nil
}

// imageFields splits a container's image as Falco's CRI engine does (libs 0.20 cri.hpp): the repository
// from the image reference when that names a digest (repo@sha256:...), else from the image name; the tag
// from the image name.
func imageFields(image, imageRef string, annotations map[string]string) (name, repository, tag, digest string) {
	if image == "" || strings.HasPrefix(image, "sha256") {
		if a := annotations["io.kubernetes.cri.image-name"]; a != "" {
			image = a
		}
	}
	name = image
	if strings.HasPrefix(image, "sha256:") {
		image = "" // an image known by its id only
	}
	base := image
	if i := strings.IndexByte(base, '@'); i >= 0 {
		digest = base[i+1:]
		base = base[:i]
	}
	repository = base
	if i := strings.LastIndexByte(base, ':'); i > strings.LastIndexByte(base, '/') {
		repository, tag = base[:i], base[i+1:]
	}
	if i := strings.Index(imageRef, "@sha256:"); i > 0 {
		repository, digest = imageRef[:i], imageRef[i+1:]
	}
	return name, repository, tag, digest
}

// watchWhenMounted waits until the container's root filesystem is mounted (containerd mounts it when it
// creates the task), then watches it. It never watches the node's own filesystem: the root must be a
// mount of its own, on another device than the node's /.
func (cs *containers) watchWhenMounted(ctx context.Context, c *container) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		root, err := c.mountedRoot()
		if err == nil {
			c.rootfs = root
			if err := cs.watch(c); err != nil {
				return err
			}
			cs.mu.Lock()
			c.watched = true
			cs.mu.Unlock()
			return nil
		}
		if time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// mountedRoot returns the path of the container's root filesystem: containerd's rootfs mount, or else
// /proc/<pid>/root of its first process.
func (c *container) mountedRoot() (string, error) {
	node, err := deviceOf("/")
	if err != nil {
		return "", err
	}
	try := func(path, parent string) bool {
		d, err := deviceOf(path)
		if err != nil || d == node {
			return false
		}
		if parent != "" {
			p, err := deviceOf(parent)
			if err != nil || p == d {
				return false
			}
		}
		return true
	}
	if try(c.rootfs, filepath.Dir(c.rootfs)) {
		return c.rootfs, nil
	}
	if c.pid > 0 {
		if root := fmt.Sprintf("/proc/%d/root", c.pid); try(root+"/", "") {
			return root + "/", nil
		}
	}
	return "", fmt.Errorf("the root filesystem %s is not mounted yet", c.rootfs)
}

func deviceOf(path string) (uint64, error) {
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		return 0, err
	}
	return uint64(st.Dev), nil
}
