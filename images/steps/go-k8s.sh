#!/usr/bin/env bash
# Kubernetes binaries from the k8s.io/kubernetes Go module, static (CGO off) and version-stamped, in ${BIN_K8S}.
# k8s.io/kubernetes points its staging modules at ./staging/... (not in the module zip), so a scratch module
# requires it and replaces every staging module k8s.io/X with k8s.io/X v0.<minor>.<patch> from the proxy.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
V=${K8S_VERSION}
STAGING_V=v0.${V#v1.}
W=$CACHE/work/k8s-$K_K8S
fresh_dir "$W"; fresh_dir "$BIN_K8S"
cd "$W"
go mod download -json "k8s.io/kubernetes@$V" > mod.json
KDIR=$(jq -r .Dir mod.json)
{
  printf 'module ckslab.local/images/k8sbuild\n\ngo 1.26.0\n\nrequire k8s.io/kubernetes %s\n\nreplace (\n' "$V"
  awk '$2 == "=>" && $3 ~ /^\.\/staging\// {printf "\t%s => %s %s\n", $1, $1, v}' v="$STAGING_V" "$KDIR/go.mod"
  echo ")"
} > go.mod
grep -c ' => ' go.mod | sed 's/^/staging replaces: /'
cp "$IMAGES_DIR/_go/k8s/tools.go" tools.go
go mod tidy
MAJOR=${V#v}; MAJOR=${MAJOR%%.*}
MINOR=${V#v*.}; MINOR=${MINOR%%.*}
LDF="-s -w"
for p in k8s.io/client-go/pkg/version k8s.io/component-base/version; do
  LDF="$LDF -X $p.gitVersion=$V -X $p.gitMajor=$MAJOR -X $p.gitMinor=$MINOR"
  LDF="$LDF -X $p.gitCommit=0000000000000000000000000000000000000000 -X $p.gitTreeState=clean -X $p.buildDate=$K8S_BUILD_DATE"
done
export CGO_ENABLED=0 GOFLAGS=-buildvcs=false
for b in kubeadm kubelet kubectl kube-apiserver kube-controller-manager kube-scheduler kube-proxy; do
  s=$(date +%s)
  go build -trimpath -ldflags "$LDF" -o "$BIN_K8S/$b" "k8s.io/kubernetes/cmd/$b"
  echo "built $b in $(( $(date +%s) - s ))s ($(stat -c %s "$BIN_K8S/$b") bytes)"
done
"$BIN_K8S/kubectl" version --client
"$BIN_K8S/kubeadm" version -o short | grep -qx "$V" || { echo "kubeadm does not report $V"; exit 1; }
rm -rf "$W"
mark_done "$BIN_K8S"
