//! Optional features of the spec that an implementation may declare
//! unsupported (`sctp`, `endPort`, `namedPorts`), which scenarios need them,
//! and vendor profiles that declare them.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use serde::{Deserialize, Serialize};

use crate::scenario::Scenario;
use netpol_protocol::cnp::ClusterNetworkPolicy;

pub use netpol_protocol::Feature;

/// The features a scenario needs: those its policies use (in any round),
/// and those its tags name.
pub fn needed(s: &Scenario) -> BTreeSet<Feature> {
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
            needs.insert(Feature::Sctp);
        }
        if port.end_port.is_some() {
            needs.insert(Feature::EndPort);
        }
        if matches!(port.port, Some(IntOrString::String(_))) {
            needs.insert(Feature::NamedPorts);
        }
    }
    for cnp in s.rounds.iter().flat_map(|r| &r.cluster_policies) {
        needs.extend(cluster_policy_needs(&cnp.object));
    }
    // Egress isolation: policyTypes as written, or as the API server
    // defaults them (Egress when there are egress rules).
    let isolates_egress = s
        .rounds
        .iter()
        .flat_map(|r| &r.policies)
        .filter_map(|p| p.object.spec.as_ref())
        .any(|spec| match &spec.policy_types {
            Some(types) => types.iter().any(|t| t == "Egress"),
            None => spec.egress.as_ref().is_some_and(|e| !e.is_empty()),
        });
    if isolates_egress {
        needs.insert(Feature::Egress);
    }
    // A cluster with IPv6 (IPv6 only, or dual-stack) needs it as a whole.
    if s.rounds
        .iter()
        .any(|r| r.cluster.has_family(crate::cluster::IpFamily::IPv6))
    {
        needs.insert(Feature::Ipv6);
    }
    needs.extend(
        Feature::ALL
            .into_iter()
            .filter(|f| s.tags.iter().any(|t| t == f.name())),
    );
    needs
}

/// The features a ClusterNetworkPolicy needs: the API as a whole, and the
/// parts upstream's conformance profile lists apart.
fn cluster_policy_needs(p: &ClusterNetworkPolicy) -> BTreeSet<Feature> {
    let mut needs = BTreeSet::from([Feature::ClusterNetworkPolicy]);
    if !p.spec.egress.is_empty() {
        needs.insert(Feature::Egress);
    }
    let protocols = p
        .spec
        .ingress
        .iter()
        .filter_map(|r| r.protocols.as_ref())
        .chain(p.spec.egress.iter().filter_map(|r| r.protocols.as_ref()))
        .flatten();
    for m in protocols {
        if m.sctp.is_some() {
            needs.insert(Feature::Sctp);
        }
        if m.destination_named_port.is_some() {
            needs.insert(Feature::ClusterNetworkPolicyNamedPorts);
        }
    }
    for peer in p.spec.egress.iter().flat_map(|r| &r.to) {
        if peer.nodes.is_some() {
            needs.insert(Feature::ClusterNetworkPolicyEgressNodePeers);
        }
        if peer.networks.is_some() {
            needs.insert(Feature::ClusterNetworkPolicyEgressNetworkPeers);
        }
    }
    needs
}

/// Features as documents list them: `sctp, endPort`.
pub fn list(features: &[Feature]) -> String {
    features
        .iter()
        .map(|f| f.name())
        .collect::<Vec<_>>()
        .join(", ")
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
    /// An unknown feature name is an error: a typo must not silently declare nothing.
    #[serde(default)]
    pub unsupported: Vec<Feature>,
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
        profile.file = Some(path.to_path_buf());
        Ok(profile)
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
            let got: Vec<&str> = needed(&scenario(ports, tags))
                .into_iter()
                .map(Feature::name)
                .collect();
            assert_eq!(got, *want, "{why}");
        }
    }

    #[test]
    fn a_profile_with_an_unknown_feature_is_refused() {
        let dir = std::env::temp_dir().join(format!("netpol-profile-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("p.yaml");
        std::fs::write(&file, "unsupported: [sctp, SCTP]\n").unwrap();
        let e = Profile::load(&file).unwrap_err().to_string();
        std::fs::write(&file, "unsupported: [sctp, endPort]\n").unwrap();
        let ok = Profile::load(&file).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(e.contains("unknown variant `SCTP`"), "{e}");
        assert_eq!(ok.unsupported, [Feature::Sctp, Feature::EndPort]);
    }

    #[test]
    fn egress_isolation_and_ipv6_are_needs() {
        let load = |text: &str| {
            crate::scenario::load_str(Path::new("s.yaml"), text)
                .loaded
                .expect("loads")
        };
        let policy = |spec: &str| {
            format!(
                "name: s\npolicies:\n- apiVersion: networking.k8s.io/v1\n  kind: NetworkPolicy\n  metadata: {{name: p, namespace: x}}\n  spec: {spec}\n"
            )
        };
        let egress = |text: &str| needed(&load(text)).contains(&Feature::Egress);
        assert!(egress(&policy("{podSelector: {}, policyTypes: [Egress]}")));
        assert!(
            egress(&policy("{podSelector: {}, egress: [{}]}")),
            "defaulted"
        );
        assert!(
            !egress(&policy("{podSelector: {}, egress: []}")),
            "no rules, no Egress"
        );
        assert!(!egress(&policy(
            "{podSelector: {}, policyTypes: [Ingress], egress: [{}]}"
        )));
        assert!(needed(&load("name: s\nipFamilies: [IPv4, IPv6]\n")).contains(&Feature::Ipv6));
        assert!(!needed(&load("name: s\n")).contains(&Feature::Ipv6));
    }
}
