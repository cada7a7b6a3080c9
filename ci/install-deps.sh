#!/usr/bin/env bash
# Installs what netpol needs on a fresh Debian or Ubuntu machine (as root):
# iptables (both back ends) for the reference enforcer, iproute2 and
# util-linux for inspecting labs, conntrack and nftables for debugging them,
# chromium for checking the HTML report headless (ci/check-html.sh), jq for
# the example plugin (examples/iptables-partial/).
set -euo pipefail
packages=(iptables ipset iproute2 nftables conntrack util-linux procps ca-certificates chromium jq)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
echo "dependencies: ${packages[*]} present"
