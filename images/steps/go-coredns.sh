#!/usr/bin/env bash
# CoreDNS from github.com/coredns/coredns, with only the plugins kubeadm's Corefile uses (plus log, hosts,
# whoami): a scratch module calling coremain.Run, in ${BIN_COREDNS}.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
W=$CACHE/work/coredns-$K_COREDNS
fresh_dir "$W"; fresh_dir "$BIN_COREDNS"
cd "$W"
printf 'module ckslab.local/images/coredns\n\ngo 1.26.0\n\nrequire github.com/coredns/coredns %s\n' "$COREDNS_VERSION" > go.mod
cp "$IMAGES_DIR/_go/coredns/main.go" main.go
go mod tidy
CGO_ENABLED=0 GOFLAGS=-buildvcs=false go build -trimpath \
  -ldflags "-s -w -X github.com/coredns/coredns/coremain.GitCommit=ckslab" -o "$BIN_COREDNS/coredns" .
"$BIN_COREDNS/coredns" -version
out=$("$BIN_COREDNS/coredns" -plugins)
grep -q kubernetes <<<"$out" || { echo "coredns has no kubernetes plugin"; exit 1; }
rm -rf "$W"
mark_done "$BIN_COREDNS"
