#!/usr/bin/env bash
# The kind node image ${IMG_NODE}: what kind's images/base Dockerfile and its node-image builder put in a
# node, made from our Debian rootfs, kind's base files (read from the sigs.k8s.io/kind module), the
# binaries built here, and the control-plane, CNI and workload images pre-imported into the node's
# containerd store (namespace k8s.io), so a cluster starts with no pull and no `kind load`.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
F=$IMAGES_DIR/files
W=$CACHE/work/node-$K_NODE
R=$W/rootfs
fresh_dir "$W"
KIND_FILES=$(go mod download -json "sigs.k8s.io/kind@${KIND_VERSION}" | jq -r .Dir)/images/base/files
[ -d "$KIND_FILES" ] || { echo "no images/base/files in sigs.k8s.io/kind@${KIND_VERSION}"; exit 1; }

echo "== rootfs"
cp -a "$ROOTFS_node/tree" "$R"

echo "== kind's base files"
install -m 0755 "$KIND_FILES"/usr/local/bin/* "$R/usr/local/bin/"
mkdir -p "$R/kind"
cp -r "$KIND_FILES"/kind/. "$R/kind/"
chmod 0755 "$R/kind" "$R/kind/bin" "$R"/kind/bin/*
mkdir -p "$R/etc/containerd" "$R/etc/default" "$R/etc/sysctl.d" "$R/etc/systemd/system/kubelet.service.d"
install -m 0644 "$KIND_FILES/etc/default/kubelet" "$R/etc/default/"
install -m 0644 "$KIND_FILES"/etc/sysctl.d/* "$R/etc/sysctl.d/"
install -m 0644 "$KIND_FILES"/etc/systemd/system/*.service "$KIND_FILES"/etc/systemd/system/*.slice "$R/etc/systemd/system/"
install -m 0644 "$KIND_FILES"/etc/systemd/system/kubelet.service.d/* "$R/etc/systemd/system/kubelet.service.d/"
# no containerd-fuse-overlayfs-grpc here (only rootless nodes use it): drop its unit and proxy plugin
rm -f "$R/etc/systemd/system/containerd-fuse-overlayfs.service"

echo "== containerd config (kind's, for containerd 2.x) with our sandbox image"
# kind's file minus the fuse-overlayfs proxy plugin; sandbox image = kubeadm's pause under our repository.
# restrict_oom_score_adj stays false here: the entrypoint turns it on where oom_score_adj cannot be lowered.
awk '/^\[proxy_plugins/ {skip=1; next} skip && /^\[/ && !/^\[proxy_plugins/ {skip=0} !skip' \
  "$KIND_FILES/etc/containerd/config.toml" \
  | sed "s#^\([[:space:]]*sandbox_image[[:space:]]*=[[:space:]]*\).*#\1\"${IMAGE_REPOSITORY}/pause:${PAUSE_VERSION}\"#" \
  > "$R/etc/containerd/config.toml"
grep -q "sandbox_image = \"${IMAGE_REPOSITORY}/pause:${PAUSE_VERSION}\"" "$R/etc/containerd/config.toml"
grep -q 'restrict_oom_score_adj = false' "$R/etc/containerd/config.toml"
if grep -q fuse-overlayfs "$R/etc/containerd/config.toml"; then echo "fuse-overlayfs left in config"; exit 1; fi
# containerd 2 must accept it (it migrates version 2 configs); config dump fails on errors
"$BIN_CONTAINERD/containerd" --config "$R/etc/containerd/config.toml" config dump > "$W/config-dump.toml"
grep -q "sandbox = '${IMAGE_REPOSITORY}/pause:${PAUSE_VERSION}'" "$W/config-dump.toml" \
  || grep -q "sandbox = \"${IMAGE_REPOSITORY}/pause:${PAUSE_VERSION}\"" "$W/config-dump.toml" \
  || { echo "containerd does not see our sandbox image:"; grep -n -i 'sandbox' "$W/config-dump.toml"; exit 1; }

echo "== runtime binaries: containerd, shim, ctr, runc, crictl; CNI plugins from Debian"
install -m 0755 "$BIN_CONTAINERD"/containerd "$BIN_CONTAINERD"/containerd-shim-runc-v2 "$BIN_CONTAINERD"/ctr "$R/usr/local/bin/"
install -m 0755 "$BIN_CRICTL/crictl" "$R/usr/local/bin/"
mkdir -p "$R/usr/local/sbin"; install -m 0755 "$BIN_RUNC/runc" "$R/usr/local/sbin/runc"
install -m 0644 "$F/node/crictl.yaml" "$R/etc/crictl.yaml"
# cri-base.json as kind makes it: `ctr oci spec` + the product-files hook, without rlimits
"$BIN_CONTAINERD/ctr" oci spec \
  | jq '.hooks.createContainer[.hooks.createContainer| length] |= . + {"path": "/kind/bin/mount-product-files.sh"}' \
  | jq 'del(.process.rlimits)' > "$R/etc/containerd/cri-base.json"
mkdir -p "$R/opt/cni"; rm -rf "$R/opt/cni/bin"; ln -s /usr/lib/cni "$R/opt/cni/bin"
[ -x "$R/usr/lib/cni/ptp" ] && [ -x "$R/usr/lib/cni/host-local" ] && [ -x "$R/usr/lib/cni/portmap" ]

echo "== exam-node services: sshd (host keys made at first start), rsyslog (/var/log/syslog)"
rm -f "$R"/etc/ssh/ssh_host_*
mkdir -p "$R/etc/systemd/system/ssh.service.d" "$R/etc/systemd/journald.conf.d"
install -m 0644 "$F/node/ssh-ckslab.conf" "$R/etc/systemd/system/ssh.service.d/ckslab.conf"
install -m 0644 "$F/node/journald-ckslab.conf" "$R/etc/systemd/journald.conf.d/ckslab.conf"
# pam_loginuid needs CAP_AUDIT_CONTROL, which a node container may lack: do not fail logins on it
sed -i 's/^session\([[:space:]]\+\)required\([[:space:]]\+\)pam_loginuid.so/session\1optional\2pam_loginuid.so/' "$R/etc/pam.d/sshd"
# a container has no kernel log to read
sed -i 's/^\(module(load="imklog".*\)/# ckslab: no kernel log in a container\n# \1/' "$R/etc/rsyslog.conf"
if grep -q '^module(load="imklog"' "$R/etc/rsyslog.conf"; then echo "imklog still enabled"; exit 1; fi

echo "== what kind's base Dockerfile does in the image"
chroot "$R" /bin/sh -ec '
  find /lib/systemd/system/sysinit.target.wants/ -name "systemd-tmpfiles-setup.service" -delete
  rm -f /lib/systemd/system/multi-user.target.wants/* /etc/systemd/system/*.wants/* \
        /lib/systemd/system/local-fs.target.wants/* /lib/systemd/system/sockets.target.wants/*udev* \
        /lib/systemd/system/sockets.target.wants/*initctl* /lib/systemd/system/basic.target.wants/*
  echo "ReadKMsg=no" >> /etc/systemd/journald.conf
  systemctl enable kubelet.service containerd.service undo-mount-hacks.service ssh.service rsyslog.service
  systemctl mask systemd-binfmt.service
  mkdir -p /etc/kubernetes/manifests
  update-alternatives --set iptables /usr/sbin/iptables-nft >/dev/null
  update-alternatives --set ip6tables /usr/sbin/ip6tables-nft >/dev/null
'
install -m 0755 "$F/node/ckslab-entrypoint" "$R/usr/local/bin/ckslab-entrypoint"

echo "== what kind's node-image builder adds: Kubernetes binaries, version, manifests"
for b in kubeadm kubelet kubectl; do install -m 0755 "$BIN_K8S/$b" "$R/usr/bin/$b"; done
printf '%s' "$K8S_VERSION" > "$R/kind/version"
mkdir -p "$R/kind/manifests"
sed "s#@KINDNET_IMAGE@#${IMG_KINDNET}#" "$IMAGES_DIR/files/kindnet-lite/default-cni.yaml" > "$R/kind/manifests/default-cni.yaml"
grep -q "image: ${IMG_KINDNET}$" "$R/kind/manifests/default-cni.yaml"
install -m 0644 "$F/node/default-storage.yaml" "$R/kind/manifests/default-storage.yaml"

echo "== pre-import images into the node's containerd store (a throw-away containerd ${CONTAINERD_VERSION})"
rm -rf "$R/var/lib/containerd"; mkdir -p "$R/var/lib/containerd"
T=$(mktemp -d /tmp/ckslab-ctrd.XXXXXX)   # short path: unix socket names are limited to 108 bytes
cat > "$T/config.toml" <<EOC
version = 3
root = "$R/var/lib/containerd"
state = "$T/state"
disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.cri.v1.runtime", "io.containerd.cri.v1.images", "io.containerd.nri.v1.nri"]
[grpc]
  address = "$T/c.sock"
[ttrpc]
  address = "$T/c.sock.ttrpc"
[plugins."io.containerd.internal.v1.opt"]
  path = "$T/opt"
EOC
"$BIN_CONTAINERD/containerd" --config "$T/config.toml" > "$W/containerd.log" 2>&1 &
CPID=$!
cleanup() { kill "$CPID" 2>/dev/null && wait "$CPID" 2>/dev/null; rm -rf "$T"; }
trap cleanup EXIT
for _ in $(seq 100); do [ -S "$T/c.sock" ] && break; sleep 0.1; done
[ -S "$T/c.sock" ] || { cat "$W/containerd.log"; echo "throw-away containerd did not start"; exit 1; }
CTR=("$BIN_CONTAINERD/ctr" -a "$T/c.sock" -n k8s.io)
want=()
for ref in $COMPONENT_IMAGES; do want+=("$ref"); done
for w in $NODE_PRELOAD; do
  v="IMG_${w^^}"; [ -n "${!v:-}" ] || { echo "NODE_PRELOAD: unknown image $w"; exit 1; }
  want+=("${!v}")
done
for ref in "${want[@]}"; do
  # kind's node-image builder's flags minus --digests: that flag adds an `import-<date>@sha256:...` name per
  # image, which the CRI reports as the image's repo digest and Falco then prints as image=.../import-<date>;
  # pinned images are never garbage-collected by the kubelet
  docker save "$ref" | "${CTR[@]}" images import --label=io.cri-containerd.pinned=pinned --all-platforms --no-unpack - >/dev/null
done
# containerd names an image without a host as docker.io/library/... (nginx:T) or docker.io/... (a/b:T)
normal() { case $1 in */*/*) echo "$1" ;; */*) case ${1%%/*} in *.*|*:*|localhost) echo "$1" ;; *) echo "docker.io/$1" ;; esac ;; *) echo "docker.io/library/$1" ;; esac; }
# each image also gets its repo digest name (<repository>@<manifest digest>), as a pulled image has: the CRI then
# reports it as the image's id (kubectl describe's "Image ID: docker.io/library/nginx@sha256:...", as online)
allowed=()
for ref in "${want[@]}"; do
  name=$(normal "$ref")
  digest=$("${CTR[@]}" images ls "name==$name" | awk 'NR == 2 { print $3 }')
  [ -n "$digest" ] || { echo "not imported: $ref (no image $name)"; exit 1; }
  "${CTR[@]}" images tag "$name" "${name%:*}@$digest" >/dev/null
  allowed+=("$name" "${name%:*}@$digest")
done
"${CTR[@]}" images ls -q | tee "$W/imported.txt"
for ref in "${allowed[@]}"; do grep -qx "$ref" "$W/imported.txt" || { echo "missing: $ref"; exit 1; }; done
if grep -v -x -F -f <(printf '%s\n' "${allowed[@]}") "$W/imported.txt"; then
  echo "the node's containerd holds names that were not asked for (above)"; exit 1
fi
cleanup; trap - EXIT

echo "== docker import"
docker_import_dir "$R" "$IMG_NODE" 'ENV container=docker' 'STOPSIGNAL SIGRTMIN+3' \
  "LABEL io.ckslab.key=$K_NODE" \
  'ENTRYPOINT ["/usr/local/bin/ckslab-entrypoint", "/sbin/init"]'
docker image inspect -f '{{.Size}} {{json .Config.Entrypoint}} {{.Config.StopSignal}}' "$IMG_NODE"
rm -rf "$W"
