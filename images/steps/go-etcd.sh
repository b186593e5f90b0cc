#!/usr/bin/env bash
# etcd from go.etcd.io/etcd/server/v3 (the etcd main module replaces its parts with local paths, so
# `go install` cannot build it): a scratch module whose main calls etcdmain.Main, in ${BIN_ETCD}.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
W=$CACHE/work/etcd-$K_ETCD
fresh_dir "$W"; fresh_dir "$BIN_ETCD"
cd "$W"
printf 'module ckslab.local/images/etcd\n\ngo 1.26.0\n\nrequire go.etcd.io/etcd/server/v3 %s\n' "$ETCD_VERSION" > go.mod
cp "$IMAGES_DIR/_go/etcd/main.go" main.go
go mod tidy
CGO_ENABLED=0 GOFLAGS=-buildvcs=false go build -trimpath -ldflags "-s -w" -o "$BIN_ETCD/etcd" .
# (output captured first: `cmd | grep -q` fails under pipefail when grep exits before cmd has written all)
out=$("$BIN_ETCD/etcd" --version); echo "$out"
grep -q "etcd Version: ${ETCD_VERSION#v}" <<<"$out" || { echo "etcd does not report ${ETCD_VERSION}"; exit 1; }
rm -rf "$W"
mark_done "$BIN_ETCD"
