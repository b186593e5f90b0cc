// Command modproxy writes this repository's HEAD as one version of its module into a
// file-system Go module proxy (GOPROXY=file://DIR), the layout `go install
// module/cmd@version` reads from a real proxy: @v/list, .info, .mod and the
// module zip of the committed files, made by golang.org/x/mod/zip as the go
// command makes it from a repository. CI
// uses it to prove `go install github.com/ckslab/ckslab/cmd/ckslab@<version>`
// builds a ckslab that reports that version, before any release exists.
//
//	modproxy -dir DIR -version v0.0.0-ci [-repo .]
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/mod/modfile"
	"golang.org/x/mod/module"
	modzip "golang.org/x/mod/zip"
)

func main() {
	dir := flag.String("dir", "", "the proxy's folder (made if missing)")
	version := flag.String("version", "", "the module version to write, e.g. v0.0.0-ci")
	root := flag.String("repo", ".", "the module's git repository (go.mod at its top)")
	flag.Parse()
	if err := run(*dir, *version, *root); err != nil {
		fmt.Fprintln(os.Stderr, "modproxy:", err)
		os.Exit(1)
	}
}

func run(dir, version, root string) error {
	if dir == "" || version == "" {
		return errors.New("-dir and -version are required")
	}
	gomod, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		return err
	}
	path := modfile.ModulePath(gomod)
	if path == "" {
		return fmt.Errorf("%s has no module line", filepath.Join(root, "go.mod"))
	}
	mv := module.Version{Path: path, Version: version}
	if err := module.Check(path, version); err != nil {
		return err
	}
	escaped, err := module.EscapePath(path)
	if err != nil {
		return err
	}
	at := filepath.Join(dir, filepath.FromSlash(escaped), "@v")
	if err := os.MkdirAll(at, 0o755); err != nil {
		return err
	}
	zf, err := os.Create(filepath.Join(at, version+".zip"))
	if err != nil {
		return err
	}
	if err := modzip.CreateFromVCS(zf, mv, root, "HEAD", ""); err != nil {
		zf.Close()
		return fmt.Errorf("zipping %s: %w", root, err)
	}
	if err := zf.Close(); err != nil {
		return err
	}
	info, err := json.Marshal(struct {
		Version string
		Time    time.Time
	}{version, time.Now().UTC()})
	if err != nil {
		return err
	}
	for name, b := range map[string][]byte{version + ".mod": gomod, version + ".info": info, "list": []byte(version + "\n")} {
		if err := os.WriteFile(filepath.Join(at, name), b, 0o644); err != nil {
			return err
		}
	}
	fmt.Printf("%s@%s in %s\n", path, version, dir)
	return nil
}
