#!/usr/bin/env python3
"""Writes the malformed-input corpus (harness/tests/corpus/malformed/): each
file a deliberate mistake in a scenario, kept only when `netpol check`
rejects it. Run from the repository root: python3 harness/tests/corpus/make-malformed.py target/debug/netpol
Deterministic: the same base scenarios give the same files."""
import os, subprocess, sys

NETPOL = sys.argv[1]
OUT = "harness/tests/corpus/malformed"
BASES = [
    "scenarios/default-policies/default-deny-all.yaml",
    "scenarios/ports/named-port-ingress.yaml",
    "scenarios/steps/delete-policy.yaml",
]
files = {}

def add(name, data):
    files[name] = data if isinstance(data, bytes) else data.encode()

# Whole-file mistakes.
add("empty", "")
add("whitespace-only", "\n   \n\t\n")
add("comment-only", "# nothing\n")
add("scalar-document", "just a string\n")
add("list-document", "- a\n- b\n")
add("two-documents", "name: a\n---\nname: b\n")
add("duplicate-top-key", "name: a\nname: b\n")
add("recursive-alias", "name: a\ntags: &t [*t]\n")
add("undefined-alias", "name: a\ntags: *nowhere\n")
add("unclosed-flow-seq", "name: a\ntags: [a, b\n")
add("unclosed-flow-map", "name: a\ncluster: {nodes: [\n")
add("unclosed-quote", "name: \"a\n")
add("tab-indent", "name: a\npolicies:\n\t- x\n")
add("latin1", b"name: caf\xe9\n")
add("utf16-bom", "name: a\n".encode("utf-16"))
add("nul-bytes", b"name: a\x00\x00\n")
add("binary", bytes(range(256)))
add("billion-laughs", "a: &a [x,x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d,*d]\nf: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e,*e]\n")
add("deep-nesting", "name: a\ntags: " + "[" * 5000 + "]" * 5000 + "\n")
add("name-null", "name: ~\n")
add("name-list", "name: [a]\n")
add("name-number", "name: 12\n")
add("near-miss-policy", "name: a\npolicy: []\n")
add("unknown-format-version", "formatVersion: '9'\nname: a\n")

REPLACEMENTS = ["[]", "{}", "~", "'x'", "-1", "0120", "99999999999999999999", "true", "\"abc\"", "[[[]]]"]

for base in BASES:
    text = open(base).read()
    stem = os.path.splitext(os.path.basename(base))[0]
    lines = text.split("\n")
    # Truncated mid-way: every fifth line.
    for i in range(3, len(lines), 5):
        add(f"{stem}-cut-{i}", "\n".join(lines[:i]) + "\n  - {x: [")
    # A value replaced by a value of another kind.
    for i, line in enumerate(lines):
        if ": " in line and not line.strip().startswith("#"):
            key, _, _ = line.partition(": ")
            repl = REPLACEMENTS[i % len(REPLACEMENTS)]
            add(f"{stem}-value-{i}", "\n".join(lines[:i] + [f"{key}: {repl}"] + lines[i + 1:]))
    # A key misspelt (its last letter doubled, its first dropped).
    for i, line in enumerate(lines):
        s = line.lstrip(" -")
        if ":" in s and s[0].isalpha():
            key = s.split(":")[0]
            if len(key) > 3:
                add(f"{stem}-key-{i}", "\n".join(lines[:i] + [line.replace(key + ":", key[1:] + ":", 1)] + lines[i + 1:]))
    # A line indented one space further or dedented.
    for i in range(1, len(lines), 3):
        add(f"{stem}-indent-{i}", "\n".join(lines[:i] + [" " + lines[i]] + lines[i + 1:]))

os.makedirs(OUT, exist_ok=True)
kept = 0
for name, data in sorted(files.items()):
    path = os.path.join(OUT, name + ".yaml")
    with open(path, "wb") as f:
        f.write(data)
    r = subprocess.run([NETPOL, "check", path], capture_output=True, timeout=30)
    if r.returncode == 1 and b"panicked" not in r.stderr:
        kept += 1
    else:
        os.remove(path)
        print("dropped", name, r.returncode, r.stderr[:200])
print(f"{kept} files kept of {len(files)}")
