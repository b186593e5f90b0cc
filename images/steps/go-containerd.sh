#!/usr/bin/env bash
# containerd v2 (daemon, runc shim, ctr) from the github.com/containerd/containerd/v2 Go module, static, in ${BIN_CONTAINERD}.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
fresh_dir "$BIN_CONTAINERD"
M=github.com/containerd/containerd/v2
LDF="-s -w -X $M/version.Version=${CONTAINERD_VERSION} -X $M/version.Revision=ckslab -X $M/version.Package=$M"
export CGO_ENABLED=0 GOFLAGS=-buildvcs=false GOBIN="$BIN_CONTAINERD"
# same build tags as kind's base image (CGO off drops btrfs anyway)
go install -trimpath -tags "no_aufs no_zfs no_btrfs no_devmapper" -ldflags "$LDF" \
  "$M/cmd/containerd@${CONTAINERD_VERSION}" "$M/cmd/containerd-shim-runc-v2@${CONTAINERD_VERSION}" "$M/cmd/ctr@${CONTAINERD_VERSION}"
"$BIN_CONTAINERD/containerd" --version
"$BIN_CONTAINERD/containerd" --version | grep -q " ${CONTAINERD_VERSION} " || { echo "containerd does not report ${CONTAINERD_VERSION}"; exit 1; }
"$BIN_CONTAINERD/ctr" --version
mark_done "$BIN_CONTAINERD"
