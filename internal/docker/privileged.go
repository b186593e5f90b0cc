package docker

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/bits"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ckslab/ckslab/internal/docker/shim"
	"github.com/ckslab/ckslab/internal/exec"
)

// capNames are the Linux capabilities by number (linux/capability.h), without the CAP_ prefix.
var capNames = []string{
	"CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "KILL", "SETGID", "SETUID", "SETPCAP",
	"LINUX_IMMUTABLE", "NET_BIND_SERVICE", "NET_BROADCAST", "NET_ADMIN", "NET_RAW", "IPC_LOCK", "IPC_OWNER",
	"SYS_MODULE", "SYS_RAWIO", "SYS_CHROOT", "SYS_PTRACE", "SYS_PACCT", "SYS_ADMIN", "SYS_BOOT", "SYS_NICE",
	"SYS_RESOURCE", "SYS_TIME", "SYS_TTY_CONFIG", "MKNOD", "LEASE", "AUDIT_WRITE", "AUDIT_CONTROL", "SETFCAP",
	"MAC_OVERRIDE", "MAC_ADMIN", "SYSLOG", "WAKE_ALARM", "BLOCK_SUSPEND", "AUDIT_READ", "PERFMON", "BPF",
	"CHECKPOINT_RESTORE",
}

// CapNames returns the names of the capabilities set in mask, in number order; unknown bits are named by number.
func CapNames(mask uint64) []string {
	var out []string
	for i := 0; i < 64; i++ {
		if mask&(1<<i) == 0 {
			continue
		}
		if i < len(capNames) {
			out = append(out, capNames[i])
		} else {
			out = append(out, strconv.Itoa(i))
		}
	}
	return out
}

// ParseCapBnd reads the CapBnd line of a /proc/<pid>/status file.
func ParseCapBnd(status string) (uint64, error) {
	for _, line := range strings.Split(status, "\n") {
		if v, ok := strings.CutPrefix(line, "CapBnd:"); ok {
			return strconv.ParseUint(strings.TrimSpace(v), 16, 64)
		}
	}
	return 0, errors.New("no CapBnd line")
}

// FullCapMask is the mask of every capability up to and including last (/proc/sys/kernel/cap_last_cap).
func FullCapMask(last int) uint64 {
	if last >= 63 {
		return ^uint64(0)
	}
	return (uint64(1) << (last + 1)) - 1
}

// Privileged is what ckslab found out about `docker run --privileged` on one engine.
type Privileged struct {
	// Works is true when --privileged containers start as they are; the shim is then not needed.
	Works bool `json:"works"`
	// How says how that was established.
	How string `json:"how"`
	// Missing are the capabilities the engine host's bounding set lacks.
	Missing []string `json:"missing,omitempty"`
	// CapAdd, when Works is false, are the capabilities that replace --privileged (the bounding set minus what
	// the engine rejects), verified by running a container with them.
	CapAdd []string `json:"cap_add,omitempty"`
	// CheckedAt is when it was probed.
	CheckedAt time.Time `json:"checked_at"`
}

// ProbePrivileged finds out whether `docker run --privileged` works on this engine: it runs
// `docker run --rm --privileged --entrypoint true IMAGE` with the first of images that is present, and, when no
// run is conclusive, compares the engine host's capability bounding set with the full set. When --privileged
// is refused it also works out which capabilities can replace it, and checks them with a real run. An answer
// from a real run is cached per engine (ID, version, kernel, bounding set); the bounding-set guess is not.
func (e *Engine) ProbePrivileged(ctx context.Context, images ...string) (Privileged, error) {
	bnd, bndErr := e.hostCapBnd()
	full := FullCapMask(capLastCap())
	key := e.probeKey(bnd)
	cachePath := filepath.Join(e.stateDir(), "privileged-"+key+".json")
	if p, err := readProbe(cachePath); err == nil {
		return p, nil
	}
	var missing []string
	if bndErr == nil {
		missing = CapNames(full &^ bnd)
	}

	// candidates: the images asked for, then (when none of them is present) a few of the engine's own
	candidates := images
	if !e.anyPresent(ctx, images) {
		candidates = append(slices.Clone(images), e.someImages(ctx, 5)...)
	}
	p := Privileged{Missing: missing, CheckedAt: time.Now().UTC()}
	conclusive, image := false, ""
	for _, img := range candidates {
		if ok, err := e.ImagePresent(ctx, img); err != nil || !ok {
			continue
		}
		err := exec.Command("docker", "run", "--rm", "--pull=never", "--network=none", "--privileged", "--entrypoint", "true", img).Run(ctx)
		switch {
		case err == nil:
			p.Works, p.How, conclusive = true, "a --privileged container from "+img+" ran", true
		case refusedCaps(err):
			p.Works, p.How, conclusive = false, "a --privileged container from "+img+" was refused ("+errorLine(exec.OutputOf(err), err)+")", true
		default:
			e.logger.V(1).Infof("--privileged probe with %s was inconclusive: %v", img, err)
			continue
		}
		image = img
		break
	}
	if !conclusive {
		switch {
		case !e.Local():
			// Docker Desktop and remote engines run in VMs that grant every capability
			p.Works, p.How = true, "the engine is not on this host; assumed to allow --privileged"
		case bndErr != nil:
			p.Works, p.How = true, "could not read the engine's capability bounding set ("+bndErr.Error()+"); assumed to allow --privileged"
		case bits.OnesCount64(full&^bnd) == 0:
			p.Works, p.How = true, "the engine's capability bounding set is complete"
		default:
			p.Works, p.How = false, "the engine's capability bounding set lacks "+strings.Join(missing, ", ")
		}
	}
	if !p.Works {
		if image == "" {
			return p, fmt.Errorf("this Docker engine refuses --privileged containers (%s), and the engine has no image with a `true` command to work out a replacement with: pull or build the node image first (`make images` for the local set)", p.How)
		}
		caps, err := e.acceptedCaps(ctx, CapNames(bnd), image)
		if err != nil {
			return p, err
		}
		p.CapAdd = caps
		args := append([]string{"run", "--rm", "--pull=never", "--network=none"},
			shim.Rewrite([]string{"run", "--privileged"}, shim.Config{CapAdd: caps})[1:]...)
		args = append(args, "--entrypoint", "true", image)
		if err := exec.Command("docker", args...).Run(ctx); err != nil {
			return p, fmt.Errorf("this Docker engine refuses --privileged containers (%s), and ckslab's replacement (every capability it has) was refused too: %w", p.How, err)
		}
		p.How += "; a container with " + strconv.Itoa(len(caps)) + " capabilities instead ran"
	}
	if conclusive {
		_ = writeProbe(cachePath, p)
	}
	return p, nil
}

func (e *Engine) anyPresent(ctx context.Context, refs []string) bool {
	for _, r := range refs {
		if ok, err := e.ImagePresent(ctx, r); err == nil && ok {
			return true
		}
	}
	return false
}

// someImages lists up to n tagged images of the engine, newest first.
func (e *Engine) someImages(ctx context.Context, n int) []string {
	lines, err := exec.Lines(ctx, "docker", "image", "ls", "--format", "{{.Repository}}:{{.Tag}}")
	if err != nil {
		return nil
	}
	var out []string
	for _, l := range lines {
		if !strings.Contains(l, "<none>") && len(out) < n {
			out = append(out, l)
		}
	}
	return out
}

var unknownCapRE = regexp.MustCompile(`(?i)unknown capability:? "?(?:CAP_)?([A-Z_]+)"?`)

// acceptedCaps removes from caps those the engine rejects, by creating (not starting) a container with them.
func (e *Engine) acceptedCaps(ctx context.Context, caps []string, image string) ([]string, error) {
	caps = slices.Clone(caps)
	for range len(caps) + 1 {
		args := []string{"create", "--pull=never", "--network=none"}
		for _, c := range caps {
			args = append(args, "--cap-add="+c)
		}
		args = append(args, "--entrypoint", "true", image)
		out, err := exec.Output(ctx, "docker", args...)
		if err == nil {
			id := strings.TrimSpace(string(out))
			_ = exec.Command("docker", "rm", "--force", id).Run(ctx)
			return caps, nil
		}
		m := unknownCapRE.FindStringSubmatch(exec.OutputOf(err))
		if m == nil || !slices.Contains(caps, strings.ToUpper(m[1])) {
			return nil, fmt.Errorf("finding the capabilities this Docker engine accepts: %w", err)
		}
		e.logger.V(1).Infof("the engine does not know CAP_%s; leaving it out", m[1])
		caps = slices.DeleteFunc(caps, func(c string) bool { return c == strings.ToUpper(m[1]) })
	}
	return nil, errors.New("finding the capabilities this Docker engine accepts: no end to rejected capabilities")
}

// refusedCaps reports whether a failed `docker run --privileged` failed because capabilities were refused.
func refusedCaps(err error) bool {
	out := strings.ToLower(exec.OutputOf(err))
	return strings.Contains(out, "apply caps") || strings.Contains(out, "unable to apply caps") ||
		(strings.Contains(out, "operation not permitted") && strings.Contains(out, "cap"))
}

// hostCapBnd is the capability bounding set of the engine's dockerd when it can be read, else this process's.
func (e *Engine) hostCapBnd() (uint64, error) {
	if !e.Local() {
		return 0, errors.New("the engine is not on this host")
	}
	for _, pid := range dockerdPIDs() {
		if data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid)); err == nil {
			if bnd, err := ParseCapBnd(string(data)); err == nil {
				return bnd, nil
			}
		}
	}
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, err
	}
	return ParseCapBnd(string(data))
}

// dockerdPIDs lists the pids of processes named dockerd.
func dockerdPIDs() []int {
	entries, _ := os.ReadDir("/proc")
	var pids []int
	for _, ent := range entries {
		pid, err := strconv.Atoi(ent.Name())
		if err != nil {
			continue
		}
		if comm, err := os.ReadFile(filepath.Join("/proc", ent.Name(), "comm")); err == nil && strings.TrimSpace(string(comm)) == "dockerd" {
			pids = append(pids, pid)
		}
	}
	return pids
}

func capLastCap() int {
	data, err := os.ReadFile("/proc/sys/kernel/cap_last_cap")
	if err != nil {
		return len(capNames) - 1
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil {
		return len(capNames) - 1
	}
	return n
}

func (e *Engine) probeKey(bnd uint64) string {
	h := sha256.Sum256([]byte(strings.Join([]string{e.ID, e.ServerVersion, e.KernelVersion, strconv.FormatUint(bnd, 16)}, "|")))
	return hex.EncodeToString(h[:8])
}

func readProbe(path string) (Privileged, error) {
	var p Privileged
	data, err := os.ReadFile(path)
	if err != nil {
		return p, err
	}
	return p, json.Unmarshal(data, &p)
}

func writeProbe(path string, p Privileged) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	data, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(data, '\n'), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// errorLine picks the line of a docker CLI's output that says what went wrong.
func errorLine(output string, err error) string {
	for _, l := range strings.Split(output, "\n") {
		if strings.Contains(strings.ToLower(l), "error") {
			return strings.TrimSpace(l)
		}
	}
	return lastLine(output, err)
}
