#!/bin/sh
# converging: test plugins for netpol's convergence poll and transition
# watch. Each is the reference enforcer, applied as a controller with a bug
# (or only a delay) would apply it:
#
#   async[:MS]  `version` says "sync": "async"; `sync` stores the state and
#               returns at once; a background process applies the latest
#               stored state after a random delay of 0 to MS milliseconds
#               (default 2000). netpol polls each round until it converges.
#   leaky       `sync` first flushes the reference's chains on every node
#               (everything is allowed for a moment), waits, then applies:
#               a rewrite that is not atomic. netpol reports leaks.
#   outage      `sync` first drops every forwarded packet on every node,
#               waits, then applies: old rules removed before the new ones
#               are in. netpol reports outages.
#   late-pods   `sync` first applies the state without the pods it adds
#               and lets pods it does not know through, waits, then applies
#               the whole state: a new pod is reachable before its policies
#               apply. netpol reports leaks.
#
# Usage: plugin.sh MODE NETPOL version|sync|cleanup (the state on stdin), as
#   netpol run --enforcer examples/converging/plugin.sh \
#     --enforcer-arg async --enforcer-arg "$(command -v netpol)" scenarios/
# Needs: jq, flock, setsid, nsenter, iptables.
set -eu
mode=$1 netpol=$2 command=$3
# How long the leaky and outage rewrites leave the dataplane half done.
window=0.4

nodes() { jq -r '.nodes[].netns' "$1"; }

# Runs `iptables ARGS...` and `ip6tables ARGS...` in every node namespace.
on_every_node() { # STATE ARGS...
  state=$1
  shift
  for ns in $(nodes "$state"); do
    for t in iptables ip6tables; do
      nsenter --net="$ns" "$t" "$@" 2>/dev/null || true
    done
  done
}

case $command in
  apply-later) # (internal) DELAY LABDIR TOKEN: the async controller's work
    # In a session of its own now: tell `sync` it may return (the harness
    # kills the call's process group when it does).
    : > "$5/ready.$6"
    sleep "$4"
    exec flock "$5/lock" sh -c '"$1" reference-enforcer sync < "$2/state.json"' - "$netpol" "$5"
    ;;
  version)
    name=converging-$(printf %s "$mode" | cut -d: -f1)
    sync=blocking
    case $mode in async*) sync=async ;; esac
    "$netpol" reference-enforcer version | jq -c --arg n "$name" --arg s "$sync" '.name = $n | .sync = $s'
    exit 0
    ;;
esac

state=$(mktemp "${TMPDIR:-/tmp}/netpol-converging-state.XXXXXX")
trap 'rm -f "$state"' EXIT
cat > "$state"
lab=$(jq -r .lab "$state")
# What the plugin keeps about a lab, across its calls (lab ids are unique).
labdir=${TMPDIR:-/tmp}/netpol-converging-$lab
mkdir -p "$labdir"

case $mode:$command in
  async*:sync)
    max=${mode#async}
    max=${max#:}
    max=${max:-2000}
    # The latest state is what the controller applies, whenever it gets to it.
    cp "$state" "$labdir/state.new" && mv "$labdir/state.new" "$labdir/state.json"
    ms=$(( $(od -An -N2 -tu2 /dev/urandom | tr -d ' ') % (max + 1) ))
    delay=$(printf '%d.%03d' $((ms / 1000)) $((ms % 1000)))
    # A session of its own (so the call's end does not kill it), no pipe of the call held open.
    token=${state##*.}
    setsid "$0" "$mode" "$netpol" apply-later "$delay" "$labdir" "$token" < /dev/null >> "$labdir/log" 2>&1 &
    echo $! >> "$labdir/appliers"
    while [ ! -e "$labdir/ready.$token" ]; do sleep 0.005; done
    rm -f "$labdir/ready.$token"
    ;;
  async*:cleanup)
    # Appliers still waiting die first (each leads its own session).
    if [ -f "$labdir/appliers" ]; then
      for pid in $(cat "$labdir/appliers"); do kill -KILL -- "-$pid" 2>/dev/null || true; done
      for pid in $(cat "$labdir/appliers"); do
        while kill -0 "$pid" 2>/dev/null; do sleep 0.01; done
      done
    fi
    "$netpol" reference-enforcer cleanup < "$state"
    rm -rf "$labdir"
    ;;
  leaky:sync)
    on_every_node "$state" -F NETPOL-FORWARD
    sleep "$window"
    "$netpol" reference-enforcer sync < "$state"
    ;;
  outage:sync)
    on_every_node "$state" -I FORWARD 1 -j DROP
    sleep "$window"
    # The reference's restore replaces the whole filter table, DROP included.
    "$netpol" reference-enforcer sync < "$state"
    ;;
  late-pods:sync)
    previous=$labdir/previous.json
    if [ -f "$previous" ]; then
      jq -c --slurpfile p "$previous" \
        '($p[0].pods | map(.namespace + "/" + .name)) as $known
         | .pods |= map(select((.namespace + "/" + .name) as $k | $known | index($k)))' \
        "$state" > "$labdir/known.json"
      "$netpol" reference-enforcer sync < "$labdir/known.json"
      # The reference isolates pods the state does not list: not this plugin.
      on_every_node "$state" -F NETPOL-UNLISTED-OUT
      on_every_node "$state" -F NETPOL-UNLISTED-IN
      sleep "$window"
    fi
    "$netpol" reference-enforcer sync < "$state"
    cp "$state" "$previous"
    ;;
  *:cleanup)
    "$netpol" reference-enforcer cleanup < "$state"
    rm -rf "$labdir"
    ;;
  *)
    echo "converging: unknown mode or command: $mode $command" >&2
    exit 2
    ;;
esac
