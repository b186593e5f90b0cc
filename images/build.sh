#!/usr/bin/env bash
# `make images`: build, with no container registry, the image set the ckslab lab runs on:
# the kind node image (Kubernetes, containerd v2, runc, crictl, rsyslog, sshd, pre-imported images),
# the control-plane component images, the CNI (kindnet-lite) and the workload images nginx, httpd, terminal.
# Everything comes from Debian packages and Go modules and is cached under
#   ${CKSLAB_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/ckslab}/images
# keyed by its inputs; a run with everything cached takes seconds.
#
# Usage: images/build.sh [STEP...]     (no STEP: all; STEP names: see `images/build.sh --list`)
# Output: <cache>/images/local-set.json (read by the ckslab Go code)
set -euo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
set -a
source "${IMAGES_DIR}/versions.env"
set +a

# ---------------------------------------------------------------------------------------------
# Steps: id | lane | cold estimate (s, measured on 2 cores with an empty Go build cache and another build
# running) | what
# Lane "go" compiles (CPU bound), lane "deb" bootstraps Debian trees (mostly I/O); they run side by side.
STEPS=(
  "go-k8s|go|720|Kubernetes ${K8S_VERSION} binaries (kubeadm kubelet kubectl kube-apiserver kube-controller-manager kube-scheduler kube-proxy)"
  "go-containerd|go|150|containerd ${CONTAINERD_VERSION} (containerd, containerd-shim-runc-v2, ctr)"
  "go-runc|go|40|runc ${RUNC_VERSION} (static, seccomp)"
  "go-crictl|go|60|crictl ${CRICTL_VERSION}"
  "go-etcd|go|45|etcd ${ETCD_VERSION}"
  "go-coredns|go|90|CoreDNS ${COREDNS_VERSION}"
  "pause|go|2|pause ${PAUSE_VERSION}"
  "rootfs-node|deb|150|Debian ${DEBIAN_SUITE} rootfs: node"
  "rootfs-net|deb|110|Debian ${DEBIAN_SUITE} rootfs: net (kube-proxy, kindnet-lite)"
  "rootfs-nginx|deb|110|Debian ${DEBIAN_SUITE} rootfs: nginx"
  "rootfs-httpd|deb|115|Debian ${DEBIAN_SUITE} rootfs: httpd"
  "rootfs-terminal|deb|120|Debian ${DEBIAN_SUITE} rootfs: terminal"
  "img-components|img|15|control-plane and CNI images"
  "img-workloads|img|20|workload images: nginx, httpd, terminal"
  "node-image|img|60|kind node image"
  "local-set|img|1|local-set.json"
  "prune|img|2|remove artefacts of older keys"
)

step_field() { local IFS='|'; read -r -a f <<<"$1"; echo "${f[$2]}"; }

if [ "${1:-}" = --list ]; then
  for s in "${STEPS[@]}"; do printf '%-16s %s\n' "$(step_field "$s" 0)" "$(step_field "$s" 3)"; done
  exit 0
fi

# ---------------------------------------------------------------------------------------------
need_commands() {
  local missing=() c
  for c in "$@"; do command -v "$c" >/dev/null || missing+=("$c"); done
  if [ ${#missing[@]} -gt 0 ]; then
    die "missing command(s): ${missing[*]}. On Debian/Ubuntu: apt-get install debootstrap gcc libc6-dev libseccomp-dev pkg-config jq; docker: Debian's Docker engine package; go: Go >= 1.26"
  fi
}

# tools needed only when something is actually built
preflight_build() {
  local cold=" $* "
  case $cold in *" rootfs-"*) need_commands debootstrap chroot ;; esac
  case $cold in
    *" go-runc "*)
      need_commands pkg-config
      if ! pkg-config --exists libseccomp || [ ! -f "$(gcc -print-file-name=libseccomp.a)" ]; then
        die "runc needs libseccomp's headers and static library: apt-get install libseccomp-dev"
      fi ;;
  esac
}

preflight() {
  [ "$(id -u)" = 0 ] || die "run as root: debootstrap, chroot and the throw-away containerd need it (sudo make images)"
  need_commands go docker gcc jq tar sha256sum flock
  if ! docker info >/dev/null 2>&1; then
    die "no Docker engine answers ('docker info' failed). Start one (systemctl start docker, or: dockerd >/tmp/dockerd.log 2>&1 &) and retry"
  fi
}

# ---------------------------------------------------------------------------------------------
# Cache keys: each artefact's key hashes everything that feeds it (versions, our files, the Go toolchain,
# the Debian package list) and the keys of the artefacts it is made from.
compute_keys() {
  GO_VERSION=$(go env GOVERSION)
  local gcc_v; gcc_v=$(gcc -dumpfullversion 2>/dev/null || gcc -dumpversion)
  local S=${IMAGES_DIR}/steps
  K_K8S=$(key_of k8s "$K8S_VERSION" "$K8S_BUILD_DATE" "$GO_VERSION" "$(files_digest "$S/go-k8s.sh" "$IMAGES_DIR/_go/k8s")")
  K_CONTAINERD=$(key_of containerd "$CONTAINERD_VERSION" "$GO_VERSION" "$(files_digest "$S/go-containerd.sh")")
  K_RUNC=$(key_of runc "$RUNC_VERSION" "$GO_VERSION" "$gcc_v" "$(files_digest "$S/go-runc.sh")")
  K_CRICTL=$(key_of crictl "$CRICTL_VERSION" "$GO_VERSION" "$(files_digest "$S/go-crictl.sh")")
  K_ETCD=$(key_of etcd "$ETCD_VERSION" "$GO_VERSION" "$(files_digest "$S/go-etcd.sh" "$IMAGES_DIR/_go/etcd")")
  K_COREDNS=$(key_of coredns "$COREDNS_VERSION" "$GO_VERSION" "$(files_digest "$S/go-coredns.sh" "$IMAGES_DIR/_go/coredns")")
  K_PAUSE=$(key_of pause "$PAUSE_VERSION" "$K8S_VERSION" "$gcc_v" "$(files_digest "$S/pause.sh")")
  local r
  for r in node net nginx httpd terminal; do
    local inputs=("$S/rootfs.sh" "$IMAGES_DIR/rootfs/$r.list")
    [ ! -f "$IMAGES_DIR/rootfs/$r.purge" ] || inputs+=("$IMAGES_DIR/rootfs/$r.purge")
    printf -v "K_ROOTFS_${r}" '%s' "$(key_of rootfs "$r" "$DEBIAN_SUITE" "$DEBIAN_REFRESH" \
      "$(files_digest "${inputs[@]}")")"
  done
  # images (lib.sh holds the image-making helper, so it feeds every image key)
  local LIB; LIB=$(files_digest "$IMAGES_DIR/lib.sh")
  K_IMG_COMPONENTS=$(key_of components "$K_K8S" "$K_ETCD" "$K_COREDNS" "$K_PAUSE" "$K_ROOTFS_net" \
    "$ETCD_IMAGE_TAG" "$IMAGE_REPOSITORY" "$LIB" "$(files_digest "$S/img-components.sh" "$IMAGES_DIR/files/kindnet-lite")")
  # nginx and httpd are a layer on net-base (made with img-components) computed by hack/layerdiff
  local LAYERDIFF; LAYERDIFF=$(files_digest "$IMAGES_DIR/../hack/layerdiff/main.go")
  K_NGINX=$(key_of nginx "$K_ROOTFS_nginx" "$K_IMG_COMPONENTS" "$LAYERDIFF" "$LIB" "$(files_digest "$S/img-workloads.sh" "$IMAGES_DIR/files/nginx")")
  K_HTTPD=$(key_of httpd "$K_ROOTFS_httpd" "$K_IMG_COMPONENTS" "$LAYERDIFF" "$LIB" "$(files_digest "$S/img-workloads.sh" "$IMAGES_DIR/files/httpd")")
  K_TERMINAL=$(key_of terminal "$K_ROOTFS_terminal" "$K_K8S" "$LIB" "$(files_digest "$S/img-workloads.sh" "$IMAGES_DIR/files/terminal")")
  K_NODE=$(key_of node "$K_ROOTFS_node" "$K_K8S" "$K_CONTAINERD" "$K_RUNC" "$K_CRICTL" "$K_IMG_COMPONENTS" \
    "$KIND_VERSION" "$NODE_PRELOAD" "$K_NGINX" "$K_HTTPD" "$K_TERMINAL" "$LIB" \
    "$(files_digest "$S/node-image.sh" "$IMAGES_DIR/files/node")")

  # where each artefact lives
  BIN_K8S=$CACHE/bin/k8s-$K_K8S
  BIN_CONTAINERD=$CACHE/bin/containerd-$K_CONTAINERD
  BIN_RUNC=$CACHE/bin/runc-$K_RUNC
  BIN_CRICTL=$CACHE/bin/crictl-$K_CRICTL
  BIN_ETCD=$CACHE/bin/etcd-$K_ETCD
  BIN_COREDNS=$CACHE/bin/coredns-$K_COREDNS
  BIN_PAUSE=$CACHE/bin/pause-$K_PAUSE
  for r in node net nginx httpd terminal; do
    local k="K_ROOTFS_${r}"
    printf -v "ROOTFS_${r}" '%s' "$CACHE/rootfs/$r-${!k}"
  done
  # the workload images carry the public set's repository names (docker.io/library/nginx and .../httpd on
  # the nodes), so crictl, kubectl describe and Falco's image= field say nginx and httpd in both sets and the
  # walkthrough's greps behave the same online and offline; the tag (the build key) keeps them apart
  IMG_NGINX=nginx:$K_NGINX
  IMG_HTTPD=httpd:$K_HTTPD
  IMG_TERMINAL=$IMAGE_REPOSITORY/terminal:$K_TERMINAL
  IMG_KINDNET=$IMAGE_REPOSITORY/kindnet-lite:$K_IMG_COMPONENTS
  IMG_NODE=$IMAGE_REPOSITORY/node:$K8S_VERSION-$K_NODE
  # control-plane images: names and tags are what kubeadm derives from imageRepository (fixed tags,
  # so they are matched by their io.ckslab.key label instead)
  COMPONENT_IMAGES="$IMAGE_REPOSITORY/kube-apiserver:$K8S_VERSION $IMAGE_REPOSITORY/kube-controller-manager:$K8S_VERSION \
$IMAGE_REPOSITORY/kube-scheduler:$K8S_VERSION $IMAGE_REPOSITORY/kube-proxy:$K8S_VERSION \
$IMAGE_REPOSITORY/etcd:$ETCD_IMAGE_TAG $IMAGE_REPOSITORY/coredns:$COREDNS_VERSION \
$IMAGE_REPOSITORY/pause:$PAUSE_VERSION $IMG_KINDNET"

  export GO_VERSION K_K8S K_CONTAINERD K_RUNC K_CRICTL K_ETCD K_COREDNS K_PAUSE \
    K_ROOTFS_node K_ROOTFS_net K_ROOTFS_nginx K_ROOTFS_httpd K_ROOTFS_terminal \
    K_IMG_COMPONENTS K_NGINX K_HTTPD K_TERMINAL K_NODE \
    BIN_K8S BIN_CONTAINERD BIN_RUNC BIN_CRICTL BIN_ETCD BIN_COREDNS BIN_PAUSE \
    ROOTFS_node ROOTFS_net ROOTFS_nginx ROOTFS_httpd ROOTFS_terminal \
    IMG_NGINX IMG_HTTPD IMG_TERMINAL IMG_KINDNET IMG_NODE COMPONENT_IMAGES
}

# image_has_key REF KEY: the image exists and was built from inputs with this key
image_has_key() {
  [ "$(docker image inspect -f '{{index .Config.Labels "io.ckslab.key"}}' "$1" 2>/dev/null)" = "$2" ]
}

# is_cached STEP: the step's outputs exist and match the current keys
is_cached() {
  local ref r
  case $1 in
    go-k8s) done_dir "$BIN_K8S" ;;
    go-containerd) done_dir "$BIN_CONTAINERD" ;;
    go-runc) done_dir "$BIN_RUNC" ;;
    go-crictl) done_dir "$BIN_CRICTL" ;;
    go-etcd) done_dir "$BIN_ETCD" ;;
    go-coredns) done_dir "$BIN_COREDNS" ;;
    pause) done_dir "$BIN_PAUSE" ;;
    rootfs-*) r="ROOTFS_${1#rootfs-}"; done_dir "${!r}" ;;
    img-components)
      for ref in $COMPONENT_IMAGES; do image_has_key "$ref" "$K_IMG_COMPONENTS" || return 1; done ;;
    img-workloads)
      image_has_key "$IMG_NGINX" "$K_NGINX" && image_has_key "$IMG_HTTPD" "$K_HTTPD" \
        && image_has_key "$IMG_TERMINAL" "$K_TERMINAL" ;;
    node-image) image_has_key "$IMG_NODE" "$K_NODE" ;;
    local-set|prune) return 1 ;;   # always run (cheap)
    *) die "unknown step $1" ;;
  esac
}

# step_inputs IMAGE-STEP: the build steps whose outputs it is made from
step_inputs() {
  case $1 in
    img-components) echo go-k8s go-etcd go-coredns pause rootfs-net ;;
    img-workloads) echo go-k8s rootfs-nginx rootfs-httpd rootfs-terminal img-components ;;
    node-image) echo go-k8s go-containerd go-runc go-crictl rootfs-node ;;
  esac
}

fmt_dur() { local s=$1; if [ "$s" -ge 60 ]; then printf '%dm%02ds' $((s / 60)) $((s % 60)); else printf '%ds' "$s"; fi; }

# run_step SPEC: run one step unless cached; log to <cache>/logs/<id>.log; record its timing
run_step() {
  local id lane est what t0 rc=0 dt log script
  id=$(step_field "$1" 0); lane=$(step_field "$1" 1); est=$(step_field "$1" 2); what=$(step_field "$1" 3)
  if is_cached "$id"; then
    log "[$id] cached: $what"
    printf '%s\tcached\t0\n' "$id" >> "$TIMINGS"
    return 0
  fi
  case $id in
    local-set|prune) log "[$id] running: $what" ;;
    *) log "[$id] building: $what (cold estimate ~$(fmt_dur "$est"))" ;;
  esac
  log="$CACHE/logs/$id.log"
  script=${IMAGES_DIR}/steps/${id}.sh
  case $id in rootfs-*) script=${IMAGES_DIR}/steps/rootfs.sh ;; esac
  t0=$(date +%s)
  if [ "$id" = "${id#rootfs-}" ]; then
    bash "$script" > "$log" 2>&1 || rc=$?
  else
    bash "$script" "${id#rootfs-}" > "$log" 2>&1 || rc=$?
  fi
  dt=$(( $(date +%s) - t0 ))
  if [ $rc -ne 0 ]; then
    printf '%s\tfailed\t%s\n' "$id" "$dt" >> "$TIMINGS"
    log "[$id] FAILED after $(fmt_dur "$dt") (exit $rc); last lines of $log:"
    tail -n 25 "$log" | sed 's/^/    /' >&2
    return 1
  fi
  printf '%s\tbuilt\t%s\n' "$id" "$dt" >> "$TIMINGS"
  log "[$id] done in $(fmt_dur "$dt")"
}

# run_lane LANE: the selected steps of one lane, in order; stops when this or the other lane has failed
run_lane() {
  local lane=$1 s
  for s in "${SELECTED[@]}"; do
    [ "$(step_field "$s" 1)" = "$lane" ] || continue
    [ ! -e "$FAILED_MARK" ] || return 1
    run_step "$s" || { touch "$FAILED_MARK"; return 1; }
  done
}

# ---------------------------------------------------------------------------------------------
main() {
  local t_start; t_start=$(date +%s)
  preflight
  mkdir -p "$CACHE"/{bin,rootfs,logs,debs,work}
  exec 9>"$CACHE/.lock"
  flock -n 9 || { log "another 'make images' holds $CACHE/.lock; waiting for it"; flock 9; }
  compute_keys

  SELECTED=()
  local s want
  if [ $# -eq 0 ]; then
    # build only what the images still need: when an image is up to date, its inputs (binaries, rootfs
    # trees) are not rebuilt even if their cache directories are gone
    local need=" " img
    for img in img-components img-workloads node-image; do
      is_cached "$img" || need+="$img $(step_inputs "$img") "
    done
    for s in "${STEPS[@]}"; do
      case $(step_field "$s" 1):$need in
        img:*|*" $(step_field "$s" 0) "*) SELECTED+=("$s") ;;
      esac
    done
  else
    for want in "$@"; do
      local found=0
      for s in "${STEPS[@]}"; do
        if [ "$(step_field "$s" 0)" = "$want" ]; then SELECTED+=("$s"); found=1; fi
      done
      [ $found = 1 ] || die "unknown step '$want' (see images/build.sh --list)"
    done
  fi

  TIMINGS=$CACHE/logs/timings-$(date +%Y%m%d-%H%M%S).tsv
  FAILED_MARK=$CACHE/work/.failed
  rm -f "$FAILED_MARK"
  export TIMINGS
  : > "$TIMINGS"

  # honest estimate of what is left to do
  local est_go=0 est_deb=0 est_img=0 cold=()
  for s in "${SELECTED[@]}"; do
    is_cached "$(step_field "$s" 0)" && continue
    case $(step_field "$s" 0) in local-set|prune) continue ;; esac
    cold+=("$(step_field "$s" 0)")
    case $(step_field "$s" 1) in
      go) est_go=$((est_go + $(step_field "$s" 2))) ;;
      deb) est_deb=$((est_deb + $(step_field "$s" 2))) ;;
      *) est_img=$((est_img + $(step_field "$s" 2))) ;;
    esac
  done
  preflight_build "${cold[@]}"
  local est=$(( (est_go > est_deb ? est_go : est_deb) + est_img ))
  log "images: cache $CACHE"
  log "images: node image $IMG_NODE"
  if [ ${#cold[@]} -eq 0 ]; then
    log "images: everything cached; checking and writing local-set.json"
  else
    log "images: to build: ${cold[*]}"
    log "images: estimate ~$(fmt_dur "$est") (2 cores, empty Go build cache; less when Go's build cache is warm); logs in $CACHE/logs/"
  fi

  # the two build lanes run side by side; images are assembled after both finish
  local pid_deb rc_deb=0 rc_go=0
  run_lane deb & pid_deb=$!
  run_lane go || rc_go=$?
  wait "$pid_deb" || rc_deb=$?
  [ $rc_go = 0 ] && [ $rc_deb = 0 ] || die "build failed (see above)"
  run_lane img || die "build failed (see above)"

  log "images: all done in $(fmt_dur $(( $(date +%s) - t_start )))"
  case " ${SELECTED[*]} " in *" local-set|"*) log "images: wrote $CACHE/local-set.json" ;; esac
}

# sourcing this file (for debugging) defines the functions without running anything
if [ "${BASH_SOURCE[0]}" = "$0" ]; then main "$@"; fi
