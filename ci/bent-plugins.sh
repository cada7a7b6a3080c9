#!/usr/bin/env bash
# Realistic plugin bugs, and whether the scenario matrix catches each:
#   ci/bent-plugins.sh [NETPOL]
# Each bug is the reference enforcer behind a jq filter that bends the state
# it is given (as a plugin that misreads the API would): ipBlock excepts
# ignored, rule ports ignored, a peer's podSelector AND namespaceSelector
# read as OR, SCTP enforced as TCP, policyTypes ignored, endPort ignored,
# labels read once and never again, deleted policies still enforced,
# ClusterNetworkPolicy Pass read as Accept, Baseline read as Admin,
# priorities reversed; and, in the rules rather than the state, replies not
# let through (the stateful rule deleted after each sync).
# For each, `netpol run scenarios/` must fail (exit 1) with at least one
# failed scenario (a wrong verdict, not only errors). Exit status: 0 every bug caught, 1 some bug passed the
# matrix, 2 usage. Needs root (or a user namespace) and jq.
set -euo pipefail
cd "$(dirname "$0")/.."
netpol=${1:-./target/debug/netpol}
[ -x "$netpol" ] || { echo "bent-plugins: $netpol is not built" >&2; exit 2; }
command -v jq >/dev/null || { echo "bent-plugins: jq is not installed" >&2; exit 2; }
netpol=$(realpath "$netpol")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

peers='.networkPolicies[].spec | (.ingress[]?.from, .egress[]?.to)'
declare -A bugs=(
  [except-ignored]="del($peers | .[]?.ipBlock.except)"
  [ports-ignored]='del(.networkPolicies[].spec | (.ingress[]?, .egress[]?) | .ports)'
  [and-read-as-or]="($peers) |= (if . then [.[] | if .podSelector and .namespaceSelector then {podSelector}, {namespaceSelector} else . end] else . end)"
  [sctp-as-tcp]='(.networkPolicies[].spec | (.ingress[]?, .egress[]?) | .ports[]? | .protocol) |= (if . == "SCTP" then "TCP" else . end)'
  [policy-types-ignored]='del(.networkPolicies[].spec.policyTypes)'
  [end-port-ignored]='del(.networkPolicies[].spec | (.ingress[]?, .egress[]?) | .ports[]? | .endPort)'
  [cnp-pass-as-accept]='(.clusterNetworkPolicies[]?.spec | (.ingress[]?, .egress[]?) | .action) |= (if . == "Pass" then "Accept" else . end)'
  [cnp-baseline-as-admin]='(.clusterNetworkPolicies[]?.spec.tier) |= "Admin"'
  [cnp-priority-reversed]='(.clusterNetworkPolicies[]?.spec.priority) |= (1000 - .)'
)
# Bugs that need memory across a lab's calls: the first state's labels,
# or every policy ever seen.
stateful_labels='if $saved == null then . else (.pods |= map(. as $p | .labels = (($saved.pods[] | select(.namespace == $p.namespace and .name == $p.name) | .labels) // $p.labels))) | (.namespaces |= map(. as $n | .labels = (($saved.namespaces[] | select(.name == $n.name) | .labels) // $n.labels))) end'
stale_policies='if $saved == null then . else .networkPolicies += [$saved.networkPolicies[] | . as $old | select(all($cur[]; .metadata.namespace != $old.metadata.namespace or .metadata.name != $old.metadata.name))] end'

plugin() { # NAME FILTER [memory: labels|policies]
  local name=$1 filter=$2 memory=${3:-}
  local f="$work/$name.sh"
  cat > "$f" <<EOF
#!/bin/sh
case "\$1" in
  version) "$netpol" reference-enforcer version | jq -c '.name = "$name"' ;;
  *)
    state=\$(cat)
    lab=\$(printf '%s' "\$state" | jq -r .lab)
    saved="$work/$name-\$lab.json"
EOF
  case $memory in
    labels)
      cat >> "$f" <<EOF
    [ -f "\$saved" ] || printf '%s' "\$state" > "\$saved"
    printf '%s' "\$state" | jq -c --slurpfile s "\$saved" '\$s[0] as \$saved | $stateful_labels' | "$netpol" reference-enforcer "\$1" ;;
EOF
      ;;
    policies)
      cat >> "$f" <<EOF
    [ -f "\$saved" ] || printf '{"networkPolicies": []}' > "\$saved"
    merged=\$(printf '%s' "\$state" | jq -c --slurpfile s "\$saved" '\$s[0] as \$saved | .networkPolicies as \$cur | $stale_policies')
    printf '%s' "\$merged" | jq -c '{networkPolicies}' > "\$saved"
    printf '%s' "\$merged" | "$netpol" reference-enforcer "\$1" ;;
EOF
      ;;
    stateless)
      # After the reference's sync, the rule that lets replies through is
      # gone: a bug of the rules, not of how the state is read.
      cat >> "$f" <<EOF
    printf '%s' "\$state" | "$netpol" reference-enforcer "\$1" || exit \$?
    if [ "\$1" = sync ]; then
      for ns in \$(printf '%s' "\$state" | jq -r '.nodes[].netns'); do
        for t in iptables ip6tables; do
          nsenter --net="\$ns" \$t -D NETPOL-FORWARD -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT 2>/dev/null
        done
      done
    fi ;;
EOF
      ;;
    *)
      cat >> "$f" <<EOF
    printf '%s' "\$state" | jq -c '$filter' | "$netpol" reference-enforcer "\$1" ;;
EOF
      ;;
  esac
  echo "esac" >> "$f"
  chmod +x "$f"
  echo "$f"
}

missed=0
check() { # NAME PLUGIN
  local name=$1 p=$2 status=0 out
  out=$("$netpol" run -q scenarios/ --enforcer /bin/sh --enforcer-arg="$p" 2>&1) || status=$?
  local failed errors
  failed=$(printf '%s\n' "$out" | grep -cE '^FAIL ' || true)
  errors=$(printf '%s\n' "$out" | grep -cE '^ERROR' || true)
  # Caught: some scenario's verdicts differ (errors alone may be the
  # filter's own failure, not the bug's).
  if [ "$status" -eq 1 ] && [ "$failed" -gt 0 ]; then
    echo "caught  $name: $failed scenarios failed, $errors errored"
  else
    echo "MISSED  $name: exit $status, $failed scenarios failed"
    printf '%s\n' "$out" | tail -3
    missed=$((missed + 1))
  fi
}

for name in "${!bugs[@]}"; do
  check "$name" "$(plugin "$name" "${bugs[$name]}")"
done
check labels-read-once "$(plugin labels-read-once '' labels)"
check deleted-policies-kept "$(plugin deleted-policies-kept '' policies)"
check stateless-replies "$(plugin stateless-replies '' stateless)"

if [ "$missed" -gt 0 ]; then
  echo "bent-plugins: $missed bug(s) passed the matrix" >&2
  exit 1
fi
echo "bent-plugins: the matrix caught every bug"
