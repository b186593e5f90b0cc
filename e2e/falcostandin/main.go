//go:build linux

// Command falcostandin is ckslab's e2e stand-in for Falco. It is not Falco.
//
// The e2e suite (e2e/standin_test.go) builds it and packs it as a .deb named like a Falco package
// (falco-0.0.0~e2e.standin-<arch>.deb) for machines where Falco cannot run, like this project's CI
// machine, so that the suite can prove the plumbing around Falco: ckslab up's install, the walkthrough's
// greps of /var/log/syslog, the rule edit, `service falco stop; falco`, `cut -d" " -f 9`, ckslab solve, and
// check 5 against syslog. It is never part of the ckslab binary, and ckslab up refuses to install it in a
// lab a user gets (lab.Options.IgnoreFalcoPreflight).
//
// What it does, as /usr/bin/falco on a kind node:
//   - reads /etc/falco/falco.yaml (and config.d/, -o overrides) for the outputs, the webserver and the
//     rules files, and the rules files for the output, priority and enabled flag of the two rules the lab
//     adds ("Launch Package Management Process in Container", "Write below etc") and the
//     package_mgmt_binaries list;
//   - watches the node's CRI containers with fanotify (permission events on each container's root
//     filesystem: execs, and opens below /etc) and reads /proc, containerd's task folders and crictl to
//     name the process, its parents, its user, its container and image;
//   - implements those two rules' conditions in Go (it evaluates no other rule, and no condition text);
//   - prints alerts shaped like Falco 0.40.0's (../shared/falco-real/): `HH:MM:SS.nnnnnnnnn: Error <output>`
//     on stdout and, as `falco: ...`, to syslog through /dev/log; its start-up lines on stderr and to syslog,
//     the first of them saying that it is this stand-in; Falco's flags -c, -o, -r, -U, -M; SIGINT, SIGTERM,
//     SIGHUP; a reload when a config or rules file changes; /healthz on the webserver.
//
// Built with -ldflags "-X main.variant=exits" it stands in for a Falco whose libraries stop at start-up
// (as an unchanged Falco does on this machine's kernel): it prints the start-up lines and libpman's
// error, and exits 1.
package main

import (
	"fmt"
	"os"
)

// Version is what the stand-in's package says it is; falco.IsStandIn knows it.
const Version = "0.0.0~e2e.standin"

// variant is "standin" (watch and alert) or "exits" (stop at start-up, exit 1); set with -ldflags -X.
var variant = "standin"

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	opts, err := parseArgs(args)
	if err != nil {
		fmt.Fprintf(os.Stderr, "Error: Failed to parse command line options: %v\n", err)
		return 1
	}
	switch {
	case opts.help:
		fmt.Fprint(os.Stdout, usage)
		return 0
	case opts.version:
		fmt.Fprintf(os.Stdout, "Falco version: %s (ckslab's e2e stand-in for Falco, not Falco)\n", versionFor(variant))
		return 0
	}
	a := newApp(opts, os.Stdout, os.Stderr)
	if variant == "exits" {
		return a.exitAtStart()
	}
	return a.run()
}

func versionFor(v string) string {
	if v == "exits" {
		return "0.0.0~e2e.exits"
	}
	return Version
}

const usage = `ckslab's e2e stand-in for Falco, not Falco.
Usage: falco [options]
  -c FILE            configuration file (default /etc/falco/falco.yaml)
  -o KEY=VALUE       set a configuration key (dot notation), repeatable
  -r FILE|DIR        a rules file or folder instead of the configuration's rules_files, repeatable
  -U, --unbuffered   flush stdout after every alert
  -M SECONDS         stop after SECONDS
  --dry-run          load the configuration and the rules, then exit
  --version          print the version
  -h, --help         this text
`
