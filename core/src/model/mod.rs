//! The model of the specification (the oracle): for a cluster state and its
//! NetworkPolicies, the verdict of any probe, and why.
//!
//! Each rule of `docs/spec-notes.md` is implemented once, here, and its id
//! ([`crate::rules`]) is cited next to its code (`// rule: own-node`). Policies are compiled per round (selectors
//! evaluated against the round's labels into pod sets), so that a verdict
//! is a handful of lookups.

mod bitset;
mod compile;
mod explain;

use crate::cluster::{Cluster, Endpoint, Protocol};
use crate::probe::Probe;
use crate::scenario::Policy;
use crate::validation::cidr::IpNet;

pub use compile::CompileError;
pub use explain::{Direction, Explanation, RuleCheck};

use bitset::BitSet;

/// The policies of one round, compiled against the round's cluster.
#[derive(Debug)]
pub struct Model<'c> {
    cluster: &'c Cluster,
    policies: Vec<CompiledPolicy>,
    /// Per pod: indices of the policies that select it and have `Ingress`
    /// in their policy types (it is ingress-isolated when non-empty).
    ingress_isolating: Vec<Vec<usize>>,
    /// Likewise for `Egress`.
    egress_isolating: Vec<Vec<usize>>,
}

#[derive(Debug)]
struct CompiledPolicy {
    /// `namespace/name`.
    key: String,
    /// `Some` when the policy has `Ingress` among its (defaulted) policy types.
    ingress: Option<Vec<Rule>>,
    egress: Option<Vec<Rule>>,
}

/// An ingress or egress rule: a peer list and a port list, each `None` when
/// absent or empty ("any").
#[derive(Debug)]
struct Rule {
    peers: Option<Vec<Peer>>,
    ports: Option<Vec<Port>>,
}

#[derive(Debug)]
enum Peer {
    /// podSelector and/or namespaceSelector, resolved to the pods they select.
    Pods(BitSet),
    /// Addresses in `cidr` but in no `except`, contained as the API server's
    /// Go code reads them (an IPv6 block matches no IPv4 address).
    IpBlock { cidr: IpNet, except: Vec<IpNet> },
}

#[derive(Debug)]
struct Port {
    protocol: Protocol,
    numbers: PortNumbers,
}

#[derive(Debug)]
enum PortNumbers {
    /// `port` absent: every port of the protocol.
    All,
    /// `port`, or `port`..=`endPort`.
    Range(u16, u16),
    /// A named port, resolved against the destination pod.
    Named(String),
}

impl<'c> Model<'c> {
    /// Compiles `policies` against `cluster` (the state of one round).
    pub fn new(cluster: &'c Cluster, policies: &[Policy]) -> Result<Model<'c>, CompileError> {
        compile::compile(cluster, policies)
    }

    pub fn cluster(&self) -> &Cluster {
        self.cluster
    }

    /// Whether the specification allows the probe. A verdict is for a
    /// connection: its replies are never judged apart from it.
    // rule: stateful-replies
    pub fn allows(&self, probe: &Probe) -> bool {
        // rule: self-traffic ("a pod can always reach itself").
        // rule: egress-and-ingress
        probe.is_self() || (self.egress_allows(probe) && self.ingress_allows(probe))
    }

    /// Egress from the source, if it is a pod.
    fn egress_allows(&self, probe: &Probe) -> bool {
        let Endpoint::Pod(src) = probe.from else {
            return true;
        };
        // rule: own-node (traffic between a pod and its own node, both ways).
        if probe.to == Endpoint::Node(self.cluster.pods[src].node) {
            return true;
        }
        // rule: isolation (not isolated: everything passes).
        // rule: policies-additive (any rule of any isolating policy).
        // rule: no-rules-allow-nothing (no rules: `any` of nothing).
        let isolating = &self.egress_isolating[src];
        isolating.is_empty()
            || isolating.iter().any(|&p| {
                let rules = self.policies[p].egress.as_deref().unwrap_or_default();
                rules.iter().any(|r| self.rule_matches(r, probe.to, probe))
            })
    }

    /// Ingress to the destination, if it is a pod.
    fn ingress_allows(&self, probe: &Probe) -> bool {
        let Endpoint::Pod(dst) = probe.to else {
            return true;
        };
        // rule: own-node
        if probe.from == Endpoint::Node(self.cluster.pods[dst].node) {
            return true;
        }
        // rule: isolation, policies-additive, no-rules-allow-nothing
        let isolating = &self.ingress_isolating[dst];
        isolating.is_empty()
            || isolating.iter().any(|&p| {
                let rules = self.policies[p].ingress.as_deref().unwrap_or_default();
                rules
                    .iter()
                    .any(|r| self.rule_matches(r, probe.from, probe))
            })
    }

    /// A rule allows traffic matching one of its peers AND one of its ports;
    /// `peer` is the other end (the source for ingress, the destination for egress).
    // rule: peers-and-ports
    fn rule_matches(&self, rule: &Rule, peer: Endpoint, probe: &Probe) -> bool {
        self.peer_matches(rule, peer) && self.port_matches(rule, probe)
    }

    fn peer_matches(&self, rule: &Rule, e: Endpoint) -> bool {
        // rule: peers-absent-any
        let Some(peers) = &rule.peers else {
            return true;
        };
        peers.iter().any(|peer| match peer {
            // rule: other-nodes (selectors select pods, never a node).
            Peer::Pods(pods) => matches!(e, Endpoint::Pod(i) if pods.contains(i)),
            // ipBlock matches by address, pods' and nodes' addresses included.
            // rule: ipblock-except, ipblock-pod-addresses, other-nodes
            Peer::IpBlock { cidr, except } => {
                let ip = self.cluster.endpoint_ip(e).octets();
                cidr.contains(&ip) && !except.iter().any(|x| x.contains(&ip))
            }
        })
    }

    /// Ports are matched against the probe's destination: a named port
    /// resolves against the destination pod's container ports, name AND
    /// protocol; a destination that is not a pod has no named ports.
    fn port_matches(&self, rule: &Rule, probe: &Probe) -> bool {
        // rule: ports-absent-any
        let Some(ports) = &rule.ports else {
            return true;
        };
        ports.iter().any(|p| {
            // rule: protocol-must-match
            p.protocol == probe.protocol
                && match &p.numbers {
                    // rule: protocol-without-port
                    PortNumbers::All => true,
                    // rule: numeric-port, endport-range
                    PortNumbers::Range(lo, hi) => (*lo..=*hi).contains(&probe.port),
                    // rule: named-port (per destination pod; nothing else has names)
                    PortNumbers::Named(name) => match probe.to {
                        Endpoint::Pod(d) => self.cluster.pods[d].ports.iter().any(|cp| {
                            // rule: named-port-protocol
                            cp.name.as_deref() == Some(name.as_str())
                                && cp.protocol == probe.protocol
                                && cp.port == probe.port
                        }),
                        _ => false,
                    },
                }
        })
    }
}

#[cfg(test)]
mod tests;
