#!/bin/sh
# Cargo's runner for this workspace (.cargo/config.toml): how `cargo test`
# runs a test binary. With CAP_SYS_ADMIN and CAP_NET_ADMIN (root), as is.
# Without them (an ordinary user), inside a user namespace of its own where
# the user is root, with its own network and mount namespaces
# (`unshare --user --map-root-user --net --mount`), so that the lab tests
# build their labs there. Where user namespaces are refused, the binary runs
# as is and its lab tests fail saying why. Other binaries (`cargo run`:
# `netpol run` enters a user namespace by itself) run as is.
set -eu
case "$1" in
*/deps/*) ;;
*) exec "$@" ;;
esac
caps=$(sed -n 's/^CapEff:[[:space:]]*//p' /proc/self/status)
# CAP_NET_ADMIN is bit 12, CAP_SYS_ADMIN bit 21.
if [ $((0x$caps & 0x201000)) -eq $((0x201000)) ]; then
  exec "$@"
fi
if ! err=$(unshare --user --map-root-user --net --mount true 2>&1); then
  echo "ci/test-runner.sh: not root, and no user namespace for the tests ($err): running $(basename "$1") as is; its lab tests say why" >&2
  exec "$@"
fi
# A /run of its own: the host's belongs to the real root, and tests that
# name namespaces (/run/netns) or take iptables' lock (/run/xtables.lock)
# need one they can write.
exec unshare --user --map-root-user --net --mount -- \
  sh -c 'mount -t tmpfs netpol-run /run && exec "$@"' sh "$@"
