//! `ValidateNetworkPolicySpec` and what it calls
//! (`pkg/apis/networking/validation/validation.go`): the pod selector, each
//! ingress rule's ports then peers, each egress rule's ports then peers,
//! then the policy types.

use k8s_openapi::api::networking::v1::{
    IPBlock, NetworkPolicyPeer, NetworkPolicyPort, NetworkPolicySpec,
};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::cidr::{IpNet, parse_cidr_sloppy};
use super::meta::validate_label_selector;
use super::names::{port_name_errors, port_num_errors};
use super::{BadValue, FieldError, go_quote};
use crate::field_path::FieldPath;

pub const PROTOCOLS: [&str; 3] = ["TCP", "UDP", "SCTP"];
pub const POLICY_TYPES: [&str; 2] = ["Ingress", "Egress"];
const INVALID_CIDR: &str = "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)";

/// `ValidateNetworkPolicySpec`.
pub fn validate_spec(spec: &NetworkPolicySpec, path: &FieldPath) -> Vec<FieldError> {
    let mut errs = Vec::new();
    if let Some(selector) = &spec.pod_selector {
        errs.extend(validate_label_selector(
            selector,
            &path.child("podSelector"),
        ));
    }
    for (i, rule) in spec.ingress.iter().flatten().enumerate() {
        let rule_path = path.child("ingress").index(i);
        for (j, port) in rule.ports.iter().flatten().enumerate() {
            errs.extend(validate_port(port, &rule_path.child("ports").index(j)));
        }
        for (j, peer) in rule.from.iter().flatten().enumerate() {
            errs.extend(validate_peer(peer, &rule_path.child("from").index(j)));
        }
    }
    for (i, rule) in spec.egress.iter().flatten().enumerate() {
        let rule_path = path.child("egress").index(i);
        for (j, port) in rule.ports.iter().flatten().enumerate() {
            errs.extend(validate_port(port, &rule_path.child("ports").index(j)));
        }
        for (j, peer) in rule.to.iter().flatten().enumerate() {
            errs.extend(validate_peer(peer, &rule_path.child("to").index(j)));
        }
    }
    let types = spec.policy_types.as_deref().unwrap_or_default();
    if types.len() > POLICY_TYPES.len() {
        // Go prints the list with %#v, with its internal type name.
        let list: Vec<String> = types.iter().map(|t| go_quote(t)).collect();
        errs.push(FieldError::invalid(
            path.child("policyTypes"),
            BadValue::Raw(format!("[]networking.PolicyType{{{}}}", list.join(", "))),
            "may not specify more than two policyTypes",
        ));
        return errs;
    }
    for (i, t) in types.iter().enumerate() {
        if !POLICY_TYPES.contains(&t.as_str()) {
            errs.push(FieldError::not_supported(
                path.child("policyTypes").index(i),
                BadValue::Str(t.clone()),
                &POLICY_TYPES,
            ));
        }
    }
    errs
}

/// `ValidateNetworkPolicyPort`: the protocol, then the port (a number in
/// 1..=65535 or an IANA service name) and `endPort`.
pub fn validate_port(port: &NetworkPolicyPort, path: &FieldPath) -> Vec<FieldError> {
    let mut errs = Vec::new();
    if let Some(protocol) = &port.protocol
        && !PROTOCOLS.contains(&protocol.as_str())
    {
        errs.push(FieldError::not_supported(
            path.child("protocol"),
            BadValue::Str(protocol.clone()),
            &PROTOCOLS,
        ));
    }
    let end_invalid = |end: i32, detail: &str| {
        FieldError::invalid(path.child("endPort"), BadValue::Int(end.into()), detail)
    };
    match (&port.port, port.end_port) {
        (Some(IntOrString::Int(n)), end) => {
            for msg in port_num_errors((*n).into()) {
                errs.push(FieldError::invalid(
                    path.child("port"),
                    BadValue::Int((*n).into()),
                    msg,
                ));
            }
            if let Some(end) = end {
                if end < *n {
                    errs.push(end_invalid(end, "must be greater than or equal to `port`"));
                }
                for msg in port_num_errors(end.into()) {
                    errs.push(end_invalid(end, &msg));
                }
            }
        }
        (Some(IntOrString::String(name)), end) => {
            if let Some(end) = end {
                errs.push(end_invalid(
                    end,
                    "may not be specified when `port` is non-numeric",
                ));
            }
            for msg in port_name_errors(name) {
                errs.push(FieldError::invalid(
                    path.child("port"),
                    BadValue::Str(name.clone()),
                    msg,
                ));
            }
        }
        (None, Some(end)) => {
            errs.push(end_invalid(
                end,
                "may not be specified when `port` is not specified",
            ));
        }
        (None, None) => {}
    }
    errs
}

/// `ValidateNetworkPolicyPeer`: each selector, the ipBlock, then exactly one
/// kind of peer (`ipBlock` alone, or selectors).
pub fn validate_peer(peer: &NetworkPolicyPeer, path: &FieldPath) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let mut peers = 0;
    if let Some(selector) = &peer.pod_selector {
        peers += 1;
        errs.extend(validate_label_selector(
            selector,
            &path.child("podSelector"),
        ));
    }
    if let Some(selector) = &peer.namespace_selector {
        peers += 1;
        errs.extend(validate_label_selector(
            selector,
            &path.child("namespaceSelector"),
        ));
    }
    if let Some(block) = &peer.ip_block {
        peers += 1;
        errs.extend(validate_ip_block(block, &path.child("ipBlock")));
    }
    if peers == 0 {
        errs.push(FieldError::required(path.clone(), "must specify a peer"));
    } else if peers > 1 && peer.ip_block.is_some() {
        errs.push(FieldError::forbidden(
            path.clone(),
            "may not specify both ipBlock and another peer",
        ));
    }
    errs
}

/// `ValidateIPBlock` on create: `cidr` required and a valid CIDR (host bits
/// allowed); each `except` a valid CIDR and a strict subset of `cidr`.
pub fn validate_ip_block(block: &IPBlock, path: &FieldPath) -> Vec<FieldError> {
    let mut errs = Vec::new();
    if block.cidr.is_empty() {
        errs.push(FieldError::required(path.child("cidr"), ""));
        return errs;
    }
    let Some(cidr) = parse_cidr_sloppy(&block.cidr) else {
        errs.push(FieldError::invalid(
            path.child("cidr"),
            BadValue::Str(block.cidr.clone()),
            INVALID_CIDR,
        ));
        return errs;
    };
    for (i, text) in block.except.iter().flatten().enumerate() {
        let except_path = path.child("except").index(i);
        match parse_cidr_sloppy(text) {
            None => errs.push(FieldError::invalid(
                except_path,
                BadValue::Str(text.clone()),
                INVALID_CIDR,
            )),
            Some(except) if !is_strict_subset(&cidr, &except) => {
                errs.push(FieldError::invalid(
                    except_path,
                    BadValue::Str(text.clone()),
                    "must be a strict subset of `cidr`",
                ));
            }
            Some(_) => {}
        }
    }
    errs
}

/// Upstream's test: `cidr.Contains(except.IP) && cidrMaskLen < exceptMaskLen`.
fn is_strict_subset(cidr: &IpNet, except: &IpNet) -> bool {
    cidr.contains(&except.ip) && cidr.prefix_len() < except.prefix_len()
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::networking::v1::{NetworkPolicyEgressRule, NetworkPolicyIngressRule};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;

    fn strings(errs: &[FieldError]) -> Vec<String> {
        errs.iter().map(ToString::to_string).collect()
    }

    fn block(cidr: &str, except: &[&str]) -> IPBlock {
        IPBlock {
            cidr: cidr.into(),
            except: (!except.is_empty()).then(|| except.iter().map(|s| s.to_string()).collect()),
        }
    }

    #[test]
    fn ip_blocks() {
        let p = FieldPath::new("spec")
            .child("ingress")
            .index(0)
            .child("from")
            .index(0)
            .child("ipBlock");
        let cases: Vec<(IPBlock, Vec<&str>, &str)> = vec![
            (
                block("10.0.0.0/16", &["10.0.1.0/24", "10.0.2.0/24"]),
                vec![],
                "two excepts inside",
            ),
            (
                block("10.0.0.1/24", &[]),
                vec![],
                "host bits set: valid (non-strict validation)",
            ),
            (
                block("010.000.000.000/8", &["010.001.000.000/16"]),
                vec![],
                "leading zeros read as decimal",
            ),
            (block("2001:db8::/32", &["2001:db8:1::/48"]), vec![], "IPv6"),
            (
                block("0.0.0.0/0", &["10.0.0.0/8"]),
                vec![],
                "everything but a block",
            ),
            (
                block("", &["10.0.0.0/24"]),
                vec!["spec.ingress[0].from[0].ipBlock.cidr: Required value"],
                "empty cidr; excepts not looked at",
            ),
            (
                block("10.0.0.0", &["10.0.0.0/24"]),
                vec![
                    "spec.ingress[0].from[0].ipBlock.cidr: Invalid value: \"10.0.0.0\": must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)",
                ],
                "no prefix length; excepts not looked at",
            ),
            (
                block("10.0.0.0/16", &["10.0.0.0/33"]),
                vec![
                    "spec.ingress[0].from[0].ipBlock.except[0]: Invalid value: \"10.0.0.0/33\": must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)",
                ],
                "unparsable except",
            ),
            (
                block("10.0.0.0/24", &["10.0.0.0/24"]),
                vec![
                    "spec.ingress[0].from[0].ipBlock.except[0]: Invalid value: \"10.0.0.0/24\": must be a strict subset of `cidr`",
                ],
                "except equal to cidr",
            ),
            (
                block("10.0.0.0/24", &["10.0.0.0/16"]),
                vec![
                    "spec.ingress[0].from[0].ipBlock.except[0]: Invalid value: \"10.0.0.0/16\": must be a strict subset of `cidr`",
                ],
                "except larger than cidr",
            ),
            (
                block("10.0.0.0/24", &["10.0.0.128/25", "10.1.0.0/25"]),
                vec![
                    "spec.ingress[0].from[0].ipBlock.except[1]: Invalid value: \"10.1.0.0/25\": must be a strict subset of `cidr`",
                ],
                "second except outside",
            ),
            (
                block("10.0.0.0/8", &["2001:db8::/64"]),
                vec![
                    "spec.ingress[0].from[0].ipBlock.except[0]: Invalid value: \"2001:db8::/64\": must be a strict subset of `cidr`",
                ],
                "IPv6 except of an IPv4 cidr",
            ),
            (
                block("10.0.0.0/24", &["10.0.0.7/24"]),
                vec![
                    "spec.ingress[0].from[0].ipBlock.except[0]: Invalid value: \"10.0.0.7/24\": must be a strict subset of `cidr`",
                ],
                "equal once host bits are cleared",
            ),
        ];
        for (b, want, why) in cases {
            assert_eq!(strings(&validate_ip_block(&b, &p)), want, "{why}");
        }
    }

    fn port(
        port: Option<IntOrString>,
        end: Option<i32>,
        protocol: Option<&str>,
    ) -> NetworkPolicyPort {
        NetworkPolicyPort {
            port,
            end_port: end,
            protocol: protocol.map(str::to_string),
        }
    }

    #[test]
    fn ports() {
        use IntOrString::{Int, String as Name};
        let p = FieldPath::new("spec")
            .child("egress")
            .index(0)
            .child("ports")
            .index(0);
        let cases: Vec<(NetworkPolicyPort, Vec<&str>, &str)> = vec![
            (port(None, None, None), vec![], "nothing: every port, TCP"),
            (port(Some(Int(80)), None, Some("UDP")), vec![], "a number"),
            (
                port(Some(Int(1)), Some(65535), Some("SCTP")),
                vec![],
                "the widest range",
            ),
            (
                port(Some(Int(80)), Some(80), None),
                vec![],
                "a range of one",
            ),
            (
                port(Some(Name("serve-80-tcp".into())), None, None),
                vec![],
                "a name",
            ),
            (port(None, None, Some("TCP")), vec![], "a protocol alone"),
            (
                port(Some(Int(80)), None, Some("tcp")),
                vec![
                    "spec.egress[0].ports[0].protocol: Unsupported value: \"tcp\": supported values: \"TCP\", \"UDP\", \"SCTP\"",
                ],
                "protocols are case-sensitive",
            ),
            (
                port(None, None, Some("ICMP")),
                vec![
                    "spec.egress[0].ports[0].protocol: Unsupported value: \"ICMP\": supported values: \"TCP\", \"UDP\", \"SCTP\"",
                ],
                "ICMP is not a NetworkPolicy protocol",
            ),
            (
                port(None, None, Some("")),
                vec![
                    "spec.egress[0].ports[0].protocol: Unsupported value: \"\": supported values: \"TCP\", \"UDP\", \"SCTP\"",
                ],
                "an empty protocol is not an absent one",
            ),
            (
                port(Some(Int(0)), None, None),
                vec![
                    "spec.egress[0].ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive",
                ],
                "port 0",
            ),
            (
                port(Some(Int(65536)), None, None),
                vec![
                    "spec.egress[0].ports[0].port: Invalid value: 65536: must be between 1 and 65535, inclusive",
                ],
                "port 65536",
            ),
            (
                port(Some(Int(81)), Some(80), None),
                vec![
                    "spec.egress[0].ports[0].endPort: Invalid value: 80: must be greater than or equal to `port`",
                ],
                "endPort below port",
            ),
            (
                port(Some(Int(80)), Some(65536), None),
                vec![
                    "spec.egress[0].ports[0].endPort: Invalid value: 65536: must be between 1 and 65535, inclusive",
                ],
                "endPort over 65535",
            ),
            (
                port(Some(Int(0)), Some(-1), None),
                vec![
                    "spec.egress[0].ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive",
                    "spec.egress[0].ports[0].endPort: Invalid value: -1: must be greater than or equal to `port`",
                    "spec.egress[0].ports[0].endPort: Invalid value: -1: must be between 1 and 65535, inclusive",
                ],
                "every port rule, in upstream order",
            ),
            (
                port(Some(Name("http".into())), Some(90), None),
                vec![
                    "spec.egress[0].ports[0].endPort: Invalid value: 90: may not be specified when `port` is non-numeric",
                ],
                "endPort with a named port",
            ),
            (
                port(None, Some(90), None),
                vec![
                    "spec.egress[0].ports[0].endPort: Invalid value: 90: may not be specified when `port` is not specified",
                ],
                "endPort without port",
            ),
            (
                port(Some(Name("HTTP".into())), None, None),
                vec![
                    "spec.egress[0].ports[0].port: Invalid value: \"HTTP\": must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)",
                    "spec.egress[0].ports[0].port: Invalid value: \"HTTP\": must contain at least one letter (a-z)",
                ],
                "upper case port name",
            ),
            (
                port(Some(Name("80".into())), None, None),
                vec![
                    "spec.egress[0].ports[0].port: Invalid value: \"80\": must contain at least one letter (a-z)",
                ],
                "a quoted number is a name",
            ),
        ];
        for (pt, want, why) in cases {
            assert_eq!(strings(&validate_port(&pt, &p)), want, "{why}");
        }
    }

    fn peer(
        pod: Option<LabelSelector>,
        ns: Option<LabelSelector>,
        ip: Option<IPBlock>,
    ) -> NetworkPolicyPeer {
        NetworkPolicyPeer {
            pod_selector: pod,
            namespace_selector: ns,
            ip_block: ip,
        }
    }

    #[test]
    fn peers() {
        let p = FieldPath::new("spec")
            .child("ingress")
            .index(0)
            .child("from")
            .index(1);
        let all = || Some(LabelSelector::default());
        let cidr = || Some(block("10.0.0.0/8", &[]));
        let cases: Vec<(NetworkPolicyPeer, Vec<&str>, &str)> = vec![
            (peer(all(), None, None), vec![], "podSelector alone"),
            (peer(None, all(), None), vec![], "namespaceSelector alone"),
            (peer(all(), all(), None), vec![], "both selectors"),
            (peer(None, None, cidr()), vec![], "ipBlock alone"),
            (
                peer(None, None, None),
                vec!["spec.ingress[0].from[1]: Required value: must specify a peer"],
                "an empty peer",
            ),
            (
                peer(all(), None, cidr()),
                vec![
                    "spec.ingress[0].from[1]: Forbidden: may not specify both ipBlock and another peer",
                ],
                "ipBlock with podSelector",
            ),
            (
                peer(None, all(), cidr()),
                vec![
                    "spec.ingress[0].from[1]: Forbidden: may not specify both ipBlock and another peer",
                ],
                "ipBlock with an empty namespaceSelector",
            ),
            (
                peer(None, all(), Some(block("", &[]))),
                vec![
                    "spec.ingress[0].from[1].ipBlock.cidr: Required value",
                    "spec.ingress[0].from[1]: Forbidden: may not specify both ipBlock and another peer",
                ],
                "the ipBlock's own errors come first",
            ),
        ];
        for (pr, want, why) in cases {
            assert_eq!(strings(&validate_peer(&pr, &p)), want, "{why}");
        }
    }

    fn types(t: &[&str]) -> NetworkPolicySpec {
        NetworkPolicySpec {
            policy_types: Some(t.iter().map(|s| s.to_string()).collect()),
            ..Default::default()
        }
    }

    #[test]
    fn policy_types() {
        let p = FieldPath::new("spec");
        let cases: Vec<(NetworkPolicySpec, Vec<&str>, &str)> = vec![
            (types(&[]), vec![], "none"),
            (types(&["Ingress"]), vec![], "Ingress"),
            (types(&["Egress", "Ingress"]), vec![], "both, any order"),
            (
                types(&["Ingress", "Ingress"]),
                vec![],
                "a repeat is not checked",
            ),
            (
                types(&["ingress"]),
                vec![
                    "spec.policyTypes[0]: Unsupported value: \"ingress\": supported values: \"Ingress\", \"Egress\"",
                ],
                "lower case",
            ),
            (
                types(&["Ingress", "Both"]),
                vec![
                    "spec.policyTypes[1]: Unsupported value: \"Both\": supported values: \"Ingress\", \"Egress\"",
                ],
                "unknown second type",
            ),
            (
                types(&["Ingress", "Egress", "bogus"]),
                vec![
                    "spec.policyTypes: Invalid value: []networking.PolicyType{\"Ingress\", \"Egress\", \"bogus\"}: may not specify more than two policyTypes",
                ],
                "three: one error, the entries are not checked",
            ),
        ];
        for (spec, want, why) in cases {
            assert_eq!(strings(&validate_spec(&spec, &p)), want, "{why}");
        }
    }

    #[test]
    fn spec_order_is_selector_ingress_egress_types() {
        let bad_port = || Some(vec![port(Some(IntOrString::Int(0)), None, None)]);
        let empty_peer = || Some(vec![NetworkPolicyPeer::default()]);
        let spec = NetworkPolicySpec {
            pod_selector: Some(LabelSelector {
                match_labels: Some([("a".to_string(), "-".to_string())].into()),
                match_expressions: None,
            }),
            ingress: Some(vec![NetworkPolicyIngressRule {
                from: empty_peer(),
                ports: bad_port(),
            }]),
            egress: Some(vec![
                NetworkPolicyEgressRule::default(),
                NetworkPolicyEgressRule {
                    to: empty_peer(),
                    ports: bad_port(),
                },
            ]),
            policy_types: Some(vec!["Both".into()]),
        };
        let paths: Vec<String> = validate_spec(&spec, &FieldPath::new("spec"))
            .iter()
            .map(|e| e.path.to_string())
            .collect();
        assert_eq!(
            paths,
            [
                "spec.podSelector.matchLabels",
                "spec.ingress[0].ports[0].port",
                "spec.ingress[0].from[0]",
                "spec.egress[1].ports[0].port",
                "spec.egress[1].to[0]",
                "spec.policyTypes[0]",
            ]
        );
    }
}
