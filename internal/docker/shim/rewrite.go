package shim

import "strings"

// Flags of the docker CLI that take no value; every other flag takes one (as the next argument or after `=`).
var (
	globalBool = set("-D", "--debug", "--tls", "--tlsverify", "-v", "--version", "-h", "--help")
	runBool    = set("-d", "--detach", "-i", "--interactive", "-t", "--tty", "--rm", "--privileged", "--init",
		"--read-only", "-P", "--publish-all", "--oom-kill-disable", "--no-healthcheck", "--sig-proxy",
		"--disable-content-trust", "-q", "--quiet", "--help", "--use-api-socket")
	execBool = set("-d", "--detach", "-i", "--interactive", "-t", "--tty", "--privileged", "--help")
)

func set(s ...string) map[string]bool {
	m := make(map[string]bool, len(s))
	for _, x := range s {
		m[x] = true
	}
	return m
}

// Rewrite returns the docker arguments (argv without argv[0]) to run instead of args, given cfg:
//   - `docker run|create --privileged` becomes `--cap-add=X` for each capability in cfg.CapAdd,
//     `--security-opt=systempaths=unconfined` and `--device-cgroup-rule=a *:* rwm`;
//   - a bind mount of /lib/modules gets cfg.LibModules as its source when that is set;
//   - `docker exec --privileged` loses the flag;
//   - everything else, and everything from the image or container name on, is passed through unchanged.
func Rewrite(args []string, cfg Config) []string {
	out := make([]string, 0, len(args)+len(cfg.CapAdd)+2)
	i := skipFlags(args, 0, globalBool, func(flag string, vals []string) { out = append(out, vals...) })
	if i >= len(args) {
		return out
	}
	cmd := args[i]
	out = append(out, cmd)
	i++
	if cmd == "container" && i < len(args) {
		cmd = args[i]
		out = append(out, cmd)
		i++
	}
	switch cmd {
	case "run", "create":
		i = skipFlags(args, i, runBool, func(flag string, vals []string) {
			switch {
			case flag == "--privileged" && isTrue(vals):
				out = append(out, privilegedEquivalent(cfg)...)
			case (flag == "-v" || flag == "--volume") && cfg.LibModules != "":
				out = append(out, rewriteVolume(vals, cfg.LibModules)...)
			default:
				out = append(out, vals...)
			}
		})
	case "exec":
		i = skipFlags(args, i, execBool, func(flag string, vals []string) {
			if flag != "--privileged" {
				out = append(out, vals...)
			}
		})
	}
	return append(out, args[i:]...)
}

// skipFlags walks the flags of args from i on, calling emit with each flag's name and the argument(s) that
// spelled it, and returns the index of the first positional argument (after a `--`, which is emitted).
func skipFlags(args []string, i int, boolFlags map[string]bool, emit func(flag string, vals []string)) int {
	for i < len(args) {
		a := args[i]
		if a == "--" {
			emit(a, args[i:i+1])
			return i + 1
		}
		if !strings.HasPrefix(a, "-") || a == "-" {
			return i
		}
		name, _, hasValue := strings.Cut(a, "=")
		if !strings.HasPrefix(a, "--") && len(name) > 2 {
			// a cluster of short flags (-it) or a short flag with its value attached (-vX)
			if boolFlags["-"+name[1:2]] && !boolFlags["-"+name[len(name)-1:]] && allBool(name[1:len(name)-1], boolFlags) {
				n := min(i+2, len(args))
				emit(name, args[i:n])
				i = n
				continue
			}
			emit(name[:2], args[i:i+1])
			i++
			continue
		}
		if hasValue || boolFlags[name] {
			emit(name, args[i:i+1])
			i++
			continue
		}
		n := min(i+2, len(args))
		emit(name, args[i:n])
		i = n
	}
	return i
}

func allBool(letters string, boolFlags map[string]bool) bool {
	for _, l := range letters {
		if !boolFlags["-"+string(l)] {
			return false
		}
	}
	return true
}

// isTrue reports whether a boolean flag spelled as vals (`--privileged` or `--privileged=VALUE`) is on.
func isTrue(vals []string) bool {
	_, v, ok := strings.Cut(vals[0], "=")
	return !ok || v == "true" || v == "1"
}

func privilegedEquivalent(cfg Config) []string {
	out := make([]string, 0, len(cfg.CapAdd)+2)
	for _, c := range cfg.CapAdd {
		out = append(out, "--cap-add="+c)
	}
	return append(out, "--security-opt=systempaths=unconfined", "--device-cgroup-rule=a *:* rwm")
}

// rewriteVolume replaces the source of a /lib/modules bind mount, in any of the spellings
// `-v SPEC`, `--volume SPEC` and `--volume=SPEC`.
func rewriteVolume(vals []string, libModules string) []string {
	spec, last := "", len(vals)-1
	prefix := ""
	if flag, v, ok := strings.Cut(vals[0], "="); ok {
		prefix, spec, last = flag+"=", v, 0
	} else if len(vals) == 2 {
		spec = vals[1]
	} else {
		return vals
	}
	src, rest, _ := strings.Cut(spec, ":")
	if strings.TrimSuffix(src, "/") != "/lib/modules" || rest == "" {
		return vals
	}
	out := append([]string(nil), vals...)
	out[last] = prefix + libModules + ":" + rest
	return out
}
