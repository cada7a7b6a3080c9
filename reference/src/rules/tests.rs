//! The generated tables, as snapshots (a change in the rules shows up in
//! review), and the rules of the spec they encode.

use std::collections::BTreeMap;

use netpol_protocol::{ContainerPort, External, Namespace, Node, Pod, State};
use serde_json::{Value, json};

use super::*;

/// The IPv4 table: every test of an IPv4-only state (their snapshots
/// predate IP families, and must not change).
fn node_rules(state: &State, node: &str, deny: Deny) -> Result<String, RulesError> {
    super::node_rules(state, node, IpFamily::IPv4, deny)
}

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
    let cases: &[(&str, &str, &str)] = &[
        ("10.0.0.7/24", "10.0.0.0/24", "host bits are dropped"),
        ("010.000.0.0/08", "10.0.0.0/8", "leading zeros are decimal"),
        (
            "::ffff:10.1.0.0/112",
            "10.1.0.0/16",
            "an IPv4-mapped block is its IPv4 block",
        ),
        ("fd00::7/8", "fd00::/8", "IPv6: host bits are dropped too"),
        ("::/0", "::/0", "every IPv6 address"),
    ];
    for (text, want, why) in cases {
        let got = ip_block(text, "p").unwrap().to_string();
        assert_eq!(got, *want, "{text}: {why}");
    }
    for bad in ["10.0.0.0/33", "fd00::/129", "fd00::%eth0/8", "fd00::"] {
        assert!(ip_block(bad, "p").is_err(), "{bad}");
    }
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
    // matches nothing, a Deny or Pass rule becomes "Deny all" (the Pass
    // rule's UDP 53 is ignored: it denies everything). domainNames match no
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
        4,
        "x/a and y/a, each in FORWARD and with its own node"
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

// IP families

/// A host's IPv6 address in the lab's plan: `a.b.c.d` becomes
/// `fd00:a:b:c::d`, the same digits as hexadecimal groups.
fn v6(v4: IpAddr) -> IpAddr {
    let IpAddr::V4(v4) = v4 else {
        panic!("{v4} is not IPv4")
    };
    let [a, b, c, d] = v4.octets().map(|o| o.to_string());
    format!("fd00:{a}:{b}:{c}::{d}").parse().unwrap()
}

/// `state(policies)` with `families` (the primary first): each pod and node
/// gets its address of each family; the external `gw` keeps its IPv4
/// address only (none in an IPv6-only cluster, where it gets its IPv6 form).
fn state_of(families: &[IpFamily], policies: Vec<Value>, cnps: Vec<Value>) -> State {
    let mut s = with_cnps(policies, cnps);
    let of = |v4: IpAddr| -> Vec<IpAddr> {
        families
            .iter()
            .map(|f| match f {
                IpFamily::IPv4 => v4,
                IpFamily::IPv6 => v6(v4),
            })
            .collect()
    };
    s.ip_families = families.to_vec();
    for p in &mut s.pods {
        p.ips = of(p.ip);
        p.ip = p.ips[0];
    }
    for n in &mut s.nodes {
        n.ips = of(n.ip);
        n.ip = n.ips[0];
    }
    for e in &mut s.externals {
        if families == [IpFamily::IPv6] {
            e.ip = v6(e.ip);
        }
        e.ips = vec![e.ip];
    }
    s
}

const IPV6: &[IpFamily] = &[IpFamily::IPv6];
const DUAL: &[IpFamily] = &[IpFamily::IPv4, IpFamily::IPv6];

/// Each table of `node` of the state, headed by its family (one snapshot
/// shows both, side by side for review).
fn tables(s: &State, node: &str, deny: Deny) -> String {
    crate::families(s)
        .into_iter()
        .map(|f| {
            format!(
                "# {}\n{}",
                f.name(),
                super::node_rules(s, node, f, deny).unwrap()
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// x/a's ingress: from x/b (a selector), from an IPv4 and an IPv6 block
/// with an exception each, on port 80 and the named port `dns`; y's egress
/// to the named port `web` of every pod.
fn mixed_family_policies() -> Vec<Value> {
    vec![
        policy(
            "x",
            "web",
            json!({
                "podSelector": {"matchLabels": {"pod": "a"}},
                "ingress": [{"from": [
                    {"podSelector": {"matchLabels": {"pod": "b"}}},
                    {"ipBlock": {"cidr": "172.17.0.0/16", "except": ["172.17.1.0/24"]}},
                    {"ipBlock": {"cidr": "fd00:172:17::/48", "except": ["fd00:172:17:1::/64"]}}
                 ],
                 "ports": [{"port": 80}, {"port": "dns", "protocol": "UDP"}]}]
            }),
        ),
        policy(
            "y",
            "out",
            json!({"podSelector": {}, "policyTypes": ["Egress"],
                   "egress": [{"to": [{"namespaceSelector": {}}], "ports": [{"port": "web"}]}]}),
        ),
    ]
}

#[test]
fn ipv6_only_selectors_ipblocks_and_named_ports() {
    // The IPv4 block matches nothing: only the IPv6 block and x/b's IPv6
    // address appear; ND passes, denials are ICMPv6 adm-prohibited.
    let s = state_of(IPV6, mixed_family_policies(), vec![]);
    assert_eq!(crate::families(&s), [IpFamily::IPv6]);
    insta::assert_snapshot!(tables(&s, "node-1", Deny::Reject));
}

#[test]
fn dual_stack_mixed_family_policy() {
    // Each table: x/b by its address of the family, the block of the
    // family; the other family's block is left out.
    let s = state_of(DUAL, mixed_family_policies(), vec![]);
    insta::assert_snapshot!(tables(&s, "node-1", Deny::Drop));
}

#[test]
fn dual_stack_cnp_networks_and_selectors_of_each_family() {
    // Accept to an IPv4 network, Deny to an IPv6 one, Pass to node-2 (both
    // its addresses, each in its table), Deny to namespace y's pods, Accept
    // to a named port.
    let s = state_of(
        DUAL,
        vec![],
        vec![cnp(
            "families",
            "Admin",
            1,
            json!({"subject": {"namespaces": {"matchLabels": {"ns": "x"}}},
            "egress": [
                {"action": "Accept", "to": [{"networks": ["172.17.0.0/16"]}]},
                {"action": "Deny", "to": [{"networks": ["fd00:172:17::/48"]}]},
                {"action": "Pass", "to": [{"nodes": {"matchLabels": {"kubernetes.io/hostname": "node-2"}}}]},
                {"action": "Deny", "to": [{"namespaces": {"matchLabels": {"ns": "y"}}}]},
                {"action": "Accept", "to": [{"pods": {"namespaceSelector": {}, "podSelector": {}}}],
                 "protocols": [{"destinationNamedPort": "web"}]}
            ]}),
        )],
    );
    insta::assert_snapshot!(tables(&s, "node-1", Deny::Reject));
}

/// The rules of `chain` in `table`.
fn chain_rules<'t>(table: &'t str, chain: &str) -> Vec<&'t str> {
    let prefix = format!("-A {chain} ");
    table.lines().filter(|l| l.starts_with(&prefix)).collect()
}

#[test]
fn peers_of_only_the_other_family_match_nothing_not_everything() {
    // rule: family-ipblock. A NetworkPolicy rule whose only peer is an
    // IPv6 block allows nothing over IPv4, and the reverse; a CNP Deny (or
    // Pass) whose only network is of the other family denies nothing there.
    let s = state_of(
        DUAL,
        vec![
            policy(
                "x",
                "v6",
                json!({"podSelector": {"matchLabels": {"pod": "a"}},
                       "ingress": [{"from": [{"ipBlock": {"cidr": "::/0"}}]}]}),
            ),
            policy(
                "y",
                "v4",
                json!({"podSelector": {},
                       "ingress": [{"from": [{"ipBlock": {"cidr": "0.0.0.0/0"}}], "ports": [{"port": 80}]}]}),
            ),
        ],
        vec![cnp(
            "deny-v6",
            "Baseline",
            1,
            json!({"subject": {"namespaces": {}},
                   "egress": [{"action": "Deny", "to": [{"networks": ["::/0"]}]},
                              {"action": "Pass", "to": [{"networks": ["10.0.0.0/8"]}]}]}),
        )],
    );
    let v4 = super::node_rules(&s, "node-1", IpFamily::IPv4, Deny::Reject).unwrap();
    let v6 = super::node_rules(&s, "node-1", IpFamily::IPv6, Deny::Reject).unwrap();
    // x/a is pod 0, y/a pod 2.
    assert_eq!(chain_rules(&v4, "NETPOL-IN-0-P0-R0"), Vec::<&str>::new());
    assert_eq!(
        chain_rules(&v6, "NETPOL-IN-0-P0-R0"),
        ["-A NETPOL-IN-0-P0-R0 -s ::/0 -j NETPOL-IN-0-P0-R0-B0"]
    );
    assert_eq!(chain_rules(&v6, "NETPOL-IN-2-P1-R0"), Vec::<&str>::new());
    assert_eq!(
        chain_rules(&v4, "NETPOL-IN-2-P1-R0"),
        ["-A NETPOL-IN-2-P1-R0 -d 0.0.0.0/0 -j NETPOL-IN-2-P1-R0-B0"
            .replace("-d ", "-s ")
            .as_str()]
    );
    assert_eq!(chain_rules(&v4, "NETPOL-CNP0-OUT-R0"), Vec::<&str>::new());
    assert_eq!(
        chain_rules(&v6, "NETPOL-CNP0-OUT-R0"),
        ["-A NETPOL-CNP0-OUT-R0 -d ::/0 -j MARK --set-xmark 0x40000/0x60000"]
    );
    assert_eq!(chain_rules(&v6, "NETPOL-CNP0-OUT-R1"), Vec::<&str>::new());
}

#[test]
fn an_ipv4_state_renders_one_table_of_ipv4_addresses() {
    // ipFamilies [IPv4] (also when absent): no IPv6 table is written, and
    // `ips` spelled out changes nothing.
    let s = state(vec![]);
    assert_eq!(crate::families(&s), [IpFamily::IPv4]);
    let policies = mixed_family_policies();
    let mut with_ips = state_of(&[IpFamily::IPv4], policies.clone(), vec![]);
    let without_ips = state(policies);
    assert_eq!(
        node_rules(&with_ips, "node-1", Deny::Reject).unwrap(),
        node_rules(&without_ips, "node-1", Deny::Reject).unwrap()
    );
    // A state from before `ips`: the address is taken from `ip`.
    for p in &mut with_ips.pods {
        p.ips.clear();
    }
    assert_eq!(
        node_rules(&with_ips, "node-1", Deny::Reject).unwrap(),
        node_rules(&without_ips, "node-1", Deny::Reject).unwrap()
    );
    let doc = json!({"protocolVersion": "1", "lab": "l", "nodes": [], "namespaces": [],
                     "pods": [], "externals": [], "networkPolicies": []});
    let s: State = serde_json::from_value(doc).unwrap();
    assert_eq!(crate::families(&s), [IpFamily::IPv4]);
}

/// Every table the tests above render, of each family and deny mode.
fn every_table() -> Vec<(String, IpFamily, String)> {
    let mut states = vec![
        (
            "ipv6-only".to_string(),
            state_of(IPV6, mixed_family_policies(), vec![]),
        ),
        (
            "dual-stack".to_string(),
            state_of(DUAL, mixed_family_policies(), vec![]),
        ),
    ];
    let cnps = vec![cnp(
        "all",
        "Admin",
        1,
        json!({"subject": {"namespaces": {}},
               "ingress": [{"action": "Pass", "from": [{"namespaces": {}}],
                            "protocols": [{"tcp": {"destinationPort": {"number": 80}}},
                                          {"sctp": {"destinationPort": {"range": {"start": 1, "end": 9}}}},
                                          {"destinationNamedPort": "web"}]}],
               "egress": [{"action": "Deny", "to": [{"networks": ["fd00::/8", "10.0.0.0/8"]},
                                                    {"nodes": {"matchLabels": {}}}]}]}),
    )];
    states.push(("dual-stack-cnp".into(), state_of(DUAL, vec![], cnps)));
    let mut out = Vec::new();
    for (name, s) in &states {
        for family in crate::families(s) {
            for deny in [Deny::Reject, Deny::Drop] {
                for node in ["node-1", "node-2"] {
                    out.push((
                        format!("{name} {node} {family} {deny:?}"),
                        family,
                        super::node_rules(s, node, family, deny).unwrap(),
                    ));
                }
            }
        }
    }
    out
}

#[test]
fn every_table_restores_in_a_scratch_network_namespace() {
    // The kernel and iptables take each table (syntax, matches, targets),
    // with both back ends, in a network namespace of this thread's own that
    // goes away with it. Needs CAP_NET_ADMIN (root, or the user namespace
    // of ci/test-runner.sh).
    let tables = every_table();
    let errors = std::thread::spawn(move || {
        if let Err(e) = nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET) {
            eprintln!("skipped: no network namespace of our own ({e}): not root?");
            return Vec::new();
        }
        let mut errors = Vec::new();
        for backend in [crate::Backend::Nft, crate::Backend::Legacy] {
            for (name, family, text) in &tables {
                let restore = backend.restore(*family);
                if let Err(e) = crate::run_restore(restore, &[], text) {
                    errors.push(format!("{name} with {restore}: {e}"));
                }
            }
            // And back to empty, as `cleanup` does.
            for family in IpFamily::ALL {
                let restore = backend.restore(family);
                if let Err(e) = crate::run_restore(restore, &[], &empty_table()) {
                    errors.push(format!("cleanup with {restore}: {e}"));
                }
            }
        }
        errors
    })
    .join()
    .unwrap();
    assert!(errors.is_empty(), "{}", errors.join("\n"));
}
