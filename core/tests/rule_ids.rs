//! The rules of `docs/spec-notes.md` are named once (`netpol_core::rules`)
//! and those names hold everywhere: the notes define each id, the model and
//! the reference enforcer cite each next to their code (`// rule: ID`), and
//! the repository's scenarios check each (`rules: [ID]`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use netpol_core::rules::{RULES, summary};
use netpol_core::scenario;
use netpol_core::suite::{self, Entry};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn ids() -> BTreeSet<&'static str> {
    RULES.iter().map(|(id, _)| *id).collect()
}

/// The ids the notes define, `**[id]**`, each with how often.
fn notes_ids() -> BTreeMap<String, usize> {
    let text = std::fs::read_to_string(repo().join("docs/spec-notes.md")).unwrap();
    let mut found = BTreeMap::new();
    for part in text.split("**[").skip(1) {
        let id = part.split_once("]**").map_or(part, |(id, _)| id);
        *found.entry(id.to_string()).or_insert(0) += 1;
    }
    found
}

#[test]
fn the_notes_define_every_rule_once() {
    let notes = notes_ids();
    let listed: BTreeSet<String> = ids().into_iter().map(String::from).collect();
    let defined: BTreeSet<String> = notes.keys().cloned().collect();
    let mut problems = Vec::new();
    for id in listed.difference(&defined) {
        problems.push(format!(
            "{id}: in core/src/rules.rs, not in docs/spec-notes.md"
        ));
    }
    for id in defined.difference(&listed) {
        problems.push(format!(
            "{id}: in docs/spec-notes.md, not in core/src/rules.rs"
        ));
    }
    for (id, n) in notes.iter().filter(|(_, n)| **n > 1) {
        problems.push(format!("{id}: defined {n} times in docs/spec-notes.md"));
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// A citation: a comment `// rule: id` or `// rule: id, id`, anything after
/// the list (`.`, `(`, `:`) being a comment on it. Quoted in a doc comment
/// (`` `// rule: id` ``), it is not one.
fn citations(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = line;
    while let Some(i) = rest.find("// rule: ") {
        let quoted = !(i == 0 || rest[..i].ends_with(char::is_whitespace));
        rest = &rest[i + "// rule: ".len()..];
        if quoted {
            continue;
        }
        loop {
            let end = rest
                .find(|c: char| !(c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'))
                .unwrap_or(rest.len());
            if end == 0 {
                break;
            }
            out.push(rest[..end].to_string());
            rest = &rest[end..];
            match rest.strip_prefix(", ") {
                Some(next) => rest = next,
                None => break,
            }
        }
    }
    out
}

/// The citations in the Rust sources under `dir` (test modules excluded: a
/// rule is implemented, not tested, where it is cited), by id, with where.
fn cited_in(dir: &Path, found: &mut BTreeMap<String, Vec<String>>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            cited_in(&path, found);
        } else if path.extension().is_some_and(|e| e == "rs")
            && path.file_name().is_some_and(|n| n != "tests.rs")
        {
            let text = std::fs::read_to_string(&path).unwrap();
            for (n, line) in text.lines().enumerate() {
                for id in citations(line) {
                    found
                        .entry(id)
                        .or_default()
                        .push(format!("{}:{}", path.display(), n + 1));
                }
            }
        }
    }
}

#[test]
fn the_model_and_the_reference_cite_every_rule() {
    let mut problems = Vec::new();
    for (what, dir, checked_for_all) in [
        ("the model", "core/src/model", true),
        ("the reference enforcer", "reference/src", true),
        ("netpol-core", "core/src", false),
    ] {
        let mut found = BTreeMap::new();
        cited_in(&repo().join(dir), &mut found);
        for (id, places) in &found {
            if summary(id).is_none() {
                problems.push(format!(
                    "unknown rule id {id:?} cited at {}",
                    places.join(", ")
                ));
            }
        }
        if checked_for_all {
            for id in ids() {
                if !found.contains_key(id) {
                    problems.push(format!(
                        "{id}: {what} ({dir}) has no `// rule: {id}` next to its code"
                    ));
                }
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn every_rule_is_checked_by_a_scenario() {
    let files = suite::discover(&[repo().join("scenarios")]).unwrap();
    let mut checked: BTreeMap<&str, usize> = ids().into_iter().map(|id| (id, 0)).collect();
    let mut problems = Vec::new();
    for loaded in suite::load(&files) {
        let in_invalid = loaded.file.parent().is_some_and(|d| d.ends_with("invalid"));
        match &loaded.entry {
            Entry::Ready(s) => {
                if s.rules.is_empty() {
                    problems.push(format!(
                        "{}: no `rules:`; name the rules its expectations check",
                        loaded.file.display()
                    ));
                }
                for id in &s.rules {
                    // The loader accepts known ids only.
                    *checked.get_mut(id.as_str()).expect("a known id") += 1;
                }
            }
            Entry::Invalid(e) => problems.push(e.to_string()),
            Entry::NotApplicable(_) => unreachable!("suite::load takes no IP families"),
            Entry::ExpectInvalid { .. } if in_invalid => {}
            Entry::ExpectInvalid { .. } => problems.push(format!(
                "{}: expectInvalid outside scenarios/invalid/",
                loaded.file.display()
            )),
        }
    }
    for (id, n) in checked {
        if n == 0 {
            problems.push(format!("{id}: no scenario lists it in `rules:`"));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn an_unknown_or_repeated_rule_id_is_an_error_at_its_index() {
    let text = "name: s\nrules: [own-node, own-nodes, self-traffic, own-node]\n";
    let loaded = scenario::load_str(Path::new("s.yaml"), text).loaded;
    let e = loaded.expect_err("unknown ids are errors");
    let problems: Vec<(String, String)> = e
        .problems
        .iter()
        .map(|p| (p.path.to_string(), p.message.clone()))
        .collect();
    assert_eq!(problems.len(), 2, "{e}");
    assert_eq!(problems[0].0, "rules[1]", "{e}");
    assert!(
        problems[0].1.contains("unknown rule id \"own-nodes\""),
        "{e}"
    );
    assert_eq!(problems[1].0, "rules[3]", "{e}");
    assert!(problems[1].1.contains("listed twice"), "{e}");
    // With a line and column, like every problem of the loader.
    assert!(e.to_string().starts_with("s.yaml:2:"), "{e}");

    let ok = scenario::load_str(Path::new("s.yaml"), "name: s\nrules: [own-node]\n")
        .loaded
        .expect("a known id loads");
    assert_eq!(ok.rules, ["own-node"]);
    let none = scenario::load_str(Path::new("s.yaml"), "name: s\n")
        .loaded
        .expect("rules is optional");
    assert!(none.rules.is_empty());
}

#[test]
fn citations_are_read_as_lists() {
    assert_eq!(citations("x // rule: own-node"), ["own-node"]);
    assert_eq!(
        citations("    // rule: own-node, self-traffic (only FORWARD)."),
        ["own-node", "self-traffic"]
    );
    assert_eq!(citations("// rule: isolation: not isolated"), ["isolation"]);
    assert!(citations("//! a rule: peers -> ports").is_empty());
    assert!(citations("//! cited (`// rule: own-node`)").is_empty());
}
