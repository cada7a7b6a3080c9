//! The model of the specification (the oracle): for a cluster state and its
//! NetworkPolicies, the verdict of any probe, and why.
//!
//! Each rule of `../shared/spec-notes.md` is implemented once, here, and
//! named next to its code. Policies are compiled per round (selectors
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

    /// Whether the specification allows the probe.
    pub fn allows(&self, probe: &Probe) -> bool {
        // "A pod can always reach itself."
        probe.is_self() || (self.egress_allows(probe) && self.ingress_allows(probe))
    }

    /// Egress from the source, if it is a pod.
    fn egress_allows(&self, probe: &Probe) -> bool {
        let Endpoint::Pod(src) = probe.from else {
            return true;
        };
        // Traffic between a pod and its own node is always allowed.
        if probe.to == Endpoint::Node(self.cluster.pods[src].node) {
            return true;
        }
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
        if probe.from == Endpoint::Node(self.cluster.pods[dst].node) {
            return true;
        }
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
    fn rule_matches(&self, rule: &Rule, peer: Endpoint, probe: &Probe) -> bool {
        self.peer_matches(rule, peer) && self.port_matches(rule, probe)
    }

    fn peer_matches(&self, rule: &Rule, e: Endpoint) -> bool {
        let Some(peers) = &rule.peers else {
            return true;
        };
        peers.iter().any(|peer| match peer {
            Peer::Pods(pods) => matches!(e, Endpoint::Pod(i) if pods.contains(i)),
            // ipBlock matches by address, pods' and nodes' addresses included.
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
        let Some(ports) = &rule.ports else {
            return true;
        };
        ports.iter().any(|p| {
            p.protocol == probe.protocol
                && match &p.numbers {
                    PortNumbers::All => true,
                    PortNumbers::Range(lo, hi) => (*lo..=*hi).contains(&probe.port),
                    PortNumbers::Named(name) => match probe.to {
                        Endpoint::Pod(d) => self.cluster.pods[d].ports.iter().any(|cp| {
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
