package falco

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// Package is a Falco .deb: where to get it and how to know it is the right one.
type Package struct {
	Version string
	// File is the package's file name, e.g. falco-0.44.1-x86_64.deb.
	File string
	// URL is where it is downloaded from.
	URL string
	// SHA256 is the expected checksum of the file, lowercase hex.
	SHA256 string
	// Repo: Version comes from Falco's signed apt repository (InstallFromRepo), not from a file.
	Repo bool
}

// Pinned is the Falco the lab installs: 0.44.1, the latest release in the
// team's reference notes. It is new enough for kernels 6.15+ (0.41+), for the
// kind node's containerd 2.x (its container plugin 0.7.1 fixes the
// containerd 2.3.0 crash of earlier plugins), and fixes the BPF-iterator bugs
// of 0.44.0 in containerized deployments (falco-facts.md sections 3, 5b, 7).
//
// The checksum was recorded by a third party who downloaded this file (see
// README, "Falco"); ckslab verifies it on first download and stops with a
// clear message on a mismatch, which --falco-sha256 can override.
var Pinned = Package{
	Version: "0.44.1",
	File:    "falco-0.44.1-x86_64.deb",
	URL:     "https://download.falco.org/packages/deb/stable/falco-0.44.1-x86_64.deb",
	SHA256:  "c5394345af92f4c40a6b9535621c42faa1059cab7bb9f30e2be776b9dca0b6a4",
}

// debName matches Falco package file names: falco-0.44.1-x86_64.deb (the
// download site) or falco_0.44.1_amd64.deb (apt's naming). The version may
// carry a Debian "~" suffix, which sorts before the release it follows, as in
// falco-0.0.0~e2e.standin-x86_64.deb, the e2e suite's stand-in (StandIn).
var debName = regexp.MustCompile(`^falco[-_](\d+\.\d+\.\d+(?:~[0-9A-Za-z.+]+)?)[-_](x86_64|amd64|aarch64|arm64)\.deb$`)

// StandInVersion starts the version of the e2e suite's stand-in for Falco
// (e2e/falcostandin): a test program installed as /usr/bin/falco where Falco
// cannot run, never in a lab a user gets.
const StandInVersion = "0.0.0~e2e."

// IsStandIn reports whether a package version is the e2e suite's stand-in.
func IsStandIn(version string) bool { return strings.HasPrefix(version, StandInVersion) }

// VersionFromFileName returns the Falco version a package file name states.
func VersionFromFileName(name string) (string, bool) {
	m := debName.FindStringSubmatch(filepath.Base(name))
	if m == nil {
		return "", false
	}
	return m[1], true
}

// FetchOptions say where a package comes from.
type FetchOptions struct {
	// CacheDir holds downloaded packages (<cache>/falco/).
	CacheDir string
	// LocalPackage is a .deb the user provides (--falco-package), for
	// classrooms without internet. It is used as is; it is not copied.
	LocalPackage string
	// SHA256 overrides the expected checksum of the download.
	SHA256 string
	// Client does the download; nil means http.DefaultClient.
	Client *http.Client
	// Progress, when set, is told the bytes received so far and the total
	// (-1 when unknown).
	Progress func(received, total int64)
}

// ErrNoPackage means no Falco package could be had: the lab then runs
// without Falco and says so.
var ErrNoPackage = errors.New("no Falco package")

// Fetch returns the path of a verified Falco package: the user's local
// package, else the cached download, else a fresh download into the cache.
func Fetch(ctx context.Context, pkg Package, o FetchOptions) (string, error) {
	if o.LocalPackage != "" {
		return checkLocal(o.LocalPackage)
	}
	want := strings.ToLower(strings.TrimSpace(pkg.SHA256))
	if o.SHA256 != "" {
		want = strings.ToLower(strings.TrimSpace(o.SHA256))
	}
	if len(want) != 64 || !isLowerHex(want) {
		return "", fmt.Errorf("the expected checksum %q is not a SHA-256 (64 hex digits)", want)
	}
	if o.CacheDir == "" {
		return "", errors.New("no cache directory for the Falco package")
	}
	dir := filepath.Join(o.CacheDir, "falco")
	path := filepath.Join(dir, pkg.File)
	if got, err := fileSHA256(path); err == nil {
		if got == want {
			return path, nil
		}
		// A stale or corrupt cache entry: download again, after moving it away.
		if err := os.Rename(path, path+".bad"); err != nil {
			return "", fmt.Errorf("the cached %s has the wrong checksum and cannot be moved aside: %w", path, err)
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("creating the cache folder for Falco: %w", err)
	}
	if err := download(ctx, pkg.URL, path, want, o); err != nil {
		return "", fmt.Errorf("%w: downloading %s failed: %v; with no internet, give a local package with --falco-package PATH", ErrNoPackage, pkg.URL, err)
	}
	return path, nil
}

func checkLocal(path string) (string, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return "", fmt.Errorf("%w: --falco-package %s: %v", ErrNoPackage, path, errors.Unwrap(err))
	}
	if !fi.Mode().IsRegular() {
		return "", fmt.Errorf("%w: --falco-package %s is not a file", ErrNoPackage, path)
	}
	if _, ok := VersionFromFileName(path); !ok {
		return "", fmt.Errorf("%w: --falco-package %s is not named like a Falco .deb (falco-0.44.1-x86_64.deb or falco_0.44.1_amd64.deb)", ErrNoPackage, path)
	}
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("%w: --falco-package %s: %v", ErrNoPackage, path, err)
	}
	defer f.Close()
	magic := make([]byte, 8)
	if _, err := io.ReadFull(f, magic); err != nil || string(magic) != "!<arch>\n" {
		return "", fmt.Errorf("%w: --falco-package %s is not a .deb archive", ErrNoPackage, path)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", err
	}
	return abs, nil
}

// download fetches url into path through a temporary file, verifying the
// checksum before the file takes its final name: a partial or wrong file is
// never left where Fetch would trust it.
func download(ctx context.Context, url, path, want string, o FetchOptions) error {
	client := o.Client
	if client == nil {
		client = http.DefaultClient
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("the server answered %s", resp.Status)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".download-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	h := sha256.New()
	var body io.Reader = resp.Body
	if o.Progress != nil {
		body = &progressReader{r: resp.Body, total: resp.ContentLength, fn: o.Progress}
	}
	if _, err := io.Copy(io.MultiWriter(tmp, h), body); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != want {
		return fmt.Errorf("checksum mismatch: got sha256 %s, want %s (if Falco republished the file, check its checksum and pass --falco-sha256 %s)", got, want, got)
	}
	return os.Rename(tmp.Name(), path)
}

type progressReader struct {
	r        io.Reader
	received int64
	total    int64
	fn       func(int64, int64)
}

func (p *progressReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	p.received += int64(n)
	p.fn(p.received, p.total)
	return n, err
}

func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
