package falco

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"github.com/ProtonMail/go-crypto/openpgp"
)

// Falco's signed apt repository, the install Falco documents (falco-facts.md, "Installing Falco"): apt checks
// the repository's signature with this key, and the package's checksum against the signed index. It serves
// amd64 and arm64.
const (
	RepoKeyURL = "https://falco.org/repo/falcosecurity-packages.asc"
	// RepoKeyFingerprint is the signing key ckslab trusts: the one Falco rotated to in 0.43.0 (the one
	// before, 2005399002D5E8FF59F28CE64021833E14CB7A8D, is revoked). A key file without it is refused.
	RepoKeyFingerprint = "478B2FBBC75F4237B731DA4365106822B35B1B1F"
	// RepoKeyring is where the node's apt finds the key (the source's signed-by).
	RepoKeyring = "/usr/share/keyrings/falco-archive-keyring.gpg"
	// RepoSource is the node's apt source for Falco.
	RepoSource     = "deb [signed-by=" + RepoKeyring + "] https://download.falco.org/packages/deb stable main"
	repoSourceFile = "/etc/apt/sources.list.d/falcosecurity.list"
)

// RepoKeyringFrom reads an armored key file and returns a binary keyring holding only the key whose primary
// fingerprint is fingerprint, not revoked; otherwise an error naming what the file held.
func RepoKeyringFrom(armored io.Reader, fingerprint string) ([]byte, error) {
	want := strings.ToUpper(strings.ReplaceAll(fingerprint, " ", ""))
	list, err := openpgp.ReadArmoredKeyRing(armored)
	if err != nil {
		return nil, fmt.Errorf("reading Falco's repository key: %w", err)
	}
	var seen []string
	for _, e := range list {
		got := strings.ToUpper(fmt.Sprintf("%X", e.PrimaryKey.Fingerprint))
		seen = append(seen, got)
		if got != want {
			continue
		}
		if len(e.Revocations) > 0 {
			return nil, fmt.Errorf("the key %s is revoked in the key file: ckslab does not trust it", got)
		}
		var b bytes.Buffer
		if err := e.Serialize(&b); err != nil {
			return nil, fmt.Errorf("writing Falco's repository key: %w", err)
		}
		return b.Bytes(), nil
	}
	return nil, fmt.Errorf("the key file holds no key with the fingerprint ckslab trusts (%s), only %s: it is not Falco's signing key, or Falco rotated it", want, strings.Join(seen, ", "))
}

// FetchRepoKeyring downloads Falco's repository key (kept as <cache>/falco/falcosecurity-packages.asc) and
// returns the keyring of the pinned key. The key is checked each time, from the cache too. Errors wrap
// ErrNoPackage: the lab then runs without Falco, saying why.
func FetchRepoKeyring(ctx context.Context, cacheDir string, client *http.Client) ([]byte, error) {
	path := filepath.Join(cacheDir, "falco", filepath.Base(RepoKeyURL))
	b, err := os.ReadFile(path)
	downloaded := err != nil
	if downloaded {
		if client == nil {
			client = http.DefaultClient
		}
		req, rerr := http.NewRequestWithContext(ctx, http.MethodGet, RepoKeyURL, nil)
		if rerr != nil {
			return nil, rerr
		}
		resp, gerr := client.Do(req)
		if gerr != nil {
			return nil, fmt.Errorf("%w: Falco's signed repository: its key %s cannot be downloaded (%v); with no internet, give a local package with --falco-package PATH", ErrNoPackage, RepoKeyURL, gerr)
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("%w: Falco's signed repository: its key %s: %s", ErrNoPackage, RepoKeyURL, resp.Status)
		}
		if b, err = io.ReadAll(io.LimitReader(resp.Body, 1<<20)); err != nil {
			return nil, fmt.Errorf("%w: Falco's signed repository: reading its key: %v", ErrNoPackage, err)
		}
	}
	keyring, err := RepoKeyringFrom(bytes.NewReader(b), RepoKeyFingerprint)
	if err != nil {
		return nil, fmt.Errorf("%w: %s (from %s): %v", ErrNoPackage, RepoKeyURL, path, err)
	}
	if downloaded {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err == nil {
			_ = os.WriteFile(path, b, 0o644)
		}
	}
	return keyring, nil
}

// InstallFromRepo installs Falco version from its signed apt repository on the node, as Falco documents it
// (the pinned key as the source's signed-by, the version pinned), then sets it up as Install does.
func InstallFromRepo(ctx context.Context, n Node, keyring []byte, version string, logf func(string, ...any)) error {
	if logf == nil {
		logf = func(string, ...any) {}
	}
	fresh := installedVersion(ctx, n) != version
	if fresh {
		logf("adding Falco's signed apt repository to %s (key %s)", n, RepoKeyFingerprint)
		if err := WriteFile(ctx, n, RepoKeyring, bytes.NewReader(keyring)); err != nil {
			return fmt.Errorf("writing Falco's repository key: %w", err)
		}
		if err := WriteFile(ctx, n, repoSourceFile, strings.NewReader(RepoSource+"\n")); err != nil {
			return fmt.Errorf("writing Falco's apt source: %w", err)
		}
		if _, err := n.Exec(ctx, nil, "apt-get", "update", "-q", "-o", "Dir::Etc::sourcelist="+repoSourceFile, "-o", "Dir::Etc::sourceparts=-", "-o", "APT::Get::List-Cleanup=0"); err != nil {
			return fmt.Errorf("%w: apt-get update of Falco's signed repository on %s: %v", ErrNoPackage, n, err)
		}
		logf("installing Falco %s (modern eBPF) from the repository", version)
		if _, err := n.Exec(ctx, nil, "env", "FALCO_FRONTEND=noninteractive", "FALCO_DRIVER_CHOICE=modern_ebpf", "FALCOCTL_ENABLED=no",
			"DEBIAN_FRONTEND=noninteractive", "apt-get", "install", "-y", "-q", "--no-install-recommends", "falco="+version); err != nil {
			return fmt.Errorf("installing Falco %s from its repository: %w", version, err)
		}
		if err := checkInstalled(ctx, n, version, "the repository"); err != nil {
			return err
		}
	}
	return setUp(ctx, n, fresh, logf)
}
