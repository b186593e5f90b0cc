#!/usr/bin/env bash
# Choose the image set for make lab and make e2e, the same way for both, and make it ready; print its name
# (public or local) on stdout, everything else on stderr.
#
# CKSLAB_IMAGES when set; else public when this machine can pull the public images, otherwise local (said in
# one line). For local, the set is built with make images when it is missing; what that build needs from the
# distribution's packages is installed first when running as root with apt-get, else the one apt-get line to
# run is printed and the script stops.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ckslab=bin/ckslab
[[ -x $ckslab ]] || { echo "bin/ckslab is missing: run make build" >&2; exit 1; }

mode=${CKSLAB_IMAGES:-}
if [[ -z $mode ]]; then
  if "$ckslab" images --images public --check >/dev/null 2>&1; then
    mode=public
  else
    echo "The public images cannot be pulled here (no container registry answers): using the local image set instead." >&2
    mode=local
  fi
fi
if [[ $mode == local ]] && ! "$ckslab" images --images local --check >/dev/null 2>&1; then
  # what make images needs (images/README.md, "Requirements")
  need=()
  for pkg in debootstrap gcc libc6-dev libseccomp-dev pkg-config jq; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || need+=("$pkg")
  done
  if ((${#need[@]})); then
    if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
      echo "Installing what the local image set needs from the distribution's packages: ${need[*]}" >&2
      apt-get update -q >&2
      DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${need[@]}" >&2
    else
      echo "The local image set needs packages this machine lacks. Install them, then run this again:" >&2
      echo "  sudo apt-get install ${need[*]}" >&2
      exit 1
    fi
  fi
  echo "Building the local image set with make images: about 15 minutes of compiling on a cold machine (2 cores), seconds when cached." >&2
  make --no-print-directory images >&2
fi
echo "$mode"
