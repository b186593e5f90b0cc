#!/usr/bin/env bash
# Control-plane and CNI images under ${IMAGE_REPOSITORY}, named as kubeadm derives them from imageRepository
# (with a custom repository coredns has no "coredns/" sub-path). Each carries LABEL io.ckslab.key.
#  - apiserver, controller-manager, scheduler, etcd, coredns, pause: one static binary in a tiny tree
#  - kube-proxy and kindnet-lite: on a shared base image of the "net" Debian rootfs (iptables, iproute2,
#    conntrack, ipset)
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
W=$CACHE/work/components-$K_IMG_COMPONENTS
fresh_dir "$W"
LABEL="LABEL io.ckslab.key=$K_IMG_COMPONENTS"
REPO=$IMAGE_REPOSITORY

# tinyimg REF BINARY PATH-IN-IMAGE [INSTRUCTION...]
tinyimg() {
  local ref=$1 bin=$2 dst=$3; shift 3
  local d; d=$W/$(echo "$ref" | tr '/:' '__')
  fresh_dir "$d"
  mkdir -p "$d/$(dirname "$dst")" "$d/etc" "$d/tmp" "$d/var/run"
  chmod 1777 "$d/tmp"
  printf 'root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n' > "$d/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' > "$d/etc/group"
  printf 'hosts: files dns\n' > "$d/etc/nsswitch.conf"
  install -m 0755 "$bin" "$d/$dst"
  docker_import_dir "$d" "$ref" "$PATHENV" "$LABEL" "$@"
  echo "made $ref"
}
# kube-proxy and kindnet-lite share one base layer (the net rootfs): stored once in Docker and in the node
NETBASE=$REPO/net-base:$K_IMG_COMPONENTS
docker_import_dir "$ROOTFS_net/tree" "$NETBASE" "$PATHENV" "$LABEL"
echo "made $NETBASE"
# debimg REF FILE:PATH-IN-IMAGE... -- [INSTRUCTION...]: the net base plus files
debimg() {
  local ref=$1; shift
  local ctx; ctx=$W/ctx-$(echo "$ref" | tr '/:' '__')
  fresh_dir "$ctx"
  while [ $# -gt 0 ] && [ "$1" != -- ]; do
    install -D -m 0755 "${1%%:*}" "$ctx/${1#*:}"; shift
  done
  [ $# -gt 0 ] && shift
  find "$ctx" -type d -exec chmod 0755 {} +
  { printf 'FROM %s\nCOPY . /\n' "$NETBASE"; printf '%s\n' "$LABEL" "$@"; } \
    | DOCKER_BUILDKIT=0 docker build -q -t "$ref" -f - "$ctx" >/dev/null
  echo "made $ref"
}

tinyimg "$REPO/kube-apiserver:$K8S_VERSION" "$BIN_K8S/kube-apiserver" /usr/local/bin/kube-apiserver
tinyimg "$REPO/kube-controller-manager:$K8S_VERSION" "$BIN_K8S/kube-controller-manager" /usr/local/bin/kube-controller-manager
tinyimg "$REPO/kube-scheduler:$K8S_VERSION" "$BIN_K8S/kube-scheduler" /usr/local/bin/kube-scheduler
tinyimg "$REPO/etcd:$ETCD_IMAGE_TAG" "$BIN_ETCD/etcd" /usr/local/bin/etcd
# kubeadm's CoreDNS Deployment passes only args: the image must have the entrypoint
tinyimg "$REPO/coredns:$COREDNS_VERSION" "$BIN_COREDNS/coredns" /coredns \
  'ENTRYPOINT ["/coredns"]' 'EXPOSE 53 53/udp 9153'
tinyimg "$REPO/pause:$PAUSE_VERSION" "$BIN_PAUSE/pause" /pause \
  'ENTRYPOINT ["/pause"]' 'USER 65535:65535'
debimg "$REPO/kube-proxy:$K8S_VERSION" "$BIN_K8S/kube-proxy:/usr/local/bin/kube-proxy"
debimg "$IMG_KINDNET" "$BIN_K8S/kubectl:/usr/local/bin/kubectl" \
  "$IMAGES_DIR/files/kindnet-lite/kindnet-lite.sh:/usr/local/bin/kindnet-lite.sh" -- \
  'CMD ["/bin/sh", "/usr/local/bin/kindnet-lite.sh"]'
rm -rf "$W"
for ref in $COMPONENT_IMAGES; do
  docker image inspect -f "{{.Id}} {{.Size}} $ref" "$ref"
done
