#!/usr/bin/env bash
# make lab: build ckslab and bring the lab up, online or not.
#
# With the public images when this machine can pull them; otherwise it says so
# in one line, builds the local image set (make images) and uses that. Extra
# arguments go to `ckslab up` (make lab ARGS="--seed 3").
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

ckslab=bin/ckslab
[[ -x $ckslab ]] || { echo "bin/ckslab is missing: run make build" >&2; exit 1; }

# A Docker engine: started here when none runs and ckslab may, else the exact command to run.
"$ckslab" engine start

mode=${CKSLAB_IMAGES:-}
if [[ -z $mode ]]; then
  if "$ckslab" images --images public --check >/dev/null 2>&1; then
    mode=public
  else
    echo "The public images cannot be pulled here (no container registry answers): using the local image set instead."
    mode=local
  fi
fi
if [[ $mode == local ]] && ! "$ckslab" images --images local --check >/dev/null 2>&1; then
  echo "Building the local image set with make images: about 15 minutes of compiling on a cold machine (2 cores), seconds when cached."
  make --no-print-directory images
fi

# shellcheck disable=SC2086 # ARGS is split on purpose
exec "$ckslab" up --images "$mode" ${ARGS:-}
