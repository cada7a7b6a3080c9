//! ClusterNetworkPolicy in the model: compiling CNPs against a round's
//! cluster, and the tier walk of one direction (`docs/spec-notes.md`,
//! section "ClusterNetworkPolicy").

use std::collections::BTreeSet;
use std::fmt;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use kube::core::{Selector, SelectorExt};
use netpol_protocol::cnp::{
    Action, ClusterNetworkPolicy, EgressPeer, IngressPeer, NamespacedPod, ProtocolMatch,
    ProtocolPort, Tier,
};
use serde::Serialize;

use super::BitSet;
use super::compile::CompileError;
use crate::cluster::{Cluster, Endpoint, Protocol};
use crate::probe::Probe;
use crate::scenario::ClusterPolicy;
use crate::validation::cidr::{IpNet, parse_cidr_sloppy};

/// A ClusterNetworkPolicy compiled against a round's cluster.
#[derive(Debug)]
pub(super) struct CompiledCnp {
    pub name: String,
    pub tier: Tier,
    pub priority: i32,
    /// The pods of the subject.
    pub subject: BitSet,
    pub ingress: Vec<CnpRule>,
    pub egress: Vec<CnpRule>,
}

#[derive(Debug)]
pub(super) struct CnpRule {
    /// `ingress[0]`, with the rule's name when it has one.
    pub label: String,
    pub action: Action,
    pub peers: Vec<CnpPeer>,
    /// `None`: every protocol and port.
    pub protocols: Option<Vec<CnpProtocol>>,
}

#[derive(Debug)]
pub(super) enum CnpPeer {
    /// `namespaces` or `pods`, resolved to the pods they select.
    Pods(BitSet),
    /// `nodes`: indices of the selected nodes.
    Nodes(BTreeSet<usize>),
    /// `networks`: CIDRs, matched against any address.
    Networks(Vec<IpNet>),
    /// `domainNames`: the lab resolves no names; they match nothing here,
    /// and scenarios do not depend on them.
    DomainNames,
    /// No field set: a peer of a newer API; fails closed.
    Unknown,
}

#[derive(Debug)]
pub(super) enum CnpProtocol {
    /// `tcp`/`udp`/`sctp`, with an inclusive port range (all ports when the
    /// entry names none).
    Ports(Protocol, u16, u16),
    /// `destinationNamedPort`.
    Named(String),
}

/// Which direction of a probe.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Gress {
    Ingress,
    Egress,
}

/// What one tier says about one direction of a probe.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "decision", rename_all = "kebab-case")]
pub enum TierDecision {
    /// No rule of the tier matched.
    NoMatch,
    /// A rule matched: its policy, rule and action.
    Matched {
        policy: String,
        priority: i32,
        rule: String,
        action: Action,
    },
    /// Policies of one priority match with different actions: the API
    /// leaves the result to the implementation.
    Undefined {
        priority: i32,
        policies: Vec<String>,
        actions: Vec<Action>,
    },
}

impl TierDecision {
    /// The action that decided, if one did.
    pub fn action(&self) -> Option<Action> {
        match self {
            TierDecision::Matched { action, .. } => Some(*action),
            _ => None,
        }
    }
}

impl fmt::Display for TierDecision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TierDecision::NoMatch => f.write_str("no rule matched"),
            TierDecision::Matched {
                policy,
                priority,
                rule,
                action,
            } => write!(
                f,
                "{} by ClusterNetworkPolicy {policy} (priority {priority}) {rule}",
                action.as_str()
            ),
            TierDecision::Undefined {
                priority,
                policies,
                actions,
            } => write!(
                f,
                "implementation-defined: {} (priority {priority}) match with actions {}",
                policies.join(" and "),
                actions
                    .iter()
                    .map(|a| a.as_str())
                    .collect::<Vec<_>>()
                    .join(" and ")
            ),
        }
    }
}

pub(super) fn compile(
    cluster: &Cluster,
    policies: &[ClusterPolicy],
) -> Result<Vec<CompiledCnp>, CompileError> {
    policies
        .iter()
        .map(|p| Compiler { cluster, policy: p }.policy(&p.object))
        .collect()
}

struct Compiler<'a> {
    cluster: &'a Cluster,
    policy: &'a ClusterPolicy,
}

impl Compiler<'_> {
    fn error(&self, message: impl Into<String>) -> CompileError {
        CompileError {
            policy: format!("ClusterNetworkPolicy {}", self.policy.name),
            message: message.into(),
        }
    }

    fn policy(&self, p: &ClusterNetworkPolicy) -> Result<CompiledCnp, CompileError> {
        // rule: cnp-subject
        let subject = match (&p.spec.subject.namespaces, &p.spec.subject.pods) {
            (Some(ns), _) => self.pods(Some(ns), None)?,
            (None, Some(pods)) => self.namespaced(pods)?,
            (None, None) => BitSet::new(self.cluster.pods.len()),
        };
        let ingress = p
            .spec
            .ingress
            .iter()
            .enumerate()
            .map(|(i, r)| {
                let peers = r
                    .from
                    .iter()
                    .map(|peer| self.ingress_peer(peer))
                    .collect::<Result<_, _>>()?;
                self.rule(
                    "ingress",
                    i,
                    r.name.as_deref(),
                    r.action,
                    peers,
                    r.protocols.as_deref(),
                )
            })
            .collect::<Result<_, _>>()?;
        let egress = p
            .spec
            .egress
            .iter()
            .enumerate()
            .map(|(i, r)| {
                let peers =
                    r.to.iter()
                        .map(|peer| self.egress_peer(peer))
                        .collect::<Result<_, _>>()?;
                self.rule(
                    "egress",
                    i,
                    r.name.as_deref(),
                    r.action,
                    peers,
                    r.protocols.as_deref(),
                )
            })
            .collect::<Result<_, _>>()?;
        Ok(CompiledCnp {
            name: self.policy.name.clone(),
            tier: p.spec.tier,
            priority: p.spec.priority,
            subject,
            ingress,
            egress,
        })
    }

    fn rule(
        &self,
        direction: &str,
        index: usize,
        name: Option<&str>,
        action: Action,
        peers: Vec<CnpPeer>,
        protocols: Option<&[ProtocolMatch]>,
    ) -> Result<CnpRule, CompileError> {
        let label = match name {
            Some(n) => format!("{direction}[{index}] ({n})"),
            None => format!("{direction}[{index}]"),
        };
        // A peer of a newer API (no field known) fails closed: a Deny or
        // Pass rule becomes "Deny all" (the API's words); in an Accept rule
        // the peer matches nothing (`CnpRule::peer_matches`).
        if action != Action::Accept && peers.iter().any(|p| matches!(p, CnpPeer::Unknown)) {
            return Ok(CnpRule {
                label,
                action: Action::Deny,
                peers: vec![CnpPeer::Unknown],
                protocols: None,
            });
        }
        let protocols = protocols
            .map(|list| {
                list.iter()
                    .map(|m| self.protocol(m))
                    .collect::<Result<_, _>>()
            })
            .transpose()?;
        Ok(CnpRule {
            label,
            action,
            peers,
            protocols,
        })
    }

    fn ingress_peer(&self, peer: &IngressPeer) -> Result<CnpPeer, CompileError> {
        // rule: cnp-peer-pods
        Ok(match (&peer.namespaces, &peer.pods) {
            (Some(ns), _) => CnpPeer::Pods(self.pods(Some(ns), None)?),
            (None, Some(pods)) => CnpPeer::Pods(self.namespaced(pods)?),
            (None, None) => CnpPeer::Unknown,
        })
    }

    fn egress_peer(&self, peer: &EgressPeer) -> Result<CnpPeer, CompileError> {
        if let Some(ns) = &peer.namespaces {
            // rule: cnp-peer-pods
            return Ok(CnpPeer::Pods(self.pods(Some(ns), None)?));
        }
        if let Some(pods) = &peer.pods {
            return Ok(CnpPeer::Pods(self.namespaced(pods)?));
        }
        if let Some(nodes) = &peer.nodes {
            // rule: cnp-peer-nodes (every node's labels include hostname and os).
            let selector = self.selector(nodes)?;
            let selected = self
                .cluster
                .nodes
                .iter()
                .enumerate()
                .filter(|(_, n)| selector.matches(&n.labels))
                .map(|(i, _)| i)
                .collect();
            return Ok(CnpPeer::Nodes(selected));
        }
        if let Some(networks) = &peer.networks {
            // rule: cnp-peer-networks
            let cidrs = networks
                .iter()
                .map(|s| {
                    parse_cidr_sloppy(s).ok_or_else(|| self.error(format!("invalid CIDR {s:?}")))
                })
                .collect::<Result<_, _>>()?;
            return Ok(CnpPeer::Networks(cidrs));
        }
        if peer.domain_names.is_some() {
            return Ok(CnpPeer::DomainNames);
        }
        Ok(CnpPeer::Unknown)
    }

    fn protocol(&self, m: &ProtocolMatch) -> Result<CnpProtocol, CompileError> {
        // rule: cnp-protocols
        let entries = [
            (Protocol::Tcp, &m.tcp),
            (Protocol::Udp, &m.udp),
            (Protocol::Sctp, &m.sctp),
        ];
        for (protocol, entry) in entries {
            if let Some(ProtocolPort { destination_port }) = entry {
                let (lo, hi) = match destination_port {
                    None => (1, u16::MAX),
                    Some(port) => match (port.number, &port.range) {
                        (Some(n), _) => (self.port(n)?, self.port(n)?),
                        (None, Some(r)) => (self.port(r.start)?, self.port(r.end)?),
                        (None, None) => (1, u16::MAX),
                    },
                };
                return Ok(CnpProtocol::Ports(protocol, lo, hi));
            }
        }
        match &m.destination_named_port {
            // rule: cnp-named-port
            Some(name) => Ok(CnpProtocol::Named(name.clone())),
            None => Err(self.error("a protocols entry sets no field")),
        }
    }

    fn port(&self, n: i32) -> Result<u16, CompileError> {
        u16::try_from(n)
            .ok()
            .filter(|&n| n > 0)
            .ok_or_else(|| self.error(format!("invalid port {n}")))
    }

    /// `pods`: `namespaceSelector` AND `podSelector`.
    fn namespaced(&self, p: &NamespacedPod) -> Result<BitSet, CompileError> {
        self.pods(Some(&p.namespace_selector), Some(&p.pod_selector))
    }

    /// Pods in namespaces matching `ns` whose labels match `pod` (absent:
    /// every pod).
    fn pods(
        &self,
        ns: Option<&LabelSelector>,
        pod: Option<&LabelSelector>,
    ) -> Result<BitSet, CompileError> {
        let ns = ns
            .map(|s| self.selector(s))
            .transpose()?
            .unwrap_or_default();
        let pod = pod
            .map(|s| self.selector(s))
            .transpose()?
            .unwrap_or_default();
        let mut set = BitSet::new(self.cluster.pods.len());
        for (i, p) in self.cluster.pods.iter().enumerate() {
            let ns_ok = self
                .cluster
                .namespace(&p.namespace)
                .is_some_and(|n| ns.matches(&n.labels));
            if ns_ok && pod.matches(&p.labels) {
                set.insert(i);
            }
        }
        Ok(set)
    }

    // rule: label-selector, empty-selector
    fn selector(&self, s: &LabelSelector) -> Result<Selector, CompileError> {
        Selector::try_from(s.clone()).map_err(|e| self.error(e.to_string()))
    }
}

impl CnpRule {
    /// Whether the rule applies to traffic whose other end is `peer`.
    /// A peer of an unknown kind fails closed: matches nothing in an Accept
    /// rule, everything in a Deny rule (a Pass rule with one is compiled
    /// as "Deny all").
    /// `peer` is the other end of `probe`; networks match its address of the
    /// probe's family.
    fn peer_matches(&self, cluster: &Cluster, peer: Endpoint, probe: &Probe) -> bool {
        self.peers.iter().any(|p| match p {
            // rule: cnp-peer-pods
            CnpPeer::Pods(pods) => matches!(peer, Endpoint::Pod(i) if pods.contains(i)),
            // rule: cnp-peer-nodes
            CnpPeer::Nodes(nodes) => matches!(peer, Endpoint::Node(i) if nodes.contains(&i)),
            // rule: cnp-peer-networks (any address: pods', nodes', externals')
            // rule: family-ipblock (a network of the other family matches nothing)
            CnpPeer::Networks(cidrs) => cluster
                .endpoint_ip(peer, probe.family)
                .is_some_and(|ip| cidrs.iter().any(|c| c.contains(&super::octets(ip)))),
            CnpPeer::DomainNames => false,
            CnpPeer::Unknown => self.action != Action::Accept,
        })
    }

    /// Whether the rule's `protocols` match the probe (to its destination).
    fn protocol_matches(&self, cluster: &Cluster, probe: &Probe) -> bool {
        // rule: cnp-protocols (absent: every protocol and port)
        let Some(protocols) = &self.protocols else {
            return true;
        };
        protocols.iter().any(|p| match p {
            CnpProtocol::Ports(protocol, lo, hi) => {
                *protocol == probe.protocol && (*lo..=*hi).contains(&probe.port)
            }
            // rule: cnp-named-port (the destination pod's port of that name,
            // its own number and protocol; nothing else has names)
            CnpProtocol::Named(name) => match probe.to {
                Endpoint::Pod(d) => cluster.pods[d].ports.iter().any(|cp| {
                    cp.name.as_deref() == Some(name.as_str())
                        && cp.port == probe.port
                        && cp.protocol == probe.protocol
                }),
                _ => false,
            },
        })
    }
}

/// The decision of `tier` for one direction of `probe` at `pod` (the
/// source for egress, the destination for ingress).
pub(super) fn decide(
    cluster: &Cluster,
    policies: &[CompiledCnp],
    tier: Tier,
    gress: Gress,
    pod: usize,
    probe: &Probe,
) -> TierDecision {
    let other = match gress {
        Gress::Ingress => probe.from,
        Gress::Egress => probe.to,
    };
    // rule: cnp-priority-order (the subject's policies of the tier, lowest priority first)
    let mut selecting: Vec<&CompiledCnp> = policies
        .iter()
        .filter(|p| p.tier == tier && p.subject.contains(pod))
        .collect();
    selecting.sort_by_key(|p| p.priority);
    for group in selecting.chunk_by(|a, b| a.priority == b.priority) {
        // Per policy, its first matching rule.
        // rule: cnp-rule-order
        let matched: Vec<(&CompiledCnp, &CnpRule)> = group
            .iter()
            .filter_map(|p| {
                let rules = match gress {
                    Gress::Ingress => &p.ingress,
                    Gress::Egress => &p.egress,
                };
                rules
                    .iter()
                    .find(|r| {
                        r.peer_matches(cluster, other, probe) && r.protocol_matches(cluster, probe)
                    })
                    .map(|r| (*p, r))
            })
            .collect();
        let Some((policy, rule)) = matched.first() else {
            continue;
        };
        // rule: cnp-same-priority (different actions at one priority: no answer)
        if matched.iter().any(|(_, r)| r.action != rule.action) {
            return TierDecision::Undefined {
                priority: policy.priority,
                policies: matched.iter().map(|(p, _)| p.name.clone()).collect(),
                actions: matched.iter().map(|(_, r)| r.action).collect(),
            };
        }
        return TierDecision::Matched {
            policy: policy.name.clone(),
            priority: policy.priority,
            rule: rule.label.clone(),
            action: rule.action,
        };
    }
    TierDecision::NoMatch
}
