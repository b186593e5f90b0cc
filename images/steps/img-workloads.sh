#!/usr/bin/env bash
# The lab's workload images, each a Debian rootfs plus ckslab's files. nginx and httpd are one layer on top of
# net-base (the Debian base kube-proxy and kindnet-lite share, made by img-components) holding only what differs
# from it (docker_layer_on), so a node unpacks that base once; the terminal, which runs on the host, is one layer:
#  nginx    Debian nginx; `apk` is a real command that drives dpkg/apt (files/nginx/apk)
#  httpd    Debian apache2 run as `httpd` by httpd-foreground; BusyBox `sh` and `sed` come first in PATH,
#           so `sed -i` writes /etc/passwdXXXXXX like on an Alpine httpd (GNU sed would write /etc/sedXXXXXX);
#           /bin/sh stays dash for the system's own scripts
#  terminal the exam terminal: bash, kubectl, ssh, vim, less, grep, awk, jq, ps
# Each carries LABEL io.ckslab.key; an image whose key matches is kept as is.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
F=$IMAGES_DIR/files
has_key() { [ "$(docker image inspect -f '{{index .Config.Labels "io.ckslab.key"}}' "$1" 2>/dev/null)" = "$2" ]; }
stage() { local d=$CACHE/work/$1; rm -rf "$d"; cp -a "$2/tree" "$d"; echo "$d"; }
NETBASE=$IMAGE_REPOSITORY/net-base:$K_IMG_COMPONENTS
have_image "$NETBASE" || die "$NETBASE is missing: run the img-components step first"

if has_key "$IMG_NGINX" "$K_NGINX"; then echo "cached $IMG_NGINX"; else
  d=$(stage nginx "$ROOTFS_nginx")
  install -m 0755 "$F/nginx/apk" "$d/usr/sbin/apk"
  install -m 0644 "$F/nginx/index.html" "$d/var/www/html/index.html"
  rm -f "$d"/var/www/html/index.nginx-debian.html
  ln -sf /dev/stdout "$d/var/log/nginx/access.log"
  ln -sf /dev/stderr "$d/var/log/nginx/error.log"
  chroot "$d" apk >/dev/null   # the package manager runs
  docker_layer_on "$NETBASE" "$d" "$IMG_NGINX" "$PATHENV" "LABEL io.ckslab.key=$K_NGINX" \
    'EXPOSE 80' 'STOPSIGNAL SIGQUIT' 'CMD ["nginx", "-g", "daemon off;"]'
  rm -rf "$d"; echo "made $IMG_NGINX"
fi

if has_key "$IMG_HTTPD" "$K_HTTPD"; then echo "cached $IMG_HTTPD"; else
  d=$(stage httpd "$ROOTFS_httpd")
  install -m 0755 "$F/httpd/httpd-foreground" "$d/usr/local/bin/httpd-foreground"
  ln -s /usr/sbin/apache2 "$d/usr/local/bin/httpd"
  # BusyBox applets ahead of Debian's in PATH (/usr/local/bin comes first): sh and sed as on Alpine
  for a in sh sed; do ln -s /bin/busybox "$d/usr/local/bin/$a"; done
  install -m 0644 "$F/httpd/index.html" "$d/var/www/html/index.html"
  ln -sf /dev/stdout "$d/var/log/apache2/access.log"
  ln -sf /dev/stderr "$d/var/log/apache2/error.log"
  ln -sf /dev/stdout "$d/var/log/apache2/other_vhosts_access.log"
  # `sed` must resolve to BusyBox in the image's shell (sed -i writes /etc/passwdXXXXXX, as on Alpine)
  out=$(chroot "$d" /usr/bin/env PATH=/usr/local/bin:/usr/bin:/bin sh -c 'command -v sed; sed --help 2>&1 | head -n 1'); echo "$out"
  grep -q '^BusyBox' <<<"$out" || { echo "sed in the httpd image is not BusyBox"; exit 1; }
  docker_layer_on "$NETBASE" "$d" "$IMG_HTTPD" "$PATHENV" "LABEL io.ckslab.key=$K_HTTPD" \
    'EXPOSE 80' 'STOPSIGNAL SIGWINCH' 'WORKDIR /var/www/html' \
    'CMD ["httpd-foreground"]'
  rm -rf "$d"; echo "made $IMG_HTTPD"
fi

if has_key "$IMG_TERMINAL" "$K_TERMINAL"; then echo "cached $IMG_TERMINAL"; else
  d=$(stage terminal "$ROOTFS_terminal")
  install -m 0755 "$BIN_K8S/kubectl" "$d/usr/local/bin/kubectl"
  cat "$F/terminal/bash.bashrc.ckslab" >> "$d/etc/bash.bashrc"
  install -m 0644 "$F/terminal/vimrc.local" "$d/etc/vim/vimrc.local"
  docker_import_dir "$d" "$IMG_TERMINAL" "$PATHENV" "LABEL io.ckslab.key=$K_TERMINAL" \
    'ENV TERM=xterm-256color' 'WORKDIR /root' 'CMD ["bash", "-l"]'
  rm -rf "$d"; echo "made $IMG_TERMINAL"
fi
for ref in "$IMG_NGINX" "$IMG_HTTPD" "$IMG_TERMINAL"; do docker image inspect -f "{{.Size}} $ref" "$ref"; done
