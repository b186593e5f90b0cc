// Package version says which ckslab this is.
package version

import (
	"fmt"
	"runtime"
	"runtime/debug"
)

// Version is set at link time with -ldflags "-X github.com/ckslab/ckslab/internal/version.Version=v1.2.3".
var Version = ""

// Default is the version of a build that was not stamped.
const Default = "v0.1.0-dev"

// Get returns the version: the stamped one, else the module's, else Default.
func Get() string {
	if Version != "" {
		return Version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return Default
}

// String is the one-line description `ckslab version` prints.
func String() string {
	return fmt.Sprintf("ckslab %s %s %s/%s", Get(), runtime.Version(), runtime.GOOS, runtime.GOARCH)
}
