package falco

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Problem is a reason Falco cannot run on a node, with the way forward.
type Problem struct {
	Check   string // kernel, btf, ebpf, memlock
	Problem string
	Fix     string
}

func (p Problem) String() string { return p.Problem + " " + p.Fix }

// Preflight is what ckslab learned about a node before installing Falco.
type Preflight struct {
	Kernel   string
	Problems []Problem
}

// OK reports whether Falco can run.
func (p Preflight) OK() bool { return len(p.Problems) == 0 }

// Error summarises the problems in one message.
func (p Preflight) Error() string {
	var parts []string
	for _, pr := range p.Problems {
		parts = append(parts, pr.String())
	}
	return "Falco cannot run on this machine: " + lowerFirst(strings.Join(parts, " "))
}

// lowerFirst lowers a sentence's first letter after a colon ("The lab's
// nodes" -> "the lab's nodes"), but not an acronym's ("CAP_SYS_RESOURCE").
func lowerFirst(s string) string {
	if len(s) < 2 || s[0] < 'A' || s[0] > 'Z' || s[1] < 'a' || s[1] > 'z' {
		return s
	}
	return string(s[0]+'a'-'A') + s[1:]
}

// Capability bits (linux/capability.h).
const (
	capSysAdmin    = 21
	capSysResource = 24
	capPerfmon     = 38
	capBPF         = 39
)

// CheckNode probes a node for what Falco's modern eBPF engine needs: a
// kernel it supports, BTF, the right to load eBPF programs, and the right to
// raise RLIMIT_MEMLOCK (Falco's libraries treat a refused raise as fatal).
// It probes, it does not assume: each check runs a command in the node.
func CheckNode(ctx context.Context, n Node, pkg Package) (Preflight, error) {
	var p Preflight
	out, err := n.Exec(ctx, nil, "uname", "-r")
	if err != nil {
		return p, fmt.Errorf("reading the kernel version: %w", err)
	}
	p.Kernel = strings.TrimSpace(string(out))
	if pr, ok := kernelProblem(p.Kernel, pkg.Version); !ok {
		p.Problems = append(p.Problems, pr)
	}
	if _, err := n.Exec(ctx, nil, "test", "-r", "/sys/kernel/btf/vmlinux"); err != nil {
		var ee *ExecError
		if !errors.As(err, &ee) {
			return p, err
		}
		p.Problems = append(p.Problems, Problem{Check: "btf",
			Problem: fmt.Sprintf("Kernel %s exposes no BTF (/sys/kernel/btf/vmlinux is missing); Falco's modern eBPF engine needs it.", p.Kernel),
			Fix:     "Use a kernel built with CONFIG_DEBUG_INFO_BTF=y (most distributions' kernels since 2021 are)."})
	}
	status, err := n.Exec(ctx, nil, "cat", "/proc/self/status")
	if err != nil {
		return p, fmt.Errorf("reading the node's capabilities: %w", err)
	}
	eff, bnd, err := capabilities(string(status))
	if err != nil {
		return p, err
	}
	if !has(eff, capSysAdmin) && !(has(eff, capBPF) && has(eff, capPerfmon)) {
		p.Problems = append(p.Problems, Problem{Check: "ebpf",
			Problem: "The node may not load eBPF programs (it has neither CAP_SYS_ADMIN nor CAP_BPF with CAP_PERFMON).",
			Fix:     "Run the lab with a Docker engine that starts kind's nodes privileged (a normal local Docker installation does)."})
	}
	if _, err := n.Exec(ctx, nil, "sh", "-c", "ulimit -H -l unlimited && ulimit -S -l unlimited"); err != nil {
		var ee *ExecError
		if !errors.As(err, &ee) {
			return p, err
		}
		why := "The lab's nodes may not raise RLIMIT_MEMLOCK"
		if !has(bnd, capSysResource) {
			why += " (CAP_SYS_RESOURCE is missing from the capability bounding set of this machine's containers)"
		}
		p.Problems = append(p.Problems, Problem{Check: "memlock",
			Problem: why + ", and Falco's libraries stop when that raise is refused.",
			Fix:     "Run the lab where the Docker engine has CAP_SYS_RESOURCE (a normal Docker installation on a laptop or VM has it)."})
	}
	return p, nil
}

// kernelProblem checks a kernel release such as "6.18.44-fc" against what
// the Falco version supports.
func kernelProblem(release, falcoVersion string) (Problem, bool) {
	major, minor, ok := parseKernel(release)
	if !ok {
		return Problem{Check: "kernel", Problem: fmt.Sprintf("Cannot read the kernel version %q.", release),
			Fix: "ckslab needs a Linux kernel 5.8 or newer."}, false
	}
	fmaj, fmin, _ := parseKernel(falcoVersion)
	switch {
	case major < 5 || major == 5 && minor < 8:
		return Problem{Check: "kernel",
			Problem: fmt.Sprintf("Kernel %s is older than 5.8; Falco's modern eBPF engine needs 5.8 or newer (ring buffer, BTF).", release),
			Fix:     "Run the lab on a machine with a newer kernel."}, false
	case (major > 6 || major == 6 && minor >= 15) && fmaj == 0 && fmin < 41:
		return Problem{Check: "kernel",
			Problem: fmt.Sprintf("Kernel %s needs Falco 0.41 or newer; this package is %s.", release, falcoVersion),
			Fix:     "Use the pinned Falco (drop --falco-package) or give a newer package."}, false
	case major >= 7 && fmaj == 0 && fmin == 44:
		return Problem{Check: "kernel",
			Problem: fmt.Sprintf("Kernel %s: Falco %s's modern eBPF engine crashes on Linux 7.0 and newer (falco issue #3955).", release, falcoVersion),
			Fix:     "Run the lab on a 6.x kernel, or give a Falco release that fixes it with --falco-package."}, false
	}
	return Problem{}, true
}

func parseKernel(s string) (int, int, bool) {
	parts := strings.SplitN(s, ".", 3)
	if len(parts) < 2 {
		return 0, 0, false
	}
	major, err1 := strconv.Atoi(parts[0])
	minorText := parts[1]
	if i := strings.IndexFunc(minorText, func(r rune) bool { return r < '0' || r > '9' }); i >= 0 {
		minorText = minorText[:i]
	}
	minor, err2 := strconv.Atoi(minorText)
	return major, minor, err1 == nil && err2 == nil
}

// capabilities reads CapEff and CapBnd from /proc/<pid>/status text.
func capabilities(status string) (eff, bnd uint64, err error) {
	var gotEff, gotBnd bool
	for _, line := range strings.Split(status, "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		switch k {
		case "CapEff":
			eff, err = strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			gotEff = err == nil
		case "CapBnd":
			bnd, err = strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			gotBnd = err == nil
		}
		if err != nil {
			return 0, 0, fmt.Errorf("reading %s from /proc/self/status: %w", k, err)
		}
	}
	if !gotEff || !gotBnd {
		return 0, 0, errors.New("/proc/self/status has no CapEff or CapBnd line")
	}
	return eff, bnd, nil
}

func has(set uint64, bit uint) bool { return set&(1<<bit) != 0 }
