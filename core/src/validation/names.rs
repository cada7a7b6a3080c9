//! The string formats of `k8s.io/apimachinery/pkg/util/validation` and
//! `k8s.io/apimachinery/pkg/api/validate/content`, with their messages word
//! for word (a list of problems, empty when the value is valid).
//!
//! Label keys and values are checked by the `content` package, whose length
//! message counts bytes ("must be no more than 63 bytes"); DNS names of
//! objects by `util/validation`, whose message says characters. Both count
//! bytes, as Go's `len` does.

use std::fmt::Write;

const LABEL_KEY_FMT: &str = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]";
const LABEL_KEY_ERR: &str = "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";
const LABEL_KEY_MAX: usize = 63;
const LABEL_VALUE_FMT: &str = "(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?";
const LABEL_VALUE_ERR: &str = "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";
const LABEL_VALUE_MAX: usize = 63;
const DNS1123_LABEL_FMT: &str = "[a-z0-9]([-a-z0-9]*[a-z0-9])?";
const DNS1123_LABEL_ERR: &str = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character";
const DNS1123_LABEL_MAX: usize = 63;
const DNS1123_SUBDOMAIN_FMT: &str =
    r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*";
const DNS1123_SUBDOMAIN_ERR: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character";
const DNS1123_SUBDOMAIN_MAX: usize = 253;
const PORT_NAME_MAX: usize = 15;

/// Which package's `MaxLenError` words the message.
#[derive(Clone, Copy)]
enum Unit {
    /// `util/validation.MaxLenError`.
    Characters,
    /// `api/validate/content.MaxLenError`.
    Bytes,
}

fn max_len_error(max: usize, unit: Unit) -> String {
    match unit {
        Unit::Characters => format!("must be no more than {max} characters"),
        Unit::Bytes => format!("must be no more than {max} bytes"),
    }
}

/// `RegexError`, with its examples (and its double spaces).
fn regex_error(msg: &str, fmt: &str, examples: &[&str]) -> String {
    if examples.is_empty() {
        return format!("{msg} (regex used for validation is '{fmt}')");
    }
    let mut s = format!("{msg} (e.g. ");
    for (i, e) in examples.iter().enumerate() {
        if i > 0 {
            s.push_str(" or ");
        }
        let _ = write!(s, "'{e}', ");
    }
    let _ = write!(s, "regex used for validation is '{fmt}')");
    s
}

/// `([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]`, anchored.
fn is_label_key_name(s: &str) -> bool {
    let b = s.as_bytes();
    match (b.first(), b.last()) {
        (Some(f), Some(l)) => {
            f.is_ascii_alphanumeric()
                && l.is_ascii_alphanumeric()
                && b.iter()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
        }
        _ => false,
    }
}

/// `[a-z0-9]([-a-z0-9]*[a-z0-9])?`, anchored.
fn is_dns1123_label(s: &str) -> bool {
    let b = s.as_bytes();
    let alnum = |c: &u8| c.is_ascii_lowercase() || c.is_ascii_digit();
    match (b.first(), b.last()) {
        (Some(f), Some(l)) => alnum(f) && alnum(l) && b.iter().all(|c| alnum(c) || *c == b'-'),
        _ => false,
    }
}

/// Labels joined by dots, anchored.
fn is_dns1123_subdomain(s: &str) -> bool {
    s.split('.').all(is_dns1123_label)
}

fn dns1123_label(value: &str, unit: Unit) -> Vec<String> {
    let mut errs = Vec::new();
    if value.len() > DNS1123_LABEL_MAX {
        errs.push(max_len_error(DNS1123_LABEL_MAX, unit));
    }
    if !is_dns1123_label(value) {
        if is_dns1123_subdomain(value) {
            errs.push("must not contain dots".to_string());
        } else {
            errs.push(regex_error(
                DNS1123_LABEL_ERR,
                DNS1123_LABEL_FMT,
                &["my-name", "123-abc"],
            ));
        }
    }
    errs
}

fn dns1123_subdomain(value: &str, unit: Unit) -> Vec<String> {
    let mut errs = Vec::new();
    if value.len() > DNS1123_SUBDOMAIN_MAX {
        errs.push(max_len_error(DNS1123_SUBDOMAIN_MAX, unit));
    }
    if !is_dns1123_subdomain(value) {
        errs.push(regex_error(
            DNS1123_SUBDOMAIN_ERR,
            DNS1123_SUBDOMAIN_FMT,
            &["example.com"],
        ));
    }
    errs
}

/// Label key (qualified name) problems, as `IsQualifiedName` (`content.IsLabelKey`)
/// words them: an optional DNS-subdomain prefix and '/', then a name of at most
/// 63 alphanumerics, '-', '_' or '.', starting and ending with an alphanumeric.
pub fn qualified_name_errors(key: &str) -> Vec<String> {
    let mut errs = Vec::new();
    let parts: Vec<&str> = key.split('/').collect();
    let name = match parts.as_slice() {
        [name] => *name,
        [prefix, name] => {
            if prefix.is_empty() {
                errs.push("prefix part must be non-empty".to_string());
            } else {
                errs.extend(
                    dns1123_subdomain(prefix, Unit::Bytes)
                        .into_iter()
                        .map(|m| format!("prefix part {m}")),
                );
            }
            *name
        }
        _ => {
            return vec![format!(
                "a valid label key {} with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')",
                regex_error(
                    LABEL_KEY_ERR,
                    LABEL_KEY_FMT,
                    &["MyName", "my.name", "123-abc"]
                )
            )];
        }
    };
    if name.is_empty() {
        errs.push("name part must be non-empty".to_string());
    } else if name.len() > LABEL_KEY_MAX {
        errs.push(format!(
            "name part {}",
            max_len_error(LABEL_KEY_MAX, Unit::Bytes)
        ));
    }
    if !is_label_key_name(name) {
        errs.push(format!(
            "name part {}",
            regex_error(
                LABEL_KEY_ERR,
                LABEL_KEY_FMT,
                &["MyName", "my.name", "123-abc"]
            )
        ));
    }
    errs
}

/// Label value problems, as `IsValidLabelValue` (`content.IsLabelValue`) words
/// them: empty, or at most 63 alphanumerics, '-', '_' or '.', starting and
/// ending with an alphanumeric.
pub fn label_value_errors(value: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if value.len() > LABEL_VALUE_MAX {
        errs.push(max_len_error(LABEL_VALUE_MAX, Unit::Bytes));
    }
    if !(value.is_empty() || is_label_key_name(value)) {
        errs.push(regex_error(
            LABEL_VALUE_ERR,
            LABEL_VALUE_FMT,
            &["MyValue", "my_value", "12345"],
        ));
    }
    errs
}

/// RFC 1123 label problems (namespace names), as `IsDNS1123Label` words them.
pub fn dns1123_label_errors(value: &str) -> Vec<String> {
    dns1123_label(value, Unit::Characters)
}

/// RFC 1123 subdomain problems (object names), as `IsDNS1123Subdomain` words them.
pub fn dns1123_subdomain_errors(value: &str) -> Vec<String> {
    dns1123_subdomain(value, Unit::Characters)
}

/// `maskTrailingDash`: a name prefix (`generateName`) may end with '-'. Like
/// upstream, the last two bytes are replaced by one 'a'.
fn mask_trailing_dash(name: &str) -> String {
    match name.strip_suffix('-') {
        Some(_) => {
            let keep = name.len().saturating_sub(2);
            // Every byte but the '-' is ASCII in a name that can pass; cut at a boundary.
            let cut = (0..=keep)
                .rev()
                .find(|&i| name.is_char_boundary(i))
                .unwrap_or(0);
            format!("{}a", &name[..cut])
        }
        None => name.to_string(),
    }
}

/// `NameIsDNSSubdomain` (`ValidateNetworkPolicyName`): `prefix` is true for
/// `generateName`, which may end with '-'.
pub fn dns1123_subdomain_errors_with_prefix(name: &str, prefix: bool) -> Vec<String> {
    if prefix {
        dns1123_subdomain_errors(&mask_trailing_dash(name))
    } else {
        dns1123_subdomain_errors(name)
    }
}

/// IANA service name problems (named ports), as `IsValidPortName` words them.
pub fn port_name_errors(name: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if name.len() > PORT_NAME_MAX {
        errs.push(max_len_error(PORT_NAME_MAX, Unit::Characters));
    }
    if name.is_empty()
        || !name
            .bytes()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-')
    {
        errs.push(
            "must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)".to_string(),
        );
    }
    if !name.bytes().any(|c| c.is_ascii_lowercase()) {
        errs.push("must contain at least one letter (a-z)".to_string());
    }
    if name.contains("--") {
        errs.push("must not contain consecutive hyphens".to_string());
    }
    if name.starts_with('-') || name.ends_with('-') {
        errs.push("must not begin or end with a hyphen".to_string());
    }
    errs
}

/// Port number problems, as `IsValidPortNum` words them.
pub fn port_num_errors(port: i64) -> Vec<String> {
    if (1..=65535).contains(&port) {
        Vec::new()
    } else {
        vec!["must be between 1 and 65535, inclusive".to_string()]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NAME_PART_REGEX: &str = "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";
    const PREFIX_REGEX: &str = "prefix part a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
    const LABEL_VALUE_REGEX: &str = "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')";
    const DNS_LABEL_REGEX: &str = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";
    const DNS_SUBDOMAIN_REGEX: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";

    #[test]
    fn qualified_names() {
        let long63 = "a".repeat(63);
        let long64 = "a".repeat(64);
        let prefixed_ok = format!("{}/{}", "a".repeat(253), "b".repeat(63));
        let prefix_too_long = format!("{}/abc", "a".repeat(254));
        let cases: Vec<(&str, Vec<&str>, &str)> = vec![
            ("app", vec![], "a plain name"),
            (
                "Uppercase_Is_OK_123",
                vec![],
                "upper case, '_' and digits in the name part",
            ),
            ("1234", vec![], "digits only"),
            ("app.kubernetes.io/name", vec![], "a DNS prefix"),
            (
                "kubernetes.io/metadata.name",
                vec![],
                "the namespace name label",
            ),
            (&long63, vec![], "63 bytes is the limit"),
            (&prefixed_ok, vec![], "a 253-byte prefix and a 63-byte name"),
            (
                &long64,
                vec!["name part must be no more than 63 bytes"],
                "64 bytes",
            ),
            (
                "",
                vec!["name part must be non-empty", NAME_PART_REGEX],
                "empty",
            ),
            ("-app", vec![NAME_PART_REGEX], "starts with a dash"),
            ("app_", vec![NAME_PART_REGEX], "ends with an underscore"),
            ("my app", vec![NAME_PART_REGEX], "a space"),
            (
                "nospecialchars%^=@",
                vec![NAME_PART_REGEX],
                "special characters",
            ),
            (
                "example.com/",
                vec!["name part must be non-empty", NAME_PART_REGEX],
                "empty name after a prefix",
            ),
            (
                "/simple",
                vec!["prefix part must be non-empty"],
                "empty prefix",
            ),
            ("Example.com/abc", vec![PREFIX_REGEX], "upper case prefix"),
            (
                "example_com/abc",
                vec![PREFIX_REGEX],
                "underscore in the prefix",
            ),
            (
                &prefix_too_long,
                vec!["prefix part must be no more than 253 bytes"],
                "prefix over 253 bytes",
            ),
        ];
        for (key, want, why) in cases {
            assert_eq!(qualified_name_errors(key), want, "{why}: {key:?}");
        }
        assert_eq!(
            qualified_name_errors("only/one/slash"),
            [
                "a valid label key must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"
            ],
            "two slashes: one message, nothing else checked"
        );
    }

    #[test]
    fn label_values() {
        let long63 = "a".repeat(63);
        let long64 = "a".repeat(64);
        let cases: Vec<(&str, Vec<&str>, &str)> = vec![
            ("", vec![], "empty is a valid value"),
            ("frontend", vec![], "a word"),
            ("1-starts-with-num", vec![], "starts with a digit"),
            ("my_value.v2", vec![], "'_' and '.' inside"),
            (&long63, vec![], "63 bytes is the limit"),
            (&long64, vec!["must be no more than 63 bytes"], "64 bytes"),
            (
                "-starts-with-dash",
                vec![LABEL_VALUE_REGEX],
                "starts with a dash",
            ),
            ("ends.with.dot.", vec![LABEL_VALUE_REGEX], "ends with a dot"),
            (
                "a/b",
                vec![LABEL_VALUE_REGEX],
                "a slash is not allowed in values",
            ),
            ("Tama-nui-te-rā", vec![LABEL_VALUE_REGEX], "non-ASCII"),
        ];
        for (v, want, why) in cases {
            assert_eq!(label_value_errors(v), want, "{why}: {v:?}");
        }
        let both = label_value_errors(&format!("{}-", "a".repeat(64)));
        assert_eq!(
            both,
            ["must be no more than 63 bytes", LABEL_VALUE_REGEX],
            "too long and ends with '-'"
        );
    }

    #[test]
    fn dns_labels() {
        let cases: Vec<(String, Vec<&str>, &str)> = vec![
            ("x".into(), vec![], "one letter"),
            ("my-name".into(), vec![], "a dash inside"),
            ("123-abc".into(), vec![], "starts with a digit"),
            ("a".repeat(63), vec![], "63 characters is the limit"),
            (
                "a".repeat(64),
                vec!["must be no more than 63 characters"],
                "64 characters",
            ),
            (
                "my.name".into(),
                vec!["must not contain dots"],
                "a valid subdomain is a label with dots",
            ),
            ("X".into(), vec![DNS_LABEL_REGEX], "upper case"),
            ("-x".into(), vec![DNS_LABEL_REGEX], "leading dash"),
            ("x-".into(), vec![DNS_LABEL_REGEX], "trailing dash"),
            ("my_ns".into(), vec![DNS_LABEL_REGEX], "underscore"),
            ("".into(), vec![DNS_LABEL_REGEX], "empty"),
            (
                format!("{}.b", "a".repeat(63)),
                vec![
                    "must be no more than 63 characters",
                    "must not contain dots",
                ],
                "too long and dotted",
            ),
        ];
        for (v, want, why) in cases {
            assert_eq!(dns1123_label_errors(&v), want, "{why}: {v:?}");
        }
    }

    #[test]
    fn dns_subdomains() {
        let long = format!(
            "{}.{}.{}.{}",
            "a".repeat(63),
            "b".repeat(63),
            "c".repeat(63),
            "d".repeat(62)
        );
        assert_eq!(long.len(), 254);
        let cases: Vec<(String, Vec<&str>, &str)> = vec![
            ("web".into(), vec![], "a label"),
            ("allow.web-80".into(), vec![], "dots and dashes"),
            ("a".repeat(253), vec![], "253 characters is the limit"),
            (
                long,
                vec!["must be no more than 253 characters"],
                "254 characters",
            ),
            ("Web".into(), vec![DNS_SUBDOMAIN_REGEX], "upper case"),
            ("allow_web".into(), vec![DNS_SUBDOMAIN_REGEX], "underscore"),
            ("a..b".into(), vec![DNS_SUBDOMAIN_REGEX], "empty label"),
            (".a".into(), vec![DNS_SUBDOMAIN_REGEX], "leading dot"),
            (
                "a.-b".into(),
                vec![DNS_SUBDOMAIN_REGEX],
                "a label starting with '-'",
            ),
            ("".into(), vec![DNS_SUBDOMAIN_REGEX], "empty"),
        ];
        for (v, want, why) in cases {
            assert_eq!(dns1123_subdomain_errors(&v), want, "{why}: {v:?}");
        }
    }

    #[test]
    fn generate_name_may_end_with_a_dash() {
        assert_eq!(
            dns1123_subdomain_errors_with_prefix("web-", true),
            Vec::<String>::new()
        );
        assert_eq!(
            dns1123_subdomain_errors_with_prefix("web-", false),
            [DNS_SUBDOMAIN_REGEX]
        );
        assert_eq!(
            dns1123_subdomain_errors_with_prefix("Web-", true),
            [DNS_SUBDOMAIN_REGEX],
            "only the trailing dash is masked"
        );
    }

    #[test]
    fn port_names() {
        const CHARSET: &str =
            "must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)";
        const LETTER: &str = "must contain at least one letter (a-z)";
        const HYPHENS: &str = "must not contain consecutive hyphens";
        const ENDS: &str = "must not begin or end with a hyphen";
        let cases: Vec<(&str, Vec<&str>, &str)> = vec![
            ("http", vec![], "a word"),
            ("serve-80-tcp", vec![], "the standard cluster's port names"),
            ("h2c-1", vec![], "digits and a hyphen"),
            ("abcdefghijklmno", vec![], "15 characters is the limit"),
            (
                "abcdefghijklmnop",
                vec!["must be no more than 15 characters"],
                "16 characters",
            ),
            ("HTTP", vec![CHARSET, LETTER], "upper case is not a-z"),
            ("Http", vec![CHARSET], "one upper case letter"),
            ("web_80", vec![CHARSET], "underscore"),
            ("80", vec![LETTER], "digits only"),
            ("8-0", vec![LETTER], "digits and hyphen"),
            ("web--80", vec![HYPHENS], "consecutive hyphens"),
            ("-web", vec![ENDS], "leading hyphen"),
            ("web-", vec![ENDS], "trailing hyphen"),
            ("", vec![CHARSET, LETTER], "empty"),
            (
                "--",
                vec![LETTER, HYPHENS, ENDS],
                "only hyphens: the charset is fine",
            ),
        ];
        for (v, want, why) in cases {
            assert_eq!(port_name_errors(v), want, "{why}: {v:?}");
        }
    }

    #[test]
    fn port_numbers() {
        for (n, ok) in [
            (0, false),
            (1, true),
            (80, true),
            (65535, true),
            (65536, false),
            (-1, false),
        ] {
            assert_eq!(port_num_errors(n).is_empty(), ok, "port {n}");
        }
        assert_eq!(
            port_num_errors(0),
            ["must be between 1 and 65535, inclusive"]
        );
    }
}
