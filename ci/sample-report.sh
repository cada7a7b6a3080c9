#!/usr/bin/env bash
# Regenerates reports/sample/: the scenario matrix run against the reference
# enforcer, plus one deliberately failing scenario (examples/failing/) so
# that the sample shows what a failure looks like. Needs root.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q -p netpol
rm -rf reports/sample
status=0
./target/release/netpol run scenarios/ examples/failing/ --enforcer reference --report reports/sample -q || status=$?
# 1 is expected: the example fails on purpose. Anything else is a real problem.
if [ "$status" -ne 1 ]; then
  echo "sample run exited $status; expected 1 (the deliberately failing example)" >&2
  exit 1
fi
echo "reports/sample/ regenerated"
