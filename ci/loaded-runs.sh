#!/usr/bin/env bash
# Runs the scenario matrix N times against the reference enforcer beside a
# CPU hog, to catch errors and verdicts that only a loaded machine produces:
#   ci/loaded-runs.sh N [EXTRA NETPOL RUN ARGS...]
# e.g. ci/loaded-runs.sh 100, or ci/loaded-runs.sh 20 --jobs 8.
# - builds the release binary (cargo build --release -p netpol) unless
#   NETPOL names one;
# - starts HOGS busy loops (default: one per core) and always stops them;
# - runs `netpol run -q scenarios/ --report DIR` N times, and reads each
#   run's report.json (docs/report-format.md);
# - prints a summary: runs, scenario errors (lab, enforcer, probes that could
#   not be carried out), failed scenarios, and flipped verdicts (probes whose
#   observed verdict differs from the expected one), each listed with its run.
# The reports and output of runs with a problem are kept in OUT (default: a
# new directory under /tmp, printed at the end).
# Exit status: 0 no error and no flip in any run, 1 some, 2 usage error.
# Needs root (netpol run builds network namespaces).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ $# -lt 1 ] || ! [[ $1 =~ ^[1-9][0-9]*$ ]]; then
  echo "usage: $0 N [EXTRA NETPOL RUN ARGS...]   (N runs of the matrix beside a CPU hog)" >&2
  exit 2
fi
runs=$1
shift
command -v jq >/dev/null || { echo "loaded-runs: jq is not installed" >&2; exit 2; }

if [ -z "${NETPOL:-}" ]; then
  cargo build --release -q -p netpol
  NETPOL=./target/release/netpol
fi
hogs=${HOGS:-$(nproc)}
out=${OUT:-$(mktemp -d /tmp/loaded-runs.XXXXXX)}
mkdir -p "$out"
work=$(mktemp -d)

hog_pids=()
run_pid=
stop() {
  # An interrupted run first: netpol tears its labs down on SIGINT.
  if [ -n "$run_pid" ]; then
    kill -INT "$run_pid" 2>/dev/null || true
    wait "$run_pid" 2>/dev/null || true
    run_pid=
  fi
  # Only the loops this script started, by their process ids.
  for pid in "${hog_pids[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  for pid in "${hog_pids[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
  hog_pids=()
  rm -rf "$work"
  rmdir "$out" 2>/dev/null || true # kept only with reports in it
}
trap stop EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

for _ in $(seq "$hogs"); do
  # A busy loop of its own: $! is the process that spins.
  bash -c 'while :; do :; done' &
  hog_pids+=($!)
done
echo "loaded-runs: $runs runs of the matrix beside $hogs busy loops ($NETPOL run -q scenarios/ $*)"

problems=0
errors=0
lab_errors=0
failed=0
flips=0
probe_errors=0
crashed=0
listing="$work/listing"
: >"$listing"
started=$(date +%s)
for i in $(seq "$runs"); do
  dir="$work/run-$i"
  status=0
  # In the background, so that a signal reaches the traps at once.
  "$NETPOL" run -q scenarios/ --enforcer reference --report "$dir" "$@" \
    >"$work/stdout" 2>"$work/stderr" &
  run_pid=$!
  wait "$run_pid" || status=$?
  run_pid=
  if [ ! -s "$dir/report.json" ]; then
    crashed=$((crashed + 1))
    problems=$((problems + 1))
    mkdir -p "$out/run-$i" && cp "$work/stdout" "$work/stderr" "$out/run-$i/"
    {
      echo "run $i: exited $status without a report"
      tail -n 5 "$work/stderr" | sed 's/^/    /'
    } >>"$listing"
    echo "run $i/$runs: exited $status without a report"
    continue
  fi
  # Per run: scenario errors, failed scenarios, flipped probes, probes in error.
  read -r e le f x pe < <(jq -r '[
      ([.scenarios[] | select(.status == "error")] | length),
      ([.scenarios[] | select(.status == "error" and ((.message // "") | test("^(cannot build the lab|lab preflight)")))] | length),
      ([.scenarios[] | select(.status == "fail")] | length),
      ([.scenarios[].rounds[]?.probes[] | select(.result == "fail")] | length),
      ([.scenarios[].rounds[]?.probes[] | select(.result == "error")] | length)
    ] | @tsv' "$dir/report.json")
  errors=$((errors + e)); lab_errors=$((lab_errors + le)); failed=$((failed + f)); flips=$((flips + x)); probe_errors=$((probe_errors + pe))
  setup=$(jq -r '[.scenarios[].lab.setup_ms // empty] | if length > 0 then "lab setup max \(max | floor) ms" else "" end' "$dir/report.json")
  echo "run $i/$runs: exit $status, $e errors, $f failed, $x flipped probes; $setup"
  if [ "$e" -gt 0 ] || [ "$f" -gt 0 ] || [ "$x" -gt 0 ] || [ "$status" -ne 0 ]; then
    problems=$((problems + 1))
    cp -r "$dir" "$out/run-$i"
    cp "$work/stdout" "$work/stderr" "$out/run-$i/"
    jq -r --arg run "$i" '
      .scenarios[] | select(.status == "error" or .status == "fail") as $s
      | "run \($run): \($s.status) \($s.name) (lab setup \($s.lab.setup_ms // 0 | floor) ms)"
        + (if $s.message then ": \($s.message)" else "" end),
        ($s.rounds[]? as $r | $r.probes[] | select(.result != "pass")
          | "    round \($r.name): \(.from) -> \(.to) \(.port)/\(.protocol): expected \(.expected), observed \(.observed)"
            + (if .error then " (\(.error))" else "" end))
    ' "$dir/report.json" >>"$listing"
  fi
  rm -rf "$dir"
done
elapsed=$(($(date +%s) - started))

echo
echo "loaded-runs summary ($hogs busy loops, ${elapsed} s):"
echo "  runs:              $runs ($crashed without a report)"
echo "  scenario errors:   $errors ($lab_errors of the lab itself: build or preflight)"
echo "  failed scenarios:  $failed"
echo "  flipped verdicts:  $flips"
echo "  probes in error:   $probe_errors"
if [ -s "$listing" ]; then
  echo
  cat "$listing"
  echo
  echo "reports of the runs with a problem: $out"
fi
[ "$problems" -eq 0 ]
