//go:build linux

// The local image set is built on Linux only (images/README.md): layerdiff reads Linux file owners.

// Command layerdiff writes, as an OCI/Docker image layer (a tar on stdout),
// what turns the directory tree BASE into the tree NEW: every entry of NEW
// that BASE lacks or has with another type, content, mode, owner or extended
// attributes, and a whiteout (".wh.NAME") for every entry of BASE that NEW
// lacks. An image made of BASE's layer plus this one holds exactly NEW's
// files (modification times of unchanged files aside).
//
// The local image set uses it to build the workload images on the base
// layer that kube-proxy and kindnet-lite already share (images/README.md):
// a node then unpacks that Debian base once, not once per image.
//
//	layerdiff BASE NEW > layer.tar
package main

import (
	"archive/tar"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: layerdiff BASE NEW > layer.tar")
		os.Exit(2)
	}
	st, err := write(os.Stdout, os.Args[1], os.Args[2])
	if err != nil {
		fmt.Fprintln(os.Stderr, "layerdiff:", err)
		os.Exit(1)
	}
	fmt.Fprintf(os.Stderr, "layerdiff: %d entries (%d bytes of files) changed or new, %d removed, %d unchanged\n",
		st.changed, st.bytes, st.removed, st.same)
}

type stats struct{ changed, removed, same, bytes int64 }

// write writes the layer that turns base into next to w.
func write(w io.Writer, base, next string) (stats, error) {
	var st stats
	for _, dir := range []string{base, next} {
		if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
			return st, fmt.Errorf("%s: not a directory (%v)", dir, err)
		}
	}
	tw := tar.NewWriter(w)
	// Whiteouts first: what base has and next lacks.
	err := filepath.WalkDir(base, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(base, p)
		if rel == "." {
			return nil
		}
		if fi, err := lstatIn(next, rel); err == nil {
			if d.IsDir() && !fi.IsDir() {
				// Replaced by a file or symlink: the layer's entry
				// replaces the whole directory.
				return filepath.SkipDir
			}
			return nil
		} else if !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		st.removed++
		dir, name := path.Split(filepath.ToSlash(rel))
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: dir + ".wh." + name, Mode: 0o644, Format: tar.FormatPAX}); err != nil {
			return err
		}
		if d.IsDir() {
			return filepath.SkipDir
		}
		return nil
	})
	if err != nil {
		return st, err
	}
	err = filepath.WalkDir(next, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(next, p)
		if rel == "." {
			return nil
		}
		e, err := entryOf(next, rel)
		if err != nil {
			return err
		}
		if old, err := entryOf(base, rel); err == nil && old.same(e) {
			st.same++
			return nil
		}
		st.changed++
		h := e.hdr
		h.Name = filepath.ToSlash(rel)
		if h.Typeflag == tar.TypeDir {
			h.Name += "/"
		}
		if err := tw.WriteHeader(&h); err != nil {
			return err
		}
		if h.Typeflag == tar.TypeReg {
			n, err := tw.Write(e.data)
			st.bytes += int64(n)
			return err
		}
		return nil
	})
	if err != nil {
		return st, err
	}
	return st, tw.Close()
}

// entry is a file's tar header (without its name) and, for a regular file,
// its content.
type entry struct {
	hdr  tar.Header
	data []byte
}

// lstatIn is os.Lstat of root/rel as the tree itself sees it: a path
// below anything but a real directory (a symlink to one, for instance,
// which would lead outside the tree) does not exist.
func lstatIn(root, rel string) (fs.FileInfo, error) {
	p := root
	parts := strings.Split(filepath.ToSlash(rel), "/")
	for i, part := range parts {
		p = filepath.Join(p, part)
		fi, err := os.Lstat(p)
		if errors.Is(err, syscall.ENOTDIR) {
			err = fs.ErrNotExist
		}
		if err != nil || i == len(parts)-1 {
			return fi, err
		}
		if !fi.IsDir() {
			return nil, fs.ErrNotExist
		}
	}
	return nil, fs.ErrNotExist
}

// entryOf is the entry for root/rel (lstatIn).
func entryOf(root, rel string) (entry, error) {
	p := filepath.Join(root, rel)
	fi, err := lstatIn(root, rel)
	if err != nil {
		return entry{}, err
	}
	sys, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return entry{}, fmt.Errorf("%s: no owner information", p)
	}
	h := tar.Header{Format: tar.FormatPAX, Uid: int(sys.Uid), Gid: int(sys.Gid), ModTime: fi.ModTime(), Mode: tarMode(fi.Mode())}
	var data []byte
	switch m := fi.Mode(); {
	case m.IsRegular():
		h.Typeflag = tar.TypeReg
		if data, err = os.ReadFile(p); err != nil {
			return entry{}, err
		}
		h.Size = int64(len(data))
	case m.IsDir():
		h.Typeflag = tar.TypeDir
	case m&fs.ModeSymlink != 0:
		h.Typeflag = tar.TypeSymlink
		if h.Linkname, err = os.Readlink(p); err != nil {
			return entry{}, err
		}
	case m&fs.ModeNamedPipe != 0:
		h.Typeflag = tar.TypeFifo
	case m&fs.ModeDevice != 0:
		h.Typeflag = tar.TypeBlock
		if m&fs.ModeCharDevice != 0 {
			h.Typeflag = tar.TypeChar
		}
		h.Devmajor, h.Devminor = int64(unix.Major(uint64(sys.Rdev))), int64(unix.Minor(uint64(sys.Rdev)))
	default:
		return entry{}, fmt.Errorf("%s: cannot put a %v in a layer", p, m.Type())
	}
	if h.PAXRecords, err = xattrs(p); err != nil {
		return entry{}, err
	}
	return entry{h, data}, nil
}

// same reports whether two entries make the same file, times aside.
func (e entry) same(o entry) bool {
	a, b := e.hdr, o.hdr
	return a.Typeflag == b.Typeflag && a.Mode == b.Mode && a.Uid == b.Uid && a.Gid == b.Gid &&
		a.Linkname == b.Linkname && a.Devmajor == b.Devmajor && a.Devminor == b.Devminor &&
		equalRecords(a.PAXRecords, b.PAXRecords) && bytes.Equal(e.data, o.data)
}

func equalRecords(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// tarMode is a file mode as tar stores it: permissions plus the setuid,
// setgid and sticky bits.
func tarMode(m fs.FileMode) int64 {
	t := int64(m.Perm())
	if m&fs.ModeSetuid != 0 {
		t |= 0o4000
	}
	if m&fs.ModeSetgid != 0 {
		t |= 0o2000
	}
	if m&fs.ModeSticky != 0 {
		t |= 0o1000
	}
	return t
}

// xattrs are a file's extended attributes as PAX records (file
// capabilities, for instance), nil when it has none or the file system
// keeps none.
func xattrs(p string) (map[string]string, error) {
	size, err := unix.Llistxattr(p, nil)
	if errors.Is(err, unix.ENOTSUP) || size == 0 {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("%s: listing extended attributes: %w", p, err)
	}
	buf := make([]byte, size)
	if size, err = unix.Llistxattr(p, buf); err != nil {
		return nil, fmt.Errorf("%s: listing extended attributes: %w", p, err)
	}
	names := bytes.Split(bytes.TrimRight(buf[:size], "\x00"), []byte{0})
	slices.SortFunc(names, bytes.Compare)
	recs := map[string]string{}
	for _, n := range names {
		vsize, err := unix.Lgetxattr(p, string(n), nil)
		if err != nil {
			return nil, fmt.Errorf("%s: reading attribute %s: %w", p, n, err)
		}
		v := make([]byte, vsize)
		if vsize, err = unix.Lgetxattr(p, string(n), v); err != nil {
			return nil, fmt.Errorf("%s: reading attribute %s: %w", p, n, err)
		}
		recs["SCHILY.xattr."+string(n)] = string(v[:vsize])
	}
	return recs, nil
}
