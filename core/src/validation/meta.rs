//! Object metadata and label selectors: `ValidateObjectMeta`
//! (`k8s.io/apimachinery/pkg/api/validation/objectmeta.go`, with the finalizer
//! check `pkg/apis/core/validation` adds) and `ValidateLabels`,
//! `ValidateLabelSelector` (`k8s.io/apimachinery/pkg/apis/meta/v1/validation`).
//!
//! Go walks maps in random order; here map entries are checked in key order.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{
    LabelSelector, LabelSelectorRequirement, ObjectMeta, OwnerReference,
};

use super::names::{dns1123_label_errors, label_value_errors, qualified_name_errors};
use super::{BadValue, FieldError, go_quote};
use crate::field_path::FieldPath;

/// `TotalAnnotationSizeLimitB`: keys and values together, in bytes.
pub const TOTAL_ANNOTATION_SIZE_LIMIT: usize = 256 * 1024;

/// The finalizers Kubernetes itself defines, which need no domain prefix.
const STANDARD_FINALIZERS: [&str; 3] = ["kubernetes", "orphan", "foregroundDeletion"];

/// `ValidateObjectMeta` for a namespaced object on create. `name_fn` checks
/// `name` (`prefix` false) and `generateName` (`prefix` true).
///
/// What the API server sets itself before validating on create
/// (`generation`, `managedFields`, `uid`, timestamps) is not checked. A
/// missing `name` is an error even when `generateName` is set: `kubectl
/// apply` needs a name, and the harness names policies by it.
pub fn validate_object_meta(
    meta: &ObjectMeta,
    name_fn: fn(&str, bool) -> Vec<String>,
    path: &FieldPath,
) -> Vec<FieldError> {
    let mut errs = validate_names(meta, name_fn, path);
    match meta.namespace.as_deref().filter(|n| !n.is_empty()) {
        None => errs.push(FieldError::required(path.child("namespace"), "")),
        Some(ns) => {
            for msg in dns1123_label_errors(ns) {
                errs.push(FieldError::invalid(
                    path.child("namespace"),
                    BadValue::Str(ns.to_string()),
                    msg,
                ));
            }
        }
    }
    errs.extend(validate_meta_maps_and_lists(meta, path));
    // pkg/apis/core/validation.ValidateObjectMeta: legacy finalizer names.
    for (i, f) in meta.finalizers.iter().flatten().enumerate() {
        if !f.contains('/') && !STANDARD_FINALIZERS.contains(&f.as_str()) {
            errs.push(FieldError::invalid(
                path.child("finalizers").index(i),
                BadValue::Str(f.clone()),
                "name is neither a standard finalizer name nor is it fully qualified",
            ));
        }
    }
    errs
}

/// `ValidateObjectMetaAccessor` for a cluster-scoped custom resource on
/// create, as apiextensions-apiserver calls it (`namespaceScoped` false):
/// a namespace is forbidden, and finalizer names that are not qualified
/// only draw warnings (which are not errors, so not reported here).
pub fn validate_cluster_scoped_object_meta(
    meta: &ObjectMeta,
    name_fn: fn(&str, bool) -> Vec<String>,
    path: &FieldPath,
) -> Vec<FieldError> {
    let mut errs = validate_names(meta, name_fn, path);
    if meta.namespace.as_deref().is_some_and(|n| !n.is_empty()) {
        errs.push(FieldError::forbidden(
            path.child("namespace"),
            "not allowed on this type",
        ));
    }
    errs.extend(validate_meta_maps_and_lists(meta, path));
    errs
}

/// `generateName` (as a prefix) and `name`, which is required.
fn validate_names(
    meta: &ObjectMeta,
    name_fn: fn(&str, bool) -> Vec<String>,
    path: &FieldPath,
) -> Vec<FieldError> {
    let mut errs = Vec::new();
    if let Some(generate_name) = meta.generate_name.as_deref().filter(|g| !g.is_empty()) {
        for msg in name_fn(generate_name, true) {
            errs.push(FieldError::invalid(
                path.child("generateName"),
                BadValue::Str(generate_name.to_string()),
                msg,
            ));
        }
    }
    match meta.name.as_deref().filter(|n| !n.is_empty()) {
        None => errs.push(FieldError::required(
            path.child("name"),
            "name or generateName is required",
        )),
        Some(name) => {
            for msg in name_fn(name, false) {
                errs.push(FieldError::invalid(
                    path.child("name"),
                    BadValue::Str(name.to_string()),
                    msg,
                ));
            }
        }
    }
    errs
}

/// Labels, annotations, owner references and finalizers.
fn validate_meta_maps_and_lists(meta: &ObjectMeta, path: &FieldPath) -> Vec<FieldError> {
    let mut errs = Vec::new();
    if let Some(labels) = &meta.labels {
        errs.extend(validate_labels(labels, &path.child("labels")));
    }
    if let Some(annotations) = &meta.annotations {
        errs.extend(validate_annotations(
            annotations,
            &path.child("annotations"),
        ));
    }
    if let Some(refs) = &meta.owner_references {
        errs.extend(validate_owner_references(
            refs,
            &path.child("ownerReferences"),
        ));
    }
    let finalizers = meta.finalizers.as_deref().unwrap_or_default();
    errs.extend(validate_finalizers(finalizers, &path.child("finalizers")));
    errs
}

/// `ValidateLabelName`: a label key, reported at `path`.
pub fn validate_label_name(key: &str, path: &FieldPath) -> Vec<FieldError> {
    qualified_name_errors(key)
        .into_iter()
        .map(|msg| FieldError::invalid(path.clone(), BadValue::Str(key.to_string()), msg))
        .collect()
}

/// `ValidateLabels`: every key and value, reported at the map's own path
/// (`metadata.labels`, `spec.podSelector.matchLabels`), not per key.
pub fn validate_labels(labels: &BTreeMap<String, String>, path: &FieldPath) -> Vec<FieldError> {
    let mut errs = Vec::new();
    for (k, v) in labels {
        errs.extend(validate_label_name(k, path));
        for msg in label_value_errors(v) {
            errs.push(FieldError::invalid(
                path.clone(),
                BadValue::Str(v.clone()),
                msg,
            ));
        }
    }
    errs
}

/// `ValidateAnnotations`: keys are qualified names once lower-cased (the
/// value reported is the key as written); the total size is limited.
pub fn validate_annotations(
    annotations: &BTreeMap<String, String>,
    path: &FieldPath,
) -> Vec<FieldError> {
    let mut errs = Vec::new();
    for k in annotations.keys() {
        for msg in qualified_name_errors(&k.to_lowercase()) {
            errs.push(FieldError::invalid(
                path.clone(),
                BadValue::Str(k.clone()),
                msg,
            ));
        }
    }
    let size: usize = annotations.iter().map(|(k, v)| k.len() + v.len()).sum();
    if size > TOTAL_ANNOTATION_SIZE_LIMIT {
        errs.push(FieldError::too_long(
            path.clone(),
            TOTAL_ANNOTATION_SIZE_LIMIT,
        ));
    }
    errs
}

/// Go's `%#v` of a `*bool`, without the address Go would print.
fn go_bool_ptr(b: Option<bool>) -> String {
    match b {
        None => "nil".to_string(),
        Some(b) => format!("*{b}"),
    }
}

/// How the API server prints an owner reference (its generated `String()`).
fn owner_reference_value(r: &OwnerReference) -> String {
    format!(
        "&OwnerReference{{APIVersion:{},Kind:{},Name:{},UID:{},Controller:{},BlockOwnerDeletion:{},}}",
        r.api_version,
        r.kind,
        r.name,
        r.uid,
        go_bool_ptr(r.controller),
        go_bool_ptr(r.block_owner_deletion)
    )
}

/// `ValidateOwnerReferences`: each reference's errors are reported at the
/// list's path (`metadata.ownerReferences.kind`), as upstream does.
pub fn validate_owner_references(refs: &[OwnerReference], path: &FieldPath) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let mut first_controller: Option<String> = None;
    for r in refs {
        // schema.FromAPIVersionAndKind: "group/version", "version", or unparsable.
        let (group, version) = match r.api_version.matches('/').count() {
            _ if r.api_version.is_empty() || r.api_version == "/" => ("", ""),
            0 => ("", r.api_version.as_str()),
            1 => r.api_version.split_once('/').unwrap_or(("", "")),
            _ => ("", ""),
        };
        if version.is_empty() {
            errs.push(FieldError::invalid(
                path.child("apiVersion"),
                BadValue::Str(r.api_version.clone()),
                "version must not be empty",
            ));
        }
        for (field, value) in [("kind", &r.kind), ("name", &r.name), ("uid", &r.uid)] {
            if value.is_empty() {
                errs.push(FieldError::invalid(
                    path.child(field),
                    BadValue::Str(value.clone()),
                    "must not be empty",
                ));
            }
        }
        if group.is_empty() && version == "v1" && r.kind == "Event" {
            errs.push(FieldError::invalid(
                path.clone(),
                BadValue::Raw(owner_reference_value(r)),
                "/v1, Kind=Event is disallowed from being an owner",
            ));
        }
        if r.controller == Some(true) {
            let this = format!("{}/{}", r.kind, r.name);
            match &first_controller {
                Some(first) => errs.push(FieldError::invalid(
                    path.clone(),
                    BadValue::Raw(format!(
                        "[]v1.OwnerReference{{{}}}",
                        refs.iter()
                            .map(owner_reference_value)
                            .collect::<Vec<_>>()
                            .join(", ")
                    )),
                    format!(
                        "Only one reference can have Controller set to true. Found \"true\" in references for {first} and {this}"
                    ),
                )),
                None => first_controller = Some(this),
            }
        }
    }
    errs
}

/// `ValidateFinalizers`: each a qualified name (reported at the list's
/// path), and not both `orphan` and `foregroundDeletion`.
pub fn validate_finalizers(finalizers: &[String], path: &FieldPath) -> Vec<FieldError> {
    let mut errs = Vec::new();
    for f in finalizers {
        for msg in qualified_name_errors(f) {
            errs.push(FieldError::invalid(
                path.clone(),
                BadValue::Str(f.clone()),
                msg,
            ));
        }
    }
    let has = |name: &str| finalizers.iter().any(|f| f == name);
    if has("orphan") && has("foregroundDeletion") {
        let list: Vec<String> = finalizers.iter().map(|f| go_quote(f)).collect();
        errs.push(FieldError::invalid(
            path.clone(),
            BadValue::Raw(format!("[]string{{{}}}", list.join(", "))),
            "finalizer orphan and foregroundDeletion cannot be both set",
        ));
    }
    errs
}

/// `ValidateLabelSelector` (with `AllowInvalidLabelValueInSelector` false, as
/// on create): `matchLabels` at its own path, then each expression.
pub fn validate_label_selector(selector: &LabelSelector, path: &FieldPath) -> Vec<FieldError> {
    let mut errs = Vec::new();
    if let Some(labels) = &selector.match_labels {
        errs.extend(validate_labels(labels, &path.child("matchLabels")));
    }
    for (i, req) in selector.match_expressions.iter().flatten().enumerate() {
        errs.extend(validate_label_selector_requirement(
            req,
            &path.child("matchExpressions").index(i),
        ));
    }
    errs
}

/// `ValidateLabelSelectorRequirement`: the operator and its values, the key,
/// then each value (`values[i]`) as a label value.
pub fn validate_label_selector_requirement(
    req: &LabelSelectorRequirement,
    path: &FieldPath,
) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let values = req.values.as_deref().unwrap_or_default();
    match req.operator.as_str() {
        "In" | "NotIn" => {
            if values.is_empty() {
                errs.push(FieldError::required(
                    path.child("values"),
                    "must be specified when `operator` is 'In' or 'NotIn'",
                ));
            }
        }
        "Exists" | "DoesNotExist" => {
            if !values.is_empty() {
                errs.push(FieldError::forbidden(
                    path.child("values"),
                    "may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
                ));
            }
        }
        op => errs.push(FieldError::invalid(
            path.child("operator"),
            BadValue::Str(op.to_string()),
            "not a valid selector operator",
        )),
    }
    errs.extend(validate_label_name(&req.key, &path.child("key")));
    for (i, v) in values.iter().enumerate() {
        for msg in label_value_errors(v) {
            errs.push(FieldError::invalid(
                path.child("values").index(i),
                BadValue::Str(v.clone()),
                msg,
            ));
        }
    }
    errs
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validation::names::dns1123_subdomain_errors_with_prefix;

    fn strings(errs: &[FieldError]) -> Vec<String> {
        errs.iter().map(ToString::to_string).collect()
    }

    fn meta(name: Option<&str>, namespace: Option<&str>) -> ObjectMeta {
        ObjectMeta {
            name: name.map(str::to_string),
            namespace: namespace.map(str::to_string),
            ..Default::default()
        }
    }

    fn check_meta(m: &ObjectMeta) -> Vec<String> {
        strings(&validate_object_meta(
            m,
            dns1123_subdomain_errors_with_prefix,
            &FieldPath::new("metadata"),
        ))
    }

    const SUBDOMAIN: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";

    #[test]
    fn object_names_and_namespaces() {
        let cases: Vec<(ObjectMeta, Vec<String>, &str)> = vec![
            (
                meta(Some("allow-web.v1"), Some("x")),
                vec![],
                "a subdomain name in a label namespace",
            ),
            (
                meta(None, Some("x")),
                vec!["metadata.name: Required value: name or generateName is required".into()],
                "no name",
            ),
            (
                meta(Some(""), Some("x")),
                vec!["metadata.name: Required value: name or generateName is required".into()],
                "an empty name is no name",
            ),
            (
                meta(Some("Allow"), Some("x")),
                vec![format!(
                    "metadata.name: Invalid value: \"Allow\": {SUBDOMAIN}"
                )],
                "upper case name",
            ),
            (
                meta(Some("allow_web"), Some("x")),
                vec![format!(
                    "metadata.name: Invalid value: \"allow_web\": {SUBDOMAIN}"
                )],
                "underscore in the name",
            ),
            (
                meta(Some("web"), None),
                vec!["metadata.namespace: Required value".into()],
                "no namespace",
            ),
            (
                meta(Some("web"), Some("x.y")),
                vec!["metadata.namespace: Invalid value: \"x.y\": must not contain dots".into()],
                "a namespace is a label, not a subdomain",
            ),
        ];
        for (m, want, why) in cases {
            assert_eq!(check_meta(&m), want, "{why}");
        }
    }

    #[test]
    fn generate_name_is_checked_as_a_prefix() {
        let mut m = meta(Some("web-abcde"), Some("x"));
        m.generate_name = Some("web-".into());
        assert_eq!(
            check_meta(&m),
            Vec::<String>::new(),
            "a trailing dash is fine in a prefix"
        );
        m.generate_name = Some("Web-".into());
        assert_eq!(
            check_meta(&m),
            [format!(
                "metadata.generateName: Invalid value: \"Web-\": {SUBDOMAIN}"
            )]
        );
    }

    #[test]
    fn metadata_labels_are_reported_at_the_map() {
        let mut m = meta(Some("web"), Some("x"));
        m.labels = Some(
            [
                ("app".to_string(), "-web".to_string()),
                ("bad key".to_string(), "ok".to_string()),
            ]
            .into(),
        );
        let errs = validate_object_meta(
            &m,
            dns1123_subdomain_errors_with_prefix,
            &FieldPath::new("metadata"),
        );
        let paths: Vec<String> = errs.iter().map(|e| e.path.to_string()).collect();
        assert_eq!(paths, ["metadata.labels", "metadata.labels"]);
        assert_eq!(
            errs[0].value,
            Some(BadValue::Str("-web".into())),
            "the value, for a bad value"
        );
        assert_eq!(
            errs[1].value,
            Some(BadValue::Str("bad key".into())),
            "the key, for a bad key"
        );
    }

    #[test]
    fn annotation_keys_are_checked_lower_cased() {
        let mut m = meta(Some("web"), Some("x"));
        m.annotations = Some(
            [
                (
                    "Example.COM/Owner".to_string(),
                    "anything at all, even spaces".to_string(),
                ),
                ("bad/key/x".to_string(), String::new()),
            ]
            .into(),
        );
        let errs = check_meta(&m);
        assert_eq!(
            errs.len(),
            1,
            "upper case prefixes pass once lower-cased: {errs:?}"
        );
        assert!(
            errs[0].starts_with(
                "metadata.annotations: Invalid value: \"bad/key/x\": a valid label key"
            ),
            "{errs:?}"
        );
    }

    #[test]
    fn annotations_are_limited_in_total_size() {
        let mut m = meta(Some("web"), Some("x"));
        m.annotations =
            Some([("a".to_string(), "v".repeat(TOTAL_ANNOTATION_SIZE_LIMIT - 1))].into());
        assert_eq!(check_meta(&m), Vec::<String>::new(), "exactly at the limit");
        m.annotations = Some([("a".to_string(), "v".repeat(TOTAL_ANNOTATION_SIZE_LIMIT))].into());
        assert_eq!(
            check_meta(&m),
            ["metadata.annotations: Too long: may not be more than 262144 bytes"]
        );
    }

    #[test]
    fn finalizers() {
        let mut m = meta(Some("web"), Some("x"));
        m.finalizers = Some(vec!["example.com/cleanup".into(), "kubernetes".into()]);
        assert_eq!(
            check_meta(&m),
            Vec::<String>::new(),
            "qualified, and a standard one"
        );
        m.finalizers = Some(vec!["cleanup".into()]);
        assert_eq!(
            check_meta(&m),
            [
                "metadata.finalizers[0]: Invalid value: \"cleanup\": name is neither a standard finalizer name nor is it fully qualified"
            ]
        );
        m.finalizers = Some(vec!["orphan".into(), "foregroundDeletion".into()]);
        assert_eq!(
            check_meta(&m),
            [
                "metadata.finalizers: Invalid value: []string{\"orphan\", \"foregroundDeletion\"}: finalizer orphan and foregroundDeletion cannot be both set"
            ]
        );
    }

    #[test]
    fn owner_references() {
        let r = |api: &str, kind: &str, controller: Option<bool>| OwnerReference {
            api_version: api.into(),
            kind: kind.into(),
            name: "owner".into(),
            uid: "1234".into(),
            controller,
            block_owner_deletion: None,
        };
        let mut m = meta(Some("web"), Some("x"));
        m.owner_references = Some(vec![r("apps/v1", "Deployment", Some(true))]);
        assert_eq!(check_meta(&m), Vec::<String>::new());
        m.owner_references = Some(vec![r("", "", None)]);
        assert_eq!(
            check_meta(&m),
            [
                "metadata.ownerReferences.apiVersion: Invalid value: \"\": version must not be empty",
                "metadata.ownerReferences.kind: Invalid value: \"\": must not be empty",
            ]
        );
        m.owner_references = Some(vec![r("v1", "Event", None)]);
        let errs = check_meta(&m);
        assert!(
            errs[0].starts_with(
                "metadata.ownerReferences: Invalid value: &OwnerReference{APIVersion:v1,Kind:Event,"
            ),
            "{errs:?}"
        );
        assert!(
            errs[0].ends_with(": /v1, Kind=Event is disallowed from being an owner"),
            "{errs:?}"
        );
        m.owner_references = Some(vec![
            r("v1", "Pod", Some(true)),
            r("apps/v1", "ReplicaSet", Some(true)),
        ]);
        let errs = check_meta(&m);
        assert_eq!(errs.len(), 1);
        assert!(errs[0].ends_with("Only one reference can have Controller set to true. Found \"true\" in references for Pod/owner and ReplicaSet/owner"), "{errs:?}");
    }

    fn req(key: &str, op: &str, values: Option<Vec<&str>>) -> LabelSelectorRequirement {
        LabelSelectorRequirement {
            key: key.into(),
            operator: op.into(),
            values: values.map(|v| v.into_iter().map(str::to_string).collect()),
        }
    }

    #[test]
    fn selector_requirements() {
        let p = FieldPath::new("spec")
            .child("podSelector")
            .child("matchExpressions")
            .index(0);
        let cases: Vec<(LabelSelectorRequirement, Vec<&str>, &str)> = vec![
            (
                req("app", "In", Some(vec!["a", "b"])),
                vec![],
                "In with values",
            ),
            (
                req("app", "NotIn", Some(vec!["a"])),
                vec![],
                "NotIn with a value",
            ),
            (req("app", "Exists", None), vec![], "Exists without values"),
            (
                req("app", "DoesNotExist", Some(vec![])),
                vec![],
                "DoesNotExist with an empty list",
            ),
            (
                req("app", "NotIn", Some(vec![""])),
                vec![],
                "an empty string is a valid value",
            ),
            (
                req("app", "In", None),
                vec![
                    "spec.podSelector.matchExpressions[0].values: Required value: must be specified when `operator` is 'In' or 'NotIn'",
                ],
                "In without values",
            ),
            (
                req("app", "NotIn", Some(vec![])),
                vec![
                    "spec.podSelector.matchExpressions[0].values: Required value: must be specified when `operator` is 'In' or 'NotIn'",
                ],
                "NotIn with an empty list",
            ),
            (
                req("app", "Exists", Some(vec!["a"])),
                vec![
                    "spec.podSelector.matchExpressions[0].values: Forbidden: may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
                ],
                "Exists with values",
            ),
            (
                req("app", "Equals", Some(vec!["a"])),
                vec![
                    "spec.podSelector.matchExpressions[0].operator: Invalid value: \"Equals\": not a valid selector operator",
                ],
                "unknown operator",
            ),
            (
                req("app", "in", Some(vec!["a"])),
                vec![
                    "spec.podSelector.matchExpressions[0].operator: Invalid value: \"in\": not a valid selector operator",
                ],
                "operators are case-sensitive",
            ),
        ];
        for (r, want, why) in cases {
            assert_eq!(
                strings(&validate_label_selector_requirement(&r, &p)),
                want,
                "{why}"
            );
        }
        let errs = validate_label_selector_requirement(
            &req("-app", "In", Some(vec!["ok", "bad value"])),
            &p,
        );
        let paths: Vec<String> = errs.iter().map(|e| e.path.to_string()).collect();
        assert_eq!(
            paths,
            [
                "spec.podSelector.matchExpressions[0].key",
                "spec.podSelector.matchExpressions[0].values[1]"
            ],
            "the key, then each bad value at its index"
        );
    }

    #[test]
    fn selectors_check_match_labels_then_expressions() {
        let sel = LabelSelector {
            match_labels: Some([("app".to_string(), "web!".to_string())].into()),
            match_expressions: Some(vec![req("app", "Exists", None), req("tier", "Bad", None)]),
        };
        let errs = validate_label_selector(&sel, &FieldPath::new("spec").child("podSelector"));
        let paths: Vec<String> = errs.iter().map(|e| e.path.to_string()).collect();
        assert_eq!(
            paths,
            [
                "spec.podSelector.matchLabels",
                "spec.podSelector.matchExpressions[1].operator"
            ]
        );
        assert!(
            validate_label_selector(&LabelSelector::default(), &FieldPath::root()).is_empty(),
            "{{}} is valid"
        );
    }
}
