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

# debian_mirror: the mirror this machine's apt uses (deb822 or one-line format), or $CKSLAB_DEBIAN_MIRROR
debian_mirror() {
  if [ -n "${CKSLAB_DEBIAN_MIRROR:-}" ]; then echo "$CKSLAB_DEBIAN_MIRROR"; return; fi
  local m=""
  if compgen -G '/etc/apt/sources.list.d/*.sources' >/dev/null; then
    m=$(awk '/^Types:.*deb( |$)/{t=1} t && /^URIs:/{print $2; exit}' /etc/apt/sources.list.d/*.sources)
  fi
  if [ -z "$m" ] && [ -f /etc/apt/sources.list ]; then
    m=$(awk '$1=="deb" && $0 !~ /security/ {for(i=2;i<=NF;i++) if ($i ~ /^[a-z]+:\/\//) {print $i; exit}}' /etc/apt/sources.list)
  fi
  [ -n "$m" ] || die "cannot find a Debian mirror in /etc/apt/sources.list(.d); set CKSLAB_DEBIAN_MIRROR"
  echo "$m"
}

# docker_import_dir DIR REF [--change ...]: make a one-layer image from a directory tree
docker_import_dir() {
  local dir=$1 ref=$2; shift 2
  tar --numeric-owner --xattrs -C "$dir" -c . | docker import "$@" - "$ref" >/dev/null
}

# slim_rootfs DIR: drop docs, man pages, locales, apt lists and logs from a Debian rootfs
slim_rootfs() {
  local r=$1
  rm -rf "$r"/usr/share/doc/* "$r"/usr/share/man/* "$r"/usr/share/info/* \
    "$r"/var/lib/apt/lists/* "$r"/var/cache/apt/*.bin "$r"/var/cache/apt/archives/*.deb \
    "$r"/var/log/*.log "$r"/var/log/apt/* "$r"/debootstrap
  find "$r"/usr/share/locale -mindepth 1 -maxdepth 1 ! -name 'C.*' ! -name locale.alias -exec rm -rf {} + 2>/dev/null || true
  : > "$r"/etc/machine-id 2>/dev/null || true
}

PATHENV='ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'
export PATHENV
