package kubeconfig

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

func labConfig(t *testing.T, server string) []byte {
	t.Helper()
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["kind-cluster1"] = &clientcmdapi.Cluster{Server: server, CertificateAuthorityData: []byte("ca")}
	cfg.AuthInfos["kind-cluster1"] = &clientcmdapi.AuthInfo{ClientCertificateData: []byte("cert"), ClientKeyData: []byte("key")}
	cfg.Contexts["kind-cluster1"] = &clientcmdapi.Context{Cluster: "kind-cluster1", AuthInfo: "kind-cluster1"}
	cfg.CurrentContext = "kind-cluster1"
	b, err := clientcmd.Write(*cfg)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func userConfig(t *testing.T, path string) {
	t.Helper()
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["prod"] = &clientcmdapi.Cluster{Server: "https://prod.example:6443"}
	cfg.AuthInfos["me"] = &clientcmdapi.AuthInfo{Token: "secret"}
	cfg.Contexts["prod"] = &clientcmdapi.Context{Cluster: "prod", AuthInfo: "me", Namespace: "payments"}
	cfg.CurrentContext = "prod"
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		t.Fatal(err)
	}
}

func TestAddAndRemoveKeepTheUsersEntries(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config")
	userConfig(t, path)
	before, _ := os.ReadFile(path)
	if err := AddContext(path, "workload-prod", "cluster1", labConfig(t, "https://127.0.0.1:40001")); err != nil {
		t.Fatal(err)
	}
	// Idempotent: a second up with a new port updates the entry.
	if err := AddContext(path, "workload-prod", "cluster1", labConfig(t, "https://127.0.0.1:40002")); err != nil {
		t.Fatal(err)
	}
	cfg, err := clientcmd.LoadFromFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.CurrentContext != "prod" || cfg.Contexts["prod"].Namespace != "payments" || cfg.AuthInfos["me"].Token != "secret" {
		t.Errorf("the user's entries changed: %+v", cfg)
	}
	if c := cfg.Contexts["workload-prod"]; c == nil || cfg.Clusters[c.Cluster].Server != "https://127.0.0.1:40002" {
		t.Errorf("workload-prod: %+v", c)
	}
	removed, err := RemoveContext(path, "workload-prod", "cluster1")
	if err != nil || !removed {
		t.Fatalf("remove: %v, %v", removed, err)
	}
	after, _ := clientcmd.LoadFromFile(path)
	orig, _ := clientcmd.Load(before)
	if len(after.Contexts) != len(orig.Contexts) || len(after.Clusters) != len(orig.Clusters) || len(after.AuthInfos) != len(orig.AuthInfos) || after.CurrentContext != "prod" {
		t.Errorf("after remove: %+v", after)
	}
	if _, err := os.Stat(path + ".lock"); !os.IsNotExist(err) {
		t.Error("lock file left behind")
	}
}

func TestAddRefusesAForeignContext(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config")
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["real"] = &clientcmdapi.Cluster{Server: "https://real:6443"}
	cfg.AuthInfos["me"] = &clientcmdapi.AuthInfo{Token: "t"}
	cfg.Contexts["workload-prod"] = &clientcmdapi.Context{Cluster: "real", AuthInfo: "me"}
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		t.Fatal(err)
	}
	err := AddContext(path, "workload-prod", "cluster1", labConfig(t, "https://127.0.0.1:1"))
	if err == nil || !strings.Contains(err.Error(), "did not create") || !strings.Contains(err.Error(), "rename-context") {
		t.Fatalf("err = %v", err)
	}
	removed, err := RemoveContext(path, "workload-prod", "cluster1")
	if err != nil || removed {
		t.Errorf("remove touched a foreign context: %v %v", removed, err)
	}
	got, _ := clientcmd.LoadFromFile(path)
	if got.Contexts["workload-prod"].Cluster != "real" {
		t.Error("foreign context changed")
	}
}

func TestAddCreatesAMissingFileAndRemoveOfNothing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "kube", "config")
	if removed, err := RemoveContext(path, "workload-prod", "cluster1"); err != nil || removed {
		t.Errorf("remove from a missing file: %v %v", removed, err)
	}
	if err := AddContext(path, "workload-prod", "cluster1", labConfig(t, "https://127.0.0.1:1")); err != nil {
		t.Fatal(err)
	}
	if _, err := clientcmd.LoadFromFile(path); err != nil {
		t.Fatal(err)
	}
}

func TestBrokenKubeconfigIsNotOverwritten(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config")
	os.WriteFile(path, []byte("this: [is not: a kubeconfig"), 0o600)
	err := AddContext(path, "workload-prod", "cluster1", labConfig(t, "https://127.0.0.1:1"))
	if err == nil || !strings.Contains(err.Error(), path) {
		t.Fatalf("err = %v", err)
	}
	if b, _ := os.ReadFile(path); string(b) != "this: [is not: a kubeconfig" {
		t.Error("a broken kubeconfig was overwritten")
	}
}

func TestContextName(t *testing.T) {
	if got := ContextName("cluster1", "cluster1", "workload-prod"); got != "workload-prod" {
		t.Error(got)
	}
	if got := ContextName("lab2", "cluster1", "workload-prod"); got != "workload-prod-lab2" {
		t.Error(got)
	}
}

// HasContext is what up's repair asks before adding the lab's context again: the lab's own context with its
// entries, not one of that name that is the user's, and no error for a kubeconfig that does not exist yet.
func TestHasContext(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config")
	if has, err := HasContext(path, "workload-prod", "cluster1"); has || err != nil {
		t.Fatalf("HasContext of a missing file = %v, %v", has, err)
	}
	userConfig(t, path)
	if has, err := HasContext(path, "prod", "cluster1"); has || err != nil {
		t.Errorf("the user's context prod counts as the lab's: %v, %v", has, err)
	}
	if err := AddContext(path, "workload-prod", "cluster1", labConfig(t, "https://127.0.0.1:40001")); err != nil {
		t.Fatal(err)
	}
	if has, err := HasContext(path, "workload-prod", "cluster1"); !has || err != nil {
		t.Errorf("HasContext after AddContext = %v, %v", has, err)
	}
	if _, err := RemoveContext(path, "workload-prod", "cluster1"); err != nil {
		t.Fatal(err)
	}
	if has, err := HasContext(path, "workload-prod", "cluster1"); has || err != nil {
		t.Errorf("HasContext after RemoveContext = %v, %v", has, err)
	}
	if err := os.WriteFile(path, []byte("{not yaml"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := HasContext(path, "workload-prod", "cluster1"); err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("HasContext of a broken kubeconfig: %v, want an error naming it", err)
	}
}
