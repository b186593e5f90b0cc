#!/usr/bin/env bash
# crictl from the sigs.k8s.io/cri-tools Go module, static, in ${BIN_CRICTL}.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
fresh_dir "$BIN_CRICTL"
export CGO_ENABLED=0 GOFLAGS=-buildvcs=false GOBIN="$BIN_CRICTL"
go install -trimpath -ldflags "-s -w -X sigs.k8s.io/cri-tools/pkg/version.Version=${CRICTL_VERSION}" \
  "sigs.k8s.io/cri-tools/cmd/crictl@${CRICTL_VERSION}"
"$BIN_CRICTL/crictl" --version
mark_done "$BIN_CRICTL"
