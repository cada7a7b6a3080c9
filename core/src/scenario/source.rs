//! The scenario file as a tree of YAML nodes that remember where they were
//! written, so that every problem, found at any depth and by any check, can
//! be reported with its line and column.

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::Spanned;

use crate::field_path::{FieldPath, Segment};

/// How scenario files are read: YAML 1.2, where only `true` and `false` are
/// booleans, so that namespace `y` is the string "y". (Label values that
/// YAML 1.1 would read otherwise are flagged by `yaml11`.)
pub fn yaml_options() -> serde_saphyr::Options {
    serde_saphyr::options! { strict_booleans: true }
}

/// A 1-based line and column in the scenario file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Position {
    pub line: u64,
    pub column: u64,
}

#[derive(Clone, Debug)]
pub enum Scalar {
    Null,
    Bool(bool),
    Number(serde_json::Number),
    String(String),
}

#[derive(Clone, Debug)]
pub enum NodeValue {
    Scalar(Scalar),
    Seq(Vec<Node>),
    Map(Vec<Entry>),
}

/// A mapping entry and where its key was written.
#[derive(Clone, Debug)]
pub struct Entry {
    pub key: String,
    pub key_position: Position,
    pub value: Node,
}

/// A YAML node, its value as YAML resolves it, where it was written, and the
/// byte range of its text (for scalars: to see whether it was quoted).
#[derive(Clone, Debug)]
pub struct Node {
    pub value: NodeValue,
    pub position: Position,
    span: Option<(usize, usize)>,
}

impl Node {
    /// Parses a whole document.
    pub fn parse(text: &str) -> Result<Node, serde_saphyr::Error> {
        serde_saphyr::from_str_with_options(text, yaml_options())
    }

    pub fn get(&self, key: &str) -> Option<&Node> {
        self.entry(key).map(|e| &e.value)
    }

    fn entry(&self, key: &str) -> Option<&Entry> {
        match &self.value {
            NodeValue::Map(entries) => entries.iter().find(|e| e.key == key),
            _ => None,
        }
    }

    pub fn items(&self) -> &[Node] {
        match &self.value {
            NodeValue::Seq(items) => items,
            _ => &[],
        }
    }

    pub fn entries(&self) -> &[Entry] {
        match &self.value {
            NodeValue::Map(entries) => entries,
            _ => &[],
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            NodeValue::Scalar(Scalar::String(s)) => Some(s),
            _ => None,
        }
    }

    /// What the node is, for messages: `a string`, `a number`, `a list`, ...
    pub fn kind(&self) -> &'static str {
        match &self.value {
            NodeValue::Scalar(Scalar::Null) => "null",
            NodeValue::Scalar(Scalar::Bool(_)) => "a boolean",
            NodeValue::Scalar(Scalar::Number(_)) => "a number",
            NodeValue::Scalar(Scalar::String(_)) => "a string",
            NodeValue::Seq(_) => "a list",
            NodeValue::Map(_) => "a mapping",
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self.value, NodeValue::Scalar(Scalar::Null))
    }

    /// The node a field path leads to, if it is written.
    pub fn node_at(&self, path: &FieldPath) -> Option<&Node> {
        let mut node = self;
        for segment in path.segments() {
            node = match segment {
                Segment::Child(k) | Segment::Key(k) => node.get(k)?,
                Segment::Index(i) => node.items().get(*i)?,
            };
        }
        Some(node)
    }

    /// Where a field path is written: the key of a field, the start of a
    /// list item; for a field that is not written, where the deepest
    /// written part of the path is.
    pub fn locate(&self, path: &FieldPath) -> Position {
        let mut node = self;
        let mut position = self.position;
        for segment in path.segments() {
            match segment {
                Segment::Child(k) | Segment::Key(k) => match node.entry(k) {
                    Some(e) => {
                        position = e.key_position;
                        node = &e.value;
                    }
                    None => break,
                },
                Segment::Index(i) => match node.items().get(*i) {
                    Some(n) => {
                        position = n.position;
                        node = n;
                    }
                    None => break,
                },
            }
        }
        position
    }

    /// The text the scalar was written as, quotes included, if known.
    pub fn source_text<'t>(&self, text: &'t str) -> Option<&'t str> {
        let (start, len) = self.span?;
        text.get(start..start + len)
    }

    /// Converts to JSON, with YAML's resolution of plain scalars.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value;
        match &self.value {
            NodeValue::Scalar(Scalar::Null) => Value::Null,
            NodeValue::Scalar(Scalar::Bool(b)) => Value::Bool(*b),
            NodeValue::Scalar(Scalar::Number(n)) => Value::Number(n.clone()),
            NodeValue::Scalar(Scalar::String(s)) => Value::String(s.clone()),
            NodeValue::Seq(items) => Value::Array(items.iter().map(Node::to_json).collect()),
            NodeValue::Map(entries) => Value::Object(
                entries
                    .iter()
                    .map(|e| (e.key.clone(), e.value.to_json()))
                    .collect(),
            ),
        }
    }
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let spanned = Spanned::<NodeValue>::deserialize(d)?;
        let loc = spanned.referenced;
        let span = loc.span();
        Ok(Node {
            value: spanned.value,
            position: Position {
                line: loc.line(),
                column: loc.column(),
            },
            span: span.byte_offset().zip(span.byte_len()).map(|(o, l)| {
                // Offsets into the source text, which is in memory.
                let fits = |n: u64| usize::try_from(n).expect("an in-memory offset");
                (fits(o), fits(l))
            }),
        })
    }
}

impl<'de> Deserialize<'de> for NodeValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(NodeVisitor)
    }
}

struct NodeVisitor;

impl<'de> Visitor<'de> for NodeVisitor {
    type Value = NodeValue;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any YAML value")
    }
    fn visit_unit<E>(self) -> Result<NodeValue, E> {
        Ok(NodeValue::Scalar(Scalar::Null))
    }
    fn visit_none<E>(self) -> Result<NodeValue, E> {
        Ok(NodeValue::Scalar(Scalar::Null))
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<NodeValue, D::Error> {
        NodeValue::deserialize(d)
    }
    fn visit_bool<E>(self, v: bool) -> Result<NodeValue, E> {
        Ok(NodeValue::Scalar(Scalar::Bool(v)))
    }
    fn visit_i64<E>(self, v: i64) -> Result<NodeValue, E> {
        Ok(NodeValue::Scalar(Scalar::Number(v.into())))
    }
    fn visit_u64<E>(self, v: u64) -> Result<NodeValue, E> {
        Ok(NodeValue::Scalar(Scalar::Number(v.into())))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<NodeValue, E> {
        serde_json::Number::from_f64(v)
            .map(|n| NodeValue::Scalar(Scalar::Number(n)))
            .ok_or_else(|| E::custom("a non-finite number is not valid here"))
    }
    fn visit_str<E>(self, v: &str) -> Result<NodeValue, E> {
        Ok(NodeValue::Scalar(Scalar::String(v.to_string())))
    }
    fn visit_string<E>(self, v: String) -> Result<NodeValue, E> {
        Ok(NodeValue::Scalar(Scalar::String(v)))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<NodeValue, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(NodeValue::Seq(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<NodeValue, A::Error> {
        let mut entries = Vec::new();
        while let Some(key) = map.next_key::<Spanned<String>>()? {
            let loc = key.referenced;
            entries.push(Entry {
                key: key.value,
                key_position: Position {
                    line: loc.line(),
                    column: loc.column(),
                },
                value: map.next_value()?,
            });
        }
        Ok(NodeValue::Map(entries))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = "name: x\npolicies:\n  - spec:\n      ingress:\n        - from: [{podSelector: {}}]\n          ports: [{port: 'web'}]\n";

    #[test]
    fn locates_nodes_by_field_path() {
        let root = Node::parse(DOC).unwrap();
        let p = FieldPath::new("policies")
            .index(0)
            .child("spec")
            .child("ingress")
            .index(0)
            .child("ports")
            .index(0)
            .child("port");
        assert_eq!(
            root.locate(&p),
            Position {
                line: 6,
                column: 20
            },
            "a field is located at its key"
        );
        let n = root.node_at(&p).unwrap();
        assert_eq!(
            n.source_text(DOC),
            Some("'web'"),
            "the quotes are part of the source text"
        );
        let item = FieldPath::new("policies").index(0);
        assert_eq!(
            root.locate(&item),
            Position { line: 3, column: 5 },
            "a list item is located at its start"
        );
    }

    #[test]
    fn a_missing_field_is_located_at_its_parent() {
        let root = Node::parse(DOC).unwrap();
        let p = FieldPath::new("policies")
            .index(0)
            .child("spec")
            .child("egress")
            .index(0);
        assert_eq!(
            root.locate(&p),
            Position { line: 3, column: 5 },
            "at the key of spec, the deepest written part"
        );
    }

    #[test]
    fn converts_to_json_with_yaml_resolution() {
        let root = Node::parse("a: 1\nb: true\nc: ~\nd: '1'\ne: [x, 2.5]\nf: y\ng: yes\n").unwrap();
        assert_eq!(
            root.to_json(),
            serde_json::json!({"a": 1, "b": true, "c": null, "d": "1", "e": ["x", 2.5], "f": "y", "g": "yes"}),
            "YAML 1.2: y and yes are strings"
        );
    }
}
