#!/usr/bin/env bash
# Remove what earlier builds left that the current keys no longer name: our own keyed images
# (${IMAGE_REPOSITORY}/{node,terminal,kindnet-lite,net-base} and the workloads nginx, httpd with an io.ckslab.key
# label and another tag; the label keeps public nginx and httpd images out of it),
# and cached binaries and rootfs trees with other keys. Set CKSLAB_IMAGES_KEEP_OLD=1 to keep them.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
if [ "${CKSLAB_IMAGES_KEEP_OLD:-0}" = 1 ]; then echo "CKSLAB_IMAGES_KEEP_OLD=1: keeping old artefacts"; exit 0; fi
keep=" $IMG_NODE $IMG_NGINX $IMG_HTTPD $IMG_TERMINAL $IMG_KINDNET $IMAGE_REPOSITORY/net-base:$K_IMG_COMPONENTS "
for repo in "$IMAGE_REPOSITORY"/{node,nginx,httpd,terminal,kindnet-lite,net-base} nginx httpd; do
  docker image ls --format '{{.Repository}}:{{.Tag}}' --filter "label=io.ckslab.key" "$repo" |
  while read -r ref; do
    case $keep in *" $ref "*) continue ;; esac
    if docker rmi "$ref" >/dev/null 2>&1; then echo "removed old image $ref"; else echo "kept $ref (in use)"; fi
  done
done
# images of ours that a rebuild left without a name
for id in $(docker image ls -q --filter dangling=true --filter label=io.ckslab.key); do
  if docker rmi "$id" >/dev/null 2>&1; then echo "removed untagged image $id"; fi
done
keep_dirs=" $BIN_K8S $BIN_CONTAINERD $BIN_RUNC $BIN_CRICTL $BIN_ETCD $BIN_COREDNS $BIN_PAUSE \
$ROOTFS_node $ROOTFS_net $ROOTFS_nginx $ROOTFS_httpd $ROOTFS_terminal "
for d in "$CACHE"/bin/*-* "$CACHE"/rootfs/*-*; do
  [ -d "$d" ] || continue
  case $keep_dirs in *" $d "*) continue ;; esac
  rm -rf "$d"; echo "removed old $d"
done
rm -rf "$CACHE/work"; mkdir -p "$CACHE/work"
