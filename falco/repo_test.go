package falco

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
)

// newKey makes a signing key, as Falco's release team has one.
func newKey(t *testing.T, name string) *openpgp.Entity {
	t.Helper()
	e, err := openpgp.NewEntity(name, "", name+"@example.org", &packet.Config{Algorithm: packet.PubKeyAlgoEdDSA})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func fingerprint(e *openpgp.Entity) string { return fmt.Sprintf("%X", e.PrimaryKey.Fingerprint) }

// armored is a key file as the repository serves it: the public keys, armored.
func armored(t *testing.T, keys ...*openpgp.Entity) []byte {
	t.Helper()
	var b bytes.Buffer
	w, err := armor.Encode(&b, openpgp.PublicKeyType, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		if err := k.Serialize(w); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestRepoKeyringKeepsOnlyThePinnedKey(t *testing.T) {
	old, current := newKey(t, "old"), newKey(t, "current")
	keyring, err := RepoKeyringFrom(bytes.NewReader(armored(t, old, current)), strings.ToLower(fingerprint(current)))
	if err != nil {
		t.Fatal(err)
	}
	got, err := openpgp.ReadKeyRing(bytes.NewReader(keyring))
	if err != nil {
		t.Fatalf("the keyring written for apt does not read back: %v", err)
	}
	if len(got) != 1 || fingerprint(got[0]) != fingerprint(current) {
		t.Errorf("the keyring holds %d keys, want only %s", len(got), fingerprint(current))
	}

	_, err = RepoKeyringFrom(bytes.NewReader(armored(t, old)), fingerprint(current))
	if err == nil || !strings.Contains(err.Error(), "no key with the fingerprint ckslab trusts ("+fingerprint(current)+"), only "+fingerprint(old)) {
		t.Errorf("a key file without the pinned key: %v", err)
	}
	if err := current.RevokeKey(packet.KeyCompromised, "lost", nil); err != nil {
		t.Fatal(err)
	}
	_, err = RepoKeyringFrom(bytes.NewReader(armored(t, current)), fingerprint(current))
	if err == nil || !strings.Contains(err.Error(), "is revoked") {
		t.Errorf("a revoked pinned key: %v", err)
	}
	if _, err := RepoKeyringFrom(strings.NewReader("not a key"), fingerprint(current)); err == nil {
		t.Error("a key file that is not one was read")
	}
}

type roundTrip func(*http.Request) (*http.Response, error)

func (f roundTrip) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// The real key's fingerprint is pinned, so the test serves a file without it: refused, as a substituted
// key would be, whether downloaded or found in the cache; an unreachable site says what to do offline.
func TestFetchRepoKeyringRefusesAnotherKey(t *testing.T) {
	cache := t.TempDir()
	impostor := armored(t, newKey(t, "impostor"))
	var asked []string
	client := &http.Client{Transport: roundTrip(func(r *http.Request) (*http.Response, error) {
		asked = append(asked, r.URL.String())
		return &http.Response{StatusCode: 200, Status: "200 OK", Body: io.NopCloser(bytes.NewReader(impostor)), Request: r}, nil
	})}
	_, err := FetchRepoKeyring(context.Background(), cache, client)
	if !errors.Is(err, ErrNoPackage) || !strings.Contains(err.Error(), "no key with the fingerprint ckslab trusts ("+RepoKeyFingerprint+")") {
		t.Fatalf("a served key that is not Falco's: %v", err)
	}
	if len(asked) != 1 || asked[0] != RepoKeyURL {
		t.Errorf("downloaded %v, want %s once", asked, RepoKeyURL)
	}
	if _, err := os.Stat(filepath.Join(cache, "falco", "falcosecurity-packages.asc")); !os.IsNotExist(err) {
		t.Errorf("a refused key was cached: %v", err)
	}
	// the same file in the cache is refused too, without a download
	if err := os.MkdirAll(filepath.Join(cache, "falco"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(cache, "falco", "falcosecurity-packages.asc"), impostor, 0o644); err != nil {
		t.Fatal(err)
	}
	asked = nil
	if _, err := FetchRepoKeyring(context.Background(), cache, client); !errors.Is(err, ErrNoPackage) || len(asked) != 0 {
		t.Errorf("a cached key that is not Falco's: %v (downloads %v)", err, asked)
	}
	offline := &http.Client{Transport: roundTrip(func(*http.Request) (*http.Response, error) { return nil, errors.New("no route to host") })}
	_, err = FetchRepoKeyring(context.Background(), t.TempDir(), offline)
	if !errors.Is(err, ErrNoPackage) || !strings.Contains(err.Error(), "cannot be downloaded") || !strings.Contains(err.Error(), "--falco-package") {
		t.Errorf("offline: %v", err)
	}
}

// Installing from the repository: the key and the source written as Falco documents them, apt-get update of
// that source alone, the pinned version installed non-interactively with the modern eBPF driver, then the same
// set-up as a package install.
func TestInstallFromRepo(t *testing.T) {
	n := newInstallNode()
	const install = "env FALCO_FRONTEND=noninteractive FALCO_DRIVER_CHOICE=modern_ebpf FALCOCTL_ENABLED=no DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends falco=0.44.1"
	n.answers[install] = func([]byte) (string, error) { n.installed = "0.44.1"; return "", nil }
	if err := InstallFromRepo(context.Background(), n, []byte("KEYRING"), "0.44.1", nil); err != nil {
		t.Fatal(err)
	}
	writeKey := `sh -c mkdir -p "$(dirname "$1")" && cat > "$1" sh ` + RepoKeyring
	writeSource := `sh -c mkdir -p "$(dirname "$1")" && cat > "$1" sh /etc/apt/sources.list.d/falcosecurity.list`
	update := "apt-get update -q -o Dir::Etc::sourcelist=/etc/apt/sources.list.d/falcosecurity.list -o Dir::Etc::sourceparts=- -o APT::Get::List-Cleanup=0"
	order := []int{n.index(writeKey), n.index(writeSource), n.index(update), n.index(install), n.index("tee -a " + RulesFile), n.index("systemctl restart falco")}
	for i, at := range order {
		if at < 0 || (i > 0 && at < order[i-1]) {
			t.Fatalf("the install's steps are missing or out of order (%v):\n%s", order, strings.Join(n.calls, "\n"))
		}
	}
	if got := string(n.stdins[writeKey]); got != "KEYRING" {
		t.Errorf("the keyring written: %q", got)
	}
	if got := string(n.stdins[writeSource]); got != "deb [signed-by=/usr/share/keyrings/falco-archive-keyring.gpg] https://download.falco.org/packages/deb stable main\n" {
		t.Errorf("the apt source written: %q", got)
	}

	// a node that cannot reach the repository: no Falco, saying why
	n = newInstallNode()
	n.on(update, "", failed("E: Failed to fetch https://download.falco.org/packages/deb/dists/stable/InRelease"))
	err := InstallFromRepo(context.Background(), n, []byte("KEYRING"), "0.44.1", nil)
	if !errors.Is(err, ErrNoPackage) || !strings.Contains(err.Error(), "Failed to fetch") {
		t.Errorf("an unreachable repository: %v", err)
	}
	// the repository gives another version than asked: refused
	n = newInstallNode()
	n.answers[install] = func([]byte) (string, error) { n.installed = "0.45.0"; return "", nil }
	if err := InstallFromRepo(context.Background(), n, []byte("KEYRING"), "0.44.1", nil); err == nil || !strings.Contains(err.Error(), `installed Falco "0.45.0", expected 0.44.1`) {
		t.Errorf("another version installed: %v", err)
	}
}
