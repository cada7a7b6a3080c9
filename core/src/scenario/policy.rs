//! Decoding a NetworkPolicy written in a scenario into the Kubernetes type,
//! as strictly as `kubectl apply` with server-side validation: wrong types,
//! unknown fields, a wrong apiVersion or kind, and everything the API server's
//! validation rejects are problems with the Kubernetes field path.

use k8s_openapi::api::networking::v1::NetworkPolicy;
use serde_json::Value;

use super::error::Problem;
use super::source::Node;
use super::yaml11;
use crate::field_path::FieldPath;
use crate::validation;

pub const API_VERSION: &str = "networking.k8s.io/v1";
pub const KIND: &str = "NetworkPolicy";
/// `metadata.namespace` when absent, as in Kubernetes.
pub const DEFAULT_NAMESPACE: &str = "default";

/// A NetworkPolicy of a scenario, and where it was written.
#[derive(Clone, Debug, PartialEq)]
pub struct Policy {
    pub namespace: String,
    pub name: String,
    pub object: NetworkPolicy,
    /// `policies[0]` or `steps[1].apply[0]`.
    pub origin: FieldPath,
}

impl Policy {
    /// `namespace/name`, as steps' `delete` and reports name a policy.
    pub fn key(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }
}

/// Decodes the policy written at `origin` in the document `root`.
pub fn decode(root: &Node, origin: &FieldPath, text: &str) -> Result<Policy, Vec<Problem>> {
    let Some(node) = root.node_at(origin) else {
        return Err(vec![Problem::at(origin.clone(), "no such policy")]);
    };
    let json = node.to_json();
    // Absent or empty, as kubectl reads it: the default namespace.
    let namespace = json
        .pointer("/metadata/namespace")
        .and_then(Value::as_str)
        .filter(|ns| !ns.is_empty())
        .unwrap_or(DEFAULT_NAMESPACE)
        .to_string();
    let name = json
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("<unnamed>")
        .to_string();
    let object_label = format!("{KIND} {namespace}/{name}");
    let problem = |field: FieldPath, message: String| Problem {
        position: Some(root.locate(&origin.join(&field))),
        path: origin.clone(),
        object: Some((object_label.clone(), field)),
        message,
    };

    if !json.is_object() {
        return Err(vec![problem(
            FieldPath::root(),
            "a NetworkPolicy must be a mapping".into(),
        )]);
    }
    let mut problems = Vec::new();

    let mut ambiguities = Vec::new();
    yaml11::find_ambiguities(node, &FieldPath::root(), text, &[], &mut ambiguities);
    problems.extend(
        ambiguities
            .iter()
            .map(|a| problem(a.path.clone(), a.message())),
    );

    for (field, want) in [("apiVersion", API_VERSION), ("kind", KIND)] {
        match json.get(field) {
            Some(Value::String(s)) if s == want => {}
            None | Some(Value::Null) => problems.push(problem(
                FieldPath::new(field),
                format!("Required value: must be {want:?}"),
            )),
            Some(other) => problems.push(problem(
                FieldPath::new(field),
                format!("Unsupported value: {other}: supported values: {want:?}"),
            )),
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }

    let mut object: NetworkPolicy = match serde_path_to_error::deserialize(&json) {
        Ok(np) => np,
        Err(e) => {
            let (field, message) = decode_error(&e);
            return Err(vec![problem(field, message)]);
        }
    };

    // Strict decoding: a key the Kubernetes type does not have is an error,
    // not silently dropped (`ingres:` must not turn into a deny-all).
    let decoded = serde_json::to_value(&object).expect("a NetworkPolicy serializes");
    let mut unknown = Vec::new();
    unknown_fields(&json, &decoded, &FieldPath::root(), &mut unknown);
    problems.extend(
        unknown
            .into_iter()
            .map(|(field, key)| problem(field, format!("unknown field {key:?}"))),
    );

    object.metadata.namespace = Some(namespace.clone());
    problems.extend(
        validation::validate_network_policy(&object)
            .into_iter()
            .map(|e| {
                let message = e.to_string();
                // The message starts with the path; the problem prints the path itself.
                let message = message
                    .strip_prefix(&format!("{}: ", e.path))
                    .unwrap_or(&message)
                    .to_string();
                problem(e.path, message)
            }),
    );

    if problems.is_empty() {
        Ok(Policy {
            namespace,
            name,
            object,
            origin: origin.clone(),
        })
    } else {
        Err(problems)
    }
}

/// The field path and message of a decoding error.
pub(super) fn decode_error(
    e: &serde_path_to_error::Error<serde_json::Error>,
) -> (FieldPath, String) {
    use serde_path_to_error::Segment as S;
    let mut field = FieldPath::root();
    for segment in e.path().iter() {
        field = match segment {
            S::Seq { index } => field.index(*index),
            S::Map { key } => field.child(key),
            S::Enum { variant } => field.child(variant),
            S::Unknown => field,
        };
    }
    let message = e.inner().to_string();
    // serde reports a missing field at its parent; Kubernetes names the field.
    if let Some(missing) = message
        .strip_prefix("missing field `")
        .and_then(|m| m.strip_suffix('`'))
    {
        return (field.child(missing), "Required value".to_string());
    }
    (field, fraction_words(&message).unwrap_or(message))
}

/// serde's "invalid type: floating point `120.0`, expected IntOrString" for a
/// port written `0120` (which YAML reads as a fraction), in the scenario's words.
fn fraction_words(message: &str) -> Option<String> {
    let number = message
        .strip_prefix("invalid type: floating point `")?
        .split('`')
        .next()?;
    let expected = message.rsplit("expected ").next().unwrap_or_default();
    let what = if expected == "IntOrString" {
        "a whole number or a name"
    } else {
        "a whole number"
    };
    let hint = match number.strip_suffix(".0") {
        Some(whole) => format!(
            " (a leading zero, as in `0{whole}`, or a decimal point makes YAML read it so): write {whole}"
        ),
        None => String::new(),
    };
    Some(format!("must be {what}, not the fraction {number}{hint}"))
}

/// Keys of `written` (other than nulls) that did not survive decoding.
fn unknown_fields(
    written: &Value,
    decoded: &Value,
    path: &FieldPath,
    out: &mut Vec<(FieldPath, String)>,
) {
    match (written, decoded) {
        (Value::Object(w), Value::Object(d)) => {
            for (key, value) in w {
                match d.get(key) {
                    Some(dv) => unknown_fields(value, dv, &path.child(key), out),
                    None if value.is_null() => {}
                    None => out.push((path.child(key), key.clone())),
                }
            }
        }
        (Value::Array(w), Value::Array(d)) => {
            for (i, (wv, dv)) in w.iter().zip(d).enumerate() {
                unknown_fields(wv, dv, &path.index(i), out);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_doc(doc: &str) -> Result<Policy, Vec<String>> {
        let root = Node::parse(doc).unwrap();
        decode(&root, &FieldPath::new("policies").index(0), doc)
            .map_err(|ps| ps.iter().map(|p| p.to_string()).collect())
    }

    const HEAD: &str = "policies:\n- apiVersion: networking.k8s.io/v1\n  kind: NetworkPolicy\n  metadata: {name: web, namespace: x}\n";

    #[test]
    fn a_port_with_a_leading_zero_is_said_in_words() {
        assert_eq!(
            super::fraction_words("invalid type: floating point `120.0`, expected IntOrString")
                .as_deref(),
            Some(
                "must be a whole number or a name, not the fraction 120.0 (a leading zero, as in `0120`, or a decimal point makes YAML read it so): write 120"
            )
        );
    }

    #[test]
    fn decodes_a_policy_and_defaults_the_namespace() {
        let doc = "policies:\n- apiVersion: networking.k8s.io/v1\n  kind: NetworkPolicy\n  metadata: {name: web}\n  spec: {podSelector: {}}\n";
        let p = decode_doc(doc).unwrap();
        assert_eq!(p.key(), "default/web");
        assert_eq!(p.object.metadata.namespace.as_deref(), Some("default"));
    }

    #[test]
    fn an_empty_namespace_is_the_default_one() {
        let doc = "policies:\n- apiVersion: networking.k8s.io/v1\n  kind: NetworkPolicy\n  metadata: {name: web, namespace: ''}\n";
        assert_eq!(decode_doc(doc).unwrap().key(), "default/web");
    }

    #[test]
    fn unknown_fields_are_errors_with_their_line() {
        let doc = format!("{HEAD}  spec:\n    podSelector: {{}}\n    ingres: [{{}}]\n");
        let errors = decode_doc(&doc).unwrap_err();
        assert_eq!(
            errors,
            ["7:5: policies[0] (NetworkPolicy x/web): spec.ingres: unknown field \"ingres\""]
        );
    }

    #[test]
    fn type_errors_name_the_field() {
        let doc = format!("{HEAD}  spec:\n    ingress:\n    - ports:\n      - endPort: eighty\n");
        let errors = decode_doc(&doc).unwrap_err();
        assert_eq!(errors.len(), 1);
        assert!(
            errors[0].starts_with("8:9: policies[0] (NetworkPolicy x/web): spec.ingress[0].ports[0].endPort: invalid type"),
            "{errors:?}"
        );
    }

    #[test]
    fn a_missing_required_field_is_named() {
        let doc = format!(
            "{HEAD}  spec:\n    ingress:\n    - from:\n      - ipBlock: {{except: [10.0.0.0/24]}}\n"
        );
        let errors = decode_doc(&doc).unwrap_err();
        assert_eq!(errors.len(), 1);
        assert!(
            errors[0].contains("spec.ingress[0].from[0].ipBlock.cidr: Required value"),
            "{errors:?}"
        );
    }

    #[test]
    fn wrong_kind_and_api_version_are_rejected() {
        let doc = "policies:\n- apiVersion: networking.k8s.io/v1beta1\n  metadata: {name: web}\n";
        let errors = decode_doc(doc).unwrap_err();
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert!(
            errors[0].contains("apiVersion: Unsupported value: \"networking.k8s.io/v1beta1\""),
            "{errors:?}"
        );
        assert!(errors[1].contains("kind: Required value"), "{errors:?}");
    }

    #[test]
    fn unquoted_yaml11_label_values_are_flagged() {
        let doc = format!("{HEAD}  spec:\n    podSelector:\n      matchLabels: {{enabled: yes}}\n");
        let errors = decode_doc(&doc).unwrap_err();
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(errors[0].contains("spec.podSelector.matchLabels[enabled]: unquoted value yes is read by kubectl (YAML 1.1) as the boolean true"), "{errors:?}");
    }
}
