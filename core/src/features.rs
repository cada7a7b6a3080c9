//! Optional features of the spec that an implementation may declare
//! unsupported (`sctp`, `endPort`, `namedPorts`), which scenarios need them,
//! and vendor profiles that declare them.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use serde::{Deserialize, Serialize};

use crate::scenario::Scenario;

pub use netpol_protocol::FEATURES;

/// The features a scenario needs: those its policies use (in any round),
/// and those its tags name.
pub fn needed(s: &Scenario) -> BTreeSet<&'static str> {
    let mut needs = BTreeSet::new();
    for port in s
        .rounds
        .iter()
        .flat_map(|r| &r.policies)
        .filter_map(|p| p.object.spec.as_ref())
        .flat_map(|spec| {
            let ingress = spec
                .ingress
                .iter()
                .flatten()
                .flat_map(|r| r.ports.iter().flatten());
            let egress = spec
                .egress
                .iter()
                .flatten()
                .flat_map(|r| r.ports.iter().flatten());
            ingress.chain(egress)
        })
    {
        if port.protocol.as_deref() == Some("SCTP") {
            needs.insert("sctp");
        }
        if port.end_port.is_some() {
            needs.insert("endPort");
        }
        if matches!(port.port, Some(IntOrString::String(_))) {
            needs.insert("namedPorts");
        }
    }
    needs.extend(
        FEATURES
            .iter()
            .copied()
            .filter(|f| s.tags.iter().any(|t| t == f)),
    );
    needs
}

/// A vendor profile: what an implementation declares it does not support.
///
/// ```yaml
/// name: my-plugin 1.4        # optional, for reports
/// unsupported: [sctp, endPort]
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default)]
    pub unsupported: Vec<String>,
    /// The file it was read from.
    #[serde(skip_deserializing, default, skip_serializing_if = "Option::is_none")]
    pub file: Option<PathBuf>,
}

#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    #[error("{file}: {message}")]
    Invalid { file: String, message: String },
}

impl Profile {
    pub fn load(path: &Path) -> Result<Profile, ProfileError> {
        let invalid = |message: String| ProfileError::Invalid {
            file: path.display().to_string(),
            message,
        };
        let text = std::fs::read_to_string(path).map_err(|e| invalid(e.to_string()))?;
        let mut profile: Profile =
            serde_saphyr::from_str(&text).map_err(|e| invalid(e.without_snippet().to_string()))?;
        check_features(&profile.unsupported).map_err(invalid)?;
        profile.file = Some(path.to_path_buf());
        Ok(profile)
    }
}

/// Every name must be a known feature (a typo must not silently declare nothing).
pub fn check_features(names: &[String]) -> Result<(), String> {
    match names.iter().find(|n| !FEATURES.contains(&n.as_str())) {
        Some(bad) => Err(format!(
            "unknown feature {bad:?}; the features are {}",
            FEATURES.join(", ")
        )),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scenario(policy_ports: &str, tags: &str) -> Scenario {
        let text = format!(
            "name: s\ntags: {tags}\npolicies:\n- apiVersion: networking.k8s.io/v1\n  kind: NetworkPolicy\n  metadata: {{name: p, namespace: x}}\n  spec:\n    podSelector: {{}}\n    ingress: [{{ports: {policy_ports}}}]\n"
        );
        crate::scenario::load_str(Path::new("s.yaml"), &text)
            .loaded
            .expect("loads")
    }

    #[test]
    fn features_are_detected_from_policies_and_tags() {
        let cases: &[(&str, &str, &[&str], &str)] = &[
            (
                "[{port: 80}]",
                "[]",
                &[],
                "a numeric TCP port needs nothing",
            ),
            (
                "[{port: 80, protocol: SCTP}]",
                "[]",
                &["sctp"],
                "SCTP in a policy",
            ),
            (
                "[{port: 80, endPort: 90}]",
                "[]",
                &["endPort"],
                "a port range",
            ),
            (
                "[{port: serve-80-tcp}]",
                "[]",
                &["namedPorts"],
                "a named port",
            ),
            (
                "[{port: 80}]",
                "[sctp, ingress]",
                &["sctp"],
                "a feature tag",
            ),
        ];
        for (ports, tags, want, why) in cases {
            let got: Vec<&str> = needed(&scenario(ports, tags)).into_iter().collect();
            assert_eq!(got, *want, "{why}");
        }
    }

    #[test]
    fn unknown_feature_names_are_refused() {
        assert!(check_features(&["sctp".into(), "endPort".into()]).is_ok());
        let e = check_features(&["SCTP".into()]).unwrap_err();
        assert!(e.contains("unknown feature \"SCTP\""), "{e}");
    }
}
