# shellcheck shell=bash
# Shared helpers for images/build.sh and images/steps/*.sh. Sourced, never run.
# Conventions: every artefact lives under ${CACHE}/<kind>/<name>-<key>/ and is complete only when
# its ".done" file exists (written last), so an interrupted step is simply redone.

IMAGES_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export IMAGES_DIR
CACHE_ROOT=${CKSLAB_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/ckslab}
CACHE=${CACHE_ROOT}/images
export CACHE_ROOT CACHE

log() { printf '%s %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { printf 'images: error: %s\n' "$*" >&2; exit 1; }

# key_of STRING... : short stable hash of its arguments (one per line)
key_of() { printf '%s\n' "$@" | sha256sum | cut -c1-12; }

# files_digest PATH... : hash of the names and contents of the given files/directories (sorted)
files_digest() {
  local p
  for p in "$@"; do
    [ -e "$p" ] || die "missing input file $p"
  done
  find "$@" -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum \
    | sed "s#  ${IMAGES_DIR}/#  #" | sha256sum | cut -c1-16
}

# done_dir DIR: the artefact directory exists and is complete
done_dir() { [ -f "$1/.done" ]; }
mark_done() { date -u +%FT%TZ > "$1/.done"; }

# have_image REF: the docker engine has this image
have_image() { docker image inspect "$1" >/dev/null 2>&1; }

# fresh_dir DIR: empty directory (removes a stale, unfinished one)
fresh_dir() { rm -rf "$1"; mkdir -p "$1"; }

# docker_import_dir DIR REF [INSTRUCTION...]: make an image from a directory tree (one layer) plus Dockerfile
# instructions (ENV, CMD, STOPSIGNAL, LABEL, ...). `docker import --change` knows no STOPSIGNAL on every
# engine, so the tree is imported under a temporary tag and the instructions are applied by a tiny build.
docker_import_dir() {
  local dir=$1 ref=$2; shift 2
  local tmp="${ref%:*}:import-${ref##*:}" old
  old=$(docker image inspect -f '{{.Id}}' "$ref" 2>/dev/null || true)
  tar --numeric-owner --xattrs -C "$dir" -c . | docker import - "$tmp" >/dev/null
  finish_image "$tmp" "$ref" "$old" "$@"
}

# finish_image TMP REF OLD [INSTRUCTION...]: tag the image TMP, with the instructions applied, as REF (a build
# that adds no layer), remove TMP, and remove OLD, the image REF named before, if it is another one and unused.
finish_image() {
  local tmp=$1 ref=$2 old=$3; shift 3
  { printf 'FROM %s\n' "$tmp"; printf '%s\n' "$@"; } | DOCKER_BUILDKIT=0 docker build -q -t "$ref" - >/dev/null
  docker rmi "$tmp" >/dev/null
  # the image this one replaces (same name, older inputs) would linger untagged: remove it if unused
  if [ -n "$old" ] && [ "$old" != "$(docker image inspect -f '{{.Id}}' "$ref")" ]; then
    docker rmi "$old" >/dev/null 2>&1 || true
  fi
}

# docker_layer_on BASE_REF TREE REF [INSTRUCTION...]: make an image of TREE as one layer on top of the one-layer
# image BASE_REF (docker_import_dir): the layer holds only what differs from BASE_REF's own files (hack/layerdiff:
# changed and new files, whiteouts for removed ones), so the image holds exactly TREE. Images that share BASE_REF
# share its layer in Docker and in the node's containerd, and a node unpacks it once. Instructions as
# docker_import_dir.
docker_layer_on() {
  local base=$1 tree=$2 ref=$3; shift 3
  local tmp="${ref%:*}:import-${ref##*:}" old w tool="$CACHE/work/layerdiff"
  old=$(docker image inspect -f '{{.Id}}' "$ref" 2>/dev/null || true)
  [ "$(docker image inspect -f '{{len .RootFS.Layers}}' "$base")" = 1 ] || die "$base: not a one-layer image"
  (cd "$IMAGES_DIR/.." && go build -o "$tool" ./hack/layerdiff)
  w=$(mktemp -d "$CACHE/work/layer.XXXXXX")
  docker save "$base" | tar -x -C "$w"
  # compare with the base image's files as they are, not with the tree it was once made of
  mkdir "$w/.base"
  tar --numeric-owner --same-permissions --xattrs --xattrs-include='*' -x -C "$w/.base" \
    -f "$w/$(jq -r '.[0].Layers[0]' "$w/manifest.json")"
  "$tool" "$w/.base" "$tree" > "$w/layer.tar"
  rm -rf "$w/.base"
  local sum cfg cid
  sum=$(sha256sum "$w/layer.tar" | cut -d' ' -f1)
  mkdir "$w/$sum" && mv "$w/layer.tar" "$w/$sum/layer.tar"
  cfg=$(jq -r '.[0].Config' "$w/manifest.json")
  jq --arg d "sha256:$sum" --arg t "$(date -u +%FT%TZ)" \
    '.rootfs.diff_ids += [$d] | .history += [{created: $t, created_by: "ckslab images: layer on the base (hack/layerdiff)"}]' \
    "$w/$cfg" > "$w/config.json"
  cid=$(sha256sum "$w/config.json" | cut -d' ' -f1)
  rm "$w/$cfg" && mv "$w/config.json" "$w/$cid.json"
  jq --arg c "$cid.json" --arg l "$sum/layer.tar" --arg t "$tmp" '[.[0] | .Config = $c | .Layers += [$l] | .RepoTags = [$t]]' \
    "$w/manifest.json" > "$w/manifest.new" && mv "$w/manifest.new" "$w/manifest.json"
  rm -f "$w/repositories"
  tar -C "$w" -c . | docker load -q >/dev/null
  rm -rf "$w"
  finish_image "$tmp" "$ref" "$old" "$@"
}

PATHENV='ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'
export PATHENV
