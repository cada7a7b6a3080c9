#!/usr/bin/env bash
# Runs the workspace's test binaries, as `cargo test --workspace` built
# them (no rebuild), as an ordinary user: the lab tests run in the user
# namespace ci/test-runner.sh makes, as `cargo test` does for that user.
# Run it as root: it creates the user when missing (default netpol-ci), and
# lets it traverse the directories above the checkout (o+x) if it cannot.
# Usage: bash ci/rootless-tests.sh [USER]
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
user=${1:-netpol-ci}
if [ "$(id -u)" != 0 ]; then
  echo "ci/rootless-tests.sh: run it as root; it runs the tests as $user" >&2
  exit 2
fi
id -u "$user" >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin "$user"
# An ordinary user's environment, not root's (whose PATH may hold
# directories this user cannot search).
as_user=(setpriv --reuid="$(id -u "$user")" --regid="$(id -g "$user")" --clear-groups --
  env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/nonexistent
  LANG=C.UTF-8 RUST_BACKTRACE="${RUST_BACKTRACE:-0}" INSTA_WORKSPACE_ROOT="$root")
dir=$root
while [ "$dir" != / ]; do
  if ! "${as_user[@]}" test -x "$dir"; then
    echo "ci/rootless-tests.sh: $user cannot reach $dir: chmod o+x $dir"
    chmod o+x "$dir"
  fi
  dir=$(dirname "$dir")
done

tests=$(cargo test --workspace --no-run --message-format=json 2>/dev/null |
  jq -r 'select(.reason == "compiler-artifact" and .profile.test and .executable != null)
         | [(.manifest_path | sub("/Cargo.toml$"; "")), .executable] | @tsv')
failed=()
start=$SECONDS
while IFS=$'\t' read -r package exe; do
  echo "rootless ($user): $(basename "$exe") in ${package#"$root"/}"
  # As cargo runs a test binary: from its package's directory.
  if ! (cd "$package" && "${as_user[@]}" CARGO_MANIFEST_DIR="$package" "$root/ci/test-runner.sh" "$exe" -q); then
    failed+=("$(basename "$exe")")
  fi
done <<< "$tests"
echo "rootless tests: $(wc -l <<< "$tests") binaries in $((SECONDS - start)) s"
if [ "${#failed[@]}" -gt 0 ]; then
  echo "rootless tests failed: ${failed[*]}" >&2
  exit 1
fi
