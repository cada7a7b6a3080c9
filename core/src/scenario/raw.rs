//! The scenario file format as written (`docs/scenario-format.md`,
//! version 1), read strictly: an unknown key is an error, so that a typo such
//! as `polices:` cannot silently test nothing.
//!
//! NetworkPolicy objects are not read here: they are taken from the located
//! YAML tree and decoded as Kubernetes objects (see `policy.rs`).

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, IgnoredAny, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};

use crate::cluster::{IpFamily, Protocol};
use crate::expect::Verdict;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawScenario {
    /// `"1"` or `"1.1"`; absent: either (1.1 only adds).
    #[serde(default)]
    pub format_version: Option<String>,
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    /// Extension: ids of the rules of `docs/spec-notes.md` the scenario checks.
    #[serde(default)]
    pub rules: Vec<String>,
    /// 1.1: `[IPv4]` (absent), `[IPv6]`, or both, the primary first.
    #[serde(default)]
    pub ip_families: Option<Vec<IpFamily>>,
    #[serde(default)]
    pub cluster: Option<RawClusterChoice>,
    #[serde(default)]
    pub policies: Vec<IgnoredAny>,
    #[serde(default)]
    pub probes: Option<RawProbes>,
    #[serde(default)]
    pub expect: Option<RawExpect>,
    #[serde(default)]
    pub steps: Vec<RawStep>,
    #[serde(default)]
    #[allow(dead_code)] // read from the tree, so that it is known even when this parse fails
    pub expect_invalid: Option<String>,
}

/// `cluster: standard` or a cluster object.
#[derive(Debug)]
pub enum RawClusterChoice {
    Named(String),
    Object(RawCluster),
}

impl<'de> Deserialize<'de> for RawClusterChoice {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawClusterChoice;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(
                    "\"standard\" or a cluster object with nodes, namespaces, pods and externals",
                )
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<RawClusterChoice, E> {
                Ok(RawClusterChoice::Named(v.to_string()))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<RawClusterChoice, A::Error> {
                RawCluster::deserialize(de::value::MapAccessDeserializer::new(map))
                    .map(RawClusterChoice::Object)
            }
        }
        d.deserialize_any(V)
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCluster {
    pub nodes: Vec<RawNode>,
    pub namespaces: Vec<RawNamespace>,
    #[serde(default)]
    pub pods: Vec<RawPod>,
    #[serde(default)]
    pub externals: Vec<RawExternal>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawNode {
    pub name: String,
    /// For ClusterNetworkPolicy `nodes` peers; `kubernetes.io/hostname`
    /// and `kubernetes.io/os` are always added.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub ip: Option<String>,
    /// 1.1: one address per family.
    #[serde(default)]
    pub ips: Option<Vec<String>>,
    /// Extension: what `node:` probes may reach (default: the standard ports).
    #[serde(default)]
    pub ports: Option<Vec<RawPort>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawNamespace {
    pub name: String,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPod {
    pub name: String,
    pub namespace: String,
    #[serde(default)]
    pub node: Option<String>,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub ip: Option<String>,
    /// 1.1: one address per family.
    #[serde(default)]
    pub ips: Option<Vec<String>>,
    /// Absent: the standard ports; `[]`: none.
    #[serde(default)]
    pub ports: Option<Vec<RawPort>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawExternal {
    pub name: String,
    /// `ip` or `ips` (1.1): the external has exactly the addresses listed.
    #[serde(default)]
    pub ip: Option<String>,
    #[serde(default)]
    pub ips: Option<Vec<String>>,
    #[serde(default)]
    pub ports: Option<Vec<RawPort>>,
}

/// A container port, as in a Kubernetes pod spec.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawPort {
    #[serde(default)]
    pub name: Option<String>,
    pub container_port: i64,
    /// Kubernetes' default.
    #[serde(default = "tcp")]
    pub protocol: Protocol,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawProbes {
    #[serde(default)]
    pub from: Option<Vec<String>>,
    #[serde(default)]
    pub to: Option<Vec<String>>,
    #[serde(default)]
    pub ports: Option<Vec<RawProbePort>>,
    /// 1.1: absent, every family of the cluster.
    #[serde(default)]
    pub families: Option<Vec<IpFamily>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawProbePort {
    pub port: i64,
    #[serde(default = "tcp")]
    pub protocol: Protocol,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawExpect {
    /// Absent: allowed, what Kubernetes does to a pod no policy isolates.
    #[serde(default = "allowed")]
    pub default: Verdict,
    #[serde(default)]
    pub rules: Vec<RawExpectRule>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawExpectRule {
    #[serde(default)]
    pub from: Option<String>,
    #[serde(default)]
    pub to: Option<String>,
    #[serde(default)]
    pub port: Option<i64>,
    #[serde(default)]
    pub protocol: Option<Protocol>,
    /// 1.1: absent, any family.
    #[serde(default)]
    pub family: Option<IpFamily>,
    pub verdict: Verdict,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawStep {
    #[serde(default)]
    pub name: Option<String>,
    /// Extension: what the step does, for reports.
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub apply: Vec<IgnoredAny>,
    #[serde(default)]
    pub delete: Vec<String>,
    #[serde(default)]
    pub set_pod_labels: BTreeMap<String, BTreeMap<String, String>>,
    #[serde(default)]
    pub set_namespace_labels: BTreeMap<String, BTreeMap<String, String>>,
    /// Extension: pods that start to exist at this step, written as in
    /// `cluster.pods`.
    #[serde(default)]
    pub add_pods: Vec<RawPod>,
    /// Extension: pods (`namespace/name`) that stop existing at this step.
    #[serde(default)]
    pub delete_pods: Vec<String>,
    /// Extension: report whether established connections survive the step.
    #[serde(default)]
    pub observe_established: bool,
    #[serde(default)]
    pub expect: Option<RawExpect>,
}

fn tcp() -> Protocol {
    Protocol::Tcp
}

fn allowed() -> Verdict {
    Verdict::Allowed
}
