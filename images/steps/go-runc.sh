#!/usr/bin/env bash
# runc from the github.com/opencontainers/runc Go module (Debian's 1.1.5 is older than containerd v2 wants),
# with seccomp, linked statically like runc's own `make static`, in ${BIN_RUNC}.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
fresh_dir "$BIN_RUNC"
export CGO_ENABLED=1 GOFLAGS=-buildvcs=false GOBIN="$BIN_RUNC"
go install -trimpath -tags "seccomp urfave_cli_no_docs netgo osusergo" \
  -ldflags "-s -w -X main.gitCommit=ckslab -extldflags -static" \
  "github.com/opencontainers/runc@${RUNC_VERSION}"
out=$("$BIN_RUNC/runc" --version); echo "$out"
grep -q "seccomp" <<<"$out" || { echo "runc built without seccomp"; exit 1; }
if ldd "$BIN_RUNC/runc" >/dev/null 2>&1; then echo "runc is not static"; exit 1; fi
mark_done "$BIN_RUNC"
