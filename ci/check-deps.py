#!/usr/bin/env python3
"""Checks the resolved dependencies (cargo metadata) against the project's
rules, without network access (cargo-deny's advisory database is not
reachable from CI):

- licenses: every crate's SPDX expression must be satisfiable with the
  permissive licenses below (an OR needs one of them, an AND all);
- MSRV: no crate may declare a `rust-version` above the workspace's, the
  one the README promises (clippy's `incompatible_msrv` covers our own use
  of the standard library).
"""
import json
import re
import subprocess
import sys

ALLOWED = {
    "MIT", "Apache-2.0", "BSD-2-Clause", "BSD-3-Clause", "ISC", "Zlib",
    "Unicode-3.0", "Unicode-DFS-2016", "Unlicense", "CC0-1.0",
    "Apache-2.0 WITH LLVM-exception",
}


def satisfiable(expr: str) -> bool:
    """Evaluates an SPDX expression: a leaf is true when allowed."""
    tokens = re.findall(r"\(|\)|[^\s()]+", expr.replace("/", " OR "))
    pos = 0

    def leaf():
        nonlocal pos
        if tokens[pos] == "(":
            pos += 1
            value = disjunction()
            pos += 1  # ")"
            return value
        name = tokens[pos]
        pos += 1
        if pos < len(tokens) and tokens[pos] == "WITH":
            name = f"{name} WITH {tokens[pos + 1]}"
            pos += 2
        return name in ALLOWED

    def conjunction():
        nonlocal pos
        value = leaf()
        while pos < len(tokens) and tokens[pos] == "AND":
            pos += 1
            value = leaf() and value
        return value

    def disjunction():
        nonlocal pos
        value = conjunction()
        while pos < len(tokens) and tokens[pos] == "OR":
            pos += 1
            value = conjunction() or value
        return value

    return disjunction()


def version(v: str):
    parts = [int(x) for x in v.split(".")]
    return tuple(parts + [0] * (3 - len(parts)))


def main() -> int:
    meta = json.loads(subprocess.run(
        ["cargo", "metadata", "--format-version", "1", "--locked"],
        check=True, capture_output=True, text=True).stdout)
    members = set(meta["workspace_members"])
    ours = [p for p in meta["packages"] if p["id"] in members]
    msrv = max(version(p["rust_version"]) for p in ours if p.get("rust_version"))
    problems = []
    for p in meta["packages"]:
        if p["id"] in members:
            continue
        name = f'{p["name"]} {p["version"]}'
        lic = p.get("license")
        if not lic:
            problems.append(f"{name}: no SPDX license expression")
        elif not satisfiable(lic):
            problems.append(f"{name}: license {lic!r} is not among the allowed ({', '.join(sorted(ALLOWED))})")
        rv = p.get("rust_version")
        if rv and version(rv) > msrv:
            problems.append(f"{name}: needs Rust {rv}, above the workspace's rust-version {'.'.join(map(str, msrv))}")
    for line in problems:
        print(line, file=sys.stderr)
    count = len(meta["packages"]) - len(ours)
    print(f"dependencies: {count} crates checked, {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
