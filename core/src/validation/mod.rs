//! Kubernetes validation of NetworkPolicy objects, with the API server's
//! rules, field paths and messages (`pkg/apis/networking/validation` and the
//! apimachinery label-selector and name validation).
//!
//! - [`names`]: the string formats (`IsQualifiedName`, `IsValidLabelValue`,
//!   `IsDNS1123Label`, `IsDNS1123Subdomain`, `IsValidPortName`, `IsValidPortNum`).
//! - [`cidr`]: CIDR parsing as `netutils.ParseCIDRSloppy` does it, and Go's
//!   `IPNet.Contains`.
//! - [`meta`]: `ValidateObjectMeta`, `ValidateLabels`, `ValidateLabelSelector`.
//! - [`network_policy`]: `ValidateNetworkPolicySpec` and what it calls.
//!
//! The behaviour is that of an API server with default feature gates
//! (`StrictIPCIDRValidation` off), on create.

pub mod cidr;
pub mod cluster_network_policy;
pub mod meta;
pub mod names;
pub mod network_policy;

use std::fmt::{self, Write};

use k8s_openapi::api::networking::v1::NetworkPolicy;

use crate::field_path::FieldPath;

pub use names::{
    dns1123_label_errors, dns1123_subdomain_errors, label_value_errors, port_name_errors,
    port_num_errors, qualified_name_errors,
};

/// The kinds of `field.Error` the API server reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorType {
    Required,
    Forbidden,
    Invalid,
    NotSupported,
    Duplicate,
    TooLong,
    TooMany,
    /// Not a `field.Error`: a field strict decoding does not know
    /// (`unknown field "foo"`), which kubectl's default strict field
    /// validation makes an error.
    UnknownField,
    /// `field.TypeInvalid`: printed as `Invalid value`, but a type error
    /// (the API server skips CEL rules after one).
    TypeInvalid,
}

impl ErrorType {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorType::Required => "Required value",
            ErrorType::Forbidden => "Forbidden",
            ErrorType::Invalid | ErrorType::TypeInvalid => "Invalid value",
            ErrorType::NotSupported => "Unsupported value",
            ErrorType::Duplicate => "Duplicate value",
            ErrorType::TooLong => "Too long",
            ErrorType::TooMany => "Too many",
            ErrorType::UnknownField => "unknown field",
        }
    }
}

/// The offending value, printed as Go's `field.Error` prints it: strings
/// quoted, numbers bare.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BadValue {
    Str(String),
    Int(i64),
    /// Already formatted (e.g. a list).
    Raw(String),
}

impl fmt::Display for BadValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BadValue::Str(s) => f.write_str(&go_quote(s)),
            BadValue::Int(i) => write!(f, "{i}"),
            BadValue::Raw(s) => f.write_str(s),
        }
    }
}

/// One validation error, relative to the object validated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldError {
    pub path: FieldPath,
    pub error_type: ErrorType,
    pub value: Option<BadValue>,
    pub detail: String,
}

impl FieldError {
    /// `field.Required`: no value is printed.
    pub fn required(path: FieldPath, detail: impl Into<String>) -> FieldError {
        FieldError {
            path,
            error_type: ErrorType::Required,
            value: None,
            detail: detail.into(),
        }
    }

    /// `field.Forbidden`: no value is printed.
    pub fn forbidden(path: FieldPath, detail: impl Into<String>) -> FieldError {
        FieldError {
            path,
            error_type: ErrorType::Forbidden,
            value: None,
            detail: detail.into(),
        }
    }

    /// `field.Invalid` with the value omitted (`field.OmitValueType`), as
    /// the API server reports a failed CEL rule on an object.
    pub fn invalid_omitting_value(path: FieldPath, detail: impl Into<String>) -> FieldError {
        FieldError {
            path,
            error_type: ErrorType::Invalid,
            value: None,
            detail: detail.into(),
        }
    }

    /// `field.TypeInvalid`.
    pub fn type_invalid(path: FieldPath, value: BadValue, detail: impl Into<String>) -> FieldError {
        FieldError {
            path,
            error_type: ErrorType::TypeInvalid,
            value: Some(value),
            detail: detail.into(),
        }
    }

    /// `field.Duplicate`.
    pub fn duplicate(path: FieldPath, value: BadValue) -> FieldError {
        FieldError {
            path,
            error_type: ErrorType::Duplicate,
            value: Some(value),
            detail: String::new(),
        }
    }

    /// A field the object's type does not have: `spec.foo: unknown field "foo"`.
    pub fn unknown_field(path: FieldPath, key: &str) -> FieldError {
        FieldError {
            path,
            error_type: ErrorType::UnknownField,
            value: Some(BadValue::Str(key.to_string())),
            detail: String::new(),
        }
    }

    /// Whether the API server skips CEL rules after this error
    /// (apiextensions-apiserver's `hasBlockingErr`).
    pub fn blocks_rules(&self) -> bool {
        matches!(
            self.error_type,
            ErrorType::NotSupported
                | ErrorType::Required
                | ErrorType::TooLong
                | ErrorType::TooMany
                | ErrorType::TypeInvalid
        )
    }

    /// `field.TooMany`: a list (or an object's properties) longer than `max`.
    pub fn too_many(path: FieldPath, actual: usize, max: usize) -> FieldError {
        let unit = if max == 1 { "item" } else { "items" };
        FieldError {
            path,
            error_type: ErrorType::TooMany,
            value: Some(BadValue::Raw(actual.to_string())),
            detail: format!("must have at most {max} {unit}"),
        }
    }

    /// `field.Invalid`.
    pub fn invalid(path: FieldPath, value: BadValue, detail: impl Into<String>) -> FieldError {
        FieldError {
            path,
            error_type: ErrorType::Invalid,
            value: Some(value),
            detail: detail.into(),
        }
    }

    /// `field.NotSupported`: the detail lists the supported values, quoted.
    pub fn not_supported(path: FieldPath, value: BadValue, supported: &[&str]) -> FieldError {
        let detail = if supported.is_empty() {
            String::new()
        } else {
            let quoted: Vec<String> = supported.iter().map(|s| go_quote(s)).collect();
            format!("supported values: {}", quoted.join(", "))
        };
        FieldError {
            path,
            error_type: ErrorType::NotSupported,
            value: Some(value),
            detail,
        }
    }

    /// `field.TooLong`: the value is not printed (the wording of
    /// Kubernetes 1.32 and later).
    pub fn too_long(path: FieldPath, max_bytes: usize) -> FieldError {
        let unit = if max_bytes == 1 { "byte" } else { "bytes" };
        FieldError {
            path,
            error_type: ErrorType::TooLong,
            value: None,
            detail: format!("may not be more than {max_bytes} {unit}"),
        }
    }
}

impl fmt::Display for FieldError {
    /// `spec.ingress[0].from[0].ipBlock.except[0]: Invalid value: "10.0.0.0/24": must be a strict subset of `cidr``
    /// An error of no field (a nil `*field.Path` in Go) prints as `<nil>`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_root() {
            f.write_str("<nil>")?;
        } else {
            write!(f, "{}", self.path)?;
        }
        if self.error_type == ErrorType::UnknownField {
            let key = self
                .value
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default();
            return write!(f, ": unknown field {key}");
        }
        write!(f, ": {}", self.error_type.as_str())?;
        if let Some(v) = &self.value {
            write!(f, ": {v}")?;
        }
        if !self.detail.is_empty() {
            write!(f, ": {}", self.detail)?;
        }
        Ok(())
    }
}

/// Validates a NetworkPolicy as the API server does on create
/// (`ValidateNetworkPolicy`): the metadata first, then the spec. An error
/// printed exactly like an earlier one is dropped, as the API server's
/// `ErrorList.ToAggregate` does.
pub fn validate_network_policy(np: &NetworkPolicy) -> Vec<FieldError> {
    let mut errors = meta::validate_object_meta(
        &np.metadata,
        names::dns1123_subdomain_errors_with_prefix,
        &FieldPath::new("metadata"),
    );
    let default_spec = Default::default();
    errors.extend(network_policy::validate_spec(
        np.spec.as_ref().unwrap_or(&default_spec),
        &FieldPath::new("spec"),
    ));
    let mut seen = std::collections::HashSet::new();
    errors.retain(|e| seen.insert(e.to_string()));
    errors
}

/// A string quoted as Go's `strconv.Quote` (and `%q`) quotes it: printable
/// characters as they are, `\"` and `\\`, the C escapes, `\xNN` for other
/// ASCII controls, `\uNNNN` / `\UNNNNNNNN` for other unprintable characters.
///
/// Go's `unicode.IsPrint` is table-driven; above Latin-1 this treats as
/// unprintable the controls, the spaces other than U+0020, the format
/// characters and the private-use areas, which covers what a label or a
/// name is likely to hold (unassigned code points are printed as they are).
pub fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if go_is_print(c) => out.push(c),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{b}' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c if (c as u32) < 0x10000 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => {
                let _ = write!(out, "\\U{:08x}", c as u32);
            }
        }
    }
    out.push('"');
    out
}

fn go_is_print(c: char) -> bool {
    let r = c as u32;
    if r < 0x80 {
        return (0x20..=0x7e).contains(&r);
    }
    if r < 0x100 {
        return (0xa1..=0xff).contains(&r) && r != 0xad;
    }
    let format_or_private = matches!(r,
        0x061c | 0x06dd | 0x070f | 0x08e2 | 0x180e
        | 0x200b..=0x200f | 0x2028..=0x202e | 0x2060..=0x206f
        | 0xe000..=0xf8ff | 0xfeff | 0xfff9..=0xfffb
        | 0x110bd | 0x110cd | 0x1d173..=0x1d17a
        | 0xe0001 | 0xe0020..=0xe007f | 0xf0000..)
        || (0xfdd0..=0xfdef).contains(&r)
        || r & 0xfffe == 0xfffe;
    !(c.is_control() || c.is_whitespace() || format_or_private)
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::networking::v1::{
        IPBlock, NetworkPolicyIngressRule, NetworkPolicyPeer, NetworkPolicySpec,
    };
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    #[test]
    fn values_are_quoted_as_go_quotes_them() {
        let cases = [
            ("web", r#""web""#, "plain ASCII"),
            ("a\"b\\c", r#""a\"b\\c""#, "quote and backslash escaped"),
            ("tab\there", r#""tab\there""#, "C escape"),
            ("\u{1}", r#""\x01""#, "ASCII control as \\x"),
            ("\u{7f}", r#""\x7f""#, "DEL as \\x"),
            ("rā", "\"rā\"", "printable non-ASCII kept"),
            ("\u{a0}", r#""\u00a0""#, "no-break space escaped"),
            ("\u{200b}", r#""\u200b""#, "zero-width space escaped"),
            ("\u{f0000}", r#""\U000f0000""#, "private use, astral plane"),
        ];
        for (s, want, why) in cases {
            assert_eq!(go_quote(s), want, "{why}");
        }
    }

    #[test]
    fn errors_display_as_go_field_errors() {
        let path = FieldPath::new("spec").child("ingress").index(0);
        let cases = [
            (
                FieldError::required(path.child("cidr"), ""),
                "spec.ingress[0].cidr: Required value",
            ),
            (
                FieldError::forbidden(
                    path.clone(),
                    "may not specify both ipBlock and another peer",
                ),
                "spec.ingress[0]: Forbidden: may not specify both ipBlock and another peer",
            ),
            (
                FieldError::invalid(
                    path.child("port"),
                    BadValue::Int(0),
                    "must be between 1 and 65535, inclusive",
                ),
                "spec.ingress[0].port: Invalid value: 0: must be between 1 and 65535, inclusive",
            ),
            (
                FieldError::not_supported(
                    path.child("protocol"),
                    BadValue::Str("tcp".into()),
                    &["TCP", "UDP", "SCTP"],
                ),
                "spec.ingress[0].protocol: Unsupported value: \"tcp\": supported values: \"TCP\", \"UDP\", \"SCTP\"",
            ),
            (
                FieldError::too_long(FieldPath::new("metadata").child("annotations"), 262144),
                "metadata.annotations: Too long: may not be more than 262144 bytes",
            ),
            (
                FieldError::too_many(path.child("from"), 26, 25),
                "spec.ingress[0].from: Too many: 26: must have at most 25 items",
            ),
            (
                FieldError::too_many(path.child("from").index(0), 2, 1),
                "spec.ingress[0].from[0]: Too many: 2: must have at most 1 item",
            ),
            (
                FieldError::type_invalid(
                    FieldPath::new("spec").child("priority"),
                    BadValue::Str("string".into()),
                    "spec.priority in body must be of type integer: \"string\"",
                ),
                "spec.priority: Invalid value: \"string\": spec.priority in body must be of type integer: \"string\"",
            ),
            (
                FieldError::duplicate(
                    path.child("networks").index(1),
                    BadValue::Str("10.0.0.0/8".into()),
                ),
                "spec.ingress[0].networks[1]: Duplicate value: \"10.0.0.0/8\"",
            ),
            (
                FieldError::invalid_omitting_value(
                    path.child("range"),
                    "Start port must be less than End port",
                ),
                "spec.ingress[0].range: Invalid value: Start port must be less than End port",
            ),
            (
                FieldError::unknown_field(path.child("foo"), "foo"),
                "spec.ingress[0].foo: unknown field \"foo\"",
            ),
            (
                FieldError::invalid(
                    FieldPath::root(),
                    BadValue::Raw("null".into()),
                    "not checked",
                ),
                "<nil>: Invalid value: null: not checked",
            ),
        ];
        for (e, want) in cases {
            assert_eq!(e.to_string(), want);
        }
    }

    fn policy(
        name: Option<&str>,
        namespace: Option<&str>,
        spec: NetworkPolicySpec,
    ) -> NetworkPolicy {
        NetworkPolicy {
            metadata: ObjectMeta {
                name: name.map(str::to_string),
                namespace: namespace.map(str::to_string),
                ..Default::default()
            },
            spec: Some(spec),
        }
    }

    #[test]
    fn a_valid_policy_has_no_errors() {
        let np = policy(Some("web"), Some("x"), NetworkPolicySpec::default());
        assert_eq!(validate_network_policy(&np), []);
        let no_spec = NetworkPolicy { spec: None, ..np };
        assert_eq!(
            validate_network_policy(&no_spec),
            [],
            "an absent spec is an empty one"
        );
    }

    #[test]
    fn metadata_errors_come_before_spec_errors() {
        let spec = NetworkPolicySpec {
            ingress: Some(vec![NetworkPolicyIngressRule {
                from: Some(vec![NetworkPolicyPeer {
                    ip_block: Some(IPBlock::default()),
                    ..Default::default()
                }]),
                ports: None,
            }]),
            ..Default::default()
        };
        let errors: Vec<String> = validate_network_policy(&policy(None, Some("X"), spec))
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            errors,
            [
                "metadata.name: Required value: name or generateName is required",
                "metadata.namespace: Invalid value: \"X\": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')",
                "spec.ingress[0].from[0].ipBlock.cidr: Required value",
            ]
        );
    }

    #[test]
    fn identical_errors_are_reported_once() {
        let spec = NetworkPolicySpec {
            pod_selector: Some(
                k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector {
                    match_labels: Some(
                        [
                            ("a".to_string(), "-x".to_string()),
                            ("b".to_string(), "-x".to_string()),
                        ]
                        .into(),
                    ),
                    match_expressions: None,
                },
            ),
            ..Default::default()
        };
        let errors = validate_network_policy(&policy(Some("web"), Some("x"), spec));
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert_eq!(errors[0].path.to_string(), "spec.podSelector.matchLabels");
    }
}
