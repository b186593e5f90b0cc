#!/usr/bin/env bash
# make lab: build ckslab and bring the lab up, online or not.
#
# With the public images when this machine can pull them; otherwise it says so
# in one line, builds the local image set (make images, installing what that
# needs first when run as root) and uses that (hack/image-set.sh). Extra
# arguments go to `ckslab up` (make lab ARGS="--seed 3").
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

ckslab=bin/ckslab
[[ -x $ckslab ]] || { echo "bin/ckslab is missing: run make build" >&2; exit 1; }

# A Docker engine: started here when none runs and ckslab may, else the exact command to run.
"$ckslab" engine start

# The image set, the same way as make e2e chooses it (hack/image-set.sh), made ready.
# (its messages go to this script's standard output, as before: fd 3)
exec 3>&1
mode=$(bash hack/image-set.sh 2>&3)

# shellcheck disable=SC2086 # ARGS is split on purpose
exec "$ckslab" up --images "$mode" ${ARGS:-}
