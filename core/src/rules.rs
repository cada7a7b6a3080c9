//! The ids of the rules of `docs/spec-notes.md`, listed once.
//!
//! The notes name each rule (`**[own-node]**`), the model and the reference
//! enforcer cite the id next to the code that implements it
//! (`// rule: own-node`), and scenarios list the rules they check
//! (`rules: [own-node]`); the loader rejects an id that is not here, and
//! `tests/rule_ids.rs` checks that the four agree.

/// Every rule: its id and a one-line summary, in the order of the notes.
pub const RULES: &[(&str, &str)] = &[
    // Isolation
    (
        "isolation",
        "a pod is isolated for a direction iff a policy of its namespace selects it with that policy type",
    ),
    (
        "policies-additive",
        "an isolated pod allows the union of the rules of every policy isolating it",
    ),
    (
        "egress-and-ingress",
        "a connection needs egress from the source AND ingress to the destination",
    ),
    (
        "stateful-replies",
        "replies of an allowed connection are always allowed",
    ),
    ("self-traffic", "a pod can always reach itself"),
    (
        "own-node",
        "a pod and the node it runs on can always reach each other",
    ),
    (
        "other-nodes",
        "other nodes are addresses to a pod's policies: only an ipBlock matches them",
    ),
    // Policy types
    (
        "policy-types-default",
        "policyTypes absent: Ingress, plus Egress if there are egress rules",
    ),
    (
        "policy-types-ignore-rules",
        "rules of a direction missing from policyTypes are ignored",
    ),
    (
        "empty-policy-selector",
        "spec.podSelector {} selects every pod of the policy's namespace",
    ),
    // Rules
    (
        "peers-and-ports",
        "a rule allows traffic matching one of its peers AND one of its ports",
    ),
    ("peers-absent-any", "from / to absent or empty: any peer"),
    ("ports-absent-any", "ports absent or empty: any port"),
    (
        "empty-rule-allows-all",
        "ingress: [{}] (egress: [{}]) allows everything",
    ),
    (
        "no-rules-allow-nothing",
        "a listed policy type without rules allows nothing",
    ),
    // Peers
    (
        "pod-selector-own-namespace",
        "a podSelector peer alone selects pods of the policy's own namespace",
    ),
    (
        "namespace-selector",
        "a namespaceSelector peer alone selects every pod of the selected namespaces",
    ),
    (
        "peer-and-vs-or",
        "both selectors in one peer: AND; in two peers: OR",
    ),
    (
        "ipblock-except",
        "an ipBlock matches addresses in cidr and in no except",
    ),
    (
        "ipblock-pod-addresses",
        "an ipBlock matches pod addresses too",
    ),
    (
        "label-selector",
        "matchLabels AND matchExpressions (In, NotIn, Exists, DoesNotExist)",
    ),
    (
        "empty-selector",
        "an empty label selector matches everything",
    ),
    (
        "metadata-name-label",
        "namespaces carry kubernetes.io/metadata.name: <name>",
    ),
    // Ports
    (
        "port-without-protocol-is-tcp",
        "a port entry without protocol is TCP",
    ),
    (
        "protocol-must-match",
        "a rule for one protocol never allows another",
    ),
    ("numeric-port", "a numeric port matches that port"),
    (
        "named-port",
        "a named port resolves against each destination pod's container ports; other destinations do not match",
    ),
    (
        "named-port-protocol",
        "a named port matches a container port of that name AND the entry's protocol",
    ),
    (
        "protocol-without-port",
        "port absent: every port of the protocol",
    ),
    (
        "endport-range",
        "endPort: the inclusive range port..endPort",
    ),
    // IP families
    (
        "family-ipblock",
        "an ipBlock (or networks entry) matches addresses of its own family only",
    ),
    (
        "family-selectors",
        "selectors match a pod's addresses of every family",
    ),
    (
        "family-exceptions",
        "the node exemption and self-traffic hold in every family",
    ),
    // ClusterNetworkPolicy
    (
        "cnp-tiers",
        "Admin CNPs, then NetworkPolicies, then Baseline CNPs, then allowed",
    ),
    (
        "cnp-directions",
        "egress decided at the source pod, ingress at the destination pod; a connection needs both",
    ),
    (
        "cnp-priority-order",
        "within a tier, the subject's policies in increasing priority",
    ),
    (
        "cnp-rule-order",
        "within a policy, the first rule (in written order) matching peer AND protocol decides",
    ),
    (
        "cnp-accept",
        "Accept: allowed in this direction, nothing later evaluated",
    ),
    (
        "cnp-deny",
        "Deny: denied in this direction, nothing later evaluated",
    ),
    (
        "cnp-pass",
        "Pass: the rest of the tier is skipped, the next tier decides",
    ),
    (
        "cnp-networkpolicy-tier",
        "NetworkPolicies isolating the pod decide finally; otherwise Baseline is evaluated",
    ),
    (
        "cnp-same-priority",
        "same tier and priority, different actions for the same traffic: implementation-defined",
    ),
    (
        "cnp-subject",
        "subject: namespaces, or pods (namespaceSelector AND podSelector)",
    ),
    (
        "cnp-peer-pods",
        "namespaces and pods peers select pods in any namespace, never nodes or externals",
    ),
    (
        "cnp-peer-nodes",
        "nodes peers: the addresses of the nodes whose labels are selected",
    ),
    (
        "cnp-peer-networks",
        "networks peers: CIDRs matched against any destination address, pods included",
    ),
    (
        "cnp-protocols",
        "protocols absent: all; otherwise tcp/udp/sctp with a port number or inclusive range",
    ),
    (
        "cnp-named-port",
        "destinationNamedPort: the destination pod's container port of that name and protocol",
    ),
    (
        "cnp-self-traffic",
        "a pod reaching its own address is not subject to ClusterNetworkPolicy",
    ),
    (
        "cnp-own-node",
        "traffic between a pod and its own node is subject to ClusterNetworkPolicy; the NetworkPolicy tier exempts it",
    ),
];

/// The one-line summary of rule `id`, `None` for an unknown id.
pub fn summary(id: &str) -> Option<&'static str> {
    RULES.iter().find(|(i, _)| *i == id).map(|(_, s)| *s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_kebab_case() {
        let mut seen = std::collections::HashSet::new();
        for (id, summary) in RULES {
            assert!(seen.insert(id), "{id} is listed twice");
            assert!(
                !id.is_empty()
                    && !id.starts_with('-')
                    && !id.ends_with('-')
                    && !id.contains("--")
                    && id
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'),
                "{id} is not kebab-case"
            );
            assert!(!summary.is_empty(), "{id} has no summary");
        }
        assert_eq!(summary("own-node"), Some(RULES[5].1));
        assert_eq!(summary("own-nodes"), None);
    }
}
