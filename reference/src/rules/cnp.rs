//! ClusterNetworkPolicy (`policy.networking.k8s.io/v1alpha2`) in a node's
//! table: the Admin and Baseline tier chains of a pod, and the chains of
//! each policy's rules, shared by the node's pods it selects (the layout is
//! in `rules.rs`).
//!
//! A rule's action travels in the verdict field of the packet mark
//! ([`VERDICT_MASK`]): a tier chain clears it, walks its policies, and
//! returns as soon as a rule set it; the pod's chain acts on it.
//!
//! Written from `docs/spec-notes.md` and the API's own text, independently of
//! the harness's model.

use std::collections::BTreeMap;
use std::net::IpAddr;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use kube::core::{Selector, SelectorExt};
use netpol_protocol::Pod;
use netpol_protocol::cnp::{
    Action, ClusterNetworkPolicy, EgressPeer, IngressPeer, NamespacedPod, ProtocolMatch,
    ProtocolPort, Tier,
};

use super::{Builder, Direction, RulesError, family_of, host};

/// The verdict field of the packet mark: the action of the first rule of a
/// tier that matched (0: none so far). Apart from the NetworkPolicy allow bit.
pub(super) const VERDICT_MASK: &str = "0x60000";

/// The value of the verdict field for `action`.
fn verdict(action: Action) -> &'static str {
    match action {
        Action::Accept => "0x20000",
        Action::Deny => "0x40000",
        Action::Pass => "0x60000",
    }
}

/// The `-m mark` match of packets whose verdict field holds `action`.
pub(super) fn has_verdict(action: Action) -> String {
    format!("-m mark --mark {}/{VERDICT_MASK}", verdict(action))
}

/// A policy that applies to a pod, with its index in the state (which names
/// its chains).
pub(super) struct Applied<'a> {
    index: usize,
    policy: &'a ClusterNetworkPolicy,
}

/// A peer of either direction, as the fields it sets.
struct Peer<'a> {
    namespaces: Option<&'a LabelSelector>,
    pods: Option<&'a NamespacedPod>,
    nodes: Option<&'a LabelSelector>,
    networks: Option<&'a [String]>,
    domain_names: Option<&'a [String]>,
}

impl Peer<'_> {
    /// No field known here is set: a peer of a newer API.
    fn is_unknown(&self) -> bool {
        self.namespaces.is_none()
            && self.pods.is_none()
            && self.nodes.is_none()
            && self.networks.is_none()
            && self.domain_names.is_none()
    }
}

impl<'a> From<&'a IngressPeer> for Peer<'a> {
    fn from(p: &'a IngressPeer) -> Self {
        Peer {
            namespaces: p.namespaces.as_ref(),
            pods: p.pods.as_ref(),
            nodes: None,
            networks: None,
            domain_names: None,
        }
    }
}

impl<'a> From<&'a EgressPeer> for Peer<'a> {
    fn from(p: &'a EgressPeer) -> Self {
        Peer {
            namespaces: p.namespaces.as_ref(),
            pods: p.pods.as_ref(),
            nodes: p.nodes.as_ref(),
            networks: p.networks.as_deref(),
            domain_names: p.domain_names.as_deref(),
        }
    }
}

/// A rule of one direction.
struct Rule<'a> {
    action: Action,
    peers: Vec<Peer<'a>>,
    protocols: Option<&'a [ProtocolMatch]>,
}

/// The policy's rules of `direction`, in written order.
fn rules(policy: &ClusterNetworkPolicy, direction: Direction) -> Vec<Rule<'_>> {
    match direction {
        Direction::Ingress => policy
            .spec
            .ingress
            .iter()
            .map(|r| Rule {
                action: r.action,
                peers: r.from.iter().map(Peer::from).collect(),
                protocols: r.protocols.as_deref(),
            })
            .collect(),
        Direction::Egress => policy
            .spec
            .egress
            .iter()
            .map(|r| Rule {
                action: r.action,
                peers: r.to.iter().map(Peer::from).collect(),
                protocols: r.protocols.as_deref(),
            })
            .collect(),
    }
}

/// What a peer or a protocol entry matches: everything, or what any of
/// these iptables matches matches (none: nothing).
enum Matches {
    Everything,
    These(Vec<String>),
}

/// A peer or protocol entry that sets no field known here (one of a newer
/// API) fails closed, as the API says: in an `Accept` rule it matches
/// nothing, in a `Deny` or `Pass` rule everything (and a peer makes such a
/// rule "Deny all", in `cnp_rule_chain`).
fn fail_closed(action: Action) -> Matches {
    match action {
        Action::Accept => Matches::These(Vec::new()),
        Action::Deny | Action::Pass => Matches::Everything,
    }
}

// rule: label-selector, empty-selector (kube's Selector, as for NetworkPolicy)
fn selector(s: &LabelSelector, policy: &str) -> Result<Selector, RulesError> {
    Selector::try_from(s.clone()).map_err(|e| RulesError::ClusterPolicy {
        policy: policy.to_string(),
        message: e.to_string(),
    })
}

/// The compiled `namespaces` and `pods` fields of a subject or a peer.
struct PodSelection {
    namespaces: Option<Selector>,
    /// namespaceSelector, podSelector.
    pods: Option<(Selector, Selector)>,
}

impl PodSelection {
    fn new(
        namespaces: Option<&LabelSelector>,
        pods: Option<&NamespacedPod>,
        policy: &str,
    ) -> Result<Self, RulesError> {
        Ok(PodSelection {
            namespaces: namespaces.map(|s| selector(s, policy)).transpose()?,
            pods: pods
                .map(|p| {
                    Ok::<_, RulesError>((
                        selector(&p.namespace_selector, policy)?,
                        selector(&p.pod_selector, policy)?,
                    ))
                })
                .transpose()?,
        })
    }
}

/// A `networks` CIDR, host bits dropped (an IPv4-mapped IPv6 CIDR is IPv6:
/// it matches no IPv4 address).
// rule: cnp-peer-networks (each CIDR in its own family only)
fn network(text: &str, policy: &str) -> Result<ipnet::IpNet, RulesError> {
    let bad = || RulesError::ClusterPolicy {
        policy: policy.to_string(),
        message: format!("invalid CIDR {text:?}"),
    };
    let (addr, prefix) = text.split_once('/').ok_or_else(bad)?;
    let prefix: u8 = prefix.parse().map_err(|_| bad())?;
    let net =
        ipnet::IpNet::new(addr.parse::<IpAddr>().map_err(|_| bad())?, prefix).map_err(|_| bad())?;
    Ok(net.trunc())
}

/// iptables' name of a container port's protocol.
fn iptables_protocol(protocol: &str, policy: &str) -> Result<&'static str, RulesError> {
    match protocol {
        "TCP" => Ok("tcp"),
        "UDP" => Ok("udp"),
        "SCTP" => Ok("sctp"),
        other => Err(RulesError::ClusterPolicy {
            policy: policy.to_string(),
            message: format!("unsupported protocol {other:?} of a container port"),
        }),
    }
}

impl<'a> Builder<'a> {
    /// Whether `selection` selects `pod`: `namespaces` by its namespace's
    /// labels; `pods` by its namespace's AND its own labels.
    // rule: cnp-subject, cnp-peer-pods
    fn pod_selected(&self, selection: &PodSelection, pod: &Pod) -> bool {
        let empty = BTreeMap::new();
        let namespace = self
            .namespace_labels
            .get(pod.namespace.as_str())
            .copied()
            .unwrap_or(&empty);
        selection
            .namespaces
            .as_ref()
            .is_some_and(|n| n.matches(namespace))
            || selection
                .pods
                .as_ref()
                .is_some_and(|(n, p)| n.matches(namespace) && p.matches(&pod.labels))
    }

    /// The policies of `tier` whose subject selects `pod` and that have rules
    /// of `direction`, in the order they are evaluated.
    pub(super) fn applied(
        &self,
        pod: &Pod,
        tier: Tier,
        direction: Direction,
    ) -> Result<Vec<Applied<'a>>, RulesError> {
        let mut applied = Vec::new();
        for (index, policy) in self.state.cluster_network_policies.iter().enumerate() {
            // rule: cnp-rule-order (a policy without rules of a direction
            // does not affect it)
            if policy.spec.tier != tier || rules(policy, direction).is_empty() {
                continue;
            }
            // rule: cnp-subject (a subject of a newer API, with no field
            // known here, selects nothing)
            let subject = &policy.spec.subject;
            let selection = PodSelection::new(
                subject.namespaces.as_ref(),
                subject.pods.as_ref(),
                policy.name(),
            )?;
            if self.pod_selected(&selection, pod) {
                applied.push(Applied { index, policy });
            }
        }
        // rule: cnp-priority-order (0 first)
        // rule: cnp-same-priority (the API leaves the order of equal
        // priorities to the implementation: here, by name, which is unique)
        applied.sort_by(|a, b| {
            (a.policy.spec.priority, a.policy.name())
                .cmp(&(b.policy.spec.priority, b.policy.name()))
        });
        Ok(applied)
    }

    /// Jumps from the pod's chain to its chain of `tier` (`pod_chain`-ADMIN
    /// or -BASELINE), which clears the verdict field, then takes each applied
    /// policy in turn until one of its rules has set it.
    pub(super) fn tier_chain(
        &mut self,
        pod_chain: &str,
        tier: Tier,
        applied: &[Applied<'_>],
        direction: Direction,
    ) -> Result<(), RulesError> {
        let chain = format!("{pod_chain}-{}", tier.as_str().to_uppercase());
        self.rule(pod_chain, &format!("-j {chain}"));
        self.chain(&chain);
        self.rule(&chain, &format!("-j MARK --set-xmark 0x0/{VERDICT_MASK}"));
        for (n, a) in applied.iter().enumerate() {
            if n > 0 {
                // A rule of an earlier policy decided (Pass included: the
                // rest of the tier is skipped).
                // rule: cnp-pass
                self.rule(
                    &chain,
                    &format!("-m mark ! --mark 0x0/{VERDICT_MASK} -j RETURN"),
                );
            }
            let policy_chain = format!("NETPOL-CNP{}-{}", a.index, direction.chain());
            self.rule(
                &chain,
                &format!(
                    "-m comment --comment \"{} {} priority {}\" -j {policy_chain}",
                    tier.as_str(),
                    a.policy.name(),
                    a.policy.spec.priority
                ),
            );
            if self.cnp_chains.insert(policy_chain.clone()) {
                self.cnp_policy_chain(&policy_chain, a.policy, direction)?;
            }
        }
        Ok(())
    }

    /// A policy's rules of `direction`: the first that matches sets the
    /// verdict field, and ends the walk.
    // rule: cnp-rule-order
    fn cnp_policy_chain(
        &mut self,
        chain: &str,
        policy: &ClusterNetworkPolicy,
        direction: Direction,
    ) -> Result<(), RulesError> {
        self.chain(chain);
        for (r, rule) in rules(policy, direction).iter().enumerate() {
            if r > 0 {
                self.rule(
                    chain,
                    &format!("-m mark ! --mark 0x0/{VERDICT_MASK} -j RETURN"),
                );
            }
            let rule_chain = format!("{chain}-R{r}");
            self.rule(
                chain,
                &format!(
                    "-m comment --comment \"{} {}[{r}] {}\" -j {rule_chain}",
                    policy.name(),
                    direction.field(),
                    rule.action.as_str()
                ),
            );
            self.cnp_rule_chain(&rule_chain, policy.name(), rule, direction)?;
        }
        Ok(())
    }

    /// A rule: a peer AND a protocol entry match: the verdict field takes
    /// the rule's action.
    // rule: cnp-accept, cnp-deny, cnp-pass (the action as a verdict, which
    // the pod's chain acts on)
    fn cnp_rule_chain(
        &mut self,
        chain: &str,
        policy: &str,
        rule: &Rule<'_>,
        direction: Direction,
    ) -> Result<(), RulesError> {
        self.chain(chain);
        // A peer of a newer API in a Deny or Pass rule: the API says to
        // treat the whole rule as "Deny all".
        if rule.action != Action::Accept && rule.peers.iter().any(Peer::is_unknown) {
            let deny = format!("MARK --set-xmark {}/{VERDICT_MASK}", verdict(Action::Deny));
            self.rule(chain, &format!("-j {deny}"));
            return Ok(());
        }
        let mark = format!("MARK --set-xmark {}/{VERDICT_MASK}", verdict(rule.action));
        let target = match rule.protocols {
            // rule: cnp-protocols (absent: every protocol and port)
            None => mark,
            Some(entries) => {
                let protocols_chain = format!("{chain}-PROTO");
                self.chain(&protocols_chain);
                for entry in entries {
                    match self.protocol_matches(entry, rule.action, direction, policy)? {
                        Matches::Everything => self.rule(&protocols_chain, &format!("-j {mark}")),
                        Matches::These(matches) => {
                            for m in matches {
                                self.rule(&protocols_chain, &format!("{m} -j {mark}"));
                            }
                        }
                    }
                }
                protocols_chain
            }
        };
        let opt = direction.peer_option();
        for peer in &rule.peers {
            match self.peer_matches(peer, rule.action, policy)? {
                Matches::Everything => self.rule(chain, &format!("-j {target}")),
                Matches::These(addresses) => {
                    for a in addresses {
                        self.rule(chain, &format!("{opt} {a} -j {target}"));
                    }
                }
            }
        }
        Ok(())
    }

    /// The addresses a peer matches (the other end: the source of ingress,
    /// the destination of egress).
    fn peer_matches(
        &self,
        peer: &Peer<'_>,
        action: Action,
        policy: &str,
    ) -> Result<Matches, RulesError> {
        if peer.is_unknown() {
            return Ok(fail_closed(action));
        }
        // rule: cnp-peer-pods (pods' addresses, in every namespace: never a
        // node's or an external host's)
        let selection = PodSelection::new(peer.namespaces, peer.pods, policy)?;
        // rule: family-selectors (this table's family of each selected host)
        let mut addresses: Vec<String> = self
            .state
            .pods
            .iter()
            .filter(|p| self.pod_selected(&selection, p))
            .flat_map(|p| self.own_family(p.ip, &p.ips))
            .map(host)
            .collect();
        // rule: cnp-peer-nodes
        if let Some(nodes) = peer.nodes {
            let nodes = selector(nodes, policy)?;
            addresses.extend(
                self.state
                    .nodes
                    .iter()
                    .filter(|n| nodes.matches(&n.labels))
                    .flat_map(|n| self.own_family(n.ip, &n.ips))
                    .map(host),
            );
        }
        // rule: cnp-peer-networks (by address: pods', nodes', anyone's)
        for cidr in peer.networks.into_iter().flatten() {
            let net = network(cidr, policy)?;
            // A network of the other family matches nothing here: in a
            // peer of its own it adds no address, so the peer matches
            // nothing (not everything) in this family, for any action.
            // rule: family-ipblock
            if family_of(&net) == self.family {
                addresses.push(net.to_string());
            }
        }
        // domainNames: the lab resolves no names, so they match no address.
        Ok(Matches::These(addresses))
    }

    /// The iptables matches of one `protocols` entry.
    fn protocol_matches(
        &self,
        entry: &ProtocolMatch,
        action: Action,
        direction: Direction,
        policy: &str,
    ) -> Result<Matches, RulesError> {
        let mut known = false;
        let mut matches = Vec::new();
        // rule: cnp-protocols (an entry matches its own protocol only)
        for (proto, port) in [
            ("tcp", &entry.tcp),
            ("udp", &entry.udp),
            ("sctp", &entry.sctp),
        ] {
            let Some(ProtocolPort { destination_port }) = port else {
                continue;
            };
            known = true;
            let ports = match destination_port {
                Some(p) => match (p.number, p.range) {
                    (Some(n), _) => format!(" -m {proto} --dport {n}"),
                    (None, Some(r)) => format!(" -m {proto} --dport {}:{}", r.start, r.end),
                    // A port of a newer API.
                    (None, None) if action == Action::Accept => continue,
                    (None, None) => String::new(),
                },
                // The API requires a port; without one, every port.
                None => String::new(),
            };
            matches.push(format!("-p {proto}{ports}"));
        }
        // rule: cnp-named-port (each destination pod's own number and
        // protocol, by its address: no other destination matches). Ingress:
        // the destination is a pod of this node.
        if let Some(name) = &entry.destination_named_port {
            known = true;
            for pod in self
                .state
                .pods
                .iter()
                .filter(|p| direction == Direction::Egress || p.node == self.node)
            {
                if let Some(c) = pod
                    .container_ports
                    .iter()
                    .find(|c| c.name.as_deref() == Some(name.as_str()))
                {
                    let proto = iptables_protocol(&c.protocol, policy)?;
                    for ip in self.own_family(pod.ip, &pod.ips) {
                        matches.push(format!(
                            "-d {} -p {proto} -m {proto} --dport {}",
                            host(ip),
                            c.container_port
                        ));
                    }
                }
            }
        }
        Ok(if known {
            Matches::These(matches)
        } else {
            fail_closed(action)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn networks_match_their_own_family_only() {
        let cases: &[(&str, &str)] = &[
            ("10.0.0.7/24", "10.0.0.0/24"),
            ("0.0.0.0/0", "0.0.0.0/0"),
            ("fd00::1/8", "fd00::/8"),
            ("::/0", "::/0"),
            ("::ffff:10.0.0.0/104", "::ffff:10.0.0.0/104"),
        ];
        for (text, want) in cases {
            let got = network(text, "p").unwrap();
            assert_eq!(got.to_string(), *want, "{text}");
        }
        // An IPv4-mapped network is IPv6: never in the IPv4 table.
        assert_eq!(
            family_of(&network("::ffff:10.0.0.0/104", "p").unwrap()),
            netpol_protocol::IpFamily::IPv6
        );
        for bad in ["10.0.0.0/33", "10.0.0.0", "fd00::/129", "x/8"] {
            assert!(network(bad, "p").is_err(), "{bad}");
        }
    }
}
