//! Table-driven tests of the model: each case says which rule of the spec
//! it checks. Pods of the standard cluster: x/a node-1 10.244.1.10,
//! x/b node-2 10.244.2.10, x/c node-1 10.244.1.11, y/a node-2 10.244.2.11,
//! y/b node-1 10.244.1.12, ...

use serde_json::{Value, json};

use super::*;
use crate::cluster::{ContainerPort, External, standard_ports};
use crate::field_path::FieldPath;

fn policy(namespace: &str, name: &str, spec: Value) -> Policy {
    let mut object = json!({
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": name, "namespace": namespace},
    });
    object["spec"] = spec;
    let object = serde_json::from_value(object).expect("a NetworkPolicy");
    Policy {
        namespace: namespace.into(),
        name: name.into(),
        object,
        origin: FieldPath::root(),
    }
}

fn endpoint(c: &Cluster, name: &str) -> Endpoint {
    c.endpoints()
        .find(|&e| c.endpoint_name(e) == name)
        .unwrap_or_else(|| panic!("no endpoint {name}"))
}

/// `from -> to port/PROTO [FAMILY]`, e.g. `x/b -> x/a 80/TCP` (IPv4) or
/// `x/b -> x/a 80/TCP IPv6`.
fn probe(c: &Cluster, text: &str) -> Probe {
    let (from, rest) = text.split_once(" -> ").unwrap();
    let (to, pp) = rest.split_once(' ').unwrap();
    let (pp, family) = pp.split_once(' ').unwrap_or((pp, "IPv4"));
    let (port, proto) = pp.split_once('/').unwrap();
    Probe {
        family: crate::cluster::IpFamily::from_name(family).unwrap(),
        from: endpoint(c, from),
        to: endpoint(c, to),
        port: port.parse().unwrap(),
        protocol: Protocol::parse(proto).unwrap(),
    }
}

/// Checks each `(probe, allowed, why)` against the model of `policies`.
fn check(c: &Cluster, policies: &[Policy], cases: &[(&str, bool, &str)]) {
    let model = Model::new(c, policies, &[]).unwrap();
    for (text, want, why) in cases {
        let p = probe(c, text);
        assert_eq!(
            model.allows(&p),
            *want,
            "{text}: {why}\n  explanation: {}",
            model.explain(&p)
        );
        assert_eq!(
            model.explain(&p).allowed,
            *want,
            "{text}: explain agrees with allows"
        );
    }
}

fn allow_ingress_from(namespace: &str, from: &Value) -> Policy {
    policy(
        namespace,
        "allow",
        json!({"podSelector": {}, "ingress": [{"from": from}]}),
    )
}

#[test]
fn pod_and_namespace_selectors() {
    let c = Cluster::standard();
    check(
        &c,
        &[allow_ingress_from(
            "x",
            &json!([{"podSelector": {"matchLabels": {"pod": "b"}}}]),
        )],
        &[
            (
                "x/b -> x/a 80/TCP",
                true,
                "podSelector alone selects pods of the policy's namespace",
            ),
            (
                "y/b -> x/a 80/TCP",
                false,
                "podSelector alone does not reach other namespaces",
            ),
            (
                "x/c -> x/a 80/TCP",
                false,
                "a pod the selector does not match",
            ),
            ("x/a -> y/a 80/TCP", true, "y is not isolated"),
        ],
    );
    check(
        &c,
        &[allow_ingress_from(
            "x",
            &json!([{"namespaceSelector": {"matchLabels": {"ns": "y"}}}]),
        )],
        &[
            (
                "y/c -> x/a 80/TCP",
                true,
                "namespaceSelector alone selects every pod of the namespace",
            ),
            (
                "x/b -> x/a 80/TCP",
                false,
                "the policy's own namespace is not selected",
            ),
        ],
    );
    check(
        &c,
        &[allow_ingress_from(
            "x",
            &json!([{"namespaceSelector": {"matchLabels": {"ns": "y"}}, "podSelector": {"matchLabels": {"pod": "b"}}}]),
        )],
        &[
            ("y/b -> x/a 80/TCP", true, "both selectors in one peer: AND"),
            (
                "y/a -> x/a 80/TCP",
                false,
                "namespace matches but pod does not",
            ),
            (
                "z/b -> x/a 80/TCP",
                false,
                "pod matches but namespace does not",
            ),
            (
                "x/b -> x/a 80/TCP",
                false,
                "with a namespaceSelector, the own namespace is not implied",
            ),
        ],
    );
    check(
        &c,
        &[allow_ingress_from(
            "x",
            &json!([{"namespaceSelector": {"matchLabels": {"ns": "y"}}}, {"podSelector": {"matchLabels": {"pod": "b"}}}]),
        )],
        &[
            ("y/a -> x/a 80/TCP", true, "two peers: OR, first peer"),
            ("x/b -> x/a 80/TCP", true, "two peers: OR, second peer"),
            (
                "z/b -> x/a 80/TCP",
                false,
                "second peer is in the policy's namespace only",
            ),
        ],
    );
    check(
        &c,
        &[allow_ingress_from("x", &json!([{"namespaceSelector": {}}]))],
        &[
            (
                "z/c -> x/a 80/TCP",
                true,
                "namespaceSelector {} selects every namespace",
            ),
            (
                "node:node-2 -> x/a 80/TCP",
                false,
                "selectors never match a node",
            ),
        ],
    );
    check(
        &c,
        &[allow_ingress_from(
            "x",
            &json!([{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "z"}}}]),
        )],
        &[
            (
                "z/a -> x/a 80/TCP",
                true,
                "namespaces carry kubernetes.io/metadata.name",
            ),
            ("y/a -> x/a 80/TCP", false, "another namespace"),
        ],
    );
}

#[test]
fn match_expressions() {
    let mut c = Cluster::standard();
    c.pods[2].labels.insert("tier".into(), "web".into()); // x/c
    let expr =
        |e: Value| allow_ingress_from("x", &json!([{"podSelector": {"matchExpressions": [e]}}]));
    check(
        &c,
        &[expr(
            json!({"key": "pod", "operator": "In", "values": ["b", "c"]}),
        )],
        &[
            ("x/c -> x/b 80/TCP", true, "In: c in the set"),
            ("x/a -> x/b 80/TCP", false, "In: a not in the set"),
        ],
    );
    check(
        &c,
        &[expr(
            json!({"key": "tier", "operator": "NotIn", "values": ["db"]}),
        )],
        &[
            (
                "x/b -> x/a 80/TCP",
                true,
                "NotIn matches pods without the key",
            ),
            (
                "x/c -> x/a 80/TCP",
                true,
                "NotIn matches a value outside the set",
            ),
        ],
    );
    check(
        &c,
        &[expr(json!({"key": "tier", "operator": "Exists"}))],
        &[
            ("x/c -> x/a 80/TCP", true, "Exists: the key is there"),
            ("x/b -> x/a 80/TCP", false, "Exists: the key is missing"),
        ],
    );
    check(
        &c,
        &[expr(json!({"key": "tier", "operator": "DoesNotExist"}))],
        &[
            (
                "x/b -> x/a 80/TCP",
                true,
                "DoesNotExist: the key is missing",
            ),
            ("x/c -> x/a 80/TCP", false, "DoesNotExist: the key is there"),
        ],
    );
    check(
        &c,
        &[allow_ingress_from(
            "x",
            &json!([{"podSelector": {"matchLabels": {"pod": "c"}, "matchExpressions": [{"key": "tier", "operator": "In", "values": ["db"]}]}}]),
        )],
        &[(
            "x/c -> x/a 80/TCP",
            false,
            "matchLabels AND matchExpressions: the expression fails",
        )],
    );
}

#[test]
fn ip_blocks_match_by_address() {
    let mut c = Cluster::standard();
    c.externals.push(External {
        name: "in".into(),
        ips: crate::cluster::Addresses::v4("172.17.0.5".parse().unwrap()),
        ports: standard_ports(),
    });
    c.externals.push(External {
        name: "except".into(),
        ips: crate::cluster::Addresses::v4("172.17.1.5".parse().unwrap()),
        ports: standard_ports(),
    });
    c.externals.push(External {
        name: "out".into(),
        ips: crate::cluster::Addresses::v4("172.18.0.5".parse().unwrap()),
        ports: standard_ports(),
    });
    let block = |cidr: &str, except: Value| {
        allow_ingress_from("x", &json!([{"ipBlock": {"cidr": cidr, "except": except}}]))
    };
    check(
        &c,
        &[block("172.17.0.0/16", json!(["172.17.1.0/24"]))],
        &[
            ("ext:in -> x/a 80/TCP", true, "inside cidr"),
            ("ext:except -> x/a 80/TCP", false, "inside an except"),
            ("ext:out -> x/a 80/TCP", false, "outside cidr"),
            ("y/a -> x/a 80/TCP", false, "a pod outside the block"),
        ],
    );
    check(
        &c,
        &[block("10.244.2.0/24", json!([]))],
        &[
            (
                "y/a -> x/a 80/TCP",
                true,
                "a pod address inside the block matches",
            ),
            ("x/c -> x/a 80/TCP", false, "a pod of 10.244.1.0/24"),
            (
                "node:node-2 -> x/a 80/TCP",
                false,
                "192.168.100.2 is outside the block",
            ),
        ],
    );
    check(
        &c,
        &[block("192.168.100.2/32", json!([]))],
        &[(
            "node:node-2 -> x/a 80/TCP",
            true,
            "another node is matched by its address",
        )],
    );
    check(
        &c,
        &[block("fd00::/8", json!([]))],
        &[(
            "ext:in -> x/a 80/TCP",
            false,
            "an IPv6 block matches no IPv4 address",
        )],
    );
    let egress = policy(
        "x",
        "egress",
        json!({"podSelector": {}, "policyTypes": ["Egress"], "egress": [{"to": [{"ipBlock": {"cidr": "172.17.0.0/16", "except": ["172.17.1.0/24"]}}]}]}),
    );
    check(
        &c,
        &[egress],
        &[
            (
                "x/a -> ext:in 80/TCP",
                true,
                "egress to an address in the block",
            ),
            (
                "x/a -> ext:except 80/TCP",
                false,
                "egress to an excepted address",
            ),
            (
                "x/a -> y/a 80/TCP",
                false,
                "egress to a pod outside the block",
            ),
            (
                "ext:except -> x/a 80/TCP",
                true,
                "egress rules do not isolate ingress",
            ),
        ],
    );
}

#[test]
fn ports_protocols_and_end_port() {
    let c = Cluster::standard();
    let with_ports = |ports: Value| {
        policy(
            "x",
            "ports",
            json!({"podSelector": {}, "ingress": [{"ports": ports}]}),
        )
    };
    check(
        &c,
        &[with_ports(json!([{"port": 80}]))],
        &[
            ("y/a -> x/a 80/TCP", true, "protocol defaults to TCP"),
            ("y/a -> x/a 80/UDP", false, "a TCP rule never allows UDP"),
            ("y/a -> x/a 80/SCTP", false, "a TCP rule never allows SCTP"),
            ("y/a -> x/a 81/TCP", false, "another port"),
        ],
    );
    check(
        &c,
        &[with_ports(json!([{"protocol": "UDP"}]))],
        &[
            (
                "y/a -> x/a 81/UDP",
                true,
                "port absent: every port of the protocol",
            ),
            ("y/a -> x/a 81/TCP", false, "but only that protocol"),
        ],
    );
    check(
        &c,
        &[with_ports(json!([{"protocol": "SCTP", "port": 81}]))],
        &[
            ("y/a -> x/a 81/SCTP", true, "SCTP rule"),
            ("y/a -> x/a 80/SCTP", false, "SCTP on another port"),
        ],
    );
    check(
        &c,
        &[with_ports(json!([{"port": 79, "endPort": 80}]))],
        &[
            ("y/a -> x/a 80/TCP", true, "endPort is inclusive"),
            ("y/a -> x/a 81/TCP", false, "endPort + 1 is outside"),
        ],
    );
    check(
        &c,
        &[with_ports(json!([{"port": 81, "endPort": 90}]))],
        &[
            ("y/a -> x/a 81/TCP", true, "the range starts at port"),
            ("y/a -> x/a 80/TCP", false, "below the range"),
        ],
    );
}

#[test]
fn named_ports_resolve_against_the_destination_pod() {
    let mut c = Cluster::standard();
    let web = |port| ContainerPort {
        name: Some("web".into()),
        port,
        protocol: Protocol::Tcp,
    };
    c.pods[0].ports.push(web(8080)); // x/a: web = 8080 (not served by default probes, but named)
    c.pods[0].ports[0].name = Some("web-80".into());
    c.pods[1].ports[3].name = Some("web".into()); // x/b: web = 81/TCP
    c.externals.push(External {
        name: "gw".into(),
        ips: crate::cluster::Addresses::v4("172.17.0.5".parse().unwrap()),
        ports: standard_ports(),
    });
    let ingress = policy(
        "x",
        "named",
        json!({"podSelector": {}, "ingress": [{"ports": [{"port": "web"}, {"port": "serve-80-udp"}]}]}),
    );
    check(
        &c,
        &[ingress],
        &[
            ("y/a -> x/b 81/TCP", true, "x/b names 81/TCP web"),
            ("y/a -> x/b 80/TCP", false, "x/b does not name 80/TCP web"),
            ("y/a -> x/a 81/TCP", false, "x/a's web is 8080"),
            ("y/a -> x/a 8080/TCP", true, "x/a's web is 8080"),
            (
                "y/a -> x/c 80/UDP",
                false,
                "serve-80-udp with the default protocol TCP: name AND protocol must match",
            ),
        ],
    );
    let egress = policy(
        "y",
        "named-egress",
        json!({"podSelector": {}, "policyTypes": ["Egress"], "egress": [{"ports": [{"port": "serve-81-udp", "protocol": "UDP"}]}]}),
    );
    check(
        &c,
        &[egress],
        &[
            (
                "y/a -> x/c 81/UDP",
                true,
                "egress named port resolved against the destination pod",
            ),
            ("y/a -> x/b 81/UDP", true, "x/b still names serve-81-udp"),
            ("y/a -> x/c 80/UDP", false, "another port"),
            (
                "y/a -> ext:gw 81/UDP",
                false,
                "an external host has no named ports",
            ),
        ],
    );
}

#[test]
fn policy_types_defaulting() {
    let c = Cluster::standard();
    check(
        &c,
        &[policy(
            "x",
            "ingress-only",
            json!({"podSelector": {}, "ingress": [{"from": [{"podSelector": {}}]}]}),
        )],
        &[
            (
                "x/a -> y/a 80/TCP",
                true,
                "policyTypes absent and no egress rules: egress is not isolated",
            ),
            ("y/a -> x/a 80/TCP", false, "ingress is isolated"),
        ],
    );
    check(
        &c,
        &[policy(
            "x",
            "with-egress",
            json!({"podSelector": {}, "egress": [{"to": [{"podSelector": {}}]}]}),
        )],
        &[
            (
                "x/a -> y/a 80/TCP",
                false,
                "policyTypes absent with egress rules: Egress too",
            ),
            (
                "y/a -> x/a 80/TCP",
                false,
                "and always Ingress (with no ingress rules: deny)",
            ),
            (
                "x/a -> y/a 80/UDP",
                false,
                "the egress rule has no ports but only pods of x",
            ),
        ],
    );
    check(
        &c,
        &[policy(
            "x",
            "empty-egress-list",
            json!({"podSelector": {}, "egress": []}),
        )],
        &[(
            "x/a -> y/a 80/TCP",
            true,
            "egress: [] is no egress rule: Egress is not defaulted in",
        )],
    );
    check(
        &c,
        &[policy(
            "x",
            "allow-all-in",
            json!({"podSelector": {}, "ingress": [{}]}),
        )],
        &[(
            "y/a -> x/a 81/SCTP",
            true,
            "ingress: [{}] allows everything in",
        )],
    );
}

#[test]
fn explicit_policy_types() {
    let c = Cluster::standard();
    check(
        &c,
        &[policy(
            "x",
            "egress-type",
            json!({"podSelector": {}, "policyTypes": ["Egress"], "ingress": [], "egress": [{}]}),
        )],
        &[
            (
                "y/a -> x/a 80/TCP",
                true,
                "policyTypes [Egress]: no ingress isolation even with an ingress key",
            ),
            (
                "x/a -> y/a 80/UDP",
                true,
                "egress: [{}] allows everything out",
            ),
        ],
    );
    check(
        &c,
        &[policy(
            "x",
            "egress-only-ignores-ingress",
            json!({"podSelector": {}, "policyTypes": ["Egress"], "ingress": [{"from": [{"podSelector": {"matchLabels": {"pod": "nobody"}}}]}]}),
        )],
        &[
            (
                "y/a -> x/a 80/TCP",
                true,
                "ingress rules of an Egress-only policy are ignored",
            ),
            (
                "x/a -> y/a 80/TCP",
                false,
                "Egress with no egress rules denies all egress",
            ),
        ],
    );
    check(
        &c,
        &[policy(
            "x",
            "both",
            json!({"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}),
        )],
        &[
            (
                "x/a -> x/b 80/TCP",
                false,
                "both types, no rules: deny both ways",
            ),
            ("y/a -> x/a 80/TCP", false, "ingress denied"),
            ("x/a -> y/a 80/TCP", false, "egress denied"),
            ("y/a -> y/b 80/TCP", true, "other namespaces untouched"),
        ],
    );
}

#[test]
fn union_of_policies_and_both_directions() {
    let c = Cluster::standard();
    let deny = policy("x", "deny", json!({"podSelector": {}}));
    let allow_b = policy(
        "x",
        "allow-b",
        json!({"podSelector": {"matchLabels": {"pod": "a"}}, "ingress": [{"from": [{"podSelector": {"matchLabels": {"pod": "b"}}}], "ports": [{"port": 80}]}]}),
    );
    check(
        &c,
        &[deny.clone(), allow_b.clone()],
        &[
            (
                "x/b -> x/a 80/TCP",
                true,
                "union: one policy allows what another does not",
            ),
            ("x/b -> x/a 81/TCP", false, "no policy allows 81"),
            ("x/b -> x/c 80/TCP", false, "x/c only selected by deny"),
        ],
    );
    let egress_deny_y = policy(
        "y",
        "deny-egress",
        json!({"podSelector": {}, "policyTypes": ["Egress"]}),
    );
    check(
        &c,
        &[allow_b, egress_deny_y],
        &[
            (
                "y/b -> y/a 80/TCP",
                false,
                "egress isolation on the client side while the server allows",
            ),
            ("x/b -> y/a 80/TCP", true, "y/a accepts ingress"),
        ],
    );
}

#[test]
fn self_traffic_and_the_own_node_exception() {
    let c = Cluster::standard();
    let deny_all = policy(
        "x",
        "deny-all",
        json!({"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}),
    );
    check(
        &c,
        &[deny_all],
        &[
            ("x/a -> x/a 80/TCP", true, "a pod can always reach itself"),
            (
                "node:node-1 -> x/a 80/TCP",
                true,
                "x/a runs on node-1: its node may always reach it",
            ),
            (
                "node:node-2 -> x/a 80/TCP",
                false,
                "another node gets no exemption",
            ),
            (
                "x/a -> node:node-1 80/TCP",
                true,
                "a pod may always reach its own node",
            ),
            ("x/a -> node:node-2 80/UDP", false, "not another node"),
            ("x/b -> node:node-2 81/SCTP", true, "x/b runs on node-2"),
        ],
    );
}

#[test]
fn explanations_name_policies_and_rules() {
    let c = Cluster::standard();
    let deny = policy("x", "deny", json!({"podSelector": {}}));
    let web = policy(
        "x",
        "web",
        json!({"podSelector": {}, "ingress": [{"from": [{"podSelector": {"matchLabels": {"pod": "b"}}}], "ports": [{"port": 80}]}]}),
    );
    let model = Model::new(&c, &[deny, web], &[]).unwrap();
    let allowed = model.explain(&probe(&c, "x/b -> x/a 80/TCP"));
    assert_eq!(
        allowed.to_string(),
        "allowed: egress: x/b is not isolated: no policy selects it for this direction; ingress: x/a is isolated by x/deny, x/web; allowed by x/web ingress[0]"
    );
    let denied = model.explain(&probe(&c, "y/b -> x/a 81/TCP"));
    assert_eq!(
        denied.ingress.to_string(),
        "x/a is isolated by x/deny, x/web; no rule allows it (x/web ingress[0]: neither peer nor port matches (peers: 1 selected pod; ports: 80/TCP))"
    );
    let ext = model.explain(&probe(&c, "x/a -> node:node-2 80/TCP"));
    assert_eq!(
        ext.ingress.to_string(),
        "node:node-2 is not a pod: no policy applies"
    );
}

fn cluster_policy(name: &str, spec: Value) -> ClusterPolicy {
    let mut object = json!({
        "apiVersion": "policy.networking.k8s.io/v1alpha2",
        "kind": "ClusterNetworkPolicy",
        "metadata": {"name": name},
    });
    object["spec"] = spec;
    ClusterPolicy {
        name: name.into(),
        object: serde_json::from_value(object).expect("a ClusterNetworkPolicy"),
        origin: FieldPath::root(),
    }
}

/// Checks each `(probe, allowed, why)` against the model of `cnps`.
fn check_cnp(c: &Cluster, cnps: &[ClusterPolicy], cases: &[(&str, bool, &str)]) {
    let model = Model::new(c, &[], cnps).unwrap();
    for (text, want, why) in cases {
        let p = probe(c, text);
        let explained = model.explain(&p);
        assert_eq!(
            model.allows(&p),
            *want,
            "{text}: {why}\n  explanation: {explained}"
        );
        assert_eq!(
            explained.allowed, *want,
            "{text}: explain disagrees: {explained}"
        );
    }
}

#[test]
fn cnp_same_priority_with_different_actions_is_an_error_naming_both() {
    let c = Cluster::standard();
    let deny = cluster_policy(
        "deny-y",
        json!({"tier": "Admin", "priority": 3, "subject": {"namespaces": {}},
               "ingress": [{"action": "Deny", "from": [{"namespaces": {"matchLabels": {"ns": "y"}}}]}]}),
    );
    let accept = cluster_policy(
        "accept-all",
        json!({"tier": "Admin", "priority": 3, "subject": {"namespaces": {}},
               "ingress": [{"action": "Accept", "from": [{"namespaces": {}}]}]}),
    );
    let cnps = [deny, accept];
    let conflicting = probe(&c, "y/a -> x/a 80/TCP");
    let fine = probe(&c, "z/a -> x/a 80/TCP");
    // (cnp-same-priority)
    let e = Model::for_probes(&c, &[], &cnps, &[fine, conflicting])
        .map(|_| ())
        .expect_err("an implementation-defined verdict is an error")
        .to_string();
    assert!(
        e.contains("y/a -> x/a TCP/80")
            && e.contains("deny-y and accept-all (priority 3)")
            && e.contains("Deny and Accept"),
        "{e}"
    );
    assert!(Model::for_probes(&c, &[], &cnps, &[fine]).is_ok());
}

#[test]
fn a_tie_matters_only_where_the_walk_reaches_it_and_the_verdict_depends_on_it() {
    let c = Cluster::standard();
    let cnp = |name: &str, tier: &str, priority: i32, gress: &str, action: &str| {
        let peers = if gress == "ingress" { "from" } else { "to" };
        cluster_policy(
            name,
            json!({"tier": tier, "priority": priority, "subject": {"namespaces": {}},
                   gress: [{"action": action, peers: [{"namespaces": {}}]}]}),
        )
    };
    let tied = |tier: &str, gress: &str, actions: [&str; 2]| {
        vec![
            cnp("t1", tier, 5, gress, actions[0]),
            cnp("t2", tier, 5, gress, actions[1]),
        ]
    };
    let p = probe(&c, "y/a -> x/a 80/TCP");
    let undefined = |np: &[Policy], cnps: &[ClusterPolicy]| {
        Model::new(&c, np, cnps).unwrap().undefined(&p).is_some()
    };
    // (cnp-same-priority, cnp-tiers)
    assert!(undefined(
        &[],
        &tied("Baseline", "ingress", ["Accept", "Deny"])
    ));
    let mut shadowed = tied("Baseline", "ingress", ["Accept", "Deny"]);
    shadowed.push(cnp("admin", "Admin", 1, "ingress", "Deny"));
    assert!(
        !undefined(&[], &shadowed),
        "an Admin Deny decides before Baseline"
    );
    let isolating = policy("x", "deny-all", json!({"podSelector": {}}));
    assert!(
        !undefined(
            &[isolating],
            &tied("Baseline", "ingress", ["Accept", "Deny"])
        ),
        "a NetworkPolicy isolating x/a decides before Baseline"
    );
    let mut other_direction = tied("Admin", "ingress", ["Accept", "Deny"]);
    other_direction.push(cnp("egress-deny", "Admin", 1, "egress", "Deny"));
    assert!(
        !undefined(&[], &other_direction),
        "the egress is denied whichever ingress policy decides"
    );
    assert!(
        !undefined(&[], &tied("Admin", "ingress", ["Accept", "Pass"])),
        "Accept, or Pass on to tiers that allow: allowed either way"
    );
    let mut pass_to_deny = tied("Admin", "ingress", ["Accept", "Pass"]);
    pass_to_deny.push(cnp("baseline", "Baseline", 1, "ingress", "Deny"));
    assert!(
        undefined(&[], &pass_to_deny),
        "Accept, or Pass on to a Baseline Deny"
    );
}

#[test]
fn cnp_gives_own_node_traffic_no_exemption_but_the_networkpolicy_tier_does() {
    let c = Cluster::standard();
    let deny_nodes = |action: &str| {
        cluster_policy(
            "x-no-nodes",
            json!({"tier": "Admin", "priority": 1, "subject": {"namespaces": {"matchLabels": {"ns": "x"}}},
                   "egress": [{"action": action, "to": [{"nodes": {}}]}]}),
        )
    };
    // (cnp-own-node) x/a runs on node-1.
    check_cnp(
        &c,
        &[deny_nodes("Deny")],
        &[
            ("x/a -> node:node-1 80/TCP", false, "its own node, denied"),
            ("x/a -> node:node-2 80/TCP", false, "another node, denied"),
        ],
    );
    // (own-node, cnp-networkpolicy-tier) Pass on to a NetworkPolicy that isolates x/a.
    let deny_egress = policy(
        "x",
        "deny-egress",
        json!({"podSelector": {}, "policyTypes": ["Egress"]}),
    );
    let model = Model::new(&c, &[deny_egress], &[deny_nodes("Pass")]).unwrap();
    for (text, want) in [
        ("x/a -> node:node-1 80/TCP", true),
        ("x/a -> node:node-2 80/TCP", false),
    ] {
        let p = probe(&c, text);
        let explained = model.explain(&p);
        assert_eq!(model.allows(&p), want, "{text}: {explained}");
        assert_eq!(explained.allowed, want, "{text}: {explained}");
    }
    let own = model.explain(&probe(&c, "x/a -> node:node-1 80/TCP"));
    assert!(
        own.egress.to_string().contains("exempt from NetworkPolicy"),
        "{own}"
    );
}

#[test]
fn cnp_peers_of_an_unknown_kind_fail_closed() {
    let c = Cluster::standard();
    let rule = |action: &str| {
        json!({"tier": "Admin", "priority": 1, "subject": {"namespaces": {"matchLabels": {"ns": "x"}}},
               "ingress": [{"action": action, "from": [{}]}]})
    };
    // An Accept rule with a peer of no known field matches nothing: a
    // later Deny decides.
    let mut accept = rule("Accept");
    accept["ingress"]
        .as_array_mut()
        .unwrap()
        .push(json!({"action": "Deny", "from": [{"namespaces": {}}]}));
    check_cnp(
        &c,
        &[cluster_policy("unknown-accept", accept)],
        &[(
            "y/a -> x/a 80/TCP",
            false,
            "the Accept matches nothing, the Deny decides",
        )],
    );
    let mut pass = rule("Pass");
    pass["ingress"][0]["from"]
        .as_array_mut()
        .unwrap()
        .push(json!({"namespaces": {"matchLabels": {"ns": "z"}}}));
    pass["ingress"][0]["protocols"] = json!([{"tcp": {"destinationPort": {"number": 81}}}]);
    check_cnp(
        &c,
        &[cluster_policy("unknown-pass", pass)],
        &[(
            "y/a -> x/a 80/TCP",
            false,
            "a Pass rule with an unknown peer is \"Deny all\": every peer, every port",
        )],
    );
    check_cnp(
        &c,
        &[cluster_policy("unknown-deny", rule("Deny"))],
        &[
            (
                "y/a -> x/a 80/TCP",
                false,
                "a Deny with an unknown peer denies everything",
            ),
            ("x/a -> y/a 80/TCP", true, "y is not its subject"),
        ],
    );
}

#[test]
fn cnp_tiers_around_networkpolicies() {
    let c = Cluster::standard();
    let admin_pass = cluster_policy(
        "pass-y",
        json!({"tier": "Admin", "priority": 1, "subject": {"namespaces": {}},
               "ingress": [{"action": "Pass", "from": [{"namespaces": {"matchLabels": {"ns": "y"}}}]},
                           {"action": "Deny", "from": [{"namespaces": {}}]}]}),
    );
    let baseline_deny = cluster_policy(
        "baseline-deny",
        json!({"tier": "Baseline", "priority": 1, "subject": {"namespaces": {}},
               "ingress": [{"action": "Deny", "from": [{"namespaces": {}}]}]}),
    );
    let allow_y_into_z = policy(
        "z",
        "allow-y",
        json!({"podSelector": {}, "ingress": [{"from": [{"namespaceSelector": {"matchLabels": {"ns": "y"}}}]}]}),
    );
    let model = Model::new(&c, &[allow_y_into_z], &[admin_pass, baseline_deny]).unwrap();
    for (text, want) in [
        // cnp-pass, cnp-networkpolicy-tier: (z is isolated: its policy decides)
        ("y/a -> z/a 80/TCP", true),
        // cnp-pass, cnp-tiers: (x is not isolated: Baseline decides)
        ("y/a -> x/a 80/TCP", false),
        // cnp-deny (Admin's second rule)
        ("z/a -> x/a 80/TCP", false),
    ] {
        let p = probe(&c, text);
        assert_eq!(model.allows(&p), want, "{text}: {}", model.explain(&p));
    }
}

#[test]
fn each_family_is_separate_and_selectors_match_both() {
    use crate::cluster::{Addresses, IpFamily};
    let mut c = Cluster::standard_in(vec![IpFamily::IPv4, IpFamily::IPv6]);
    c.externals.push(External {
        name: "v4".into(),
        ips: Addresses::v4("172.17.0.5".parse().unwrap()),
        ports: standard_ports(),
    });
    c.externals.push(External {
        name: "both".into(),
        ips: Addresses {
            v4: Some("172.17.0.6".parse().unwrap()),
            v6: Some("fd00:172:17::6".parse().unwrap()),
        },
        ports: standard_ports(),
    });
    let block = |cidr: &str| allow_ingress_from("x", &json!([{"ipBlock": {"cidr": cidr}}]));
    // rule: family-ipblock
    check(
        &c,
        &[block("0.0.0.0/0")],
        &[
            ("ext:both -> x/a 80/TCP", true, "0.0.0.0/0 covers IPv4"),
            (
                "ext:both -> x/a 80/TCP IPv6",
                false,
                "0.0.0.0/0 covers no IPv6 address",
            ),
            ("y/a -> x/a 80/TCP IPv6", false, "nor a pod's IPv6 address"),
        ],
    );
    check(
        &c,
        &[block("::/0")],
        &[
            ("ext:both -> x/a 80/TCP IPv6", true, "::/0 covers IPv6"),
            (
                "ext:both -> x/a 80/TCP",
                false,
                "::/0 covers no IPv4 address",
            ),
            ("ext:v4 -> x/a 80/TCP", false, "nor an IPv4-only host"),
            (
                "y/b -> x/a 81/UDP IPv6",
                true,
                "a pod's IPv6 address is in ::/0",
            ),
        ],
    );
    // fd00:10:244:2::/64 holds the IPv6 addresses of node-2's pods.
    check(
        &c,
        &[block("fd00:10:244:2::/64")],
        &[
            ("x/b -> x/a 80/TCP IPv6", true, "x/b runs on node-2"),
            ("x/b -> x/a 80/TCP", false, "the same pod over IPv4"),
            ("x/c -> x/a 80/TCP IPv6", false, "x/c runs on node-1"),
        ],
    );
    // rule: family-selectors
    check(
        &c,
        &[allow_ingress_from(
            "x",
            &json!([{"podSelector": {"matchLabels": {"pod": "b"}}}]),
        )],
        &[
            ("x/b -> x/a 80/TCP", true, "selected, over IPv4"),
            ("x/b -> x/a 80/TCP IPv6", true, "selected, over IPv6"),
            ("x/c -> x/a 80/TCP IPv6", false, "not selected"),
        ],
    );
}
