#!/usr/bin/env bash
# iptables-partial: an example enforcer plugin for netpol.
#
# It speaks the plugin protocol (docs/plugin-protocol.md) and implements a
# deliberately PARTIAL subset of the NetworkPolicy spec (docs/spec-notes.md)
# with iptables in the lab's node namespaces:
#
#   supported     TCP and UDP; numeric ports, or no port; podSelector and
#                 namespaceSelector (matchLabels, matchExpressions, {});
#                 ipBlock with except; policyTypes defaulting; the union of
#                 policies; stateful (replies of allowed connections pass)
#   unsupported   SCTP, named ports, endPort, ClusterNetworkPolicy (all
#                 four of its features), IPv6 (it writes iptables rules only). A policy that uses one makes
#                 `sync` fail with a message naming the field: failing loudly
#                 beats enforcing something silently wrong. The `version`
#                 answer (and profile.yaml) declare them, so netpol reports the
#                 scenarios that need them as "unsupported (declared)".
#
# Usage:  plugin.sh [--iptables iptables|iptables-nft|iptables-legacy] version|sync|cleanup
#         (the protocol's JSON state on stdin; with netpol, options come from
#         --enforcer-arg, e.g. --enforcer-arg=--iptables --enforcer-arg=iptables-legacy)
# Needs:  bash, jq (1.6 or later), iptables (iptables-save, iptables-restore), nsenter.
#
# Layout of the filter table of each node namespace. Pod traffic crosses the
# node's FORWARD hook (docs/lab.md); traffic between a pod and its own node
# goes through INPUT/OUTPUT, which we leave alone, so the spec's "a pod's own
# node is always allowed" holds for free, and so does self-traffic (it never
# leaves the pod). Every chain we create starts with IPTP- ("iptables-partial"),
# and the only rule we add to a chain we did not create is FORWARD's jump.
#
#   FORWARD
#    -> IPTP-FORWARD     replies of allowed connections: ACCEPT
#                        from or to a pod interface (veth*) of no pod the
#                          state lists (IPTP-UNLISTED-OUT/-IN): goto IPTP-REJECT
#                        from an egress-isolated pod of this node (-i its veth):
#                          goto IPTP-OUT-<veth>
#                        anything else: goto IPTP-INGRESS
#       IPTP-OUT-<veth>  each (peer, port) its egress rules allow: goto IPTP-INGRESS
#                        anything else: goto IPTP-REJECT
#       IPTP-INGRESS     to an ingress-isolated pod of this node (-o its veth):
#                          goto IPTP-IN-<veth>
#                        anything else: ACCEPT
#       IPTP-IN-<veth>   each (peer, port) its ingress rules allow: ACCEPT
#                        anything else: goto IPTP-REJECT
#       IPTP-REJECT      TCP reset, or ICMP port unreachable
#
# Egress is checked first and an allowed packet goes on to the ingress check,
# because a connection needs both (spec-notes "Isolation"). Every chain ends
# in a verdict, so "allowed" needs no packet mark. The one exception: an
# ipBlock with `except` gets a small chain of its own, IPTP-IN-<veth>-X<n>
# (or IPTP-OUT-...), whose first rules RETURN for the excepted ranges.

set -euo pipefail

NAME="iptables-partial"
VERSION=0.1.0

die() {
  echo "$NAME: $*" >&2
  exit 1
}

usage="usage: plugin.sh [--iptables iptables|iptables-nft|iptables-legacy] version|sync|cleanup  (the state as JSON on stdin)"

# --- Arguments: options first (netpol's --enforcer-arg), then the command ---
iptables=iptables
while [ $# -gt 0 ]; do
  case $1 in
    --iptables) [ $# -ge 2 ] || die "--iptables needs a value; $usage"; iptables=$2; shift 2 ;;
    --iptables=*) iptables=${1#--iptables=}; shift ;;
    -*) die "unknown option $1; $usage" ;;
    *) break ;;
  esac
done
[ $# -eq 1 ] || die "$usage"
command=$1

for tool in jq nsenter "$iptables-save" "$iptables-restore"; do
  command -v "$tool" >/dev/null || die "$tool is not installed (needed for \`$command\`)"
done

# --- The rules, in jq: from the state to one node's iptables-restore input ---
#
# Input: the state document. Arguments: $node (a node name). Output: the
# lines of our chains for that node, chain declarations first; the caller
# wraps them in *filter ... COMMIT.
read -r -d '' RULES_JQ <<'JQ' || true
. as $state

# spec-notes "Label selectors": matchLabels AND matchExpressions (In, NotIn,
# Exists, DoesNotExist); an empty or absent selector matches everything.
| def expression_matches($labels):
    .key as $k | ($labels | has($k)) as $has | $labels[$k] as $v
    | if   .operator == "In"           then $has and any((.values // [])[]; . == $v)
      elif .operator == "NotIn"        then ($has | not) or all((.values // [])[]; . != $v)
      elif .operator == "Exists"       then $has
      elif .operator == "DoesNotExist" then $has | not
      else error("matchExpressions operator \(.operator | tojson) is not supported")
      end;
  def selects($labels):
    ($labels // {}) as $labels
    | all((.matchLabels // {}) | to_entries[]; $labels[.key] == .value)
      and all((.matchExpressions // [])[]; expression_matches($labels));

  # The API server accepts leading zeros ("010.0.0.0/8" is 10.0.0.0/8), which
  # iptables would read as octal. Host bits are fine: iptables masks them.
  def ipv4_cidr:
    split("/") as [$addr, $len]
    | ($addr | split(".") | map(tonumber | tostring) | join("."))
      + "/" + ($len // "32" | tonumber | tostring);
  def ipv6: contains(":");

  # One iptables rule from its words (empty words left out).
  def rule: map(select(. != "")) | join(" ");

  # spec-notes "Policy types": policyTypes absent (or empty) means Ingress,
  # plus Egress if the policy has egress rules. A direction that is not in
  # the policy types is ignored, even if it has rules.
  def policy_types:
    if (.spec.policyTypes // []) | length > 0 then .spec.policyTypes
    else ["Ingress"] + (if (.spec.egress // []) | length > 0 then ["Egress"] else [] end)
    end;

  # spec-notes "Peers": the addresses one from/to entry stands for, as
  # {cidr, except} objects. A podSelector and/or namespaceSelector stands for
  # the pods it selects now (with the labels of this state):
  #   namespaceSelector absent: the policy's own namespace; {}: every one;
  #   podSelector absent or {}: every pod of those namespaces;
  #   both in one entry: pods matching both (AND).
  # An ipBlock is its cidr minus its excepts; IPv6 blocks match nothing here.
  def peer_addresses($policy_ns):
    . as $peer
    | if .ipBlock then
        if .ipBlock.cidr | ipv6 then empty
        else {cidr: (.ipBlock.cidr | ipv4_cidr),
              except: [(.ipBlock.except // [])[] | select(ipv6 | not) | ipv4_cidr]}
        end
      else
        $state.pods[] | . as $pod
        | select(if $peer.namespaceSelector != null
                 then $peer.namespaceSelector | selects($state.namespaces[]
                        | select(.name == $pod.namespace) | .labels)
                 else $pod.namespace == $policy_ns end)
        | select($peer.podSelector // {} | selects($pod.labels))
        | {cidr: "\($pod.ip)/32", except: []}
      end;

  # spec-notes "Ports": protocol defaults to TCP; no port means every port of
  # that protocol. (SCTP, named ports and endPort never get here: sync
  # refuses them first, see UNSUPPORTED_JQ.)
  def port_match:
    ["-p", (.protocol // "TCP" | ascii_downcase)]
    + (if .port != null then ["--dport", (.port | tostring)] else [] end)
    | rule;

  # The two directions, from the point of view of the selected pod.
  def directions: [
    {type: "Ingress", field: "ingress", peers: "from", chain: "IN",  iface: "-o", addr: "-s",
     dispatcher: "IPTP-INGRESS", allow: "-j ACCEPT"},
    {type: "Egress",  field: "egress",  peers: "to",   chain: "OUT", iface: "-i", addr: "-d",
     dispatcher: "IPTP-FORWARD", allow: "-g IPTP-INGRESS"}
  ][];

  # spec-notes "Isolation": the policies of $pod's namespace that select it
  # and have direction $d in their policy types. If there is any, the pod is
  # isolated in that direction (even if they have no rules at all).
  def policies_selecting($pod; $d):
    $state.networkPolicies[]
    | select(.metadata.namespace == $pod.namespace)
    | select(any(policy_types[]; . == $d.type))
    | select(.spec.podSelector // {} | selects($pod.labels));

  # spec-notes "Rules": every rule of those policies, as {comment, peers,
  # ports}; what is allowed is their UNION. `peers` is null for "any peer"
  # (from/to absent or empty), else a list of addresses (maybe empty: then
  # the rule matches nothing). `ports` is [""] for "any port" (ports absent
  # or empty), else one iptables match per entry.
  def allow_rules($pod; $d):
    [ policies_selecting($pod; $d)
      | .metadata as $m
      | (.spec[$d.field] // []) | to_entries[]
      | { comment: "-m comment --comment \"\($m.namespace)/\($m.name) \($d.field)[\(.key)]\"",
          peers: (.value[$d.peers] // []
                  | if length == 0 then null else [.[] | peer_addresses($m.namespace)] end),
          ports: (.value.ports // []
                  | if length == 0 then [""] else map(port_match) end) } ];

  # The chains of one isolated pod in one direction, as {chains, rules}:
  #   IPTP-<IN|OUT>-<veth>: one rule per allowed (peer, port); then reject.
  #   An ipBlock with except: a jump to IPTP-<IN|OUT>-<veth>-X<n>, which
  #   RETURNs (no match) for each except, then allows each port.
  def pod_chains($pod; $d):
    "IPTP-\($d.chain)-\($pod.hostVeth)" as $chain
    | reduce allow_rules($pod; $d)[] as $r ({chains: [$chain], rules: []};
        if $r.peers == null then
          .rules += [$r.ports[] | ["-A", $chain, ., $r.comment, $d.allow] | rule]
        else
          reduce $r.peers[] as $p (.;
            if $p.except == [] then
              .rules += [$r.ports[] | ["-A", $chain, $d.addr, $p.cidr, ., $r.comment, $d.allow] | rule]
            else
              "\($chain)-X\(.chains | length)" as $sub
              | .chains += [$sub]
              | .rules += [["-A", $chain, $d.addr, $p.cidr, $r.comment, "-j", $sub] | rule]
              | .rules += [$p.except[] | ["-A", $sub, $d.addr, ., "-j RETURN"] | rule]
              | .rules += [$r.ports[] | ["-A", $sub, ., $r.comment, $d.allow] | rule]
            end)
        end)
    | .rules += ["-A \($chain) -g IPTP-REJECT"];

  # --- One node: only its own pods (their veths are here) ------------------
  [ $state.pods[] | select(.node == $node) | . as $pod
    | directions as $d
    | select(any(policies_selecting($pod; $d); true))
    | {type: $d.type,
       dispatch: "-A \($d.dispatcher) \($d.iface) \($pod.hostVeth) -g IPTP-\($d.chain)-\($pod.hostVeth)"}
      + pod_chains($pod; $d)
  ] as $isolated

  # Output: declarations, then rules, always in the same order (the same
  # state gives the same text: sync is idempotent).
  | ( ["IPTP-FORWARD", "IPTP-INGRESS", "IPTP-REJECT", "IPTP-UNLISTED-OUT", "IPTP-UNLISTED-IN",
       $isolated[].chains[]][] | ":\(.) - [0:0]" ),
    # spec-notes "Isolation": replies of an allowed connection are always
    # allowed (stateful), whatever the policies say about their direction.
    "-A IPTP-FORWARD -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT",
    # A pod whose interface is up but that the state does not list yet (it
    # is being created) is isolated both ways until a sync lists it, so
    # that its first packet never precedes its policies.
    "-A IPTP-FORWARD -j IPTP-UNLISTED-OUT",
    "-A IPTP-FORWARD -j IPTP-UNLISTED-IN",
    ( $state.pods[] | select(.node == $node)
      | "-A IPTP-UNLISTED-OUT -i \(.hostVeth) -j RETURN", "-A IPTP-UNLISTED-IN -o \(.hostVeth) -j RETURN" ),
    "-A IPTP-UNLISTED-OUT -i veth+ -g IPTP-REJECT",
    "-A IPTP-UNLISTED-IN -o veth+ -g IPTP-REJECT",
    # Egress first: a connection needs egress from the client...
    ( $isolated[] | select(.type == "Egress") | .dispatch ),
    "-A IPTP-FORWARD -g IPTP-INGRESS",
    # ...and ingress to the server.
    ( $isolated[] | select(.type == "Ingress") | .dispatch ),
    # Not ingress-isolated here: allowed in.
    "-A IPTP-INGRESS -j ACCEPT",
    # Denied: rejected rather than dropped, so that clients learn it at once.
    "-A IPTP-REJECT -p tcp -j REJECT --reject-with tcp-reset",
    "-A IPTP-REJECT -j REJECT --reject-with icmp-port-unreachable",
    ( $isolated[].rules[] )
JQ

# Features this example does not implement, found in the state's policies:
# one line per offending field, with its path (nothing when all is well).
# A ClusterNetworkPolicy is refused whole (`clusterNetworkPolicies` is absent
# from the states of harnesses that predate it).
read -r -d '' UNSUPPORTED_JQ <<'JQ' || true
( .clusterNetworkPolicies // [] | .[]
  | "ClusterNetworkPolicy \(.metadata.name): ClusterNetworkPolicy is not supported (feature ClusterNetworkPolicy)" ),
( .networkPolicies[]
| .metadata as $m
| ("ingress", "egress") as $dir
| (.spec[$dir] // []) | to_entries[] | .key as $r
| (.value.ports // []) | to_entries[] | .key as $p | .value
| "NetworkPolicy \($m.namespace)/\($m.name): spec.\($dir)[\($r)].ports[\($p)]" as $where
| if (.protocol // "TCP") == "SCTP" then "\($where).protocol: SCTP is not supported (feature sctp)"
  elif .endPort != null then "\($where).endPort: port ranges are not supported (feature endPort)"
  elif (.port | type) == "string" then "\($where).port: named port \(.port | tojson) is not supported (feature namedPorts)"
  else empty end )
JQ

# Runs a command inside a node's network namespace.
in_node() {
  local netns=$1
  shift
  nsenter --net="$netns" "$@"
}

# The filter table of a node namespace, as iptables-save prints it.
saved_table() {
  in_node "$1" "$iptables-save" -t filter || die "cannot read the filter table of node $2 ($1)"
}

# Our chains in a saved table, one a line.
our_chains() {
  sed -n "s/^:\(IPTP-[^ ]*\) .*/\1/p" <<<"$1"
}

# Whether FORWARD jumps to IPTP-FORWARD in a saved table.
has_jump() {
  grep -qx -- "-A FORWARD -j IPTP-FORWARD" <<<"$1"
}

# Feeds stdin to iptables-restore --noflush in a node namespace: one atomic
# transaction, which only touches the chains it names. On failure, says
# which node and which line.
restore() {
  local name=$1 netns=$2 input err line
  input=$(cat)
  if ! err=$(printf '%s\n' "$input" | in_node "$netns" "$iptables-restore" -w --noflush 2>&1); then
    line=$(printf '%s' "$err" | sed -n 's/.*line:\? \([0-9][0-9]*\).*/\1/p' | head -n1)
    if [ -n "$line" ]; then
      err="$err (line $line: $(printf '%s\n' "$input" | sed -n "${line}p"))"
    fi
    die "node $name: $iptables-restore failed: $err"
  fi
}

# The state on stdin; protocol version 1 only.
read_state() {
  state=$(cat)
  local v
  v=$(jq -r '.protocolVersion' <<<"$state" 2>/dev/null) || die "the state on stdin is not JSON"
  [ "$v" = 1 ] || die "protocol version $v is not supported (this plugin speaks 1)"
  mapfile -t nodes < <(jq -r '.nodes[] | "\(.name)\t\(.netns)"' <<<"$state")
}

case $command in

  # --- version: who we are, and what we declare unsupported ---------------
  version)
    cat >/dev/null
    printf '%s\n' "{\"name\": \"$NAME\", \"version\": \"$VERSION\", \"protocolVersions\": [\"1\"], \"unsupported\": [\"sctp\", \"endPort\", \"namedPorts\", \"ClusterNetworkPolicy\", \"ClusterNetworkPolicyNamedPorts\", \"ClusterNetworkPolicyEgressNodePeers\", \"ClusterNetworkPolicyEgressNetworkPeers\", \"ipv6\"]}"
    ;;

  # --- sync: make every node enforce the state ------------------------------
  sync)
    read_state
    # Refuse what we do not implement before changing anything.
    problems=$(jq -r "$UNSUPPORTED_JQ" <<<"$state")
    [ -z "$problems" ] || die "cannot enforce this state:"$'\n'"$problems"
    for entry in "${nodes[@]}"; do
      IFS=$'\t' read -r name netns <<<"$entry"
      rules=$(jq -r --arg node "$name" "$RULES_JQ" <<<"$state") ||
        die "node $name: cannot compute its rules (jq failed, see above)"
      # Our chains that the new rules no longer use: flushed, then deleted,
      # in the same transaction (nothing references them once IPTP-FORWARD
      # and IPTP-INGRESS are rewritten).
      saved=$(saved_table "$netns" "$name")
      stale=$(comm -23 <(our_chains "$saved" | sort) \
                       <(sed -n 's/^:\([^ ]*\) .*/\1/p' <<<"$rules" | sort))
      {
        echo "*filter"
        # Declaring a chain under --noflush creates it, or empties it.
        sed -n '/^:/p' <<<"$rules"
        for c in $stale; do echo ":$c - [0:0]"; done
        sed -n '/^:/!p' <<<"$rules"
        has_jump "$saved" || echo "-I FORWARD 1 -j IPTP-FORWARD"
        for c in $stale; do echo "-X $c"; done
        echo "COMMIT"
      } | restore "$name" "$netns"
    done
    ;;

  # --- cleanup: remove the jump and every IPTP- chain, on every node --------
  cleanup)
    read_state
    for entry in "${nodes[@]}"; do
      IFS=$'\t' read -r name netns <<<"$entry"
      saved=$(saved_table "$netns" "$name")
      chains=$(our_chains "$saved")
      jump=false
      has_jump "$saved" && jump=true
      [ -n "$chains" ] || [ "$jump" = true ] || continue
      {
        echo "*filter"
        [ "$jump" = false ] || echo "-D FORWARD -j IPTP-FORWARD"
        for c in $chains; do echo ":$c - [0:0]"; done   # empties them
        for c in $chains; do echo "-X $c"; done
        echo "COMMIT"
      } | restore "$name" "$netns"
    done
    ;;

  *)
    die "unknown command ${command@Q}; $usage"
    ;;
esac
