//! The cluster a scenario describes: nodes, namespaces, pods and external
//! hosts, with their addresses and container ports.
//!
//! This is the state both the model and the lab start from. Steps change only
//! labels, so one `Cluster` value per round is enough.

use std::collections::BTreeMap;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use serde::{Deserialize, Serialize};

pub use netpol_protocol::IpFamily;

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

/// A host's addresses, at most one per family. Pods and nodes have one of
/// each family of the cluster; an external host has those it lists.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Addresses {
    pub v4: Option<Ipv4Addr>,
    pub v6: Option<Ipv6Addr>,
}

impl Addresses {
    pub fn v4(ip: Ipv4Addr) -> Addresses {
        Addresses {
            v4: Some(ip),
            v6: None,
        }
    }

    /// The address of `family`, if the host has one.
    pub fn of(&self, family: IpFamily) -> Option<IpAddr> {
        match family {
            IpFamily::IPv4 => self.v4.map(IpAddr::V4),
            IpFamily::IPv6 => self.v6.map(IpAddr::V6),
        }
    }

    /// Every address, in the order of `families` (the primary first).
    pub fn in_order(&self, families: &[IpFamily]) -> Vec<IpAddr> {
        families.iter().filter_map(|&f| self.of(f)).collect()
    }

    /// Every address, IPv4 first.
    pub fn all(&self) -> impl Iterator<Item = IpAddr> + '_ {
        IpFamily::ALL.into_iter().filter_map(|f| self.of(f))
    }

    /// Sets the address of the family of `ip`.
    pub fn set(&mut self, ip: IpAddr) {
        match ip {
            IpAddr::V4(v4) => self.v4 = Some(v4),
            IpAddr::V6(v6) => self.v6 = Some(v6),
        }
    }
}

impl fmt::Display for Addresses {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let all: Vec<String> = self.all().map(|ip| ip.to_string()).collect();
        f.write_str(&all.join(", "))
    }
}

/// The IPv6 address of the format's plan for an IPv4 one: its four numbers
/// written as the groups of `fd00:A:B:C::D`, with the same digits
/// (10.244.1.10 gets `fd00:10:244:1::10`).
pub fn planned_ipv6(ip: Ipv4Addr) -> Ipv6Addr {
    let group = |n: u8| {
        u16::from_str_radix(&n.to_string(), 16).expect("three decimal digits are hexadecimal")
    };
    let [a, b, c, d] = ip.octets();
    Ipv6Addr::new(0xfd00, group(a), group(b), group(c), 0, 0, 0, group(d))
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Node {
    pub name: String,
    /// Includes `kubernetes.io/hostname` and `kubernetes.io/os`.
    pub labels: Labels,
    pub ips: Addresses,
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
    pub ips: Addresses,
    pub ports: Vec<ContainerPort>,
    /// Whether the pod exists in this round: a pod a later step adds
    /// (`addPods`) is absent before it, one a step deletes (`deletePods`)
    /// after it. An absent pod is wired in the lab all along, but it is
    /// not in the enforcer's state and no probe goes to or from it.
    pub present: bool,
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
    pub ips: Addresses,
    pub ports: Vec<ContainerPort>,
}

/// One end of a probe: a pod, an external host, or a node's own address.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Endpoint {
    Pod(usize),
    External(usize),
    Node(usize),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cluster {
    /// `ipFamilies`: the primary first.
    pub families: Vec<IpFamily>,
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

    /// Whether `e` exists in this round: every node and external does, a
    /// pod while it is [`Pod::present`].
    pub fn is_present(&self, e: Endpoint) -> bool {
        match e {
            Endpoint::Pod(i) => self.pods[i].present,
            Endpoint::External(_) | Endpoint::Node(_) => true,
        }
    }

    /// The probes of `probes` between endpoints that exist in this round.
    pub fn present_probes(&self, probes: &[crate::probe::Probe]) -> Vec<crate::probe::Probe> {
        probes
            .iter()
            .filter(|p| self.is_present(p.from) && self.is_present(p.to))
            .copied()
            .collect()
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

    /// The endpoint's addresses (pods and nodes: one per family of the cluster).
    pub fn endpoint_ips(&self, e: Endpoint) -> Addresses {
        match e {
            Endpoint::Pod(i) => self.pods[i].ips,
            Endpoint::External(i) => self.externals[i].ips,
            Endpoint::Node(i) => self.nodes[i].ips,
        }
    }

    /// The endpoint's address of `family`, if it has one.
    pub fn endpoint_ip(&self, e: Endpoint, family: IpFamily) -> Option<IpAddr> {
        self.endpoint_ips(e).of(family)
    }

    pub fn has_family(&self, family: IpFamily) -> bool {
        self.families.contains(&family)
    }

    /// Whether the cluster is IPv4 only, as every version-1 scenario's is.
    pub fn is_ipv4_only(&self) -> bool {
        self.families == [IpFamily::IPv4]
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
                ips: Addresses::v4(default_node_ip(n as usize - 1)),
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
                    ips: Addresses::default(),
                    ports: standard_ports(),
                    present: true,
                });
            }
        }
        let mut cluster = Cluster {
            families: vec![IpFamily::IPv4],
            nodes,
            namespaces,
            pods,
            externals: Vec::new(),
        };
        let pinned = vec![Addresses::default(); cluster.pods.len()];
        cluster.allocate_pod_addresses(&pinned);
        cluster
    }

    /// The standard cluster in `families` (the primary first): nodes and
    /// pods get an address of each, as the format's plan gives them.
    pub fn standard_in(families: Vec<IpFamily>) -> Cluster {
        let c = Cluster::standard();
        if c.families == families {
            return c;
        }
        c.with_families(families)
    }

    /// The same cluster in `families`, with every address as the format's
    /// plan gives it: only for a cluster that pins no address and has no
    /// external host (whose addresses are its own).
    pub fn with_families(&self, families: Vec<IpFamily>) -> Cluster {
        let mut c = self.clone();
        c.families = families;
        let has_v6 = c.has_family(IpFamily::IPv6);
        let has_v4 = c.has_family(IpFamily::IPv4);
        for (i, node) in c.nodes.iter_mut().enumerate() {
            let plan = default_node_ip(i);
            node.ips = Addresses {
                v4: has_v4.then_some(plan),
                v6: has_v6.then(|| planned_ipv6(plan)),
            };
        }
        let pinned = vec![Addresses::default(); c.pods.len()];
        c.allocate_pod_addresses(&pinned);
        c
    }

    /// Gives every pod the addresses of the cluster's families that it does
    /// not pin. IPv4: the next free address of its node's pod range
    /// 10.244.N.0/24 (N 1-based, in node order), from .10 upwards, skipping
    /// addresses used anywhere in the cluster. IPv6: the plan's form of that
    /// IPv4 address ([`planned_ipv6`]), also in an IPv6-only cluster, where
    /// the IPv4 address is only worked out. Nodes' addresses are set (and
    /// their IPv6 one planned) before.
    pub fn allocate_pod_addresses(&mut self, pinned: &[Addresses]) {
        let has_v4 = self.has_family(IpFamily::IPv4);
        let has_v6 = self.has_family(IpFamily::IPv6);
        let mut used: std::collections::HashSet<IpAddr> = pinned
            .iter()
            .flat_map(|a| a.all().collect::<Vec<_>>())
            .collect();
        for host in self
            .nodes
            .iter()
            .map(|n| n.ips)
            .chain(self.externals.iter().map(|e| e.ips))
        {
            used.extend(host.all());
        }
        let mut next_host = vec![10u8; self.nodes.len()];
        for (pod, pin) in self.pods.iter_mut().zip(pinned) {
            let n = pod.node;
            // The IPv4 address of the plan: pinned, or the next one whose
            // forms in the cluster's families are all free.
            let plan = match pin.v4 {
                Some(ip) => ip,
                None => loop {
                    let candidate = pod_range_address(n, next_host[n]);
                    next_host[n] = next_host[n].saturating_add(1);
                    let v4_free = !has_v4 || !used.contains(&IpAddr::V4(candidate));
                    let v6_free = !has_v6
                        || pin.v6.is_some()
                        || !used.contains(&IpAddr::V6(planned_ipv6(candidate)));
                    if v4_free && v6_free {
                        break candidate;
                    }
                },
            };
            pod.ips = Addresses {
                v4: has_v4.then_some(plan),
                v6: has_v6.then(|| pin.v6.unwrap_or_else(|| planned_ipv6(plan))),
            };
            used.extend(pod.ips.all());
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
            .map(|p| (p.key(), c.nodes[p.node].name.as_str(), p.ips.v4.unwrap()))
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
        assert_eq!(c.nodes[1].ips.v4, Some(Ipv4Addr::new(192, 168, 100, 2)));
        assert!(c.pods.iter().all(|p| p.ips.v6.is_none()));
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
        let mut pinned = vec![Addresses::default(); c.pods.len()];
        // Pin x/c to the address x/a would otherwise get.
        pinned[2] = Addresses::v4(Ipv4Addr::new(10, 244, 1, 10));
        c.allocate_pod_addresses(&pinned);
        assert_eq!(c.pods[2].ips.v4, Some(Ipv4Addr::new(10, 244, 1, 10)));
        assert_eq!(
            c.pods[0].ips.v4,
            Some(Ipv4Addr::new(10, 244, 1, 11)),
            "x/a moves past the pinned address"
        );
    }

    #[test]
    fn ipv6_addresses_are_the_plan_form_of_the_ipv4_ones() {
        let v6 = |s: &str| s.parse::<Ipv6Addr>().unwrap();
        assert_eq!(
            planned_ipv6(Ipv4Addr::new(10, 244, 1, 10)),
            v6("fd00:10:244:1::10")
        );
        assert_eq!(
            planned_ipv6(Ipv4Addr::new(192, 168, 100, 2)),
            v6("fd00:192:168:100::2")
        );
        assert_eq!(
            planned_ipv6(Ipv4Addr::new(10, 244, 2, 99)),
            v6("fd00:10:244:2::99")
        );
        assert_eq!(
            planned_ipv6(Ipv4Addr::new(255, 0, 9, 250)),
            v6("fd00:255:0:9::250")
        );
    }

    #[test]
    fn dual_stack_and_ipv6_only_allocation() {
        let v6 = |s: &str| s.parse::<Ipv6Addr>().unwrap();
        let mut c = Cluster::standard();
        c.families = vec![IpFamily::IPv6, IpFamily::IPv4];
        c.allocate_pod_addresses(&vec![Addresses::default(); c.pods.len()]);
        assert_eq!(c.pods[0].ips.v4, Some(Ipv4Addr::new(10, 244, 1, 10)));
        assert_eq!(c.pods[0].ips.v6, Some(v6("fd00:10:244:1::10")));

        // IPv6 only: x/c pins what x/a would get; x/a moves on, and has no IPv4.
        c.families = vec![IpFamily::IPv6];
        let mut pinned = vec![Addresses::default(); c.pods.len()];
        pinned[2].v6 = Some(v6("fd00:10:244:1::10"));
        c.allocate_pod_addresses(&pinned);
        assert_eq!(c.pods[2].ips.v6, Some(v6("fd00:10:244:1::10")));
        assert_eq!(c.pods[0].ips.v6, Some(v6("fd00:10:244:1::11")));
        assert!(c.pods.iter().all(|p| p.ips.v4.is_none()));
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
