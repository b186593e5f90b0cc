// Package images holds the local image set's sources (build.sh, steps/, files/; see README.md). Go code reads
// the few files that the public image set needs too from here, so both sets get the same.
package images

import _ "embed"

// TerminalBashrc is what the exam terminal adds to /etc/bash.bashrc: `alias k=kubectl` with kubectl's
// completion for k, as on the exam's terminal. The local terminal image has it from img-workloads.sh; up adds
// it to the public set's terminal.
//
//go:embed files/terminal/bash.bashrc.ckslab
var TerminalBashrc []byte
