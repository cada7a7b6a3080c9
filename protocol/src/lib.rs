//! The enforcer plugin protocol, version 1 (`docs/plugin-protocol.md`).
//!
//! A plugin is an executable. The harness runs `PLUGIN [ARGS...] COMMAND`
//! with a JSON document on standard input:
//! - `version`: prints a [`VersionInfo`] on standard output;
//! - `sync`: receives the complete desired [`State`] and exits 0 only once
//!   the dataplane enforces it;
//! - `cleanup`: receives the [`State`] and removes everything the plugin created.
//!
//! A failing call exits non-zero with a message on standard error.
//! Readers ignore fields they do not know, so that later versions can add some.

#![deny(missing_docs)]

pub mod cnp;

use std::collections::BTreeMap;
use std::net::IpAddr;

use k8s_openapi::api::networking::v1::NetworkPolicy;
use serde::{Deserialize, Serialize};

/// The protocol version this crate describes.
pub const PROTOCOL_VERSION: &str = "1";

/// An optional feature of the spec that a plugin may declare unsupported
/// (in its `version` answer); scenarios that need it are then reported
/// *unsupported (declared)* instead of run. Written as in the API:
/// `sctp`, `endPort`, `namedPorts`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Feature {
    /// `protocol: SCTP` in a policy's ports (no SCTP probe is sent either).
    #[serde(rename = "sctp")]
    Sctp,
    /// Port ranges: `endPort`.
    #[serde(rename = "endPort")]
    EndPort,
    /// Ports named after a container port: `port: http`.
    #[serde(rename = "namedPorts")]
    NamedPorts,
    /// ClusterNetworkPolicy (`policy.networking.k8s.io/v1alpha2`) as a whole:
    /// tiers, priorities, Accept / Deny / Pass, namespaces, pods and networks
    /// peers (upstream's conformance feature of the same name).
    #[serde(rename = "ClusterNetworkPolicy")]
    ClusterNetworkPolicy,
    /// `destinationNamedPort` in a ClusterNetworkPolicy (upstream's
    /// conformance feature of the same name, experimental).
    #[serde(rename = "ClusterNetworkPolicyNamedPorts")]
    ClusterNetworkPolicyNamedPorts,
    /// `nodes` egress peers in a ClusterNetworkPolicy (upstream's conformance
    /// feature of the same name, experimental).
    #[serde(rename = "ClusterNetworkPolicyEgressNodePeers")]
    ClusterNetworkPolicyEgressNodePeers,
    /// `networks` egress peers in a ClusterNetworkPolicy (standard upstream,
    /// where the whole ClusterNetworkPolicy feature covers them; netpol names
    /// them apart so that an implementation without them can say so).
    #[serde(rename = "ClusterNetworkPolicyEgressNetworkPeers")]
    ClusterNetworkPolicyEgressNetworkPeers,
    /// Egress isolation: a NetworkPolicy whose policyTypes (written or
    /// defaulted) include Egress, or a ClusterNetworkPolicy with egress
    /// rules. For an implementation that enforces ingress only.
    #[serde(rename = "egress")]
    Egress,
    /// IPv6: IPv6-only and dual-stack clusters. Scenarios whose cluster has
    /// IPv6 are then unsupported (declared), and no IPv6 probe is sent.
    #[serde(rename = "ipv6")]
    Ipv6,
}

impl Feature {
    /// Every feature, in the order documents list them.
    pub const ALL: [Feature; 9] = [
        Feature::Sctp,
        Feature::EndPort,
        Feature::NamedPorts,
        Feature::ClusterNetworkPolicy,
        Feature::ClusterNetworkPolicyNamedPorts,
        Feature::ClusterNetworkPolicyEgressNodePeers,
        Feature::ClusterNetworkPolicyEgressNetworkPeers,
        Feature::Egress,
        Feature::Ipv6,
    ];

    /// The feature's name in documents, profiles and scenario tags.
    pub fn name(self) -> &'static str {
        match self {
            Feature::Sctp => "sctp",
            Feature::EndPort => "endPort",
            Feature::NamedPorts => "namedPorts",
            Feature::ClusterNetworkPolicy => "ClusterNetworkPolicy",
            Feature::ClusterNetworkPolicyNamedPorts => "ClusterNetworkPolicyNamedPorts",
            Feature::ClusterNetworkPolicyEgressNodePeers => "ClusterNetworkPolicyEgressNodePeers",
            Feature::ClusterNetworkPolicyEgressNetworkPeers => {
                "ClusterNetworkPolicyEgressNetworkPeers"
            }
            Feature::Egress => "egress",
            Feature::Ipv6 => "ipv6",
        }
    }

    /// The feature named `name`, spelled exactly as [`Feature::name`] does.
    pub fn from_name(name: &str) -> Option<Feature> {
        Feature::ALL.into_iter().find(|f| f.name() == name)
    }
}

impl std::fmt::Display for Feature {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// An IP family, spelled as Kubernetes spells it (`ipFamilies: [IPv4, IPv6]`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum IpFamily {
    /// IPv4.
    #[serde(rename = "IPv4")]
    IPv4,
    /// IPv6.
    #[serde(rename = "IPv6")]
    IPv6,
}

impl IpFamily {
    /// Both families, IPv4 first.
    pub const ALL: [IpFamily; 2] = [IpFamily::IPv4, IpFamily::IPv6];

    /// `IPv4` or `IPv6`.
    pub fn name(self) -> &'static str {
        match self {
            IpFamily::IPv4 => "IPv4",
            IpFamily::IPv6 => "IPv6",
        }
    }

    /// The family of `ip`.
    pub fn of(ip: IpAddr) -> IpFamily {
        match ip {
            IpAddr::V4(_) => IpFamily::IPv4,
            IpAddr::V6(_) => IpFamily::IPv6,
        }
    }

    /// The family named `name`, spelled exactly as [`IpFamily::name`] does.
    pub fn from_name(name: &str) -> Option<IpFamily> {
        IpFamily::ALL.into_iter().find(|f| f.name() == name)
    }
}

impl std::fmt::Display for IpFamily {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// What `version` prints.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VersionInfo {
    /// The implementation's name, e.g. `calico`.
    pub name: String,
    /// The implementation's version.
    pub version: String,
    /// Protocol versions the plugin speaks, e.g. `["1"]`.
    pub protocol_versions: Vec<String>,
    /// Features the implementation does not support; an unknown name makes
    /// the answer invalid.
    #[serde(default)]
    pub unsupported: Vec<Feature>,
    /// When `sync` returns: once the dataplane enforces the state
    /// (`blocking`, the default for plugins that do not say), or before
    /// (`async`: the harness then polls the probes until they converge).
    #[serde(default)]
    pub sync: SyncMode,
}

/// When a plugin's `sync` returns (its `version` answer says, as `sync`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SyncMode {
    /// `sync` exits only once the dataplane enforces the state.
    #[default]
    Blocking,
    /// `sync` hands the state to something that applies it in its own time
    /// (a controller); the dataplane converges later.
    Async,
}

/// The complete desired state, sent to `sync` and `cleanup`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct State {
    /// The protocol version of this document ([`PROTOCOL_VERSION`]).
    pub protocol_version: String,
    /// Identifies the lab; the same for every call about one lab.
    pub lab: String,
    /// The cluster's IP families, the primary first: `[IPv4]`, `[IPv6]`,
    /// or both (dual-stack). Absent from documents of harnesses that
    /// predate IPv6: read as `[IPv4]`.
    #[serde(default = "ipv4_only")]
    pub ip_families: Vec<IpFamily>,
    /// The cluster's nodes, each a network namespace.
    pub nodes: Vec<Node>,
    /// Every namespace of the cluster, with its labels (for namespace selectors).
    pub namespaces: Vec<Namespace>,
    /// Every pod, each in a network namespace of its own behind its node.
    pub pods: Vec<Pod>,
    /// Hosts outside the pod network, for ipBlock policies.
    pub externals: Vec<External>,
    /// The NetworkPolicies in force, as Kubernetes JSON objects
    /// (`apiVersion`, `kind`, `metadata`, `spec`).
    pub network_policies: Vec<NetworkPolicy>,
    /// The ClusterNetworkPolicies in force (`policy.networking.k8s.io/v1alpha2`),
    /// as Kubernetes JSON objects. Absent from documents of harnesses that
    /// predate them: read as none.
    #[serde(default)]
    pub cluster_network_policies: Vec<cnp::ClusterNetworkPolicy>,
}

fn ipv4_only() -> Vec<IpFamily> {
    vec![IpFamily::IPv4]
}

/// A node of the cluster: a network namespace that routes its pods' traffic.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Node {
    /// The node's name (`node-1`); pods name it in [`Pod::node`].
    pub name: String,
    /// A path to open to enter the node's network namespace
    /// (`nsenter --net=PATH`, `setns(open(PATH), CLONE_NEWNET)`); valid while
    /// the harness runs. Filter pod traffic here, on the FORWARD hook.
    pub netns: String,
    /// The node's own address (on its `eth0`) of the cluster's primary family.
    pub ip: IpAddr,
    /// Every address of the node, one per family of the cluster, `ip` first.
    #[serde(default)]
    pub ips: Vec<IpAddr>,
    /// The node's labels (for ClusterNetworkPolicy `nodes` peers), including
    /// `kubernetes.io/hostname` and `kubernetes.io/os`.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
}

/// A Kubernetes namespace.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Namespace {
    /// The namespace's name.
    pub name: String,
    /// Including `kubernetes.io/metadata.name`.
    pub labels: BTreeMap<String, String>,
}

/// A pod of the cluster.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Pod {
    /// The pod's namespace.
    pub namespace: String,
    /// The pod's name, unique in its namespace.
    pub name: String,
    /// The pod's labels (for pod selectors).
    pub labels: BTreeMap<String, String>,
    /// The pod's address (on its `eth0`) of the cluster's primary family.
    pub ip: IpAddr,
    /// Every address of the pod, one per family of the cluster, `ip` first.
    #[serde(default)]
    pub ips: Vec<IpAddr>,
    /// The name of the node the pod runs on.
    pub node: String,
    /// The pod's own network namespace (its only interface is `eth0`).
    pub netns: String,
    /// The pod's veth end in its node's namespace.
    pub host_veth: String,
    /// The ports the pod serves (for named ports in policies).
    pub container_ports: Vec<ContainerPort>,
}

/// A port a pod serves, as in a pod's `spec.containers[].ports`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerPort {
    /// The port's name, which policies may use instead of its number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The port number.
    pub container_port: u16,
    /// `TCP`, `UDP` or `SCTP`.
    pub protocol: String,
}

/// A host outside the pod network, known to policies only by address.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct External {
    /// The host's name in scenarios (`ext:NAME`).
    pub name: String,
    /// The host's address: of the cluster's primary family when it has one.
    pub ip: IpAddr,
    /// Every address of the host, `ip` first: an external has exactly the
    /// addresses its scenario lists (in a dual-stack cluster, maybe one).
    #[serde(default)]
    pub ips: Vec<IpAddr>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unknown_feature_makes_the_version_answer_invalid() {
        let e = serde_json::from_str::<VersionInfo>(
            r#"{"name": "x", "version": "1.0", "protocolVersions": ["1"], "unsupported": ["SCTP"]}"#,
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("unknown variant `SCTP`, expected one of `sctp`, `endPort`, `namedPorts`"),
            "{e}"
        );
        for f in Feature::ALL {
            assert_eq!(Feature::from_name(f.name()), Some(f));
            assert_eq!(serde_json::to_string(&f).unwrap(), format!("\"{f}\""));
        }
    }

    #[test]
    fn documents_use_kubernetes_style_names_and_ignore_unknown_fields() {
        let v: VersionInfo = serde_json::from_str(
            r#"{"name": "x", "version": "1.0", "protocolVersions": ["1"], "unsupported": ["sctp"], "futureField": 1}"#,
        )
        .unwrap();
        assert_eq!(v.unsupported, [Feature::Sctp]);
        // A plugin that does not say is synchronous, as before `sync` was said.
        assert_eq!(v.sync, SyncMode::Blocking);
        let v: VersionInfo = serde_json::from_str(
            r#"{"name": "x", "version": "1.0", "protocolVersions": ["1"], "sync": "async"}"#,
        )
        .unwrap();
        assert_eq!(v.sync, SyncMode::Async);
        let p = Pod {
            namespace: "x".into(),
            name: "a".into(),
            labels: BTreeMap::new(),
            ip: "10.244.1.10".parse().unwrap(),
            ips: vec!["10.244.1.10".parse().unwrap()],
            node: "node-1".into(),
            netns: "/proc/1/fd/3".into(),
            host_veth: "veth0".into(),
            container_ports: vec![ContainerPort {
                name: None,
                container_port: 80,
                protocol: "TCP".into(),
            }],
        };
        let json = serde_json::to_value(&p).unwrap();
        assert_eq!(json["hostVeth"], "veth0");
        assert_eq!(
            json["containerPorts"][0],
            serde_json::json!({"containerPort": 80, "protocol": "TCP"})
        );
    }
}
