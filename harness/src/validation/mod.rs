//! Kubernetes validation of NetworkPolicy objects, with the API server's
//! rules, field paths and messages (`pkg/apis/networking/validation` and the
//! apimachinery label-selector and name validation).
//!
//! STUB: the rules are being written; `validate_network_policy` accepts everything.

use std::fmt;

use k8s_openapi::api::networking::v1::NetworkPolicy;

use crate::field_path::FieldPath;

/// The kinds of `field.Error` the API server reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorType {
    Required,
    Forbidden,
    Invalid,
    NotSupported,
    Duplicate,
    TooLong,
}

impl ErrorType {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorType::Required => "Required value",
            ErrorType::Forbidden => "Forbidden",
            ErrorType::Invalid => "Invalid value",
            ErrorType::NotSupported => "Unsupported value",
            ErrorType::Duplicate => "Duplicate value",
            ErrorType::TooLong => "Too long",
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
            BadValue::Str(s) => write!(f, "{s:?}"),
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

impl fmt::Display for FieldError {
    /// `spec.ingress[0].from[0].ipBlock.except[0]: Invalid value: "10.0.0.0/24": must be a strict subset of `cidr``
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.error_type.as_str())?;
        if let Some(v) = &self.value {
            write!(f, ": {v}")?;
        }
        if !self.detail.is_empty() {
            write!(f, ": {}", self.detail)?;
        }
        Ok(())
    }
}

/// Validates a NetworkPolicy as the API server does on create.
pub fn validate_network_policy(_np: &NetworkPolicy) -> Vec<FieldError> {
    Vec::new()
}

/// Label key (qualified name) problems, as `IsQualifiedName` words them.
pub fn qualified_name_errors(_key: &str) -> Vec<String> {
    Vec::new()
}

/// Label value problems, as `IsValidLabelValue` words them.
pub fn label_value_errors(_value: &str) -> Vec<String> {
    Vec::new()
}

/// IANA service name problems (named ports), as `IsValidPortName` words them.
pub fn port_name_errors(_name: &str) -> Vec<String> {
    Vec::new()
}

/// RFC 1123 label problems (namespace names), as `IsDNS1123Label` words them.
pub fn dns1123_label_errors(_value: &str) -> Vec<String> {
    Vec::new()
}

/// RFC 1123 subdomain problems (object names), as `IsDNS1123Subdomain` words them.
pub fn dns1123_subdomain_errors(_value: &str) -> Vec<String> {
    Vec::new()
}
