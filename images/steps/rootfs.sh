#!/usr/bin/env bash
# rootfs.sh NAME: a Debian minbase tree with the packages in images/rootfs/NAME.list, in ${ROOTFS_<NAME>}.
# .deb files are cached in <cache>/debs, so a rebuild downloads nothing.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
# debian_mirror: the mirror this machine's apt uses (deb822 or one-line format), or $CKSLAB_DEBIAN_MIRROR
debian_mirror() {
  if [ -n "${CKSLAB_DEBIAN_MIRROR:-}" ]; then echo "$CKSLAB_DEBIAN_MIRROR"; return; fi
  local m=""
  if compgen -G '/etc/apt/sources.list.d/*.sources' >/dev/null; then
    m=$(awk '/^Types:.*deb( |$)/{t=1} t && /^URIs:/ && $2 !~ /security/ {print $2; exit}' /etc/apt/sources.list.d/*.sources)
  fi
  if [ -z "$m" ] && [ -f /etc/apt/sources.list ]; then
    m=$(awk '$1=="deb" && $0 !~ /security/ {for(i=2;i<=NF;i++) if ($i ~ /^[a-z]+:\/\//) {print $i; exit}}' /etc/apt/sources.list)
  fi
  [ -n "$m" ] || die "cannot find a Debian mirror in /etc/apt/sources.list(.d); set CKSLAB_DEBIAN_MIRROR"
  echo "$m"
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

name=$1
var="ROOTFS_${name}"; R=${!var}
list="$IMAGES_DIR/rootfs/$name.list"
pkgs=$(grep -v '^\s*#' "$list" | awk 'NF{print $1}' | paste -sd, -)
mirror=$(debian_mirror)
echo "rootfs $name: suite ${DEBIAN_SUITE}, mirror $mirror, packages $pkgs"
fresh_dir "$R"
# a rootfs has device nodes and root-owned files: debootstrap must run as root
debootstrap --variant=minbase --cache-dir="$CACHE/debs" --include="$pkgs" "$DEBIAN_SUITE" "$R/tree" "$mirror"
# rootfs/NAME.purge: packages the image's processes never load but whose dependants pull them in (the
# httpd image's Perl and ICU); purged so dpkg's database still says what is there, their dependants' unmet
# Depends forced. Fewer megabytes to unpack on every node at every `ckslab up`.
purge="$IMAGES_DIR/rootfs/$name.purge"
if [ -f "$purge" ]; then
  gone=$(grep -v '^\s*#' "$purge" | awk 'NF{print $1}')
  echo "rootfs $name: purging" $gone
  # shellcheck disable=SC2086 # one word per package
  chroot "$R/tree" dpkg --purge --force-depends $gone
fi
# record what went in (feeds nothing, helps answer "which nginx is this?")
chroot "$R/tree" dpkg-query -W -f='${Package}\t${Version}\n' > "$R/packages.tsv"
# images have no network to a mirror: drop the sources so apt never waits on one
rm -f "$R"/tree/etc/apt/sources.list "$R"/tree/etc/apt/sources.list.d/*
slim_rootfs "$R/tree"
du -sh "$R/tree"
mark_done "$R"
