//! YAML 1.1 surprises. kubectl reads YAML with 1.1 rules, where unquoted
//! `yes`, `off`, `y` are booleans and `1.10` is the number 1.1; a label
//! value written that way is not the string its author meant, and the API
//! server rejects it. The harness flags such values wherever labels are written.

use super::source::{Node, NodeValue, Scalar};
use crate::field_path::FieldPath;

/// What YAML 1.1 (as kubectl's parser resolves it) makes of a plain scalar
/// that is not a string, or `None` if it stays a string.
pub fn yaml11_non_string(plain: &str) -> Option<&'static str> {
    const TRUE: [&str; 11] = [
        "y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON",
    ];
    const FALSE: [&str; 11] = [
        "n", "N", "no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF",
    ];
    if TRUE.contains(&plain) {
        return Some("the boolean true");
    }
    if FALSE.contains(&plain) {
        return Some("the boolean false");
    }
    if ["", "~", "null", "Null", "NULL"].contains(&plain) {
        return Some("null");
    }
    if is_yaml11_number(plain) {
        return Some("a number");
    }
    None
}

fn is_yaml11_number(s: &str) -> bool {
    let unsigned = s.strip_prefix(['-', '+']).unwrap_or(s);
    if unsigned.is_empty() {
        return false;
    }
    let digits =
        |t: &str, radix: u32| !t.is_empty() && t.chars().all(|c| c == '_' || c.is_digit(radix));
    if let Some(b) = unsigned.strip_prefix("0b") {
        return digits(b, 2);
    }
    if let Some(x) = unsigned.strip_prefix("0x") {
        return digits(x, 16);
    }
    if matches!(unsigned, ".inf" | ".Inf" | ".INF") || matches!(s, ".nan" | ".NaN" | ".NAN") {
        return true;
    }
    // Sexagesimal: 190:20:30 and 1:20.5.
    if unsigned.contains(':') {
        let (whole, frac) = unsigned.split_once('.').unwrap_or((unsigned, ""));
        let mut parts = whole.split(':');
        let first = parts.next().unwrap_or("");
        return digits(first, 10)
            && !first.starts_with('0')
            && parts.all(|p| !p.is_empty() && p.len() <= 2 && digits(p, 10))
            && frac.chars().all(|c| c == '_' || c.is_ascii_digit());
    }
    // Integers (decimal or 0-prefixed octal) and floats: digits, at most one
    // '.', and an optional exponent.
    let (mantissa, exponent) = match unsigned.find(['e', 'E']) {
        Some(i) => (&unsigned[..i], Some(&unsigned[i + 1..])),
        None => (unsigned, None),
    };
    let mantissa_ok = {
        let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
        let has_digit = int.chars().chain(frac.chars()).any(|c| c.is_ascii_digit());
        has_digit
            && int.chars().all(|c| c == '_' || c.is_ascii_digit())
            && frac.chars().all(|c| c == '_' || c.is_ascii_digit())
            && mantissa.matches('.').count() <= 1
    };
    let exponent_ok = exponent.is_none_or(|e| {
        let e = e.strip_prefix(['-', '+']).unwrap_or(e);
        !e.is_empty() && e.chars().all(|c| c.is_ascii_digit())
    });
    mantissa_ok && exponent_ok
}

/// A label key or value written unquoted that kubectl would not read as a string.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ambiguity {
    pub path: FieldPath,
    pub text: String,
    pub reads_as: &'static str,
}

impl Ambiguity {
    pub fn message(&self) -> String {
        format!(
            "unquoted value {} is read by kubectl (YAML 1.1) as {}, not a string; quote it: \"{}\"",
            self.text, self.reads_as, self.text
        )
    }
}

/// Finds ambiguous label keys and values under `node`: the entries of any
/// `labels`, `matchLabels` or `annotations` map, the items of any `values`
/// list (selector requirements), and the label maps of `setPodLabels` and
/// `setNamespaceLabels`. Keys in `skip` are not looked into (objects
/// checked on their own).
pub fn find_ambiguities(
    node: &Node,
    path: &FieldPath,
    text: &str,
    skip: &[&str],
    out: &mut Vec<Ambiguity>,
) {
    match &node.value {
        NodeValue::Map(entries) => {
            for super::source::Entry { key, value, .. } in entries {
                let child = path.child(key);
                match key.as_str() {
                    k if skip.contains(&k) => {}
                    "labels" | "matchLabels" | "annotations" => {
                        check_label_map(value, &child, text, out)
                    }
                    "values" => {
                        for (i, item) in value.items().iter().enumerate() {
                            check_scalar(item, &child.index(i), text, out);
                        }
                    }
                    "setPodLabels" | "setNamespaceLabels" => {
                        for e in value.entries() {
                            check_label_map(&e.value, &child.key(&e.key), text, out);
                        }
                    }
                    _ => find_ambiguities(value, &child, text, skip, out),
                }
            }
        }
        NodeValue::Seq(items) => {
            for (i, item) in items.iter().enumerate() {
                find_ambiguities(item, &path.index(i), text, skip, out);
            }
        }
        NodeValue::Scalar(_) => {}
    }
}

fn check_label_map(map: &Node, path: &FieldPath, text: &str, out: &mut Vec<Ambiguity>) {
    for e in map.entries() {
        if let Some(reads_as) = yaml11_non_string(&e.key).filter(|_| !e.key.is_empty()) {
            out.push(Ambiguity {
                path: path.key(&e.key),
                text: e.key.clone(),
                reads_as,
            });
        }
        check_scalar(&e.value, &path.key(&e.key), text, out);
    }
}

fn check_scalar(node: &Node, path: &FieldPath, text: &str, out: &mut Vec<Ambiguity>) {
    let NodeValue::Scalar(scalar) = &node.value else {
        return;
    };
    let written = node.source_text(text).unwrap_or_default();
    // Quoted, block or explicitly tagged scalars are strings as written.
    if written.starts_with(['\'', '"', '|', '>', '!']) {
        return;
    }
    let plain = match scalar {
        Scalar::String(s) => s.as_str(),
        _ => written.trim(),
    };
    if let Some(reads_as) = yaml11_non_string(plain) {
        out.push(Ambiguity {
            path: path.clone(),
            text: plain.to_string(),
            reads_as,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml11_resolution_of_plain_scalars() {
        let cases: &[(&str, Option<&str>, &str)] = &[
            ("yes", Some("the boolean true"), "YAML 1.1 boolean"),
            ("y", Some("the boolean true"), "single-letter boolean"),
            ("Off", Some("the boolean false"), "capitalised boolean"),
            ("1.10", Some("a number"), "a version that becomes 1.1"),
            ("10", Some("a number"), "an integer"),
            ("0x1F", Some("a number"), "hexadecimal"),
            ("0b101", Some("a number"), "binary"),
            ("1e3", Some("a number"), "exponent"),
            ("190:20:30", Some("a number"), "sexagesimal"),
            ("~", Some("null"), "null"),
            ("frontend", None, "an ordinary word"),
            ("v1.10", None, "a version with a letter"),
            ("1.2.3", None, "two dots make a string"),
            ("yess", None, "not a boolean spelling"),
            ("e3", None, "an exponent without mantissa"),
            ("-", None, "a lone sign"),
        ];
        for (text, want, why) in cases {
            assert_eq!(yaml11_non_string(text), *want, "{text:?}: {why}");
        }
    }

    #[test]
    fn finds_unquoted_label_values_only() {
        let text = "cluster:\n  pods:\n    - labels: {env: yes, v: \"1.10\", w: 1.10, app: web}\npolicies:\n  - spec:\n      podSelector:\n        matchExpressions: [{key: k, operator: In, values: [on, 'off']}]\n      name: yes\n";
        let root = Node::parse(text).unwrap();
        let mut found = Vec::new();
        find_ambiguities(&root, &FieldPath::root(), text, &[], &mut found);
        let paths: Vec<String> = found
            .iter()
            .map(|a| format!("{} {}", a.path, a.text))
            .collect();
        assert_eq!(
            paths,
            [
                "cluster.pods[0].labels[env] yes",
                "cluster.pods[0].labels[w] 1.10",
                "policies[0].spec.podSelector.matchExpressions[0].values[0] on",
            ],
            "quoted values and fields that are not labels are left alone"
        );
    }
}
