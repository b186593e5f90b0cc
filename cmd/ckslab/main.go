// Command ckslab turns a real CKS exam task into a lab on your own machine
// and grades it honestly. See README.md.
package main

import (
	"os"

	"github.com/ckslab/ckslab/cmd/ckslab/app"
	"github.com/ckslab/ckslab/internal/docker/shim"
)

func main() {
	// Invoked as "docker" (a link ckslab puts first on PATH for kind, on hosts
	// that refuse --privileged), ckslab rewrites the call and runs the real
	// docker; it never returns from Dispatch then.
	shim.Dispatch()
	os.Exit(app.Main())
}
