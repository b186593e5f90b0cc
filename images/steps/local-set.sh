#!/usr/bin/env bash
# Write <cache>/images/local-set.json: the contract with the ckslab Go code (which reads it for --images local).
# Keys of schema 1: schema, kubernetes_version, node_image, image_repository, workloads{nginx,httpd},
# terminal_image, built_at, kubeadm_config_patches (kind kubeadmConfigPatches the node image needs) and
# nothing else (the reader rejects unknown keys). build-info.json next to it records versions for people.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
for ref in "$IMG_NODE" "$IMG_NGINX" "$IMG_HTTPD" "$IMG_TERMINAL"; do
  docker image inspect "$ref" >/dev/null 2>&1 || { echo "image $ref is missing: run the whole build"; exit 1; }
done
# built_at: when the node image was made (stable across cached runs)
built_at=$(docker image inspect -f '{{.Created}}' "$IMG_NODE" | sed -E 's/\.[0-9]+//')
# kind kubeadmConfigPatches entry: kubeadm takes every image from our repository (ends with a newline)
printf -v patch 'kind: ClusterConfiguration\nimageRepository: %s\n' "$IMAGE_REPOSITORY"
tmp=$CACHE/local-set.json.tmp
# exactly the schema-1 keys: the Go reader rejects unknown fields
jq -n \
  --arg kv "$K8S_VERSION" --arg node "$IMG_NODE" --arg repo "$IMAGE_REPOSITORY" \
  --arg nginx "$IMG_NGINX" --arg httpd "$IMG_HTTPD" --arg term "$IMG_TERMINAL" --arg at "$built_at" \
  --arg patch "$patch" \
  '{schema: 1,
    kubernetes_version: $kv,
    node_image: $node,
    image_repository: $repo,
    workloads: {nginx: $nginx, httpd: $httpd},
    terminal_image: $term,
    built_at: $at,
    kubeadm_config_patches: [$patch]}' > "$tmp"
mv "$tmp" "$CACHE/local-set.json"
# what went into the set, for people (not read by ckslab)
jq -n --arg kind "$KIND_VERSION" --arg ctrd "$CONTAINERD_VERSION" --arg runc "$RUNC_VERSION" \
  --arg crictl "$CRICTL_VERSION" --arg etcd "$ETCD_VERSION" --arg coredns "$COREDNS_VERSION" \
  --arg go "$GO_VERSION" --arg preload "$NODE_PRELOAD" --arg comps "$COMPONENT_IMAGES" --arg node "$IMG_NODE" \
  '{node_image: $node, kind_version: $kind, containerd_version: $ctrd, runc_version: $runc,
    crictl_version: $crictl, etcd_version: $etcd, coredns_version: $coredns, go_version: $go,
    node_preloaded_workloads: ($preload | split(" ") | map(select(length > 0))),
    component_images: ($comps | split(" ") | map(select(length > 0)))}' > "$CACHE/build-info.json.tmp"
mv "$CACHE/build-info.json.tmp" "$CACHE/build-info.json"
cat "$CACHE/local-set.json"
