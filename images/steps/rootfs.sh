#!/usr/bin/env bash
# rootfs.sh NAME: a Debian minbase tree with the packages in images/rootfs/NAME.list, in ${ROOTFS_<NAME>}.
# .deb files are cached in <cache>/debs, so a rebuild downloads nothing.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
name=$1
var="ROOTFS_${name}"; R=${!var}
list="$IMAGES_DIR/rootfs/$name.list"
pkgs=$(grep -v '^\s*#' "$list" | awk 'NF{print $1}' | paste -sd, -)
mirror=$(debian_mirror)
echo "rootfs $name: suite ${DEBIAN_SUITE}, mirror $mirror, packages $pkgs"
fresh_dir "$R"
# a rootfs has device nodes and root-owned files: debootstrap must run as root
debootstrap --variant=minbase --cache-dir="$CACHE/debs" --include="$pkgs" "$DEBIAN_SUITE" "$R/tree" "$mirror"
# record what went in (feeds nothing, helps answer "which nginx is this?")
chroot "$R/tree" dpkg-query -W -f='${Package}\t${Version}\n' > "$R/packages.tsv"
# images have no network to a mirror: drop the sources so apt never waits on one
rm -f "$R"/tree/etc/apt/sources.list "$R"/tree/etc/apt/sources.list.d/*
slim_rootfs "$R/tree"
du -sh "$R/tree"
mark_done "$R"
