//! The generated tables, as snapshots (a change in the rules shows up in
//! review), and the rules of the spec they encode.

use std::collections::BTreeMap;

use netpol_protocol::{ContainerPort, External, Namespace, Node, Pod, State};
use serde_json::{Value, json};

use super::*;

fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn pod(ns: &str, name: &str, node: &str, ip: &str, veth: &str, ports: &[(&str, u16, &str)]) -> Pod {
    Pod {
        namespace: ns.into(),
        name: name.into(),
        labels: labels(&[("pod", name)]),
        ip: ip.parse().unwrap(),
        ips: vec![ip.parse().unwrap()],
        node: node.into(),
        netns: format!("/netns/{ns}-{name}"),
        host_veth: veth.into(),
        container_ports: ports
            .iter()
            .map(|(n, p, proto)| ContainerPort {
                name: Some(n.to_string()),
                container_port: *p,
                protocol: proto.to_string(),
            })
            .collect(),
    }
}

/// Two nodes, namespaces x and y, pods x/a and y/a on node-1, x/b on
/// node-2 (x/b names port 8080 `web`, x/a names 80 `web`), one external.
fn state(policies: Vec<Value>) -> State {
    State {
        protocol_version: "1".into(),
        lab: "test".into(),
        ip_families: vec![netpol_protocol::IpFamily::IPv4],
        nodes: vec![
            Node {
                name: "node-1".into(),
                netns: "/netns/node-1".into(),
                ip: "192.168.100.1".parse().unwrap(),
                ips: vec!["192.168.100.1".parse().unwrap()],
                labels: labels(&[
                    ("kubernetes.io/hostname", "node-1"),
                    ("kubernetes.io/os", "linux"),
                ]),
            },
            Node {
                name: "node-2".into(),
                netns: "/netns/node-2".into(),
                ip: "192.168.100.2".parse().unwrap(),
                ips: vec!["192.168.100.2".parse().unwrap()],
                labels: labels(&[
                    ("kubernetes.io/hostname", "node-2"),
                    ("kubernetes.io/os", "linux"),
                ]),
            },
        ],
        namespaces: ["x", "y"]
            .iter()
            .map(|n| Namespace {
                name: n.to_string(),
                labels: labels(&[("ns", n), ("kubernetes.io/metadata.name", n)]),
            })
            .collect(),
        pods: vec![
            pod(
                "x",
                "a",
                "node-1",
                "10.244.1.10",
                "veth0",
                &[("web", 80, "TCP"), ("dns", 53, "UDP")],
            ),
            pod(
                "x",
                "b",
                "node-2",
                "10.244.2.10",
                "veth1",
                &[("web", 8080, "TCP")],
            ),
            pod("y", "a", "node-1", "10.244.1.11", "veth2", &[]),
        ],
        externals: vec![External {
            name: "gw".into(),
            ip: "172.17.1.10".parse().unwrap(),
            ips: vec!["172.17.1.10".parse().unwrap()],
        }],
        network_policies: policies
            .into_iter()
            .map(|v| serde_json::from_value(v).expect("a NetworkPolicy"))
            .collect(),
        cluster_network_policies: Vec::new(),
    }
}

fn policy(ns: &str, name: &str, spec: Value) -> Value {
    let mut object = json!({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {"name": name, "namespace": ns}});
    object["spec"] = spec;
    object
}

#[test]
fn no_policy_installs_only_the_hook() {
    insta::assert_snapshot!(node_rules(&state(vec![]), "node-1", Deny::Reject).unwrap());
}

#[test]
fn default_deny_ingress_isolates_every_pod_of_the_namespace() {
    let s = state(vec![policy(
        "x",
        "deny",
        json!({"podSelector": {}, "policyTypes": ["Ingress"]}),
    )]);
    insta::assert_snapshot!(node_rules(&s, "node-1", Deny::Reject).unwrap());
}

#[test]
fn ingress_peers_and_ports() {
    let s = state(vec![policy(
        "x",
        "web",
        json!({
            "podSelector": {"matchLabels": {"pod": "a"}},
            "ingress": [
                {"from": [
                    {"podSelector": {"matchLabels": {"pod": "b"}}},
                    {"namespaceSelector": {"matchLabels": {"ns": "y"}}},
                    {"ipBlock": {"cidr": "172.17.0.0/16", "except": ["172.17.1.0/24"]}}
                 ],
                 "ports": [{"port": 80}, {"port": "dns", "protocol": "UDP"}, {"port": 7000, "endPort": 7010, "protocol": "SCTP"}]},
                {}
            ]
        }),
    )]);
    insta::assert_snapshot!(node_rules(&s, "node-1", Deny::Reject).unwrap());
}

#[test]
fn egress_named_ports_resolve_against_every_destination_pod() {
    let s = state(vec![policy(
        "y",
        "out",
        json!({
            "podSelector": {},
            "policyTypes": ["Egress"],
            "egress": [{"to": [{"namespaceSelector": {}, "podSelector": {}}], "ports": [{"port": "web"}]},
                       {"to": [{"ipBlock": {"cidr": "0.0.0.0/0"}}], "ports": [{"protocol": "UDP", "port": 53}]}]
        }),
    )]);
    insta::assert_snapshot!(node_rules(&s, "node-1", Deny::Drop).unwrap());
}

#[test]
fn policy_types_default_as_the_spec_says() {
    let has_chain = |spec: Value, chain: &str| {
        let s = state(vec![policy("x", "p", spec)]);
        node_rules(&s, "node-1", Deny::Reject)
            .unwrap()
            .contains(&format!(":{chain} "))
    };
    let cases = [
        (
            json!({"podSelector": {}}),
            "NETPOL-IN-0",
            true,
            "absent: Ingress always",
        ),
        (
            json!({"podSelector": {}}),
            "NETPOL-OUT-0",
            false,
            "absent and no egress rules: no Egress",
        ),
        (
            json!({"podSelector": {}, "egress": [{}]}),
            "NETPOL-OUT-0",
            true,
            "absent with egress rules: Egress too",
        ),
        (
            json!({"podSelector": {}, "egress": []}),
            "NETPOL-OUT-0",
            false,
            "an empty egress list is no egress rule",
        ),
        (
            json!({"podSelector": {}, "policyTypes": ["Egress"], "ingress": [{}]}),
            "NETPOL-IN-0",
            false,
            "[Egress] ignores ingress rules",
        ),
        (
            json!({"podSelector": {"matchLabels": {"pod": "b"}}}),
            "NETPOL-IN-0",
            false,
            "x/a is not selected",
        ),
        (
            json!({"podSelector": {}}),
            "NETPOL-IN-2",
            false,
            "y/a is in another namespace",
        ),
    ];
    for (spec, chain, want, why) in cases {
        assert_eq!(has_chain(spec, chain), want, "{why}");
    }
}

#[test]
fn pods_of_other_nodes_get_no_chains_here() {
    let s = state(vec![policy("x", "deny", json!({"podSelector": {}}))]);
    let node2 = node_rules(&s, "node-2", Deny::Reject).unwrap();
    assert!(node2.contains("-o veth1 "), "x/b runs on node-2");
    assert!(!node2.contains("veth0"), "x/a does not");
}

#[test]
fn ip_blocks_are_read_as_the_api_server_reads_them() {
    let cases: &[(&str, Option<&str>, &str)] = &[
        ("10.0.0.7/24", Some("10.0.0.0/24"), "host bits are dropped"),
        (
            "010.000.0.0/08",
            Some("10.0.0.0/8"),
            "leading zeros are decimal",
        ),
        (
            "::ffff:10.1.0.0/112",
            Some("10.1.0.0/16"),
            "an IPv4-mapped block is its IPv4 block",
        ),
        ("fd00::/8", None, "IPv6 matches no IPv4 address"),
    ];
    for (text, want, why) in cases {
        let got = ipv4_block(text, "p").unwrap().map(|n| n.to_string());
        assert_eq!(got.as_deref(), *want, "{text}: {why}");
    }
    assert!(ipv4_block("10.0.0.0/33", "p").is_err());
}

#[test]
fn an_unknown_node_is_an_error() {
    assert!(node_rules(&state(vec![]), "node-9", Deny::Reject).is_err());
}

// ClusterNetworkPolicy

fn cnp(name: &str, tier: &str, priority: i32, spec: Value) -> Value {
    let mut object = json!({"apiVersion": "policy.networking.k8s.io/v1alpha2", "kind": "ClusterNetworkPolicy", "metadata": {"name": name}});
    object["spec"] = spec;
    object["spec"]["tier"] = json!(tier);
    object["spec"]["priority"] = json!(priority);
    object
}

fn with_cnps(policies: Vec<Value>, cnps: Vec<Value>) -> State {
    let mut s = state(policies);
    s.cluster_network_policies = cnps
        .into_iter()
        .map(|v| serde_json::from_value(v).expect("a ClusterNetworkPolicy"))
        .collect();
    s
}

#[test]
fn cnp_admin_deny_ingress() {
    // x/a (node-1) is the subject; y/a (node-1) is not, and gets no chain.
    let s = with_cnps(
        vec![],
        vec![cnp(
            "deny-from-y",
            "Admin",
            10,
            json!({"subject": {"namespaces": {"matchLabels": {"ns": "x"}}},
                   "ingress": [{"action": "Deny", "from": [{"namespaces": {"matchLabels": {"ns": "y"}}}]}]}),
        )],
    );
    insta::assert_snapshot!(node_rules(&s, "node-1", Deny::Reject).unwrap());
}

#[test]
fn cnp_admin_pass_then_networkpolicy() {
    // Pass for x/b skips the Admin deny-all; the NetworkPolicy decides then.
    let s = with_cnps(
        vec![policy(
            "x",
            "web",
            json!({"podSelector": {"matchLabels": {"pod": "a"}},
                   "ingress": [{"from": [{"podSelector": {"matchLabels": {"pod": "b"}}}], "ports": [{"port": 80}]}]}),
        )],
        vec![
            cnp(
                "deny-all",
                "Admin",
                10,
                json!({"subject": {"namespaces": {}},
                       "ingress": [{"action": "Deny", "from": [{"namespaces": {}}]}]}),
            ),
            cnp(
                "pass-b",
                "Admin",
                5,
                json!({"subject": {"pods": {"podSelector": {"matchLabels": {"pod": "a"}}}},
                       "ingress": [{"action": "Pass", "from": [{"pods": {"namespaceSelector": {"matchLabels": {"ns": "x"}}, "podSelector": {"matchLabels": {"pod": "b"}}}}]}]}),
            ),
        ],
    );
    insta::assert_snapshot!(node_rules(&s, "node-1", Deny::Reject).unwrap());
}

#[test]
fn cnp_baseline_accept_and_deny_egress() {
    let s = with_cnps(
        vec![],
        vec![
            cnp(
                "default-deny",
                "Baseline",
                2,
                json!({"subject": {"namespaces": {}},
                       "egress": [{"action": "Deny", "to": [{"networks": ["0.0.0.0/0"]}]}]}),
            ),
            cnp(
                "allow-y",
                "Baseline",
                1,
                json!({"subject": {"namespaces": {}},
                       "egress": [{"action": "Accept", "to": [{"namespaces": {"matchLabels": {"ns": "y"}}}]}]}),
            ),
        ],
    );
    insta::assert_snapshot!(node_rules(&s, "node-1", Deny::Drop).unwrap());
}

#[test]
fn cnp_egress_networks_and_nodes() {
    // An IPv6 network matches nothing; node-2 by its hostname label.
    let s = with_cnps(
        vec![],
        vec![cnp(
            "egress",
            "Admin",
            1,
            json!({"subject": {"pods": {"namespaceSelector": {"matchLabels": {"ns": "x"}}, "podSelector": {"matchLabels": {"pod": "a"}}}},
            "egress": [
                {"action": "Accept", "to": [{"nodes": {"matchLabels": {"kubernetes.io/hostname": "node-2"}}},
                                            {"networks": ["172.17.0.0/16", "fd00::/8"]}]},
                {"action": "Deny", "to": [{"networks": ["0.0.0.0/0"]}]}
            ]}),
        )],
    );
    insta::assert_snapshot!(node_rules(&s, "node-1", Deny::Reject).unwrap());
}

#[test]
fn cnp_protocols_number_range_and_named_port() {
    // Ingress: the named port resolves against this node's pods (x/a has
    // `web` on 80/TCP); egress: against every pod (x/b's `web` is 8080).
    let s = with_cnps(
        vec![],
        vec![cnp(
            "ports",
            "Admin",
            3,
            json!({"subject": {"namespaces": {"matchLabels": {"ns": "x"}}},
                   "ingress": [{"action": "Accept", "from": [{"namespaces": {}}],
                                "protocols": [{"tcp": {"destinationPort": {"number": 80}}},
                                              {"udp": {"destinationPort": {"range": {"start": 5000, "end": 5010}}}},
                                              {"sctp": {"destinationPort": {"number": 7000}}},
                                              {"destinationNamedPort": "web"}]}],
                   "egress": [{"action": "Deny", "to": [{"pods": {"podSelector": {}}}],
                               "protocols": [{"destinationNamedPort": "web"}]}]}),
        )],
    );
    insta::assert_snapshot!(node_rules(&s, "node-1", Deny::Reject).unwrap());
}

#[test]
fn cnp_peers_of_a_newer_api_fail_closed() {
    // `{}` is a peer of a newer API (the CRD forbids it): an Accept rule
    // matches nothing, a Deny or Pass rule everything. domainNames match no
    // address in the lab.
    let s = with_cnps(
        vec![],
        vec![cnp(
            "unknown-peers",
            "Admin",
            1,
            json!({"subject": {"namespaces": {"matchLabels": {"ns": "x"}}},
                   "egress": [{"action": "Accept", "to": [{}]},
                              {"action": "Accept", "to": [{"domainNames": ["example.com"]}]},
                              {"action": "Pass", "to": [{}], "protocols": [{"udp": {"destinationPort": {"number": 53}}}]},
                              {"action": "Deny", "to": [{}]}]}),
        )],
    );
    insta::assert_snapshot!(node_rules(&s, "node-1", Deny::Reject).unwrap());
}

#[test]
fn cnp_both_tiers_and_a_networkpolicy() {
    // x/a: Admin, then its NetworkPolicy decides (Baseline is not reached).
    // y/a: not isolated by a NetworkPolicy: Admin, then Baseline.
    let s = with_cnps(
        vec![policy(
            "x",
            "from-b",
            json!({"podSelector": {"matchLabels": {"pod": "a"}},
                   "ingress": [{"from": [{"podSelector": {"matchLabels": {"pod": "b"}}}]}]}),
        )],
        vec![
            cnp(
                "admin",
                "Admin",
                100,
                json!({"subject": {"namespaces": {}},
                       "ingress": [{"action": "Accept", "from": [{"pods": {"namespaceSelector": {}, "podSelector": {"matchLabels": {"pod": "b"}}}}],
                                    "protocols": [{"tcp": {"destinationPort": {"number": 81}}}]},
                                   {"action": "Pass", "from": [{"namespaces": {"matchLabels": {"ns": "x"}}}]}]}),
            ),
            cnp(
                "baseline",
                "Baseline",
                100,
                json!({"subject": {"namespaces": {}},
                       "ingress": [{"action": "Deny", "from": [{"namespaces": {}}]}]}),
            ),
        ],
    );
    insta::assert_snapshot!(node_rules(&s, "node-1", Deny::Reject).unwrap());
}

#[test]
fn cnp_policies_go_by_priority_then_name() {
    let deny = |name: &str, priority: i32| {
        cnp(
            name,
            "Admin",
            priority,
            json!({"subject": {"namespaces": {}}, "ingress": [{"action": "Deny", "from": [{"namespaces": {}}]}]}),
        )
    };
    let s = with_cnps(
        vec![],
        vec![deny("late", 20), deny("b-same", 10), deny("a-same", 10)],
    );
    let table = node_rules(&s, "node-1", Deny::Reject).unwrap();
    let order: Vec<&str> = table
        .lines()
        .filter(|l| l.starts_with("-A NETPOL-IN-0-ADMIN ") && l.contains("--comment"))
        .map(|l| l.split('"').nth(1).unwrap())
        .collect();
    assert_eq!(
        order,
        [
            "Admin a-same priority 10",
            "Admin b-same priority 10",
            "Admin late priority 20"
        ]
    );
}

#[test]
fn cnp_chains_are_shared_by_the_pods_of_a_node() {
    let s = with_cnps(
        vec![],
        vec![cnp(
            "all",
            "Baseline",
            0,
            json!({"subject": {"namespaces": {}}, "egress": [{"action": "Deny", "to": [{"namespaces": {}}]}]}),
        )],
    );
    let table = node_rules(&s, "node-1", Deny::Reject).unwrap();
    assert_eq!(table.matches(":NETPOL-CNP0-OUT ").count(), 1);
    assert_eq!(
        table.matches("-j NETPOL-CNP0-OUT\n").count(),
        2,
        "x/a and y/a"
    );
    assert!(!table.contains("NETPOL-CNP0-IN"), "no ingress rules");
}

#[test]
fn a_policy_without_rules_of_a_direction_leaves_it_alone() {
    let s = with_cnps(
        vec![],
        vec![cnp(
            "egress-only",
            "Admin",
            0,
            json!({"subject": {"namespaces": {}}, "egress": [{"action": "Accept", "to": [{"namespaces": {}}]}]}),
        )],
    );
    let table = node_rules(&s, "node-1", Deny::Reject).unwrap();
    assert!(table.contains(":NETPOL-OUT-0 "));
    assert!(!table.contains(":NETPOL-IN-0 "));
}
