//go:build linux

package main

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// options are Falco's command-line flags that the lab's task, walkthrough and reference solution use.
type options struct {
	configFile string
	overrides  []string // -o key=value, in order
	rulesFiles []string // -r, in order
	unbuffered bool
	duration   time.Duration // -M; 0: run until a signal
	dryRun     bool
	version    bool
	help       bool
	pidfile    string
}

// parseArgs reads Falco's flags as its getopt-style parser does: "-c FILE" or "-cFILE", "--key=value" or
// "--key value" for long options.
func parseArgs(args []string) (options, error) {
	o := options{configFile: "/etc/falco/falco.yaml"}
	for i := 0; i < len(args); i++ {
		arg := args[i]
		value := func(name string) (string, error) {
			if len(arg) > 2 && !strings.HasPrefix(arg, "--") {
				return arg[2:], nil // -cFILE
			}
			if k, v, ok := strings.Cut(arg, "="); ok && strings.HasPrefix(k, "--") {
				return v, nil
			}
			if i+1 >= len(args) {
				//lint:ignore ST1005 Falco prints these words, capital included
				return "", fmt.Errorf("Option '%s' is missing an argument", name)
			}
			i++
			return args[i], nil
		}
		name := arg
		if strings.HasPrefix(arg, "--") {
			name, _, _ = strings.Cut(arg, "=")
		} else if len(arg) > 2 && arg[0] == '-' {
			name = arg[:2]
		}
		var err error
		switch name {
		case "-c":
			o.configFile, err = value("c")
		case "-o", "--option":
			var kv string
			if kv, err = value("o"); err == nil {
				if !strings.Contains(kv, "=") {
					err = fmt.Errorf("option %q is not key=value", kv)
				}
				o.overrides = append(o.overrides, kv)
			}
		case "-r":
			var r string
			r, err = value("r")
			o.rulesFiles = append(o.rulesFiles, r)
		case "-U", "--unbuffered":
			if len(arg) > 2 && name == "-U" {
				//lint:ignore ST1005 Falco prints these words, capital included
				return o, fmt.Errorf("Option '%s' does not exist", arg)
			}
			o.unbuffered = true
		case "-M":
			var s string
			if s, err = value("M"); err == nil {
				var n int
				n, err = strconv.Atoi(s)
				if err == nil && n < 0 {
					err = fmt.Errorf("-M %s: not a number of seconds", s)
				}
				o.duration = time.Duration(n) * time.Second
			}
		case "--dry-run":
			o.dryRun = true
		case "--version":
			o.version = true
		case "-h", "--help":
			o.help = true
		case "--pidfile":
			o.pidfile, err = value("pidfile")
		default:
			//lint:ignore ST1005 Falco prints these words, capital included
			return o, fmt.Errorf("Option '%s' does not exist", strings.TrimLeft(name, "-"))
		}
		if err != nil {
			return o, err
		}
	}
	return o, nil
}
