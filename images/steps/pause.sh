#!/usr/bin/env bash
# pause: kubernetes' build/pause/linux/pause.c (in the k8s.io/kubernetes module), static, in ${BIN_PAUSE}.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
fresh_dir "$BIN_PAUSE"
SRC=$(go mod download -json "k8s.io/kubernetes@${K8S_VERSION}" | jq -r .Dir)/build/pause/linux/pause.c
gcc -Os -Wall -Werror -static -DVERSION="v${PAUSE_VERSION}-ckslab" -o "$BIN_PAUSE/pause" "$SRC"
strip "$BIN_PAUSE/pause"
"$BIN_PAUSE/pause" -v
mark_done "$BIN_PAUSE"
