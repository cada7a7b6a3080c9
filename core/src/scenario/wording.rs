//! serde-saphyr's messages in the scenario's words: what a person wrote
//! wrong, not which library option or Rust type would have taken it.

use super::source::{Node, NodeValue, Position};
use crate::field_path::FieldPath;

/// The field path of the node written at `at` (a key or a value), when the
/// document parsed: library errors give a position, people read a path.
pub fn path_at(root: &Node, at: Position) -> Option<FieldPath> {
    fn walk(node: &Node, path: &FieldPath, at: Position) -> Option<FieldPath> {
        match &node.value {
            NodeValue::Map(entries) => entries.iter().find_map(|e| {
                let child = path.child(&e.key);
                if e.key_position == at || e.value.position == at {
                    Some(child)
                } else {
                    walk(&e.value, &child, at)
                }
            }),
            NodeValue::Seq(items) => items.iter().enumerate().find_map(|(i, item)| {
                let child = path.index(i);
                if item.position == at && !matches!(item.value, NodeValue::Map(_)) {
                    Some(child)
                } else {
                    walk(item, &child, at)
                }
            }),
            NodeValue::Scalar(_) => None,
        }
    }
    walk(root, &FieldPath::root(), at)
}

/// `path` without its last segment.
pub fn parent(path: &FieldPath) -> FieldPath {
    use crate::field_path::Segment;
    let segments = path.segments();
    let mut parent = FieldPath::root();
    for s in &segments[..segments.len().saturating_sub(1)] {
        parent = match s {
            Segment::Child(name) => parent.child(name),
            Segment::Index(i) => parent.index(*i),
            Segment::Key(key) => parent.key(key),
        };
    }
    parent
}

/// `message` (serde-saphyr's, first line) said in the scenario's words.
pub fn plain(message: &str) -> String {
    if let Some(rest) = message.strip_prefix("duplicate mapping key: ") {
        let key = rest
            .split(", set DuplicateKeyPolicy")
            .next()
            .unwrap_or(rest);
        return format!("the key `{key}` is written twice in this mapping; keep one");
    }
    if message.starts_with("multiple YAML documents detected") {
        return "a second YAML document (after `---`): a scenario file holds one document".into();
    }
    if message.starts_with("recursion limit exceeded") {
        return "nested deeper than a scenario file may be".into();
    }
    if message.starts_with("recursive references require") {
        return "an alias refers back to its own anchor (`&a [*a]`): a scenario cannot be recursive"
            .into();
    }
    if let Some(rest) = message.strip_prefix("budget breached: ") {
        return format!(
            "the YAML is larger or deeper than a scenario file may be ({})",
            budget_words(rest)
        );
    }
    if let Some((_, rest)) = message.split_once("cannot deserialize null into ") {
        let ty = rest.split(';').next().unwrap_or(rest);
        return format!("must be {}, not empty (null)", type_words(ty));
    }
    if message == "invalid i64" || message == "invalid u64" || message.starts_with("invalid digit")
    {
        return "must be a whole number (digits only, no quotes)".into();
    }
    if let Some(rest) = message.strip_prefix("unknown variant `") {
        if let Some((value, expected)) = rest.split_once("`, expected one of ") {
            return format!("unknown value {value:?}, expected {}", or_list(expected));
        }
        if let Some((value, expected)) = rest.split_once("`, expected ") {
            return format!("unknown value {value:?}, expected {expected}");
        }
    }
    if let Some((key, expected)) = message
        .strip_prefix("unknown field `")
        .and_then(|rest| rest.split_once("`, expected one of "))
    {
        let known: Vec<&str> = expected.split(", ").map(|k| k.trim_matches('`')).collect();
        if let Some(near) = near_miss(key, &known) {
            return format!(
                "unknown field `{key}`, expected one of {expected}; did you mean `{near}`?"
            );
        }
    }
    message.to_string()
}

/// `Nodes { nodes: 250001 }` as "250001 nodes".
fn budget_words(detail: &str) -> String {
    let numbers: String = detail
        .chars()
        .filter(|c| c.is_ascii_digit() || c.is_whitespace())
        .collect();
    let kind = detail.split([' ', '{']).next().unwrap_or(detail);
    let n = numbers.split_whitespace().next().unwrap_or("too many");
    format!("{n} {}", kind.to_lowercase())
}

fn type_words(ty: &str) -> &'static str {
    match ty.trim() {
        "string" => "a string",
        t if t.starts_with('i') || t.starts_with('u') => "a number",
        "sequence" | "seq" => "a list",
        "map" | "mapping" | "struct" => "a mapping",
        _ => "a value",
    }
}

/// "a, b, c" as "a, b or c".
fn or_list(list: &str) -> String {
    match list.rsplit_once(", ") {
        Some((head, last)) => format!("{head} or {last}"),
        None => list.to_string(),
    }
}

/// The known key `key` is most likely a slip for: at most two edits away, or
/// the one it starts or ends (`policy`, `policies`).
pub fn near_miss<'a>(key: &str, known: &[&'a str]) -> Option<&'a str> {
    known
        .iter()
        .map(|k| (edits(key, k), *k))
        .filter(|(d, k)| *d <= 2 || (key.len() >= 4 && k.starts_with(key.trim_end_matches('y'))))
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

/// Levenshtein distance, by characters.
fn edits(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let here = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb))
                .min(row[j] + 1)
                .min(here + 1);
            prev = here;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn library_wording_is_translated() {
        for (library, plain_words) in [
            (
                "duplicate mapping key: name, set DuplicateKeyPolicy in Options if acceptable",
                "the key `name` is written twice in this mapping; keep one",
            ),
            (
                "multiple YAML documents detected; use from_str_multiple or from_str_multiple_with_options",
                "a second YAML document (after `---`): a scenario file holds one document",
            ),
            (
                "cannot deserialize null into string; use Option<String>",
                "must be a string, not empty (null)",
            ),
            (
                "budget breached: Nodes { nodes: 250001 }",
                "the YAML is larger or deeper than a scenario file may be (250001 nodes)",
            ),
            (
                "invalid i64",
                "must be a whole number (digits only, no quotes)",
            ),
            (
                "unknown variant `deny`, expected one of allowed, denied",
                "unknown value \"deny\", expected allowed or denied",
            ),
            (
                "unknown field `policy`, expected one of name, policies, probes",
                "unknown field `policy`, expected one of name, policies, probes; did you mean `policies`?",
            ),
        ] {
            assert_eq!(plain(library), plain_words);
        }
    }

    #[test]
    fn a_far_key_suggests_nothing() {
        assert_eq!(near_miss("zzz", &["name", "policies"]), None);
        assert_eq!(
            near_miss("polices", &["name", "policies"]),
            Some("policies")
        );
        assert_eq!(near_miss("nmae", &["name", "policies"]), Some("name"));
    }
}
