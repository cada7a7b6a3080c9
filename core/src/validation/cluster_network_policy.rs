//! Validation of ClusterNetworkPolicy objects as the API server does it with
//! the CRD of network-policy-api's experimental channel installed: the
//! OpenAPI schema and the CEL rules, with the API server's field paths and
//! messages.
//!
//! It works on the object as written (JSON), before it is decoded into
//! [`netpol_protocol::cnp::ClusterNetworkPolicy`], as the API server checks
//! the schema of an unstructured object: an object without errors decodes
//! (once [`normalize`]d, as the API server normalizes it).
//!
//! The order is the API server's on create (apiextensions-apiserver's
//! decoder, then `customResourceStrategy.Validate`):
//!
//! 1. fields no schema declares (`unknown field "foo"`): metadata's, then
//!    the rest's; kubectl's default strict field validation refuses them;
//! 2. `metadata` as `ValidateObjectMetaAccessor` checks a cluster-scoped
//!    custom resource (`name` a DNS-1123 subdomain, labels, annotations, …);
//! 3. the OpenAPI schema (the `schema` module), then `x-kubernetes-list-type: set`;
//! 4. the CEL rules, unless an error of a kind that blocks them came
//!    before (a type error, an unsupported or missing value, too long, too
//!    many): then a single `<nil>: Invalid value: null: some validation
//!    rules were not checked…`, as the API server says.
//!
//! Then netpol's own checks, where it is stricter than the API server: the
//! label selectors, which the schema leaves free-form, must be ones
//! `metav1.LabelSelectorAsSelector` accepts (operators `In`, `NotIn`,
//! `Exists`, `DoesNotExist`; values for `In`/`NotIn` only; valid label keys
//! and values), as for NetworkPolicies; and a malformed `metadata` field
//! (`labels: 5`), which the API server drops silently, is an error.
//! `status` is ignored (the API server drops it on create).

mod schema;

use std::sync::OnceLock;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use serde_json::{Map, Value};

use super::names::dns1123_subdomain_errors_with_prefix;
use super::{BadValue, FieldError, meta};
use crate::field_path::{FieldPath, names_field};
use schema::Schema;

/// The experimental channel's CRD schema, built once.
fn crd() -> &'static Schema {
    static CRD: OnceLock<Schema> = OnceLock::new();
    CRD.get_or_init(schema::cluster_network_policy)
}

/// The detail of the error that stands for CEL rules not evaluated.
const RULES_NOT_CHECKED: &str = "some validation rules were not checked because the object was invalid; correct the existing errors to complete validation";

/// Every error of `object` (a whole ClusterNetworkPolicy: `apiVersion`,
/// `kind`, `metadata`, `spec`), relative to the object. An error printed
/// exactly like an earlier one is dropped, as `ErrorList.ToAggregate` does.
pub fn validate(object: &Value) -> Vec<FieldError> {
    let root = FieldPath::root();
    let mut errors = Vec::new();
    if let Some(Value::Object(m)) = object.get("metadata") {
        metadata_unknown_fields(m, &FieldPath::new("metadata"), &mut errors);
    }
    let mut unknown = Vec::new();
    let pruned = prune(object, &mut unknown);
    unknown.sort_by_key(|e| e.path.to_string());
    errors.extend(unknown);

    let mut checked = validate_metadata(pruned.get("metadata"));
    schema::validate(&pruned, crd(), &root, &mut checked);
    schema::check_sets(&pruned, crd(), &root, &mut checked);
    if checked.iter().any(FieldError::blocks_rules) {
        checked.push(FieldError::invalid(
            root.clone(),
            BadValue::Raw("null".into()),
            RULES_NOT_CHECKED,
        ));
    } else {
        schema::check_rules(&pruned, crd(), &root, &mut checked);
    }
    let selectors = selector_errors(&pruned, &checked);
    errors.extend(checked);
    errors.extend(selectors);

    let mut seen = std::collections::HashSet::new();
    errors.retain(|e| seen.insert(e.to_string()));
    errors
}

/// `object` as the API server keeps it before validating: `status`, fields
/// the schema does not declare and `null` fields dropped, whole numbers as
/// integers. An object [`validate`] finds no error in decodes from this.
pub fn normalize(object: &Value) -> Value {
    prune(object, &mut Vec::new())
}

fn prune(object: &Value, unknown: &mut Vec<FieldError>) -> Value {
    let mut pruned = schema::prune(object, Some(crd()), &FieldPath::root(), unknown);
    if let Some(map) = pruned.as_object_mut() {
        map.remove("status");
    }
    pruned
}

/// The JSON fields of `ObjectMeta`, `OwnerReference` and
/// `ManagedFieldsEntry` (`fieldsV1` is free-form).
const OBJECT_META_FIELDS: &[&str] = &[
    "annotations",
    "creationTimestamp",
    "deletionGracePeriodSeconds",
    "deletionTimestamp",
    "finalizers",
    "generateName",
    "generation",
    "labels",
    "managedFields",
    "name",
    "namespace",
    "ownerReferences",
    "resourceVersion",
    "selfLink",
    "uid",
];
const OWNER_REFERENCE_FIELDS: &[&str] = &[
    "apiVersion",
    "blockOwnerDeletion",
    "controller",
    "kind",
    "name",
    "uid",
];
const MANAGED_FIELDS_ENTRY_FIELDS: &[&str] = &[
    "apiVersion",
    "fieldsType",
    "fieldsV1",
    "manager",
    "operation",
    "subresource",
    "time",
];

/// Fields of `metadata` that `ObjectMeta` does not have, as the API server's
/// strict decoding of `metadata` finds them.
fn metadata_unknown_fields(m: &Map<String, Value>, path: &FieldPath, out: &mut Vec<FieldError>) {
    let unknown_in =
        |m: &Map<String, Value>, known: &[&str], path: &FieldPath, out: &mut Vec<_>| {
            for key in m.keys().filter(|k| !known.contains(&k.as_str())) {
                out.push(FieldError::unknown_field(path.child(key), key));
            }
        };
    unknown_in(m, OBJECT_META_FIELDS, path, out);
    for (list, known) in [
        ("ownerReferences", OWNER_REFERENCE_FIELDS),
        ("managedFields", MANAGED_FIELDS_ENTRY_FIELDS),
    ] {
        for (i, entry) in m
            .get(list)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
        {
            if let Value::Object(e) = entry {
                unknown_in(e, known, &path.child(list).index(i), out);
            }
        }
    }
}

/// `metadata` decoded field by field (as the API server decodes it,
/// dropping a malformed field, which netpol reports instead), then checked
/// as the API server checks a cluster-scoped custom resource's. Metadata
/// that is not a mapping is the schema's type error alone.
fn validate_metadata(metadata: Option<&Value>) -> Vec<FieldError> {
    let path = FieldPath::new("metadata");
    let mut errs = Vec::new();
    let mut decodable = Map::new();
    match metadata {
        None => {}
        Some(Value::Object(m)) => {
            for (key, value) in m
                .iter()
                .filter(|(k, _)| OBJECT_META_FIELDS.contains(&k.as_str()))
            {
                let single = Value::Object(Map::from_iter([(key.clone(), value.clone())]));
                match serde_path_to_error::deserialize::<_, ObjectMeta>(&single) {
                    Ok(_) => {
                        decodable.insert(key.clone(), value.clone());
                    }
                    Err(e) => errs.push(FieldError::invalid_omitting_value(
                        path.join(&decode_path(&e)),
                        e.inner().to_string(),
                    )),
                }
            }
        }
        Some(_) => return errs,
    }
    let object_meta: ObjectMeta =
        serde_json::from_value(Value::Object(decodable)).unwrap_or_default();
    errs.extend(meta::validate_cluster_scoped_object_meta(
        &object_meta,
        dns1123_subdomain_errors_with_prefix,
        &path,
    ));
    errs
}

/// The field path of a decoding error.
fn decode_path(e: &serde_path_to_error::Error<serde_json::Error>) -> FieldPath {
    use serde_path_to_error::Segment as S;
    e.path()
        .iter()
        .fold(FieldPath::root(), |field, segment| match segment {
            S::Seq { index } => field.index(*index),
            S::Map { key } => field.child(key),
            S::Enum { variant } => field.child(variant),
            S::Unknown => field,
        })
}

/// netpol's own checks of every label selector the schema let through
/// (`schema_errors` names none under it): `ValidateLabelSelector`, as for a
/// NetworkPolicy's selectors.
fn selector_errors(pruned: &Value, schema_errors: &[FieldError]) -> Vec<FieldError> {
    let mut errs = Vec::new();
    schema::walk(pruned, crd(), &FieldPath::root(), &mut |v, s, path| {
        let at = path.to_string();
        if !s.label_selector
            || schema_errors
                .iter()
                .any(|e| names_field(&e.path.to_string(), &at))
        {
            return;
        }
        if let Ok(selector) = serde_json::from_value::<LabelSelector>(v.clone()) {
            errs.extend(meta::validate_label_selector(&selector, path));
        }
    });
    errs
}

#[cfg(test)]
mod tests;
