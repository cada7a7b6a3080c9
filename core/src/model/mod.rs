//! The model of the specification (the oracle): for a cluster state and its
//! NetworkPolicies, the verdict of any probe, and why.
//!
//! Each rule of `docs/spec-notes.md` is implemented once, here, and its id
//! ([`crate::rules`]) is cited next to its code (`// rule: own-node`). Policies are compiled per round (selectors
//! evaluated against the round's labels into pod sets), so that a verdict
//! is a handful of lookups.

mod bitset;
mod cluster_policy;
mod compile;
mod explain;

use crate::cluster::{Cluster, Endpoint, Protocol};
use crate::probe::Probe;
use crate::scenario::{ClusterPolicy, Policy};
use crate::validation::cidr::IpNet;
use netpol_protocol::cnp::{Action, Tier};

pub use cluster_policy::{Gress, TierDecision};
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
    /// The ClusterNetworkPolicies, in the order written.
    cluster_policies: Vec<cluster_policy::CompiledCnp>,
}

/// The verdicts the spec leaves possible for one direction of a probe (or
/// the connection): one, or both where the walk reaches a tie between
/// ClusterNetworkPolicies of one tier and priority (described in `ties`).
#[derive(Clone, Debug, Default)]
struct Possible {
    allowed: bool,
    denied: bool,
    ties: Vec<String>,
}

impl Possible {
    fn of(allowed: bool) -> Possible {
        Possible {
            allowed,
            denied: !allowed,
            ties: Vec::new(),
        }
    }

    /// Either of two.
    fn or(self, other: Possible) -> Possible {
        Possible {
            allowed: self.allowed || other.allowed,
            denied: self.denied || other.denied,
            ties: [self.ties, other.ties].concat(),
        }
    }
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

impl Rule {
    /// The rule's peers in words, for explanations.
    fn peers_text(&self) -> String {
        let Some(peers) = &self.peers else {
            return "any".into();
        };
        let texts: Vec<String> = peers
            .iter()
            .map(|p| match p {
                Peer::Pods(pods) => {
                    let n = pods.count();
                    format!("{n} selected pod{}", if n == 1 { "" } else { "s" })
                }
                Peer::IpBlock { cidr, except } if except.is_empty() => format!("ipBlock {cidr}"),
                Peer::IpBlock { cidr, except } => format!(
                    "ipBlock {cidr} except {}",
                    except
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            })
            .collect();
        texts.join(", ")
    }

    /// The rule's ports in words (`80/TCP, 8080-8090/UDP, http/TCP`).
    fn ports_text(&self) -> String {
        let Some(ports) = &self.ports else {
            return "any".into();
        };
        let texts: Vec<String> = ports
            .iter()
            .map(|p| match &p.numbers {
                PortNumbers::All => format!("every {} port", p.protocol),
                PortNumbers::Range(lo, hi) if lo == hi => format!("{lo}/{}", p.protocol),
                PortNumbers::Range(lo, hi) => format!("{lo}-{hi}/{}", p.protocol),
                PortNumbers::Named(name) => format!("{name}/{}", p.protocol),
            })
            .collect();
        texts.join(", ")
    }
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
    /// Compiles `policies` and `cluster_policies` against `cluster` (the
    /// state of one round).
    pub fn new(
        cluster: &'c Cluster,
        policies: &[Policy],
        cluster_policies: &[ClusterPolicy],
    ) -> Result<Model<'c>, CompileError> {
        let mut model = compile::compile(cluster, policies)?;
        model.cluster_policies = cluster_policy::compile(cluster, cluster_policies)?;
        Ok(model)
    }

    /// [`Model::new`], and an error if the spec leaves the verdict of one of
    /// `probes` to the implementation (see [`Model::undefined`]).
    pub fn for_probes(
        cluster: &'c Cluster,
        policies: &[Policy],
        cluster_policies: &[ClusterPolicy],
        probes: &[Probe],
    ) -> Result<Model<'c>, CompileError> {
        let model = Model::new(cluster, policies, cluster_policies)?;
        if let Some((probe, why)) = probes
            .iter()
            .find_map(|p| model.undefined(p).map(|w| (p, w)))
        {
            return Err(CompileError {
                policy: "ClusterNetworkPolicies".to_string(),
                message: format!(
                    "the verdict of {} -> {} {}/{} is left to the implementation: {why}; a scenario must not depend on it",
                    cluster.endpoint_name(probe.from),
                    cluster.endpoint_name(probe.to),
                    probe.protocol,
                    probe.port
                ),
            });
        }
        Ok(model)
    }

    /// Why the spec gives no verdict for `probe`: two ClusterNetworkPolicies
    /// of one tier and priority match it with different actions, the walk
    /// reaches them, and the connection's verdict depends on which the
    /// implementation takes first. `None` when the spec gives one verdict.
    pub fn undefined(&self, probe: &Probe) -> Option<String> {
        let v = self.verdicts(probe);
        (v.allowed && v.denied).then(|| v.ties.join("; "))
    }

    /// Whether a ClusterNetworkPolicy of the round applies to `pod`.
    pub fn is_cluster_policy_subject(&self, pod: usize) -> bool {
        self.cluster_policies
            .iter()
            .any(|p| p.subject.contains(pod))
    }

    /// The pod whose policies decide direction `g` of `probe`, if that end
    /// is a pod.
    fn pod_of(&self, g: Gress, probe: &Probe) -> Option<usize> {
        match (g, probe.from, probe.to) {
            (Gress::Egress, Endpoint::Pod(i), _) | (Gress::Ingress, _, Endpoint::Pod(i)) => Some(i),
            _ => None,
        }
    }

    pub fn cluster(&self) -> &Cluster {
        self.cluster
    }

    /// Whether the specification allows the probe. A verdict is for a
    /// connection: its replies are never judged apart from it.
    // rule: stateful-replies
    pub fn allows(&self, probe: &Probe) -> bool {
        let v = self.verdicts(probe);
        v.allowed && !v.denied
    }

    /// The verdicts the spec leaves possible for the connection: it is
    /// allowed only if both directions are.
    fn verdicts(&self, probe: &Probe) -> Possible {
        // rule: self-traffic ("a pod can always reach itself").
        // rule: family-exceptions (by identity, not address: in every family)
        // rule: cnp-self-traffic (the same holds under ClusterNetworkPolicy)
        if probe.is_self() {
            return Possible::of(true);
        }
        // rule: egress-and-ingress, cnp-directions
        let (e, i) = (
            self.decide(Gress::Egress, probe),
            self.decide(Gress::Ingress, probe),
        );
        Possible {
            allowed: e.allowed && i.allowed,
            denied: e.denied || i.denied,
            ties: [e.ties, i.ties].concat(),
        }
    }

    /// One direction: the Admin tier, then NetworkPolicies, then the
    /// Baseline tier, then the default (allowed).
    // rule: cnp-tiers
    fn decide(&self, g: Gress, probe: &Probe) -> Possible {
        let Some(pod) = self.pod_of(g, probe) else {
            return Possible::of(true);
        };
        // rule: cnp-own-node (no exemption from ClusterNetworkPolicy: the
        // own-node exemption is NetworkPolicy's, in `egress_allows` and
        // `ingress_allows`, the NetworkPolicy tier)
        self.cluster_tier(Tier::Admin, g, pod, probe)
    }

    /// A ClusterNetworkPolicy tier and what follows it. At a tie (same
    /// priority, different actions) every action the tie allows is followed.
    fn cluster_tier(&self, tier: Tier, g: Gress, pod: usize, probe: &Probe) -> Possible {
        let after = |action: Action| match action {
            // rule: cnp-accept, cnp-deny
            Action::Accept => Possible::of(true),
            Action::Deny => Possible::of(false),
            // rule: cnp-pass (on to the NetworkPolicy tier; Baseline's Pass
            // goes on to the default: allowed)
            Action::Pass => self.after_tier(tier, g, pod, probe),
        };
        let d = cluster_policy::decide(self.cluster, &self.cluster_policies, tier, g, pod, probe);
        match &d {
            TierDecision::NoMatch => self.after_tier(tier, g, pod, probe),
            TierDecision::Matched { action, .. } => after(*action),
            // rule: cnp-same-priority (a tie matters only where the walk
            // reaches it and its actions lead to different verdicts)
            TierDecision::Undefined { actions, .. } => {
                let mut possible = Possible::default();
                for a in actions {
                    possible = possible.or(after(*a));
                }
                possible.ties.push(format!("{} tier, {d}", tier.as_str()));
                possible
            }
        }
    }

    /// What comes after `tier`: the NetworkPolicy tier after Admin, the
    /// default (allowed) after Baseline.
    fn after_tier(&self, tier: Tier, g: Gress, pod: usize, probe: &Probe) -> Possible {
        if tier == Tier::Baseline {
            return Possible::of(true);
        }
        // rule: cnp-networkpolicy-tier
        let isolating = match g {
            Gress::Egress => &self.egress_isolating[pod],
            Gress::Ingress => &self.ingress_isolating[pod],
        };
        if isolating.is_empty() {
            return self.cluster_tier(Tier::Baseline, g, pod, probe);
        }
        Possible::of(match g {
            Gress::Egress => self.egress_allows(probe),
            Gress::Ingress => self.ingress_allows(probe),
        })
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
        self.peer_matches(rule, peer, probe) && self.port_matches(rule, probe)
    }

    /// `e` is the other end of `probe`, whose family is that of the addresses
    /// an ipBlock is matched against.
    fn peer_matches(&self, rule: &Rule, e: Endpoint, probe: &Probe) -> bool {
        // rule: peers-absent-any
        let Some(peers) = &rule.peers else {
            return true;
        };
        peers.iter().any(|peer| match peer {
            // rule: other-nodes (selectors select pods, never a node).
            // rule: family-selectors (a selected pod, over any family)
            Peer::Pods(pods) => matches!(e, Endpoint::Pod(i) if pods.contains(i)),
            // ipBlock matches by address, pods' and nodes' addresses included.
            // rule: ipblock-except, ipblock-pod-addresses, other-nodes
            // rule: family-ipblock (the end's address of the probe's family;
            // a block of the other family contains none of them)
            Peer::IpBlock { cidr, except } => {
                self.cluster.endpoint_ip(e, probe.family).is_some_and(|ip| {
                    let ip = octets(ip);
                    cidr.contains(&ip) && !except.iter().any(|x| x.contains(&ip))
                })
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

/// An address as Go's `net.IP` holds it for `IPNet.Contains`.
pub(crate) fn octets(ip: std::net::IpAddr) -> Vec<u8> {
    match ip {
        std::net::IpAddr::V4(v4) => v4.octets().to_vec(),
        std::net::IpAddr::V6(v6) => v6.octets().to_vec(),
    }
}
