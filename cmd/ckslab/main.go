// Command ckslab turns a real CKS exam task into a lab on your own machine
// and grades it honestly. See README.md.
package main

import (
	"os"

	"github.com/ckslab/ckslab/cmd/ckslab/app"
)

func main() {
	os.Exit(app.Main())
}
