//! From the desired state to the `iptables-restore` (IPv4) or
//! `ip6tables-restore` (IPv6) input of one node: one table per family of the
//! cluster, each with that family's addresses only.
//!
//! Written from `docs/spec-notes.md`, independently of the harness's model:
//! the two implementations of the spec check each other.
//!
//! Layout of a node's filter table (pod traffic crosses FORWARD):
//!
//! ```text
//! FORWARD         -> NETPOL-FORWARD
//! NETPOL-FORWARD  replies of allowed connections: ACCEPT (stateful)
//!                 -> NETPOL-UNLISTED-OUT, NETPOL-UNLISTED-IN: from or to a
//!                    pod interface (`veth*`) of no pod the state lists: NETPOL-DENY
//!                 -i <veth of pod j>  -> NETPOL-OUT-j   (if a tier applies to j's egress)
//!                 -o <veth of pod j>  -> NETPOL-IN-j    (if a tier applies to j's ingress)
//! NETPOL-IN-j     the tiers that apply to j, in order:
//!                 Admin:         -> NETPOL-IN-j-ADMIN; verdict Accept: RETURN;
//!                                Deny: NETPOL-DENY; Pass or none: go on
//!                 NetworkPolicy  (j isolated) clear the allow bit; each rule of
//!                                each policy isolating j; allow bit set: RETURN;
//!                                otherwise NETPOL-DENY (Baseline is not reached)
//!                 Baseline:      -> NETPOL-IN-j-BASELINE; verdict Deny: NETPOL-DENY
//!                 (end of chain: allowed in this direction)
//! NETPOL-IN-j-Pp-Rr   a NetworkPolicy rule: peers (pod addresses, ipBlocks) -> ports -> set the allow bit
//! NETPOL-IN-j-ADMIN   clear the verdict field; the tier's ClusterNetworkPolicies
//! NETPOL-IN-j-BASELINE  whose subject selects j, by priority then name: each
//!                     -> NETPOL-CNPk-IN, RETURN as soon as the verdict field is set
//! NETPOL-CNPk-IN      ClusterNetworkPolicy k's ingress rules in written order:
//!                     each -> NETPOL-CNPk-IN-Rr, RETURN as soon as the verdict is set
//!                     (one per node, shared by the node's pods that k selects)
//! NETPOL-CNPk-IN-Rr   peers (pod and node addresses, networks) -> [-PROTO: protocols]
//!                     -> set the verdict field to the rule's action
//! ```
//!
//! `OUT` chains are the same for egress, matching the destination (`-d`)
//! instead of the source (`-s`). A packet that NETPOL-OUT-j lets through
//! RETURNs to NETPOL-FORWARD, so it still meets its destination's
//! NETPOL-IN-k when both pods run on this node: an egress Accept does not
//! decide the ingress. The packet mark carries two things: the
//! NetworkPolicy allow bit (0x10000) and the ClusterNetworkPolicy verdict
//! field (0x60000: 0x20000 Accept, 0x40000 Deny, 0x60000 Pass, 0 no rule
//! matched); each is cleared before it is used.
//!
//! Traffic between a pod and its own node never crosses FORWARD, nor does a
//! pod's traffic to itself. NetworkPolicy exempts both. ClusterNetworkPolicy
//! exempts only the second: where a ClusterNetworkPolicy tier applies to a
//! pod, its traffic with its own node is taken in INPUT (pod to node,
//! NETPOL-INPUT -> NETPOL-NODE-OUT-j) and OUTPUT (node to pod, NETPOL-OUTPUT
//! -> NETPOL-NODE-IN-j): the pod's tiers, with the NetworkPolicy tier
//! allowing where it isolates the pod. Without ClusterNetworkPolicies INPUT
//! and OUTPUT are left alone.
//!
//! The IPv6 table has the same layout with IPv6 addresses; ipBlocks and
//! `networks` of the other family are left out of a table (they match
//! nothing there). It also accepts ICMPv6 neighbour discovery in
//! NETPOL-FORWARD, and rejects with ICMPv6 administratively prohibited.
//!
//! Each rule of `docs/spec-notes.md` is cited by its id next to the code
//! that implements it (`// rule: own-node`).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;
use std::net::{IpAddr, Ipv4Addr};

use k8s_openapi::api::networking::v1::{NetworkPolicy, NetworkPolicyPeer, NetworkPolicyPort};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::core::{Selector, SelectorExt};
use netpol_protocol::cnp::{Action, Tier};
use netpol_protocol::{IpFamily, Pod, State};

/// The packet-mark bit a matching rule sets.
const ALLOW_BIT: &str = "0x10000/0x10000";

/// What happens to denied traffic.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Deny {
    /// TCP reset or ICMP port unreachable: the client knows at once.
    Reject,
    /// Silently dropped: the client waits for its timeout.
    Drop,
}

#[derive(Debug, thiserror::Error)]
pub enum RulesError {
    #[error("NetworkPolicy {policy}: {message}")]
    Policy { policy: String, message: String },
    #[error("ClusterNetworkPolicy {policy}: {message}")]
    ClusterPolicy { policy: String, message: String },
    #[error("node {0} is not in the state")]
    UnknownNode(String),
}

/// `node_rules` for a node of the state.
pub fn node_rules_for(
    node: &crate::NodeRef<'_>,
    family: IpFamily,
    deny: Deny,
) -> Result<String, RulesError> {
    node_rules(node.state, node.name, family, deny)
}

/// The `iptables-restore` (or `ip6tables-restore`) input that removes every
/// rule and chain: the same text for both families.
pub fn empty_table() -> String {
    "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\nCOMMIT\n"
        .to_string()
}

/// Direction of a rule, as seen from the isolated pod.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Direction {
    Ingress,
    Egress,
}

impl Direction {
    fn chain(self) -> &'static str {
        match self {
            Direction::Ingress => "IN",
            Direction::Egress => "OUT",
        }
    }
    /// The iptables option matching the other end of the traffic.
    fn peer_option(self) -> &'static str {
        match self {
            Direction::Ingress => "-s",
            Direction::Egress => "-d",
        }
    }
    fn field(self) -> &'static str {
        match self {
            Direction::Ingress => "ingress",
            Direction::Egress => "egress",
        }
    }
}

/// One ingress or egress rule, with peers and ports as written.
struct RuleSpec<'a> {
    peers: Option<&'a [NetworkPolicyPeer]>,
    ports: Option<&'a [NetworkPolicyPort]>,
}

/// A policy, with what the spec says about whom it isolates.
struct PolicyView<'a> {
    key: String,
    object: &'a NetworkPolicy,
    namespace: String,
    ingress: Option<Vec<RuleSpec<'a>>>,
    egress: Option<Vec<RuleSpec<'a>>>,
}

// rule: label-selector (kube's Selector: every matchLabels entry AND every expression).
fn selector(s: Option<&LabelSelector>, policy: &str) -> Result<Selector, RulesError> {
    match s {
        // Absent, like empty, selects everything.
        // rule: empty-selector
        None => Ok(Selector::default()),
        Some(s) => Selector::try_from(s.clone()).map_err(|e| RulesError::Policy {
            policy: policy.to_string(),
            message: e.to_string(),
        }),
    }
}

fn view(np: &NetworkPolicy) -> PolicyView<'_> {
    let namespace = np
        .metadata
        .namespace
        .clone()
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| "default".into());
    let key = format!(
        "{namespace}/{}",
        np.metadata.name.as_deref().unwrap_or_default()
    );
    let spec = np.spec.as_ref();
    let ingress_rules = spec.and_then(|s| s.ingress.as_ref());
    let egress_rules = spec.and_then(|s| s.egress.as_ref());
    // policyTypes absent or empty: Ingress, and Egress when there are egress rules.
    // rule: policy-types-default
    let types: Vec<&str> = match spec
        .and_then(|s| s.policy_types.as_ref())
        .filter(|t| !t.is_empty())
    {
        Some(t) => t.iter().map(String::as_str).collect(),
        None if egress_rules.is_some_and(|e| !e.is_empty()) => vec!["Ingress", "Egress"],
        None => vec!["Ingress"],
    };
    // rule: policy-types-ignore-rules (a type not listed keeps no rules).
    PolicyView {
        ingress: types.contains(&"Ingress").then(|| {
            ingress_rules
                .into_iter()
                .flatten()
                .map(|r| RuleSpec {
                    peers: r.from.as_deref(),
                    ports: r.ports.as_deref(),
                })
                .collect()
        }),
        egress: types.contains(&"Egress").then(|| {
            egress_rules
                .into_iter()
                .flatten()
                .map(|r| RuleSpec {
                    peers: r.to.as_deref(),
                    ports: r.ports.as_deref(),
                })
                .collect()
        }),
        key,
        object: np,
        namespace,
    }
}

/// Whether the policy's podSelector selects `pod` (same namespace only).
// rule: isolation, empty-policy-selector
fn selects(p: &PolicyView<'_>, pod: &Pod) -> Result<bool, RulesError> {
    let sel = selector(
        p.object.spec.as_ref().and_then(|s| s.pod_selector.as_ref()),
        &p.key,
    )?;
    Ok(pod.namespace == p.namespace && sel.matches(&pod.labels))
}

/// A NetworkPolicy isolating a pod: its index, itself, and its rules of
/// the direction.
type Isolating<'p, 'a> = (usize, &'p PolicyView<'a>, &'p Vec<RuleSpec<'a>>);

/// The NetworkPolicies that isolate `pod` in `direction` (they select it
/// and have that policy type).
// rule: isolation
fn isolating<'p, 'a>(
    policies: &'p [PolicyView<'a>],
    pod: &Pod,
    direction: Direction,
) -> Result<Vec<Isolating<'p, 'a>>, RulesError> {
    let mut isolating = Vec::new();
    for (p, policy) in policies.iter().enumerate() {
        let rules = match direction {
            Direction::Ingress => policy.ingress.as_ref(),
            Direction::Egress => policy.egress.as_ref(),
        };
        if let Some(rules) = rules
            && selects(policy, pod)?
        {
            isolating.push((p, policy, rules));
        }
    }
    Ok(isolating)
}

/// Builds the restore input of one node and one family.
struct Builder<'a> {
    state: &'a State,
    /// The node whose table this is.
    node: &'a str,
    /// The family of the table: every address in it is of this family.
    family: IpFamily,
    namespace_labels: BTreeMap<&'a str, &'a BTreeMap<String, String>>,
    chains: Vec<String>,
    rules: Vec<String>,
    /// The ClusterNetworkPolicy chains made so far (each once per node).
    cnp_chains: BTreeSet<String>,
}

/// The restore input for `node` and `family`: the whole filter table of
/// that family (`iptables-restore` for IPv4, `ip6tables-restore` for IPv6).
/// Every pod's interface in its node is named so (`hostVeth`: `veth3`),
/// also a pod the state does not list yet.
const POD_VETH_PREFIX: &str = "veth";

pub fn node_rules<'a>(
    state: &'a State,
    node: &'a str,
    family: IpFamily,
    deny: Deny,
) -> Result<String, RulesError> {
    if !state.nodes.iter().any(|n| n.name == node) {
        return Err(RulesError::UnknownNode(node.to_string()));
    }
    let mut b = Builder {
        state,
        node,
        family,
        // rule: metadata-name-label (taken from the state, which carries it as
        // the API server sets it; not added here, so that a state without it
        // fails the scenarios that check it).
        namespace_labels: state
            .namespaces
            .iter()
            .map(|n| (n.name.as_str(), &n.labels))
            .collect(),
        chains: Vec::new(),
        rules: Vec::new(),
        cnp_chains: BTreeSet::new(),
    };
    let policies: Vec<PolicyView<'_>> = state.network_policies.iter().map(view).collect();

    b.chain("NETPOL-FORWARD");
    b.chain("NETPOL-DENY");
    // rule: own-node, self-traffic, cnp-self-traffic (neither crosses
    // FORWARD; own-node traffic under ClusterNetworkPolicy: below).
    // rule: family-exceptions (in each family's table alike)
    b.rule(
        "FORWARD",
        "-m comment --comment \"netpol reference enforcer\" -j NETPOL-FORWARD",
    );
    // Stateful: replies of allowed connections, and their ICMP errors, pass.
    // rule: stateful-replies
    // rule: family-exceptions (ICMPv6 errors of allowed connections are
    // RELATED)
    b.rule(
        "NETPOL-FORWARD",
        "-m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT",
    );
    if family == IpFamily::IPv6 {
        // Neighbour discovery (router and neighbour solicitation and
        // advertisement, redirect): without it no IPv6 traffic flows.
        // rule: family-exceptions
        for icmp6_type in 133..=137 {
            b.rule(
                "NETPOL-FORWARD",
                &format!("-p ipv6-icmp -m icmp6 --icmpv6-type {icmp6_type} -j ACCEPT"),
            );
        }
    }
    match deny {
        Deny::Reject => {
            b.rule("NETPOL-DENY", "-p tcp -j REJECT --reject-with tcp-reset");
            let unreachable = match family {
                IpFamily::IPv4 => "icmp-port-unreachable",
                IpFamily::IPv6 => "icmp6-adm-prohibited",
            };
            b.rule(
                "NETPOL-DENY",
                &format!("-j REJECT --reject-with {unreachable}"),
            );
        }
        Deny::Drop => b.rule("NETPOL-DENY", "-j DROP"),
    }

    let local: Vec<(usize, &Pod)> = state
        .pods
        .iter()
        .enumerate()
        .filter(|(_, p)| p.node == node)
        .collect();
    // A pod whose interface is up but that the state does not list yet (it
    // is being created) is isolated both ways until a sync lists it: its
    // first packet never precedes its policies.
    for (chain, iface) in [("NETPOL-UNLISTED-OUT", "-i"), ("NETPOL-UNLISTED-IN", "-o")] {
        b.chain(chain);
        b.rule(
            "NETPOL-FORWARD",
            &format!("-m comment --comment \"pods the state does not list\" -j {chain}"),
        );
        for (_, pod) in &local {
            b.rule(chain, &format!("{iface} {} -j RETURN", pod.host_veth));
        }
        b.rule(
            chain,
            &format!("{iface} {}+ -j NETPOL-DENY", POD_VETH_PREFIX),
        );
    }
    // A forwarded packet crosses the egress chain of its source and the
    // ingress chain of its destination: both must let it through.
    // rule: egress-and-ingress, cnp-directions
    for &(j, pod) in &local {
        for direction in [Direction::Egress, Direction::Ingress] {
            b.pod_chain(j, pod, direction, &policies)?;
        }
    }
    // rule: cnp-own-node (traffic between a pod and its own node crosses
    // INPUT and OUTPUT, not FORWARD: ClusterNetworkPolicy applies there too)
    for &(j, pod) in &local {
        for direction in [Direction::Egress, Direction::Ingress] {
            b.own_node_chain(j, pod, direction, &policies)?;
        }
    }

    let mut out =
        String::from("*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n");
    for c in &b.chains {
        let _ = writeln!(out, ":{c} - [0:0]");
    }
    for r in &b.rules {
        out.push_str(r);
        out.push('\n');
    }
    out.push_str("COMMIT\n");
    Ok(out)
}

impl Builder<'_> {
    /// Pod `j`'s chain of `direction`, if any tier applies to it there.
    // rule: cnp-tiers (Admin, NetworkPolicy, Baseline, then allowed)
    fn pod_chain(
        &mut self,
        j: usize,
        pod: &Pod,
        direction: Direction,
        policies: &[PolicyView<'_>],
    ) -> Result<(), RulesError> {
        let isolating = isolating(policies, pod, direction)?;
        let admin = self.applied(pod, Tier::Admin, direction)?;
        let baseline = self.applied(pod, Tier::Baseline, direction)?;
        if admin.is_empty() && isolating.is_empty() && baseline.is_empty() {
            return Ok(()); // rule: isolation (not isolated in this direction: everything passes)
        }
        let chain = format!("NETPOL-{}-{j}", direction.chain());
        let (iface, what) = match direction {
            Direction::Egress => ("-i", "egress of"),
            Direction::Ingress => ("-o", "ingress to"),
        };
        self.rule(
            "NETPOL-FORWARD",
            &format!(
                "{iface} {} -m comment --comment \"{what} {}/{}\" -j {chain}",
                pod.host_veth, pod.namespace, pod.name
            ),
        );
        self.chain(&chain);
        self.cnp_tier(&chain, Tier::Admin, &admin, direction)?;
        if !isolating.is_empty() {
            self.rule(&chain, "-j MARK --set-xmark 0x0/0x10000");
            // Any rule of any isolating policy sets the allow bit.
            // rule: policies-additive
            for (p, policy, rules) in isolating {
                for (r, rule) in rules.iter().enumerate() {
                    let rule_chain = format!("{chain}-P{p}-R{r}");
                    self.rule(
                        &chain,
                        &format!(
                            "-m comment --comment \"{} {}[{r}]\" -j {rule_chain}",
                            policy.key,
                            direction.field()
                        ),
                    );
                    self.rule_chain(&rule_chain, policy, rule, direction, pod)?;
                }
            }
            self.rule(&chain, &format!("-m mark --mark {ALLOW_BIT} -j RETURN"));
            // rule: no-rules-allow-nothing (no rule set the bit)
            // rule: cnp-networkpolicy-tier (final: Baseline is not reached)
            self.rule(&chain, "-j NETPOL-DENY");
            return Ok(());
        }
        self.cnp_tier(&chain, Tier::Baseline, &baseline, direction)
    }

    /// Pod `j`'s chain of `direction` for traffic with its own node, if a
    /// ClusterNetworkPolicy tier applies to it there: the tiers as in
    /// `pod_chain`, but the NetworkPolicy tier, where it isolates the pod,
    /// allows (NetworkPolicy's own-node exemption) and Baseline is not
    /// reached. Egress (pod to node) is taken in INPUT, ingress (node to
    /// pod, from the node's own address) in OUTPUT.
    // rule: cnp-own-node, own-node
    fn own_node_chain(
        &mut self,
        j: usize,
        pod: &Pod,
        direction: Direction,
        policies: &[PolicyView<'_>],
    ) -> Result<(), RulesError> {
        let admin = self.applied(pod, Tier::Admin, direction)?;
        let baseline = self.applied(pod, Tier::Baseline, direction)?;
        if admin.is_empty() && baseline.is_empty() {
            return Ok(());
        }
        let isolated = !isolating(policies, pod, direction)?.is_empty();
        let hook = self.own_node_hook(direction);
        let chain = format!("NETPOL-NODE-{}-{j}", direction.chain());
        let (iface, what, from_node) = match direction {
            Direction::Egress => ("-i", "egress of", Vec::new()),
            // Only the node's own packets: not the resets and ICMP errors
            // it sends for other traffic (they carry other sources).
            Direction::Ingress => {
                let node = self.state.nodes.iter().find(|n| n.name == self.node);
                let ips = node.map(|n| self.own_family(n.ip, &n.ips));
                let sources = ips
                    .unwrap_or_default()
                    .into_iter()
                    .map(|ip| format!(" -s {}", host(ip)))
                    .collect();
                ("-o", "ingress to", sources)
            }
        };
        let sources = if from_node.is_empty() {
            vec![String::new()]
        } else {
            from_node
        };
        for source in sources {
            self.rule(
                &hook,
                &format!(
                    "{iface} {}{source} -m comment --comment \"{what} {}/{} with its node\" -j {chain}",
                    pod.host_veth, pod.namespace, pod.name
                ),
            );
        }
        self.chain(&chain);
        self.cnp_tier(&chain, Tier::Admin, &admin, direction)?;
        if isolated {
            // rule: own-node, cnp-networkpolicy-tier (exempt, and final)
            self.rule(&chain, "-j RETURN");
            return Ok(());
        }
        self.cnp_tier(&chain, Tier::Baseline, &baseline, direction)
    }

    /// A ClusterNetworkPolicy tier in a pod's `chain`, if it has policies
    /// there: Deny is denied; an Admin Accept is allowed in this direction
    /// (back to the caller, which still takes the destination's ingress);
    /// Pass or no rule goes on (Admin: to the NetworkPolicy tier;
    /// Baseline: to the end, allowed, as is Baseline's Accept).
    // rule: cnp-accept, cnp-deny, cnp-pass
    fn cnp_tier(
        &mut self,
        chain: &str,
        tier: Tier,
        applied: &[cnp::Applied<'_>],
        direction: Direction,
    ) -> Result<(), RulesError> {
        if applied.is_empty() {
            return Ok(());
        }
        self.tier_chain(chain, tier, applied, direction)?;
        if tier == Tier::Admin {
            self.rule(
                chain,
                &format!("{} -j RETURN", cnp::has_verdict(Action::Accept)),
            );
        }
        self.rule(
            chain,
            &format!("{} -j NETPOL-DENY", cnp::has_verdict(Action::Deny)),
        );
        Ok(())
    }

    /// NETPOL-INPUT (egress to the node) or NETPOL-OUTPUT (ingress from
    /// it), made on first use: replies and neighbour discovery pass.
    fn own_node_hook(&mut self, direction: Direction) -> String {
        let (builtin, hook) = match direction {
            Direction::Egress => ("INPUT", "NETPOL-INPUT"),
            Direction::Ingress => ("OUTPUT", "NETPOL-OUTPUT"),
        };
        if !self.chains.iter().any(|c| c == hook) {
            self.chain(hook);
            self.rule(
                builtin,
                &format!("-m comment --comment \"netpol reference enforcer\" -j {hook}"),
            );
            // rule: stateful-replies
            self.rule(hook, "-m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT");
            if self.family == IpFamily::IPv6 {
                // rule: family-exceptions
                for icmp6_type in 133..=137 {
                    self.rule(
                        hook,
                        &format!("-p ipv6-icmp -m icmp6 --icmpv6-type {icmp6_type} -j ACCEPT"),
                    );
                }
            }
        }
        hook.to_string()
    }

    fn chain(&mut self, name: &str) {
        self.chains.push(name.to_string());
    }

    fn rule(&mut self, chain: &str, spec: &str) {
        self.rules.push(format!("-A {chain} {spec}"));
    }

    /// A rule allows traffic matching one of its peers AND one of its ports.
    // rule: peers-and-ports (peers jump to the ports chain, which sets the bit)
    fn rule_chain(
        &mut self,
        chain: &str,
        policy: &PolicyView<'_>,
        rule: &RuleSpec<'_>,
        direction: Direction,
        pod: &Pod,
    ) -> Result<(), RulesError> {
        self.chain(chain);
        let ports_target = match rule.ports.filter(|p| !p.is_empty()) {
            // Ports absent or empty: any port.
            // rule: ports-absent-any
            None => format!("MARK --set-xmark {ALLOW_BIT}"),
            Some(ports) => {
                let ports_chain = format!("{chain}-PORTS");
                self.chain(&ports_chain);
                for port in ports {
                    for matcher in self.port_matchers(port, direction, pod, &policy.key)? {
                        self.rule(
                            &ports_chain,
                            &format!("{matcher} -j MARK --set-xmark {ALLOW_BIT}"),
                        );
                    }
                }
                ports_chain
            }
        };
        let opt = direction.peer_option();
        match rule.peers.filter(|p| !p.is_empty()) {
            // Peers absent or empty: any peer (and with no ports either,
            // `ingress: [{}]`, everything).
            // rule: peers-absent-any, empty-rule-allows-all
            None => self.rule(chain, &format!("-j {ports_target}")),
            Some(peers) => {
                for (k, peer) in peers.iter().enumerate() {
                    // An ipBlock matches by address: pods', nodes', anyone's.
                    // rule: ipblock-except, ipblock-pod-addresses, other-nodes
                    if let Some(block) = &peer.ip_block {
                        let cidr = ip_block(&block.cidr, &policy.key)?;
                        // A block of the other family adds no jump: it
                        // matches nothing here (never "any peer").
                        // rule: family-ipblock
                        if family_of(&cidr) != self.family {
                            continue;
                        }
                        let block_chain = format!("{chain}-B{k}");
                        self.chain(&block_chain);
                        self.rule(chain, &format!("{opt} {cidr} -j {block_chain}"));
                        for except in block.except.iter().flatten() {
                            let x = ip_block(except, &policy.key)?;
                            if family_of(&x) == self.family {
                                self.rule(&block_chain, &format!("{opt} {x} -j RETURN"));
                            }
                        }
                        self.rule(&block_chain, &format!("-j {ports_target}"));
                    } else {
                        // rule: other-nodes (selectors give pod addresses only)
                        for ip in self.peer_pods(peer, &policy.namespace, &policy.key)? {
                            self.rule(chain, &format!("{opt} {} -j {ports_target}", host(ip)));
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// The addresses of the pods a selector peer selects: podSelector alone
    /// in the policy's namespace; with a namespaceSelector, in the selected
    /// namespaces (both must match).
    fn peer_pods(
        &self,
        peer: &NetworkPolicyPeer,
        policy_namespace: &str,
        policy: &str,
    ) -> Result<Vec<IpAddr>, RulesError> {
        let pod_sel = selector(peer.pod_selector.as_ref(), policy)?;
        let ns_sel = peer
            .namespace_selector
            .as_ref()
            .map(|s| selector(Some(s), policy))
            .transpose()?;
        let empty = BTreeMap::new();
        Ok(self
            .state
            .pods
            .iter()
            .filter(|p| match &ns_sel {
                // rule: pod-selector-own-namespace
                None => p.namespace == policy_namespace,
                // rule: namespace-selector, peer-and-vs-or (AND: both filters
                // apply; OR: each peer of the list adds its own jumps)
                Some(sel) => sel.matches(
                    self.namespace_labels
                        .get(p.namespace.as_str())
                        .copied()
                        .unwrap_or(&empty),
                ),
            })
            .filter(|p| pod_sel.matches(&p.labels))
            .flat_map(|p| self.own_family(p.ip, &p.ips))
            .collect())
    }

    /// iptables matches for one `ports` entry. A named port resolves
    /// against the destination's container ports (name AND protocol): the
    /// isolated pod for ingress; for egress, every pod that has it.
    fn port_matchers(
        &self,
        port: &NetworkPolicyPort,
        direction: Direction,
        pod: &Pod,
        policy: &str,
    ) -> Result<Vec<String>, RulesError> {
        let protocol = port.protocol.as_deref().unwrap_or("TCP"); // rule: port-without-protocol-is-tcp
        let proto = match protocol {
            "TCP" => "tcp",
            "UDP" => "udp",
            "SCTP" => "sctp",
            other => {
                return Err(RulesError::Policy {
                    policy: policy.to_string(),
                    message: format!("unsupported protocol {other:?}"),
                });
            }
        };
        // rule: protocol-must-match (every matcher names its protocol)
        Ok(match &port.port {
            // rule: protocol-without-port
            None => vec![format!("-p {proto}")],
            // rule: numeric-port, endport-range
            Some(IntOrString::Int(n)) => {
                let range = match port.end_port {
                    Some(end) if end > *n => format!("{n}:{end}"),
                    _ => n.to_string(),
                };
                vec![format!("-p {proto} -m {proto} --dport {range}")]
            }
            // rule: named-port (ingress: the isolated pod; egress: each pod
            // that has the name, by address, so no external host matches)
            Some(IntOrString::String(name)) => {
                let named = |p: &Pod| -> Option<u16> {
                    p.container_ports
                        .iter()
                        // rule: named-port-protocol
                        .find(|c| {
                            c.name.as_deref() == Some(name.as_str()) && c.protocol == protocol
                        })
                        .map(|c| c.container_port)
                };
                match direction {
                    Direction::Ingress => named(pod)
                        .map(|n| format!("-p {proto} -m {proto} --dport {n}"))
                        .into_iter()
                        .collect(),
                    Direction::Egress => self
                        .state
                        .pods
                        .iter()
                        .filter_map(|d| named(d).map(|n| (d, n)))
                        .flat_map(|(d, n)| {
                            self.own_family(d.ip, &d.ips).into_iter().map(move |ip| {
                                format!("-d {} -p {proto} -m {proto} --dport {n}", host(ip))
                            })
                        })
                        .collect(),
                }
            }
        })
    }
}

impl Builder<'_> {
    /// A host's addresses of the table's family (none if it has none): `ips`,
    /// or `ip` alone from a state that predates `ips`.
    // rule: family-selectors (a selected host matches by its address of
    // each family, in that family's table)
    fn own_family(&self, ip: IpAddr, ips: &[IpAddr]) -> Vec<IpAddr> {
        let all = if ips.is_empty() {
            std::slice::from_ref(&ip)
        } else {
            ips
        };
        all.iter()
            .copied()
            .filter(|a| IpFamily::of(*a) == self.family)
            .collect()
    }
}

/// One address as iptables matches it: `/32` or `/128`.
fn host(ip: IpAddr) -> String {
    ipnet::IpNet::from(ip).to_string()
}

/// The family of a CIDR.
fn family_of(net: &ipnet::IpNet) -> IpFamily {
    match net {
        ipnet::IpNet::V4(_) => IpFamily::IPv4,
        ipnet::IpNet::V6(_) => IpFamily::IPv6,
    }
}

/// An ipBlock CIDR as iptables takes it, read as the API server reads it
/// (leading zeros are decimal, host bits are ignored, an IPv4-mapped IPv6
/// block is its IPv4 block).
fn ip_block(text: &str, policy: &str) -> Result<ipnet::IpNet, RulesError> {
    let bad = || RulesError::Policy {
        policy: policy.to_string(),
        message: format!("invalid CIDR {text:?}"),
    };
    let (addr, prefix) = text.split_once('/').ok_or_else(bad)?;
    let prefix: u8 = prefix.parse().map_err(|_| bad())?; // leading zeros are fine
    if let Some(v4) = addr
        .strip_prefix("::ffff:")
        .or_else(|| addr.strip_prefix("::FFFF:"))
        .filter(|a| a.contains('.'))
    {
        let net = ipnet::Ipv4Net::new(
            dotted_quad(v4).ok_or_else(bad)?,
            prefix.checked_sub(96).ok_or_else(bad)?,
        )
        .map_err(|_| bad())?;
        return Ok(net.trunc().into());
    }
    if addr.contains(':') {
        let a = addr.parse::<std::net::Ipv6Addr>().map_err(|_| bad())?;
        let net = ipnet::Ipv6Net::new(a, prefix).map_err(|_| bad())?;
        return Ok(net.trunc().into());
    }
    let net = ipnet::Ipv4Net::new(dotted_quad(addr).ok_or_else(bad)?, prefix).map_err(|_| bad())?;
    Ok(net.trunc().into())
}

/// `a.b.c.d`, octets in decimal even with leading zeros.
fn dotted_quad(s: &str) -> Option<Ipv4Addr> {
    let octets: Vec<u8> = s
        .split('.')
        .map(|o| {
            if o.is_empty() || o.len() > 3 {
                None
            } else {
                o.parse().ok()
            }
        })
        .collect::<Option<_>>()?;
    Some(Ipv4Addr::from(<[u8; 4]>::try_from(octets).ok()?))
}

mod cnp;

#[cfg(test)]
mod tests;
