#!/bin/sh
# kindnet-lite: ckslab's small stand-in for kind's kindnetd (whose source cannot be fetched offline).
# Runs on every node as a hostNetwork DaemonSet:
#  - for its own node it writes a ptp + host-local + portmap CNI config for the node's podCIDR;
#  - for every other node it adds "ip route <podCIDR> via <nodeIP>" (kind's nodes share one L2 network).
# Not done (kindnetd does them): egress masquerade, NetworkPolicy, IPv6.
set -u
CONF=/etc/cni/net.d/10-kindnet-lite.conflist
if [ -n "${CONTROL_PLANE_ENDPOINT:-}" ]; then   # injected by kind into default-cni.yaml
  export KUBERNETES_SERVICE_HOST="${CONTROL_PLANE_ENDPOINT%:*}" KUBERNETES_SERVICE_PORT="${CONTROL_PLANE_ENDPOINT##*:}"
fi
echo "kindnet-lite on node ${NODE_NAME} api=${KUBERNETES_SERVICE_HOST}:${KUBERNETES_SERVICE_PORT}"
while true; do
  if ! kubectl get nodes -o jsonpath='{range .items[*]}{.metadata.name}{" "}{.spec.podCIDR}{" "}{.status.addresses[?(@.type=="InternalIP")].address}{"\n"}{end}' > /tmp/nodes; then
    sleep 2; continue
  fi
  while read -r name cidr ip; do
    [ -n "$cidr" ] || continue
    if [ "$name" = "$NODE_NAME" ]; then
      new=$(printf '{"cniVersion":"0.4.0","name":"kindnet-lite","plugins":[{"type":"ptp","ipMasq":false,"mtu":1500,"ipam":{"type":"host-local","routes":[{"dst":"0.0.0.0/0"}],"ranges":[[{"subnet":"%s"}]]}},{"type":"portmap","capabilities":{"portMappings":true}}]}' "$cidr")
      if [ "$(cat "$CONF" 2>/dev/null)" != "$new" ]; then
        echo "$new" > "$CONF.tmp" && mv "$CONF.tmp" "$CONF" && echo "wrote $CONF (podCIDR $cidr)"
      fi
    elif ! ip route show "$cidr" | grep -q "via $ip "; then
      ip route replace "$cidr" via "$ip" && echo "route $cidr via $ip ($name)"
    fi
  done < /tmp/nodes
  # Until this node's CNI config is written (its podCIDR may not be assigned
  # yet), look again within a second: the node is not Ready before that.
  # kindnetd reacts to node events; a 5 s poll from the start made every
  # new node wait up to 5 s longer.
  if [ -f "$CONF" ]; then sleep 5; else sleep 1; fi
done
