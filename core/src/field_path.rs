//! Field paths in the Kubernetes style (`spec.ingress[0].from[0].ipBlock`),
//! as the API server prints them in validation errors.

use std::fmt;

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Segment {
    /// A struct field: `.name`.
    Child(String),
    /// A list element: `[0]`.
    Index(usize),
    /// A map entry: `[key]`.
    Key(String),
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct FieldPath(Vec<Segment>);

impl FieldPath {
    pub fn root() -> FieldPath {
        FieldPath(Vec::new())
    }

    pub fn new(name: &str) -> FieldPath {
        FieldPath::root().child(name)
    }

    pub fn child(&self, name: &str) -> FieldPath {
        self.with(Segment::Child(name.to_string()))
    }

    pub fn index(&self, i: usize) -> FieldPath {
        self.with(Segment::Index(i))
    }

    pub fn key(&self, key: &str) -> FieldPath {
        self.with(Segment::Key(key.to_string()))
    }

    /// This path followed by `rest` (a path relative to an object inside the document).
    pub fn join(&self, rest: &FieldPath) -> FieldPath {
        let mut v = self.0.clone();
        v.extend(rest.0.iter().cloned());
        FieldPath(v)
    }

    pub fn segments(&self) -> &[Segment] {
        &self.0
    }

    pub fn is_root(&self) -> bool {
        self.0.is_empty()
    }

    fn with(&self, s: Segment) -> FieldPath {
        let mut v = self.0.clone();
        v.push(s);
        FieldPath(v)
    }
}

impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, s) in self.0.iter().enumerate() {
            match s {
                Segment::Child(name) if i == 0 => f.write_str(name)?,
                Segment::Child(name) => write!(f, ".{name}")?,
                Segment::Index(n) => write!(f, "[{n}]")?,
                Segment::Key(k) => write!(f, "[{k}]")?,
            }
        }
        Ok(())
    }
}

/// Whether an error at `actual` names the field `expected`: the same path, or
/// a field under it (`spec.ingress[0]` names `spec.ingress[0].ports[0].port`).
pub fn names_field(actual: &str, expected: &str) -> bool {
    let expected = expected.trim();
    match actual.strip_prefix(expected) {
        Some("") => true,
        Some(rest) => !expected.is_empty() && (rest.starts_with('.') || rest.starts_with('[')),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn displays_like_the_api_server() {
        let p = FieldPath::new("spec")
            .child("ingress")
            .index(0)
            .child("from")
            .index(2)
            .child("ipBlock");
        assert_eq!(p.to_string(), "spec.ingress[0].from[2].ipBlock");
        assert_eq!(
            FieldPath::new("metadata")
                .child("labels")
                .key("app.kubernetes.io/name")
                .to_string(),
            "metadata.labels[app.kubernetes.io/name]"
        );
    }

    #[test]
    fn a_path_names_itself_and_the_fields_under_it() {
        let cases = [
            (
                "spec.ingress[0].ports[0].port",
                "spec.ingress[0].ports[0].port",
                true,
                "same path",
            ),
            (
                "spec.ingress[0].ports[0].port",
                "spec.ingress[0]",
                true,
                "a field under the expected one",
            ),
            (
                "spec.ingress[0].ports[0].port",
                "spec.ingress[0].ports[0].po",
                false,
                "a prefix that is not a segment",
            ),
            (
                "spec.ingress[10]",
                "spec.ingress[1",
                false,
                "an unfinished index",
            ),
            (
                "spec.ingress[0]",
                "spec.ingress[0].ports",
                false,
                "the expected path is more specific",
            ),
            (
                "spec.egress[0]",
                "",
                false,
                "an empty expectation names nothing",
            ),
        ];
        for (actual, expected, want, why) in cases {
            assert_eq!(
                names_field(actual, expected),
                want,
                "{why}: {actual} vs {expected}"
            );
        }
    }
}
