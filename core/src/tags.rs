//! The tags of the repository's scenario matrix, each with one spelling.
//!
//! Tags group results in reports, so `endPort` and `endport` would be two
//! rows that each count half of the scenarios. Users may add tags of their
//! own; the matrix's own test (`core/tests/scenarios_model.rs`) refuses a
//! variant spelling of a known tag ([`misspelling`]).

/// Every tag the matrix uses, with its meaning (`scenarios/README.md` lists
/// the same). The features that may be declared unsupported
/// ([`crate::features::Feature`]) are among them, spelled as there.
pub const KNOWN: &[(&str, &str)] = &[
    // Topics: each folder of `scenarios/` names one.
    (
        "concepts-page",
        "the examples of the NetworkPolicy concepts page",
    ),
    (
        "default-policies",
        "the concepts page's five default policies",
    ),
    (
        "selectors",
        "podSelector and namespaceSelector: matchLabels, matchExpressions",
    ),
    ("ipblock", "a policy uses an ipBlock"),
    ("ports", "numeric and named ports, endPort ranges"),
    ("protocols", "TCP, UDP, SCTP: a port's protocol"),
    ("policy-types", "policyTypes, present or defaulted"),
    ("union", "several policies or rules select the same pod"),
    ("egress", "a policy isolates some pod for egress"),
    (
        "exceptions",
        "self-traffic, and traffic between a pod and its node",
    ),
    ("steps", "the scenario has steps"),
    ("upstream-e2e", "transcribed from the Kubernetes e2e tests"),
    (
        "upstream-cnp",
        "transcribed from network-policy-api's conformance tests",
    ),
    (
        "invalid",
        "a loader check: policies the API server rejects (`expectInvalid`)",
    ),
    // Directions.
    ("ingress", "a policy isolates some pod for ingress"),
    // Optional features (`crate::features::Feature`).
    ("sctp", "a policy names protocol SCTP"),
    ("endPort", "a policy uses endPort"),
    ("namedPorts", "a policy uses a named port"),
    (
        "ClusterNetworkPolicy",
        "ClusterNetworkPolicy: tiers, priorities, Accept / Deny / Pass (the topic of cluster-network-policy/; needs the feature)",
    ),
    (
        "ClusterNetworkPolicyNamedPorts",
        "a ClusterNetworkPolicy uses destinationNamedPort",
    ),
    (
        "ClusterNetworkPolicyEgressNodePeers",
        "a ClusterNetworkPolicy uses nodes peers",
    ),
    (
        "ClusterNetworkPolicyEgressNetworkPeers",
        "a ClusterNetworkPolicy uses networks peers",
    ),
    // Loader checks only.
    ("peers", "a rule's peer as a whole (from / to entries)"),
    ("metadata", "a policy's metadata: name, namespace, labels"),
    ("yaml", "how the file's YAML is read"),
    (
        "ipv6",
        "IPv6: an IPv6-only cluster (the topic of ipv6/), or an IPv6 address or CIDR",
    ),
    (
        "dual-stack",
        "a dual-stack cluster, ipFamilies [IPv4, IPv6] (the topic of dual-stack/)",
    ),
];

/// Whether `tag` is a known tag, spelled as it is known.
pub fn is_known(tag: &str) -> bool {
    KNOWN.iter().any(|(known, _)| *known == tag)
}

/// The known tag `tag` is a variant spelling of (another case, hyphens or
/// underscores, singular or plural), or `None` when it is spelled as known
/// or is a tag of its own.
pub fn misspelling(tag: &str) -> Option<&'static str> {
    if is_known(tag) {
        return None;
    }
    let key = fold(tag);
    KNOWN
        .iter()
        .map(|(known, _)| *known)
        .find(|known| fold(known) == key)
}

/// A tag with case, separators and a plural ending folded away.
fn fold(tag: &str) -> String {
    let mut s: String = tag
        .chars()
        .filter(|c| !matches!(c, '-' | '_' | ' ' | '.'))
        .flat_map(char::to_lowercase)
        .collect();
    if let Some(stem) = s.strip_suffix("ies") {
        s = format!("{stem}y");
    } else if s.ends_with('s') && !s.ends_with("ss") {
        s.pop();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variants_of_known_tags_are_named() {
        for (variant, known) in [
            ("endport", "endPort"),
            ("end-port", "endPort"),
            ("endPorts", "endPort"),
            ("named-port", "namedPorts"),
            ("namedPort", "namedPorts"),
            ("selector", "selectors"),
            ("protocol", "protocols"),
            ("ipBlock", "ipblock"),
            ("IPBlocks", "ipblock"),
            ("policy_types", "policy-types"),
            ("default-policy", "default-policies"),
            ("peer", "peers"),
            ("Ingress", "ingress"),
        ] {
            assert_eq!(misspelling(variant), Some(known), "{variant}");
        }
    }

    #[test]
    fn known_and_new_tags_are_not_misspellings() {
        for tag in KNOWN.iter().map(|(t, _)| *t) {
            assert_eq!(misspelling(tag), None, "{tag}");
        }
        for tag in [
            "my-cni-regression",
            "example",
            "namespace-selector",
            "egres",
        ] {
            assert_eq!(misspelling(tag), None, "{tag} is a tag of its own");
        }
    }

    #[test]
    fn the_features_are_known_tags() {
        for f in crate::features::Feature::ALL {
            assert!(is_known(f.name()), "{f}");
        }
    }

    #[test]
    fn known_tags_do_not_fold_together() {
        for (i, (a, _)) in KNOWN.iter().enumerate() {
            for (b, _) in &KNOWN[i + 1..] {
                assert_ne!(fold(a), fold(b), "{a} and {b} would be the same tag");
            }
        }
    }
}
