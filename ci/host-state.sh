#!/usr/bin/env bash
# Prints what a lab must never change in the host's own network namespace,
# so that CI can compare it before and after the test suite.
set -u
ip -o link
# Lifetimes of dynamic addresses and routes count down on their own.
ip -o addr | sed -E 's/(valid|preferred)_lft [^ ]+//g'
ip route show table all | sed -E 's/expires [0-9]+sec//'
ip -6 route show table all | sed -E 's/expires [0-9]+sec//'
ip rule
ip -6 rule
echo "named namespaces: $(ip netns list | tr '\n' ' ')"
iptables-save 2>/dev/null | grep -v '^#'
ip6tables-save 2>/dev/null | grep -v '^#'
nft list ruleset 2>/dev/null
for k in net/ipv4/ip_forward net/ipv4/conf/all/forwarding net/ipv6/conf/all/forwarding net/ipv4/conf/all/rp_filter; do
  echo "$k=$(cat /proc/sys/$k)"
done
