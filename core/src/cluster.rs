//! The cluster a scenario describes: nodes, namespaces, pods and external
//! hosts, with their addresses and container ports.
//!
//! This is the state both the model and the lab start from. Steps change only
//! labels, so one `Cluster` value per round is enough.

use std::collections::BTreeMap;
use std::fmt;
use std::net::Ipv4Addr;

use serde::{Deserialize, Serialize};

/// Labels of a pod or namespace.
pub type Labels = BTreeMap<String, String>;

/// The labels every node carries, beside those a scenario gives it.
pub const NODE_HOSTNAME_LABEL: &str = "kubernetes.io/hostname";
pub const NODE_OS_LABEL: &str = "kubernetes.io/os";

/// A node's labels: those written, plus `kubernetes.io/hostname: NAME` and
/// `kubernetes.io/os: linux`, as the kubelet sets them.
pub fn node_labels(name: &str, mut labels: Labels) -> Labels {
    labels.insert(NODE_HOSTNAME_LABEL.to_string(), name.to_string());
    labels.insert(NODE_OS_LABEL.to_string(), "linux".to_string());
    labels
}

/// The label Kubernetes puts on every namespace.
pub const NAMESPACE_NAME_LABEL: &str = "kubernetes.io/metadata.name";

/// A transport protocol a NetworkPolicy port can name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Protocol {
    Tcp,
    Udp,
    Sctp,
}

impl Protocol {
    pub const ALL: [Protocol; 3] = [Protocol::Tcp, Protocol::Udp, Protocol::Sctp];

    /// The Kubernetes spelling: `TCP`, `UDP`, `SCTP`.
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Tcp => "TCP",
            Protocol::Udp => "UDP",
            Protocol::Sctp => "SCTP",
        }
    }

    /// Parses the exact Kubernetes spelling (the API server is case-sensitive).
    pub fn parse(s: &str) -> Option<Protocol> {
        Protocol::ALL.into_iter().find(|p| p.as_str() == s)
    }

    /// Lower-case spelling, as iptables and file names use it.
    pub fn lower(self) -> &'static str {
        match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
            Protocol::Sctp => "sctp",
        }
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A port a pod, node or external host serves. Named ports in policies
/// resolve against pods' container ports (name AND protocol).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContainerPort {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(rename = "containerPort")]
    pub port: u16,
    pub protocol: Protocol,
}

/// The ports every standard pod serves: 80 and 81 on TCP, UDP and SCTP,
/// named `serve-<port>-<protocol>` as in the upstream e2e suite.
pub fn standard_ports() -> Vec<ContainerPort> {
    [80u16, 81]
        .into_iter()
        .flat_map(|port| {
            Protocol::ALL
                .into_iter()
                .map(move |protocol| ContainerPort {
                    name: Some(format!("serve-{port}-{}", protocol.lower())),
                    port,
                    protocol,
                })
        })
        .collect()
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Node {
    pub name: String,
    /// Includes `kubernetes.io/hostname` and `kubernetes.io/os`.
    pub labels: Labels,
    pub ip: Ipv4Addr,
    /// What the node's own address serves, for `node:` probes.
    pub ports: Vec<ContainerPort>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Namespace {
    pub name: String,
    /// Includes `kubernetes.io/metadata.name`.
    pub labels: Labels,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pod {
    pub namespace: String,
    pub name: String,
    pub labels: Labels,
    /// Index into `Cluster::nodes`.
    pub node: usize,
    pub ip: Ipv4Addr,
    pub ports: Vec<ContainerPort>,
}

impl Pod {
    /// `namespace/name`, the way scenarios and reports name a pod.
    pub fn key(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }
}

/// A host outside the pod network, reachable by address only (ipBlock cases).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct External {
    pub name: String,
    pub ip: Ipv4Addr,
    pub ports: Vec<ContainerPort>,
}

/// One end of a probe: a pod, an external host, or a node's own address.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Endpoint {
    Pod(usize),
    External(usize),
    Node(usize),
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Cluster {
    pub nodes: Vec<Node>,
    pub namespaces: Vec<Namespace>,
    pub pods: Vec<Pod>,
    pub externals: Vec<External>,
}

impl Cluster {
    pub fn namespace(&self, name: &str) -> Option<&Namespace> {
        self.namespaces.iter().find(|ns| ns.name == name)
    }

    pub fn namespace_index(&self, name: &str) -> Option<usize> {
        self.namespaces.iter().position(|ns| ns.name == name)
    }

    pub fn pod_index(&self, namespace: &str, name: &str) -> Option<usize> {
        self.pods
            .iter()
            .position(|p| p.namespace == namespace && p.name == name)
    }

    pub fn node_index(&self, name: &str) -> Option<usize> {
        self.nodes.iter().position(|n| n.name == name)
    }

    /// Every endpoint, in a stable order: pods, then externals, then nodes.
    pub fn endpoints(&self) -> impl Iterator<Item = Endpoint> + '_ {
        (0..self.pods.len())
            .map(Endpoint::Pod)
            .chain((0..self.externals.len()).map(Endpoint::External))
            .chain((0..self.nodes.len()).map(Endpoint::Node))
    }

    /// `x/a`, `ext:gw` or `node:node-1`: the peer syntax of the scenario format.
    pub fn endpoint_name(&self, e: Endpoint) -> String {
        match e {
            Endpoint::Pod(i) => self.pods[i].key(),
            Endpoint::External(i) => format!("ext:{}", self.externals[i].name),
            Endpoint::Node(i) => format!("node:{}", self.nodes[i].name),
        }
    }

    pub fn endpoint_ip(&self, e: Endpoint) -> Ipv4Addr {
        match e {
            Endpoint::Pod(i) => self.pods[i].ip,
            Endpoint::External(i) => self.externals[i].ip,
            Endpoint::Node(i) => self.nodes[i].ip,
        }
    }

    pub fn endpoint_ports(&self, e: Endpoint) -> &[ContainerPort] {
        match e {
            Endpoint::Pod(i) => &self.pods[i].ports,
            Endpoint::External(i) => &self.externals[i].ports,
            Endpoint::Node(i) => &self.nodes[i].ports,
        }
    }

    /// Whether the endpoint serves `port`/`protocol` (a probe to anything
    /// else is not sent: there would be no server to answer it).
    pub fn serves(&self, e: Endpoint, port: u16, protocol: Protocol) -> bool {
        self.endpoint_ports(e)
            .iter()
            .any(|p| p.port == port && p.protocol == protocol)
    }

    /// The standard cluster of the scenario format: nodes `node-1`, `node-2`;
    /// namespaces `x`, `y`, `z` labelled `ns: <name>`; pods `a`, `b`, `c` in
    /// each, labelled `pod: <name>`, placed round-robin, serving the standard ports.
    pub fn standard() -> Cluster {
        let nodes: Vec<Node> = (1..=2u8)
            .map(|n| Node {
                labels: node_labels(&format!("node-{n}"), Labels::new()),
                name: format!("node-{n}"),
                ip: default_node_ip(n as usize - 1),
                ports: standard_ports(),
            })
            .collect();
        let namespaces: Vec<Namespace> = ["x", "y", "z"]
            .into_iter()
            .map(|ns| Namespace {
                name: ns.to_string(),
                labels: namespace_labels(ns, [("ns".to_string(), ns.to_string())].into()),
            })
            .collect();
        let mut pods = Vec::new();
        for ns in ["x", "y", "z"] {
            for name in ["a", "b", "c"] {
                let node = pods.len() % nodes.len();
                pods.push(Pod {
                    namespace: ns.to_string(),
                    name: name.to_string(),
                    labels: [("pod".to_string(), name.to_string())].into(),
                    node,
                    ip: Ipv4Addr::UNSPECIFIED,
                    ports: standard_ports(),
                });
            }
        }
        let mut cluster = Cluster {
            nodes,
            namespaces,
            pods,
            externals: Vec::new(),
        };
        let pinned = vec![None; cluster.pods.len()];
        cluster.allocate_pod_addresses(&pinned);
        cluster
    }

    /// Gives every pod without a pinned address the next free address of its
    /// node's pod range 10.244.N.0/24 (N 1-based, in node order), from .10
    /// upwards, skipping addresses used anywhere in the cluster.
    pub fn allocate_pod_addresses(&mut self, pinned: &[Option<Ipv4Addr>]) {
        let mut used: std::collections::HashSet<Ipv4Addr> =
            pinned.iter().flatten().copied().collect();
        used.extend(self.nodes.iter().map(|n| n.ip));
        used.extend(self.externals.iter().map(|e| e.ip));
        let mut next_host = vec![10u8; self.nodes.len()];
        for (pod, pin) in self.pods.iter_mut().zip(pinned) {
            if let Some(ip) = pin {
                pod.ip = *ip;
                continue;
            }
            let n = pod.node;
            loop {
                let candidate = pod_range_address(n, next_host[n]);
                next_host[n] = next_host[n].saturating_add(1);
                if !used.contains(&candidate) {
                    used.insert(candidate);
                    pod.ip = candidate;
                    break;
                }
            }
        }
    }
}

/// Namespace labels as Kubernetes stores them: the given ones plus
/// `kubernetes.io/metadata.name`, which the API server always sets.
// rule: metadata-name-label
pub fn namespace_labels(name: &str, mut labels: Labels) -> Labels {
    labels.insert(NAMESPACE_NAME_LABEL.to_string(), name.to_string());
    labels
}

/// 192.168.100.N for the node at `index` (0-based).
pub fn default_node_ip(index: usize) -> Ipv4Addr {
    let n = u8::try_from(index + 1).expect("at most MAX_NODES (250) nodes, checked by the loader");
    Ipv4Addr::new(192, 168, 100, n)
}

fn pod_range_address(node_index: usize, host: u8) -> Ipv4Addr {
    let n =
        u8::try_from(node_index + 1).expect("at most MAX_NODES (250) nodes, checked by the loader");
    Ipv4Addr::new(10, 244, n, host)
}

/// Largest number of nodes the address plan supports (10.244.N.0/24, 192.168.100.N).
pub const MAX_NODES: usize = 250;
/// Largest number of allocated pods per node (.10 to .254).
pub const MAX_PODS_PER_NODE: usize = 245;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standard_cluster_places_pods_round_robin_with_deterministic_addresses() {
        let c = Cluster::standard();
        let placed: Vec<(String, &str, Ipv4Addr)> = c
            .pods
            .iter()
            .map(|p| (p.key(), c.nodes[p.node].name.as_str(), p.ip))
            .collect();
        assert_eq!(
            placed[0],
            ("x/a".into(), "node-1", Ipv4Addr::new(10, 244, 1, 10))
        );
        assert_eq!(
            placed[1],
            ("x/b".into(), "node-2", Ipv4Addr::new(10, 244, 2, 10))
        );
        assert_eq!(
            placed[2],
            ("x/c".into(), "node-1", Ipv4Addr::new(10, 244, 1, 11))
        );
        assert_eq!(
            placed[3],
            ("y/a".into(), "node-2", Ipv4Addr::new(10, 244, 2, 11))
        );
        assert_eq!(
            placed[8],
            ("z/c".into(), "node-1", Ipv4Addr::new(10, 244, 1, 14))
        );
        assert_eq!(c.nodes[1].ip, Ipv4Addr::new(192, 168, 100, 2));
    }

    #[test]
    fn namespaces_carry_the_metadata_name_label() {
        let c = Cluster::standard();
        let y = c.namespace("y").unwrap();
        assert_eq!(y.labels.get("ns").map(String::as_str), Some("y"));
        assert_eq!(
            y.labels.get(NAMESPACE_NAME_LABEL).map(String::as_str),
            Some("y")
        );
    }

    #[test]
    fn allocation_skips_pinned_addresses() {
        let mut c = Cluster::standard();
        let mut pinned = vec![None; c.pods.len()];
        // Pin x/c to the address x/a would otherwise get.
        pinned[2] = Some(Ipv4Addr::new(10, 244, 1, 10));
        c.allocate_pod_addresses(&pinned);
        assert_eq!(c.pods[2].ip, Ipv4Addr::new(10, 244, 1, 10));
        assert_eq!(
            c.pods[0].ip,
            Ipv4Addr::new(10, 244, 1, 11),
            "x/a moves past the pinned address"
        );
    }

    #[test]
    fn standard_ports_are_named_per_protocol() {
        let names: Vec<String> = standard_ports()
            .into_iter()
            .filter_map(|p| p.name)
            .collect();
        assert_eq!(
            names,
            [
                "serve-80-tcp",
                "serve-80-udp",
                "serve-80-sctp",
                "serve-81-tcp",
                "serve-81-udp",
                "serve-81-sctp"
            ]
        );
    }
}
