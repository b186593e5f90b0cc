//go:build linux

package main

import (
	"archive/tar"
	"bytes"
	"io"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestWrite(t *testing.T) {
	base, next := t.TempDir(), t.TempDir()
	mk := func(root string, files map[string]string) {
		for name, content := range files {
			p := filepath.Join(root, name)
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	mk(base, map[string]string{"etc/same": "s", "etc/changed": "old", "etc/gone": "g", "old/a": "a", "old/b/c": "c",
		"usr/bin/tool": "t", "link/x": "x"})
	mk(next, map[string]string{"etc/same": "s", "etc/changed": "new", "new/dir/file": "n", "usr/bin/tool": "t"})
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.Chmod(filepath.Join(next, "usr/bin/tool"), 0o755|os.ModeSetuid))
	// base has a directory where next has a symlink (to a directory outside the tree)
	must(os.Symlink("/etc", filepath.Join(next, "link")))
	must(os.Symlink("same", filepath.Join(base, "etc/ln")))
	must(os.Symlink("changed", filepath.Join(next, "etc/ln")))

	var buf bytes.Buffer
	st, err := write(&buf, base, next)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]*tar.Header{}
	content := map[string]string{}
	tr := tar.NewReader(&buf)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		must(err)
		got[h.Name] = h
		b, _ := io.ReadAll(tr)
		content[h.Name] = string(b)
	}
	var names []string
	for n := range got {
		names = append(names, n)
	}
	slices.Sort(names)
	want := []string{
		"etc/.wh.gone", // removed file
		"etc/changed",  // new content
		"etc/ln",       // retargeted symlink
		"link",         // directory replaced by a symlink: no whiteouts below it
		"new/", "new/dir/", "new/dir/file",
		".wh.old",      // removed directory: one whiteout, not one per file
		"usr/bin/tool", // same content, new mode
	}
	slices.Sort(want)
	if !slices.Equal(names, want) {
		t.Fatalf("layer entries:\n got  %q\n want %q", names, want)
	}
	if content["etc/changed"] != "new" || content["new/dir/file"] != "n" {
		t.Errorf("contents: %q", content)
	}
	if h := got["usr/bin/tool"]; h.Mode != 0o4755 || h.Typeflag != tar.TypeReg {
		t.Errorf("usr/bin/tool: mode %o type %c, want 4755 regular", h.Mode, h.Typeflag)
	}
	if h := got["link"]; h.Typeflag != tar.TypeSymlink || h.Linkname != "/etc" {
		t.Errorf("link: type %c -> %q, want a symlink to /etc", h.Typeflag, h.Linkname)
	}
	if h := got["etc/ln"]; h.Linkname != "changed" {
		t.Errorf("etc/ln -> %q, want changed", h.Linkname)
	}
	if h := got["etc/.wh.gone"]; h.Size != 0 || h.Typeflag != tar.TypeReg {
		t.Errorf("whiteout: %+v", h)
	}
	if st.removed != 2 || st.changed != 7 || st.same != 4 {
		t.Errorf("stats %+v, want 2 whiteouts (etc/gone, old), 7 changed or new, 4 unchanged (etc, etc/same, usr, usr/bin)", st)
	}
}

func TestWriteRefusesAMissingTree(t *testing.T) {
	if _, err := write(io.Discard, filepath.Join(t.TempDir(), "nope"), t.TempDir()); err == nil {
		t.Error("no error for a missing base tree")
	}
}
