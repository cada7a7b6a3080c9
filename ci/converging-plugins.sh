#!/usr/bin/env bash
# Enforcers that converge late, leak or drop while they change, and whether
# netpol sees each (the test plugins of examples/converging/plugin.sh):
#   ci/converging-plugins.sh [NETPOL]
# - async (each change applied 0 to 2 s after `sync` returned): the whole
#   matrix must pass, polled until each round converges; prints the run's
#   convergence figures and polls;
# - leaky (rules flushed, then rewritten): the steps scenarios must fail,
#   with leaks;
# - outage (everything dropped while rewriting): outages reported; with
#   --strict-transitions the steps scenarios must fail;
# - late-pods (a new pod reachable before its policies apply): must fail
#   with leaks.
# Exit status: 0 all as expected, 1 not, 2 usage. Needs root (or a user
# namespace), jq, flock and setsid.
set -euo pipefail
cd "$(dirname "$0")/.."
netpol=${1:-./target/debug/netpol}
[ -x "$netpol" ] || { echo "converging-plugins: $netpol is not built" >&2; exit 2; }
command -v jq >/dev/null || { echo "converging-plugins: jq is not installed" >&2; exit 2; }
netpol=$(realpath "$netpol")
plugin=examples/converging/plugin.sh
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
bad=0

run() { # MODE REPORT-DIR ARGS... ; prints the exit status
  local mode=$1 dir=$2
  shift 2
  local status=0
  "$netpol" run -q --enforcer "$plugin" --enforcer-arg "$mode" --enforcer-arg "$netpol" \
    --report "$out/$dir" "$@" > "$out/$dir.log" 2>&1 || status=$?
  echo "$status"
}
changes() { jq -c '.changes | {rounds, p50_ms, p95_ms, max_ms, polls, unconverged, leaks, outages}' "$out/$1/report.json"; }
expect() { # WHAT CONDITION-OK
  if [ "$2" = ok ]; then echo "ok      $1"; else echo "MISSED  $1" >&2; bad=1; fi
}

status=$(run async:2000 async scenarios/ --jobs 8)
echo "async:    $(changes async)"
[ "$status" = 0 ] && [ "$(jq '.changes.unconverged' "$out/async/report.json")" = 0 ] \
  && r=ok || { r=no; tail -20 "$out/async.log" >&2; }
expect "an asynchronous plugin passes the matrix, every round converged" "$r"

status=$(run leaky leaky scenarios/steps)
echo "leaky:    $(changes leaky)"
[ "$status" = 1 ] && [ "$(jq '.changes.leaks' "$out/leaky/report.json")" -gt 0 ] && r=ok || r=no
expect "a non-atomic rewrite is caught leaking" "$r"

status=$(run outage outage scenarios/steps)
echo "outage:   $(changes outage)"
[ "$status" = 0 ] && [ "$(jq '.changes.outages' "$out/outage/report.json")" -gt 0 ] && r=ok || r=no
expect "outages are reported, not failed" "$r"
status=$(run outage outage-strict scenarios/steps --strict-transitions)
[ "$status" = 1 ] && r=ok || r=no
expect "outages fail with --strict-transitions" "$r"

status=$(run late-pods late-pods scenarios/steps/pods-come-and-go.yaml)
echo "late-pods: $(changes late-pods)"
[ "$status" = 1 ] && [ "$(jq '.changes.leaks' "$out/late-pods/report.json")" -gt 0 ] && r=ok || r=no
expect "a new pod reachable before its policies apply is caught" "$r"
exit "$bad"
