//! The OpenAPI schema of the experimental channel's ClusterNetworkPolicy
//! CRD (`config/crd/experimental/policy.networking.k8s.io_clusternetworkpolicies.yaml`
//! of kubernetes-sigs/network-policy-api), and what the API server does
//! with such a schema, in its order:
//!
//! 1. [`prune`]: fields the schema does not declare are dropped
//!    (`apiextensions-apiserver/pkg/apiserver/schema/pruning`), which strict
//!    field validation reports; `null` fields are dropped too
//!    (`PruneNonNullableNullsWithoutDefaults`).
//! 2. [`validate`]: kube-openapi's validator
//!    (`k8s.io/kube-openapi/pkg/validation/validate`), its errors turned
//!    into field errors as apiextensions-apiserver's
//!    `kubeOpenAPIResultToFieldErrors` does, messages included.
//! 3. [`check_sets`]: `x-kubernetes-list-type: set` (`schema/listtype`).
//! 4. [`check_rules`]: the CEL rules (`x-kubernetes-validations`,
//!    `schema/cel`), as Kubernetes 1.35 and later word a failed rule.
//!
//! kube-openapi walks an object's properties in Go map order (random);
//! here they are walked in the order of the API's Go types.

use std::collections::HashMap;

use serde_json::{Map, Number, Value};

use crate::field_path::FieldPath;
use crate::validation::{BadValue, FieldError, cidr, go_quote};

/// A schema's `type`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Type {
    Object,
    Array,
    String,
    Integer,
}

impl Type {
    fn name(self) -> &'static str {
        match self {
            Type::Object => "object",
            Type::Array => "array",
            Type::String => "string",
            Type::Integer => "integer",
        }
    }
}

/// A rule of `x-kubernetes-validations`, written in Rust: `holds` gets a
/// value that passed the schema.
#[derive(Debug)]
pub(super) struct Rule {
    /// The CEL expression, for the reader.
    #[allow(dead_code)]
    pub cel: &'static str,
    pub message: &'static str,
    pub holds: fn(&Value) -> bool,
}

/// A `pattern`, with the matcher that stands for it.
#[derive(Debug)]
pub(super) struct Pattern {
    /// The regular expression as the CRD writes it (the message quotes it).
    pub source: &'static str,
    pub matches: fn(&str) -> bool,
}

/// One node of a structural schema: only the keywords the CRD uses.
#[derive(Debug, Default)]
pub(super) struct Schema {
    /// `None`: nothing is checked.
    pub ty: Option<Type>,
    /// `format: int32`.
    pub int32: bool,
    pub enumeration: &'static [&'static str],
    pub minimum: Option<i64>,
    pub maximum: Option<i64>,
    pub max_length: Option<usize>,
    pub pattern: Option<Pattern>,
    pub min_items: Option<usize>,
    pub max_items: Option<usize>,
    /// `x-kubernetes-list-type: set`.
    pub list_set: bool,
    pub min_properties: Option<usize>,
    pub max_properties: Option<usize>,
    pub properties: Vec<(&'static str, Schema)>,
    pub required: &'static [&'static str],
    pub additional_properties: Option<Box<Schema>>,
    pub items: Option<Box<Schema>>,
    pub rules: Vec<Rule>,
    /// `metadata`: typed `object` only; its fields are `ObjectMeta`'s,
    /// checked apart (neither pruned nor walked here).
    pub opaque: bool,
    /// A `metav1.LabelSelector` (netpol checks it further).
    pub label_selector: bool,
}

impl Schema {
    fn property(&self, name: &str) -> Option<&Schema> {
        self.properties
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, s)| s)
    }

    /// The schema of the field `name` of an object: a property, or the
    /// `additionalProperties` schema.
    fn field(&self, name: &str) -> Option<&Schema> {
        self.property(name)
            .or(self.additional_properties.as_deref())
    }

    fn required(mut self, required: &'static [&'static str]) -> Schema {
        self.required = required;
        self
    }

    /// `minProperties: 1` and `maxProperties: 1`: a union.
    fn exactly_one_property(mut self) -> Schema {
        self.min_properties = Some(1);
        self.max_properties = Some(1);
        self
    }

    fn min_properties(mut self, n: usize) -> Schema {
        self.min_properties = Some(n);
        self
    }

    fn items_between(mut self, min: Option<usize>, max: usize) -> Schema {
        self.min_items = min;
        self.max_items = Some(max);
        self
    }

    fn set(mut self) -> Schema {
        self.list_set = true;
        self
    }

    fn max_length(mut self, n: usize) -> Schema {
        self.max_length = Some(n);
        self
    }

    fn rule(mut self, rule: Rule) -> Schema {
        self.rules.push(rule);
        self
    }
}

fn object(properties: Vec<(&'static str, Schema)>) -> Schema {
    Schema {
        ty: Some(Type::Object),
        properties,
        ..Schema::default()
    }
}

fn array(items: Schema) -> Schema {
    Schema {
        ty: Some(Type::Array),
        items: Some(Box::new(items)),
        ..Schema::default()
    }
}

fn string() -> Schema {
    Schema {
        ty: Some(Type::String),
        ..Schema::default()
    }
}

fn one_of(values: &'static [&'static str]) -> Schema {
    Schema {
        enumeration: values,
        ..string()
    }
}

fn int32(minimum: i64, maximum: i64) -> Schema {
    Schema {
        ty: Some(Type::Integer),
        int32: true,
        minimum: Some(minimum),
        maximum: Some(maximum),
        ..Schema::default()
    }
}

/// The whole object: `apiVersion`, `kind`, `metadata`, `spec`, `status`.
/// With the status subresource the API server drops `status` on create
/// before validating, but only after decoding it strictly: an unknown
/// field in it is an error, the rest is not checked (its fields are
/// untyped here). The caller drops it once pruned.
pub(super) fn cluster_network_policy() -> Schema {
    let condition = [
        "lastTransitionTime",
        "message",
        "observedGeneration",
        "reason",
        "status",
        "type",
    ]
    .map(|f| (f, Schema::default()));
    object(vec![
        ("apiVersion", string()),
        ("kind", string()),
        (
            "metadata",
            Schema {
                ty: Some(Type::Object),
                opaque: true,
                ..Schema::default()
            },
        ),
        ("spec", spec()),
        (
            "status",
            object(vec![("conditions", array(object(condition.into())))]),
        ),
    ])
    .required(&["metadata", "spec"])
}

fn spec() -> Schema {
    object(vec![
        ("tier", one_of(&["Admin", "Baseline"])),
        ("priority", int32(0, 1000)),
        (
            "subject",
            object(vec![
                ("namespaces", label_selector()),
                ("pods", namespaced_pod()),
            ])
            .exactly_one_property(),
        ),
        ("ingress", array(ingress_rule()).items_between(None, 25)),
        ("egress", array(egress_rule()).items_between(None, 25)),
    ])
    .required(&["priority", "subject", "tier"])
}

const ACTIONS: &[&str] = &["Accept", "Deny", "Pass"];

fn ingress_rule() -> Schema {
    let peer = object(vec![
        ("namespaces", label_selector()),
        ("pods", namespaced_pod()),
    ])
    .exactly_one_property();
    object(vec![
        ("name", string().max_length(100)),
        ("action", one_of(ACTIONS)),
        ("from", array(peer).items_between(Some(1), 25)),
        ("protocols", protocols()),
    ])
    .required(&["action", "from"])
}

fn egress_rule() -> Schema {
    let network = string().max_length(43).rule(Rule {
        cel: "isCIDR(self)",
        message: "Invalid CIDR format provided",
        holds: |v| v.as_str().is_some_and(cidr::is_cel_cidr),
    });
    let domain_name = Schema {
        pattern: Some(Pattern {
            source: DOMAIN_NAME_PATTERN,
            matches: is_domain_name,
        }),
        ..string()
    };
    let peer = object(vec![
        ("namespaces", label_selector()),
        ("pods", namespaced_pod()),
        ("nodes", label_selector()),
        ("networks", array(network).items_between(Some(1), 25).set()),
        (
            "domainNames",
            array(domain_name).items_between(Some(1), 25).set(),
        ),
    ])
    .exactly_one_property();
    object(vec![
        ("name", string().max_length(100)),
        ("action", one_of(ACTIONS)),
        ("to", array(peer).items_between(Some(1), 25)),
        ("protocols", protocols()),
    ])
    .required(&["action", "to"])
    .rule(Rule {
        cel: "!(self.to.exists(peer, has(peer.networks) || has(peer.nodes) || has(peer.domainNames)) \
              && has(self.protocols) && self.protocols.exists(protocol, has(protocol.destinationNamedPort)))",
        message: "networks/nodes/domainNames peer cannot be set with namedPorts since there are no namedPorts for networks/nodes/domainNames",
        holds: no_named_port_to_addresses,
    })
}

/// The egress rule's CEL rule.
fn no_named_port_to_addresses(rule: &Value) -> bool {
    let has = |v: &Value, field: &str| v.get(field).is_some();
    let to_addresses = rule
        .get("to")
        .and_then(Value::as_array)
        .is_some_and(|peers| {
            peers
                .iter()
                .any(|p| has(p, "networks") || has(p, "nodes") || has(p, "domainNames"))
        });
    let named_port = rule
        .get("protocols")
        .and_then(Value::as_array)
        .is_some_and(|ps| ps.iter().any(|p| has(p, "destinationNamedPort")));
    !(to_addresses && named_port)
}

fn protocols() -> Schema {
    let transport = || object(vec![("destinationPort", port())]).min_properties(1);
    let entry = object(vec![
        ("tcp", transport()),
        ("udp", transport()),
        ("sctp", transport()),
        ("destinationNamedPort", string()),
    ])
    .exactly_one_property();
    array(entry).items_between(Some(1), 25)
}

/// `Port`: a number or a range.
fn port() -> Schema {
    let range = object(vec![("start", int32(1, 65535)), ("end", int32(1, 65535))])
        .required(&["end", "start"])
        .rule(Rule {
            cel: "self.start < self.end",
            message: "Start port must be less than End port",
            holds: |v| {
                let n = |f: &str| v.get(f).and_then(Value::as_i64);
                matches!((n("start"), n("end")), (Some(s), Some(e)) if s < e)
            },
        });
    object(vec![("number", int32(1, 65535)), ("range", range)]).exactly_one_property()
}

/// `metav1.LabelSelector` as controller-gen writes it.
fn label_selector() -> Schema {
    let requirement = object(vec![
        ("key", string()),
        ("operator", string()),
        ("values", array(string())),
    ])
    .required(&["key", "operator"]);
    Schema {
        label_selector: true,
        ..object(vec![
            ("matchExpressions", array(requirement)),
            (
                "matchLabels",
                Schema {
                    ty: Some(Type::Object),
                    additional_properties: Some(Box::new(string())),
                    ..Schema::default()
                },
            ),
        ])
    }
}

fn namespaced_pod() -> Schema {
    object(vec![
        ("namespaceSelector", label_selector()),
        ("podSelector", label_selector()),
    ])
    .required(&["podSelector"])
}

/// The `pattern` of `DomainName`, as the CRD writes it (`A-z` included).
pub(super) const DOMAIN_NAME_PATTERN: &str = r"^(\*\.)?([a-zA-z0-9]([-a-zA-Z0-9_]*[a-zA-Z0-9])?\.)+[a-zA-z0-9]([-a-zA-Z0-9_]*[a-zA-Z0-9])?\.?$";

/// Whether `s` matches [`DOMAIN_NAME_PATTERN`]: an optional `*.`, then at
/// least two labels joined by dots, then an optional dot.
fn is_domain_name(s: &str) -> bool {
    let s = s.strip_prefix("*.").unwrap_or(s);
    let s = s.strip_suffix('.').unwrap_or(s);
    let labels: Vec<&str> = s.split('.').collect();
    labels.len() >= 2 && labels.iter().all(|l| is_domain_label(l))
}

/// `[a-zA-z0-9]([-a-zA-Z0-9_]*[a-zA-Z0-9])?`. The range `A-z` of the first
/// class also spans `[`, `\`, `]`, `^`, `_` and the backtick: a label may
/// start with one of them, and a one-character label may be one.
fn is_domain_label(label: &str) -> bool {
    let first = |c: u8| (b'A'..=b'z').contains(&c) || c.is_ascii_digit();
    let middle = |c: u8| c.is_ascii_alphanumeric() || c == b'-' || c == b'_';
    match label.as_bytes() {
        [] => false,
        [c] => first(*c),
        [f, mid @ .., l] => {
            first(*f) && l.is_ascii_alphanumeric() && mid.iter().all(|c| middle(*c))
        }
    }
}

/// The object as the API server validates it: fields the schema does not
/// declare dropped (each reported in `unknown`, `unknown field "foo"`),
/// `null` fields dropped, and numbers that are whole written as integers
/// (`80.0` reaches the API server from kubectl as `80`).
pub(super) fn prune(
    v: &Value,
    s: Option<&Schema>,
    path: &FieldPath,
    unknown: &mut Vec<FieldError>,
) -> Value {
    match v {
        Value::Object(_) if s.is_some_and(|s| s.opaque) => v.clone(),
        Value::Object(map) => {
            let mut out = Map::new();
            for (key, value) in map {
                match s.and_then(|s| s.field(key)) {
                    Some(_) if value.is_null() => {}
                    Some(child) => {
                        let pruned = prune(value, Some(child), &path.child(key), unknown);
                        out.insert(key.clone(), pruned);
                    }
                    None => unknown.push(FieldError::unknown_field(path.child(key), key)),
                }
            }
            Value::Object(out)
        }
        Value::Array(items) => Value::Array(
            items
                .iter()
                .enumerate()
                .map(|(i, x)| {
                    prune(
                        x,
                        s.and_then(|s| s.items.as_deref()),
                        &path.index(i),
                        unknown,
                    )
                })
                .collect(),
        ),
        Value::Number(n) => Value::Number(whole_as_integer(n)),
        _ => v.clone(),
    }
}

/// `80.0` as `80`, as Go's `encoding/json` writes a whole float64 below 1e21
/// (kubectl turns YAML into JSON so) and the API server reads it back.
fn whole_as_integer(n: &Number) -> Number {
    match n.as_f64() {
        #[allow(clippy::cast_possible_truncation)]
        Some(f) if !n.is_i64() && !n.is_u64() && f.fract() == 0.0 && f.abs() < 9.2e18 => {
            Number::from(f as i64)
        }
        _ => n.clone(),
    }
}

/// kube-openapi's `SchemaValidator.Validate` of `v` against `s`: the type,
/// then the checks of `v`'s own kind (string, number, array), the enum,
/// then an object's properties. A value of the wrong type still gets the
/// checks of its own kind, as there.
pub(super) fn validate(v: &Value, s: &Schema, path: &FieldPath, errs: &mut Vec<FieldError>) {
    let Some(ty) = s.ty else {
        return;
    };
    if let Some(e) = type_error(v, ty, s.int32, path) {
        errs.push(e);
    }
    match v {
        Value::String(text) => check_string(text, s, path, errs),
        Value::Number(n) => check_number(n, s, path, errs),
        Value::Array(items) => check_array(items, s, path, errs),
        _ => {}
    }
    if !s.enumeration.is_empty() && !v.as_str().is_some_and(|t| s.enumeration.contains(&t)) {
        errs.push(FieldError::not_supported(
            path.clone(),
            bad_value(v),
            s.enumeration,
        ));
    }
    if let Value::Object(map) = v
        && !s.opaque
    {
        check_object(map, s, path, errs);
    }
}

/// `<path> in body`, as kube-openapi names a value in its messages.
fn in_body(path: &FieldPath) -> String {
    format!("{path} in body")
}

/// kube-openapi's `typeValidator`: the value's JSON type (and, for an
/// `int32` field, its Go format) against the schema's.
fn type_error(v: &Value, ty: Type, int32: bool, path: &FieldPath) -> Option<FieldError> {
    let (actual, format) = match v {
        Value::Null => ("null", ""),
        Value::Bool(_) => ("boolean", ""),
        Value::String(_) => ("string", ""),
        Value::Number(n) if n.is_i64() || n.is_u64() => ("integer", "int64"),
        Value::Number(_) => ("number", "float64"),
        Value::Array(_) => ("array", ""),
        Value::Object(_) => ("object", ""),
    };
    let error = |expected: &str, got: &str| {
        FieldError::type_invalid(
            path.clone(),
            BadValue::Str(got.to_string()),
            format!(
                "{} must be of type {expected}: {}",
                in_body(path),
                go_quote(got)
            ),
        )
    };
    if v.is_null() {
        return Some(error(ty.name(), "null"));
    }
    // A number, boolean or object for an `int32` field is named by its
    // format ("" for the latter two); a string or array by its type.
    if int32 && !v.is_string() && !v.is_array() && actual != ty.name() {
        return Some(error("int32", format));
    }
    (actual != ty.name()).then(|| error(ty.name(), actual))
}

/// kube-openapi's `stringValidator`: the first failing of `maxLength`
/// (counted in characters, worded in bytes) and `pattern`.
fn check_string(text: &str, s: &Schema, path: &FieldPath, errs: &mut Vec<FieldError>) {
    if let Some(max) = s.max_length
        && text.chars().count() > max
    {
        errs.push(FieldError::too_long(path.clone(), max));
        return;
    }
    if let Some(p) = &s.pattern
        && !(p.matches)(text)
    {
        errs.push(FieldError::invalid(
            path.clone(),
            BadValue::Str(text.to_string()),
            format!("{} should match '{}'", in_body(path), p.source),
        ));
    }
}

/// kube-openapi's `numberValidator` for an `int32` field: a value outside
/// int32 is reported with no field (a plain error the API server files
/// under a nil path), then `minimum` and `maximum`.
fn check_number(n: &Number, s: &Schema, path: &FieldPath, errs: &mut Vec<FieldError>) {
    if s.ty != Some(Type::Integer) {
        return;
    }
    if s.int32 && n.as_i64().is_none_or(|i| i32::try_from(i).is_err()) {
        errs.push(FieldError::invalid(
            FieldPath::root(),
            BadValue::Str(String::new()),
            format!("Checked value must be of type integer with format int32 in {path}"),
        ));
    }
    let value = n.as_f64().unwrap_or(f64::NAN);
    if let Some(min) = s.minimum
        && value < min as f64
    {
        errs.push(FieldError::invalid(
            path.clone(),
            number_value(n),
            format!("{} should be greater than or equal to {min}", in_body(path)),
        ));
    }
    if let Some(max) = s.maximum
        && value > max as f64
    {
        errs.push(FieldError::invalid(
            path.clone(),
            number_value(n),
            format!("{} should be less than or equal to {max}", in_body(path)),
        ));
    }
}

/// kube-openapi's `schemaSliceValidator`: the items, then `minItems`
/// (`field.Invalid` with the length) and `maxItems` (`field.TooMany`).
fn check_array(items: &[Value], s: &Schema, path: &FieldPath, errs: &mut Vec<FieldError>) {
    if let Some(item) = &s.items {
        for (i, x) in items.iter().enumerate() {
            validate(x, item, &path.index(i), errs);
        }
    }
    if let Some(min) = s.min_items
        && items.len() < min
    {
        errs.push(FieldError::invalid(
            path.clone(),
            count(items.len()),
            format!("{} should have at least {min} items", in_body(path)),
        ));
    }
    if let Some(max) = s.max_items
        && items.len() > max
    {
        errs.push(FieldError::too_many(path.clone(), items.len(), max));
    }
}

/// kube-openapi's `objectValidator`: `minProperties` (`field.Invalid`),
/// `maxProperties` (`field.TooMany`), the additional properties, the
/// properties, then the required ones that are missing.
fn check_object(
    map: &Map<String, Value>,
    s: &Schema,
    path: &FieldPath,
    errs: &mut Vec<FieldError>,
) {
    if let Some(min) = s.min_properties
        && map.len() < min
    {
        errs.push(FieldError::invalid(
            path.clone(),
            count(map.len()),
            format!("{} should have at least {min} properties", in_body(path)),
        ));
    }
    if let Some(max) = s.max_properties
        && map.len() > max
    {
        errs.push(FieldError::too_many(path.clone(), map.len(), max));
    }
    if let Some(additional) = &s.additional_properties {
        for (key, value) in map {
            if s.property(key).is_none() {
                validate(value, additional, &path.child(key), errs);
            }
        }
    }
    for (name, property) in &s.properties {
        if let Some(value) = map.get(*name) {
            validate(value, property, &path.child(name), errs);
        }
    }
    for name in s.required {
        if !map.contains_key(*name) {
            errs.push(FieldError::required(path.child(name), ""));
        }
    }
}

fn count(n: usize) -> BadValue {
    BadValue::Raw(n.to_string())
}

fn number_value(n: &Number) -> BadValue {
    match n.as_i64() {
        Some(i) => BadValue::Int(i),
        None => BadValue::Raw(go_float(n.as_f64().unwrap_or(f64::NAN))),
    }
}

/// A JSON value as `field.Error` prints a bad value: strings quoted,
/// integers bare, anything else as JSON (floats as Go's `%v`).
pub(super) fn bad_value(v: &Value) -> BadValue {
    match v {
        Value::String(s) => BadValue::Str(s.clone()),
        Value::Number(n) => number_value(n),
        other => BadValue::Raw(other.to_string()),
    }
}

/// Go's `%v` of a float64: the shortest digits, in exponent form (at least
/// two exponent digits) when the exponent is below -4 or at least 6.
fn go_float(f: f64) -> String {
    let sci = format!("{f:e}");
    let Some((mantissa, exp)) = sci.split_once('e') else {
        return sci;
    };
    let exp: i32 = exp.parse().unwrap_or(0);
    if (-4..6).contains(&exp) {
        format!("{f}")
    } else {
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{mantissa}e{sign}{:02}", exp.abs())
    }
}

/// Calls `f` on every value present in `v` that the schema describes,
/// parents before children, properties in the schema's order.
pub(super) fn walk(
    v: &Value,
    s: &Schema,
    path: &FieldPath,
    f: &mut dyn FnMut(&Value, &Schema, &FieldPath),
) {
    f(v, s, path);
    match v {
        Value::Object(map) if !s.opaque => {
            for (name, property) in &s.properties {
                if let Some(x) = map.get(*name) {
                    walk(x, property, &path.child(name), f);
                }
            }
            if let Some(additional) = &s.additional_properties {
                for (key, x) in map {
                    if s.property(key).is_none() {
                        walk(x, additional, &path.child(key), f);
                    }
                }
            }
        }
        Value::Array(items) => {
            if let Some(item) = &s.items {
                for (i, x) in items.iter().enumerate() {
                    walk(x, item, &path.index(i), f);
                }
            }
        }
        _ => {}
    }
}

/// `ValidateListSetsAndMaps`: in a `set` list, the second occurrence of a
/// value is a `Duplicate value` (a third is not reported again).
pub(super) fn check_sets(v: &Value, s: &Schema, path: &FieldPath, errs: &mut Vec<FieldError>) {
    walk(v, s, path, &mut |v, s, path| {
        let (true, Value::Array(items)) = (s.list_set, v) else {
            return;
        };
        let mut seen: HashMap<String, usize> = HashMap::new();
        for (i, x) in items.iter().enumerate() {
            let times = seen.entry(x.to_string()).or_insert(0);
            *times += 1;
            if *times == 2 {
                errs.push(FieldError::duplicate(path.index(i), bad_value(x)));
            }
        }
    });
}

/// The CEL rules of every value present, each failure a `field.Invalid` at
/// the value carrying the rule: the value printed for a string, omitted
/// for an object or a list (Kubernetes 1.35 and later).
pub(super) fn check_rules(v: &Value, s: &Schema, path: &FieldPath, errs: &mut Vec<FieldError>) {
    walk(v, s, path, &mut |v, s, path| {
        for rule in &s.rules {
            if (rule.holds)(v) {
                continue;
            }
            errs.push(if v.is_object() || v.is_array() {
                FieldError::invalid_omitting_value(path.clone(), rule.message)
            } else {
                FieldError::invalid(path.clone(), bad_value(v), rule.message)
            });
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domain_names_match_the_crd_pattern() {
        let cases = [
            ("example.com", true, "two labels"),
            ("www.example.com", true, "three labels"),
            ("*.example.com", true, "a wildcard"),
            ("example.com.", true, "fully qualified"),
            (
                "a-b_c.example.com",
                true,
                "hyphen and underscore inside a label",
            ),
            (
                "_srv.example.com",
                true,
                "the class A-z spans the underscore",
            ),
            ("Example.COM", true, "upper case"),
            ("1.2", true, "digits"),
            ("localhost", false, "one label"),
            ("*.com", false, "a wildcard over one label"),
            ("*.*.example.com", false, "two wildcards"),
            ("example..com", false, "an empty label"),
            ("-a.example.com", false, "a leading hyphen"),
            ("a-.example.com", false, "a trailing hyphen"),
            ("a_.example.com", false, "a trailing underscore"),
            ("example.com..", false, "two trailing dots"),
            ("exa mple.com", false, "a space"),
            ("bücher.example", false, "not ASCII"),
            ("", false, "empty"),
        ];
        for (s, want, why) in cases {
            assert_eq!(is_domain_name(s), want, "{s:?}: {why}");
        }
    }

    #[test]
    fn floats_print_as_go_prints_them() {
        let cases = [
            (80.5, "80.5"),
            (100_000.0, "100000"),
            (1_000_000.0, "1e+06"),
            (1_234_567.5, "1.2345675e+06"),
            (0.0001, "0.0001"),
            (0.000_01, "1e-05"),
            (-3.25, "-3.25"),
        ];
        for (f, want) in cases {
            assert_eq!(go_float(f), want);
        }
    }
}
