//! Why the model gives a verdict: which policies isolate the source for
//! egress and the destination for ingress, and which rule of which policy
//! allowed each direction, or why none did.

use std::fmt;

use serde::Serialize;

use super::cluster_policy::{self, Gress, TierDecision};
use super::{Model, Rule};
use crate::cluster::Endpoint;
use crate::probe::Probe;
use netpol_protocol::cnp::{Action, Tier};

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Explanation {
    pub allowed: bool,
    /// About the source (`x/a` sending).
    pub egress: Direction,
    /// About the destination (`x/b` receiving).
    pub ingress: Direction,
}

/// One direction of one probe.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Direction {
    /// The endpoint is not a pod (an external host or a node): no policy applies to it.
    NotAPod { endpoint: String },
    /// A pod's traffic to itself is always allowed.
    SelfTraffic,
    /// Traffic between a pod and the node it runs on is always allowed.
    OwnNode { node: String },
    /// No policy selects the pod for this direction.
    NotIsolated { pod: String },
    /// Policies select the pod; it is allowed if some rule matched.
    Isolated {
        pod: String,
        policies: Vec<String>,
        rules: Vec<RuleCheck>,
    },
    /// With ClusterNetworkPolicies in the round: the tiers walked, in order,
    /// up to the one that decided.
    Tiers {
        /// What the Admin tier said.
        admin: TierDecision,
        /// The NetworkPolicy tier, when Admin passed or matched nothing.
        networkpolicy: Option<Box<Direction>>,
        /// The Baseline tier, when NetworkPolicies do not isolate the pod.
        baseline: Option<TierDecision>,
        /// The verdict of this direction (`false` too when it is
        /// implementation-defined).
        allowed: bool,
    },
}

/// One rule of an isolating policy, checked against the probe.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RuleCheck {
    /// `namespace/name`.
    pub policy: String,
    /// `ingress[0]` or `egress[2]`.
    pub rule: String,
    pub peer_matches: bool,
    pub port_matches: bool,
    /// What the rule's peers are (`ipBlock 10.0.0.0/8 except 10.1.0.0/16`,
    /// `2 pods`), for a peer that does not match.
    pub peers: String,
    /// What the rule's ports are (`80/TCP, 8080-8090/UDP`), for a port that
    /// does not match.
    pub ports: String,
}

impl RuleCheck {
    pub fn allows(&self) -> bool {
        self.peer_matches && self.port_matches
    }
}

impl Direction {
    pub fn allows(&self) -> bool {
        match self {
            Direction::Isolated { rules, .. } => rules.iter().any(RuleCheck::allows),
            Direction::Tiers { allowed, .. } => *allowed,
            _ => true,
        }
    }
}

impl Model<'_> {
    /// The verdict and its reasons. Slower than `allows`; for reports.
    pub fn explain(&self, probe: &Probe) -> Explanation {
        let c = self.cluster;
        if probe.is_self() {
            return Explanation {
                allowed: true,
                egress: Direction::SelfTraffic,
                ingress: Direction::SelfTraffic,
            };
        }
        // NetworkPolicy's exemption of a pod's own node (where it isolates).
        let own_node = |pod: usize, other: Endpoint, isolating: &[usize]| {
            (other == Endpoint::Node(c.pods[pod].node) && !isolating.is_empty()).then(|| {
                Direction::OwnNode {
                    node: c.nodes[c.pods[pod].node].name.clone(),
                }
            })
        };
        let egress = match probe.from {
            Endpoint::Pod(src)
                if let Some(d) = own_node(src, probe.to, &self.egress_isolating[src]) =>
            {
                d
            }
            Endpoint::Pod(src) => self.direction(
                &self.egress_isolating[src],
                probe.from,
                probe.to,
                probe,
                "egress",
            ),
            other => Direction::NotAPod {
                endpoint: c.endpoint_name(other),
            },
        };
        let ingress = match probe.to {
            Endpoint::Pod(dst)
                if let Some(d) = own_node(dst, probe.from, &self.ingress_isolating[dst]) =>
            {
                d
            }
            Endpoint::Pod(dst) => self.direction(
                &self.ingress_isolating[dst],
                probe.to,
                probe.from,
                probe,
                "ingress",
            ),
            other => Direction::NotAPod {
                endpoint: c.endpoint_name(other),
            },
        };
        let egress = self.tiers(Gress::Egress, probe, egress);
        let ingress = self.tiers(Gress::Ingress, probe, ingress);
        Explanation {
            allowed: egress.allows() && ingress.allows(),
            egress,
            ingress,
        }
    }

    /// With ClusterNetworkPolicies in the round, the tier walk around the
    /// NetworkPolicy explanation `np` of a pod's direction.
    // rule: cnp-tiers
    fn tiers(&self, g: Gress, probe: &Probe, np: Direction) -> Direction {
        if self.cluster_policies.is_empty()
            || !matches!(
                np,
                Direction::NotIsolated { .. }
                    | Direction::Isolated { .. }
                    | Direction::OwnNode { .. }
            )
        {
            return np;
        }
        let Some(pod) = self.pod_of(g, probe) else {
            return np;
        };
        let allowed = {
            let d = self.decide(g, probe);
            d.allowed && !d.denied
        };
        let tier =
            |t| cluster_policy::decide(self.cluster, &self.cluster_policies, t, g, pod, probe);
        let admin = tier(Tier::Admin);
        if !matches!(admin.action(), None | Some(Action::Pass))
            || matches!(admin, TierDecision::Undefined { .. })
        {
            return Direction::Tiers {
                admin,
                networkpolicy: None,
                baseline: None,
                allowed,
            };
        }
        let baseline = matches!(np, Direction::NotIsolated { .. }).then(|| tier(Tier::Baseline));
        Direction::Tiers {
            admin,
            networkpolicy: Some(Box::new(np)),
            baseline,
            allowed,
        }
    }

    /// `pod` is the subject of the direction, `peer` the other end.
    fn direction(
        &self,
        isolating: &[usize],
        pod: Endpoint,
        peer: Endpoint,
        probe: &Probe,
        kind: &str,
    ) -> Direction {
        let name = self.cluster.endpoint_name(pod);
        if isolating.is_empty() {
            return Direction::NotIsolated { pod: name };
        }
        let mut rules = Vec::new();
        for &p in isolating {
            let policy = &self.policies[p];
            let list: &[Rule] = if kind == "ingress" {
                policy.ingress.as_deref()
            } else {
                policy.egress.as_deref()
            }
            .unwrap_or_default();
            for (i, rule) in list.iter().enumerate() {
                rules.push(RuleCheck {
                    policy: policy.key.clone(),
                    rule: format!("{kind}[{i}]"),
                    peer_matches: self.peer_matches(rule, peer, probe),
                    port_matches: self.port_matches(rule, probe),
                    peers: rule.peers_text(),
                    ports: rule.ports_text(),
                });
            }
        }
        Direction::Isolated {
            pod: name,
            policies: isolating
                .iter()
                .map(|&p| self.policies[p].key.clone())
                .collect(),
            rules,
        }
    }
}

impl fmt::Display for Direction {
    /// One line, e.g. `x/b is isolated by x/deny-all, x/web; allowed by x/web ingress[0]`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Direction::NotAPod { endpoint } => {
                write!(f, "{endpoint} is not a pod: no policy applies")
            }
            Direction::SelfTraffic => f.write_str("a pod can always reach itself"),
            Direction::OwnNode { node } => write!(
                f,
                "traffic between a pod and its own node ({node}) is exempt from NetworkPolicy"
            ),
            Direction::NotIsolated { pod } => write!(
                f,
                "{pod} is not isolated: no policy selects it for this direction"
            ),
            Direction::Isolated {
                pod,
                policies,
                rules,
            } => {
                write!(f, "{pod} is isolated by {}; ", policies.join(", "))?;
                let allowing: Vec<String> = rules
                    .iter()
                    .filter(|r| r.allows())
                    .map(|r| format!("{} {}", r.policy, r.rule))
                    .collect();
                if !allowing.is_empty() {
                    return write!(f, "allowed by {}", allowing.join(", "));
                }
                if rules.is_empty() {
                    return f.write_str(
                        "no rule allows it (the policies have no rules for this direction)",
                    );
                }
                let why: Vec<String> = rules
                    .iter()
                    .map(|r| {
                        let miss = match (r.peer_matches, r.port_matches) {
                            (false, false) => format!(
                                "neither peer nor port matches (peers: {}; ports: {})",
                                r.peers, r.ports
                            ),
                            (false, true) => format!("peer does not match (peers: {})", r.peers),
                            _ => format!("port does not match (ports: {})", r.ports),
                        };
                        format!("{} {}: {miss}", r.policy, r.rule)
                    })
                    .collect();
                write!(f, "no rule allows it ({})", why.join("; "))
            }
            Direction::Tiers {
                admin,
                networkpolicy,
                baseline,
                ..
            } => {
                write!(f, "Admin tier: {admin}")?;
                if let Some(np) = networkpolicy {
                    write!(f, "; NetworkPolicy tier: {np}")?;
                }
                match baseline {
                    Some(
                        b @ (TierDecision::NoMatch
                        | TierDecision::Matched {
                            action: Action::Pass,
                            ..
                        }),
                    ) => {
                        write!(f, "; Baseline tier: {b}; allowed by default")
                    }
                    Some(b) => write!(f, "; Baseline tier: {b}"),
                    None => Ok(()),
                }
            }
        }
    }
}

impl fmt::Display for Explanation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let verdict = if self.allowed { "allowed" } else { "denied" };
        if self.egress == Direction::SelfTraffic {
            return write!(f, "{verdict}: {}", self.egress);
        }
        write!(
            f,
            "{verdict}: egress: {}; ingress: {}",
            self.egress, self.ingress
        )
    }
}
