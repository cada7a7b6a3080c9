//! Decoding a ClusterNetworkPolicy written in a scenario, as strictly as
//! `kubectl apply` with the CRD installed: the object is validated as
//! written (schema, CEL rules, unknown fields) with the API server's field
//! paths, then decoded into [`ClusterNetworkPolicy`].

use netpol_protocol::cnp::{self, ClusterNetworkPolicy};
use serde_json::Value;

use super::error::Problem;
use super::source::Node;
use super::yaml11;
use crate::field_path::FieldPath;
use crate::validation;

/// A ClusterNetworkPolicy of a scenario, and where it was written.
#[derive(Clone, Debug, PartialEq)]
pub struct ClusterPolicy {
    pub name: String,
    pub object: ClusterNetworkPolicy,
    /// `policies[0]` or `steps[1].apply[0]`.
    pub origin: FieldPath,
}

impl ClusterPolicy {
    /// `cnp:NAME`, as steps' `delete` and reports name a ClusterNetworkPolicy.
    pub fn key(&self) -> String {
        format!("cnp:{}", self.name)
    }
}

/// Whether the object written at `origin` is a ClusterNetworkPolicy (by its
/// `kind` or `apiVersion`), rather than a NetworkPolicy.
pub fn is_cluster_policy(root: &Node, origin: &FieldPath) -> bool {
    let Some(node) = root.node_at(origin) else {
        return false;
    };
    let json = node.to_json();
    json.get("kind").and_then(Value::as_str) == Some(cnp::KIND)
        || json
            .get("apiVersion")
            .and_then(Value::as_str)
            .is_some_and(|v| v.starts_with("policy.networking.k8s.io/"))
}

/// The non-empty `metadata.namespace` written on the object at `origin`
/// (which the API server drops from a cluster-scoped object).
pub fn written_namespace(root: &Node, origin: &FieldPath) -> Option<String> {
    let json = root.node_at(origin)?.to_json();
    json.pointer("/metadata/namespace")
        .and_then(Value::as_str)
        .filter(|ns| !ns.is_empty())
        .map(str::to_string)
}

/// Decodes the ClusterNetworkPolicy written at `origin` in the document `root`.
pub fn decode(root: &Node, origin: &FieldPath, text: &str) -> Result<ClusterPolicy, Vec<Problem>> {
    let Some(node) = root.node_at(origin) else {
        return Err(vec![Problem::at(origin.clone(), "no such policy")]);
    };
    let mut json = node.to_json();
    let name = json
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("<unnamed>")
        .to_string();
    let object_label = format!("{} {name}", cnp::KIND);
    let problem = |field: FieldPath, message: String| Problem {
        position: Some(root.locate(&origin.join(&field))),
        path: origin.clone(),
        object: Some((object_label.clone(), field)),
        message,
    };
    if !json.is_object() {
        return Err(vec![problem(
            FieldPath::root(),
            format!("a {} must be a mapping", cnp::KIND),
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
    for (field, want) in [("apiVersion", cnp::API_VERSION), ("kind", cnp::KIND)] {
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
    // Cluster-scoped: the API server drops a namespace (kubectl warns).
    if let Some(meta) = json.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.remove("namespace");
    }
    problems.extend(
        validation::cluster_network_policy::validate(&json)
            .into_iter()
            .map(|e| {
                let message = e.to_string();
                let message = message
                    .strip_prefix(&format!("{}: ", e.path))
                    .unwrap_or(&message)
                    .to_string();
                problem(e.path, message)
            }),
    );
    if !problems.is_empty() {
        return Err(problems);
    }
    // As the API server keeps it: nulls and status dropped, `80.0` as 80.
    let normalized = validation::cluster_network_policy::normalize(&json);
    match serde_path_to_error::deserialize::<_, ClusterNetworkPolicy>(&normalized) {
        Ok(object) => Ok(ClusterPolicy {
            name,
            object,
            origin: origin.clone(),
        }),
        // Validation passed: the schema and the type disagree, a bug here.
        Err(e) => {
            let (field, message) = super::policy::decode_error(&e);
            Err(vec![problem(field, message)])
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_doc(doc: &str) -> Result<ClusterPolicy, Vec<String>> {
        let root = Node::parse(doc).unwrap();
        decode(&root, &FieldPath::new("policies").index(0), doc)
            .map_err(|ps| ps.iter().map(ToString::to_string).collect())
    }

    const HEAD: &str = "policies:\n- apiVersion: policy.networking.k8s.io/v1alpha2\n  kind: ClusterNetworkPolicy\n  metadata: {name: cnp, namespace: x}\n";

    #[test]
    fn decodes_as_the_api_server_keeps_it() {
        let doc = format!(
            "{HEAD}  spec:\n    tier: Admin\n    priority: 10.0\n    subject: {{namespaces: {{}}}}\n    ingress: ~\n    egress:\n    - action: Accept\n      name: ~\n      to: [{{networks: [10.0.0.0/8]}}]\n  status: {{conditions: []}}\n"
        );
        let p = decode_doc(&doc).unwrap();
        assert_eq!(p.key(), "cnp:cnp");
        assert_eq!(p.object.spec.priority, 10, "a whole float is an integer");
        assert!(p.object.spec.ingress.is_empty(), "null is absent");
        assert_eq!(p.object.spec.egress[0].name, None);
        assert_eq!(p.object.metadata.namespace, None, "cluster-scoped");
    }

    #[test]
    fn every_error_has_its_line_and_field_path() {
        let doc = format!(
            "{HEAD}  spec:\n    tier: admin\n    priority: 1001\n    subject: {{}}\n    egres: []\n"
        );
        let errors = decode_doc(&doc).unwrap_err();
        assert_eq!(
            errors,
            [
                "9:5: policies[0] (ClusterNetworkPolicy cnp): spec.egres: unknown field \"egres\"",
                "6:5: policies[0] (ClusterNetworkPolicy cnp): spec.tier: Unsupported value: \"admin\": supported values: \"Admin\", \"Baseline\"",
                "7:5: policies[0] (ClusterNetworkPolicy cnp): spec.priority: Invalid value: 1001: spec.priority in body should be less than or equal to 1000",
                "8:5: policies[0] (ClusterNetworkPolicy cnp): spec.subject: Invalid value: 0: spec.subject in body should have at least 1 properties",
                "2:3: policies[0] (ClusterNetworkPolicy cnp): <nil>: Invalid value: null: some validation rules were not checked because the object was invalid; correct the existing errors to complete validation",
            ]
        );
    }
}
