//! The lab in IPv6-only and dual-stack clusters, for real: these tests
//! build network namespaces and send packets, so they need root.

mod common;

use std::net::{Ipv4Addr, Ipv6Addr};
use std::time::Instant;

use netpol::cluster::{Addresses, Cluster, Endpoint, External, IpFamily, Protocol, standard_ports};
use netpol::expect::Verdict;
use netpol::lab::{Attempt, Lab, ProbeOptions};
use netpol::probe::{Probe, sanity_probes};

/// The standard cluster in `families`, with the externals given.
fn cluster(families: Vec<IpFamily>, externals: &[(&str, Addresses)]) -> Cluster {
    let mut c = Cluster::standard_in(families);
    c.externals = externals
        .iter()
        .map(|(name, ips)| External {
            name: (*name).to_string(),
            ips: *ips,
            ports: standard_ports(),
        })
        .collect();
    c
}

fn v6(ip: &str) -> Ipv6Addr {
    ip.parse().expect("an IPv6 address")
}

/// A dual-stack cluster with an IPv4-only, an IPv6-only and a dual-stack
/// external.
fn dual_stack() -> Cluster {
    cluster(
        vec![IpFamily::IPv4, IpFamily::IPv6],
        &[
            ("gw4", Addresses::v4(Ipv4Addr::new(172, 17, 1, 10))),
            (
                "gw6",
                Addresses {
                    v4: None,
                    v6: Some(v6("fd00:172:17:1::11")),
                },
            ),
            (
                "gw46",
                Addresses {
                    v4: Some(Ipv4Addr::new(172, 17, 1, 12)),
                    v6: Some(v6("fd00:172:17:1::12")),
                },
            ),
        ],
    )
}

/// Every pod and external to every pod and external, every node to every
/// pod and back, and the sanity probes, in every family of the cluster.
fn all_probes(c: &Cluster) -> Vec<Probe> {
    let mut probes = common::probes_with_nodes(c);
    probes.extend(sanity_probes(c));
    probes
}

fn describe(c: &Cluster, p: &Probe) -> String {
    format!(
        "{} -> {} {}/{} over {}",
        c.endpoint_name(p.from),
        c.endpoint_name(p.to),
        p.port,
        p.protocol,
        p.family
    )
}

/// Runs `tool ARGS` (iptables or ip6tables) inside a node's namespace.
async fn in_node(lab: &Lab, node: usize, tool: &'static str, args: &[&str]) {
    let owned: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    let ran = lab
        .host(Endpoint::Node(node))
        .ns
        .run(move || std::process::Command::new(tool).args(&owned).output())
        .await
        .expect("namespace worker");
    common::tool_output(tool, args, ran, &[0]);
}

/// Builds `c`'s lab, lets conntrack drop what it finds invalid on the nodes
/// (none of our packets may be), and checks that every probe is allowed.
async fn every_probe_is_allowed(c: &Cluster, label: &str) {
    common::require_root();
    let t = Instant::now();
    let lab = Lab::build(c, label).await.expect("lab");
    eprintln!("build {:?} ({:?})", t.elapsed(), lab.timings);
    for node in 0..c.nodes.len() {
        for tool in ["iptables", "ip6tables"] {
            in_node(
                &lab,
                node,
                tool,
                &[
                    "-I",
                    "FORWARD",
                    "-m",
                    "conntrack",
                    "--ctstate",
                    "INVALID",
                    "-j",
                    "DROP",
                ],
            )
            .await;
        }
    }
    quiet_ipv6(&lab, c).await;
    let probes = all_probes(c);
    for &family in &c.families {
        for protocol in Protocol::ALL {
            let of = |external: bool| {
                probes
                    .iter()
                    .filter(|p| p.family == family && p.protocol == protocol)
                    .filter(|p| matches!(p.to, Endpoint::External(_)) == external)
                    .count()
            };
            assert!(
                of(false) > 0 && of(true) > 0,
                "probes to pods and externals over {family}/{protocol}"
            );
        }
    }
    let t = Instant::now();
    let observed = lab.probe(&probes, &ProbeOptions::default()).await;
    eprintln!("{} probes in {:?}", probes.len(), t.elapsed());
    let bad: Vec<String> = probes
        .iter()
        .zip(&observed)
        .filter(|(_, o)| **o != Ok(Verdict::Allowed))
        .map(|(p, o)| format!("{}: {o:?}", describe(c, p)))
        .collect();
    assert!(
        bad.is_empty(),
        "{} of {} probes not allowed:\n{}",
        bad.len(),
        probes.len(),
        bad.join("\n")
    );
    eprintln!("teardown {:?}", lab.teardown().await);
}

/// Runs `tool ARGS` inside the namespace of `e`, returning its output.
async fn output_in(lab: &Lab, e: Endpoint, tool: &'static str, args: &[&str]) -> String {
    let owned: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    let ran = lab
        .host(e)
        .ns
        .run(move || std::process::Command::new(tool).args(&owned).output())
        .await
        .expect("namespace worker");
    String::from_utf8_lossy(&common::tool_output(tool, args, ran, &[0]).stdout).into_owned()
}

/// Every IPv6 address of the lab is its host's one /128, usable at once
/// (not tentative), and there are no link-local ones; hosts without IPv6
/// have none at all.
async fn quiet_ipv6(lab: &Lab, c: &Cluster) {
    for e in c.endpoints() {
        let addrs = output_in(lab, e, "ip", &["-6", "-o", "addr"]).await;
        let lines: Vec<&str> = addrs.lines().filter(|l| !l.contains(" lo ")).collect();
        match c.endpoint_ips(e).v6 {
            Some(ip) => {
                assert_eq!(lines.len(), 1, "{}: {addrs}", c.endpoint_name(e));
                let line = lines[0];
                assert!(line.contains(&format!("{ip}/128")), "{line}");
                assert!(!line.contains("tentative"), "{line}");
            }
            None => assert!(addrs.is_empty(), "{}: {addrs}", c.endpoint_name(e)),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dual_stack_without_policy_every_probe_of_every_family_is_allowed() {
    every_probe_is_allowed(&dual_stack(), "t6-dual").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ipv6_only_without_policy_every_probe_is_allowed() {
    let c = cluster(
        vec![IpFamily::IPv6],
        &[(
            "gw6",
            Addresses {
                v4: None,
                v6: Some(v6("fd00:172:17:1::10")),
            },
        )],
    );
    assert!(c.pods.iter().all(|p| p.ips.v4.is_none()));
    every_probe_is_allowed(&c, "t6-only").await;
}

/// The index of the standard pod `name` (`x/a`).
fn pod(c: &Cluster, name: &str) -> usize {
    c.pods
        .iter()
        .position(|p| p.key() == name)
        .expect("a standard pod")
}

/// The node pod `name` runs on.
fn node_of(c: &Cluster, name: &str) -> usize {
    c.pods[pod(c, name)].node
}

/// ip6tables rules in the nodes: x/b gets no new UDP flow, x/c resets TCP
/// 81, y/b's SCTP 81 INITs are administratively prohibited, z/a's UDP 80
/// port unreachable; only where their node forwards.
async fn place_ipv6_rules(lab: &Lab, c: &Cluster) {
    let v6_of = |name: &str| c.pods[pod(c, name)].ips.v6.expect("dual-stack").to_string();
    let (x_b, x_c, y_b, z_a) = (v6_of("x/b"), v6_of("x/c"), v6_of("y/b"), v6_of("z/a"));
    let node_of = |name: &str| node_of(c, name);

    // x/b: drop new UDP flows forwarded to it on its node.
    in_node(
        lab,
        node_of("x/b"),
        "ip6tables",
        &[
            "-I",
            "FORWARD",
            "-d",
            &x_b,
            "-p",
            "udp",
            "-m",
            "conntrack",
            "--ctstate",
            "NEW",
            "-j",
            "DROP",
        ],
    )
    .await;
    // x/c: reset TCP 81 forwarded to it.
    in_node(
        lab,
        node_of("x/c"),
        "ip6tables",
        &[
            "-I",
            "FORWARD",
            "-d",
            &x_c,
            "-p",
            "tcp",
            "--dport",
            "81",
            "-j",
            "REJECT",
            "--reject-with",
            "tcp-reset",
        ],
    )
    .await;
    // y/b: reject the SCTP 81 INITs it sends, administratively prohibited.
    in_node(
        lab,
        node_of("y/b"),
        "ip6tables",
        &[
            "-I",
            "FORWARD",
            "-s",
            &y_b,
            "-p",
            "sctp",
            "--dport",
            "81",
            "-j",
            "REJECT",
            "--reject-with",
            "icmp6-adm-prohibited",
        ],
    )
    .await;
    // z/a: reject UDP 80 to it, port unreachable.
    in_node(
        lab,
        node_of("z/a"),
        "ip6tables",
        &[
            "-I",
            "FORWARD",
            "-d",
            &z_a,
            "-p",
            "udp",
            "--dport",
            "80",
            "-j",
            "REJECT",
            "--reject-with",
            "icmp6-port-unreachable",
        ],
    )
    .await;
}

/// Rejections are seen as such (a reset, an ICMPv6 error), at once.
async fn rejections_are_seen_at_once(lab: &Lab, c: &Cluster) {
    let pod = |name: &str| pod(c, name);
    let node_of = |name: &str| node_of(c, name);
    let other_node = |name: &str| {
        let e = c
            .pods
            .iter()
            .position(|p| p.node != node_of(name))
            .expect("a pod on another node");
        Endpoint::Pod(e)
    };
    let v6_ip = |e: Endpoint| {
        std::net::IpAddr::V6(
            c.endpoint_ips(e)
                .v6
                .expect("dual-stack: every pod has IPv6"),
        )
    };
    let rejections = [
        (
            other_node("x/c"),
            Endpoint::Pod(pod("x/c")),
            81,
            Protocol::Tcp,
        ),
        (
            Endpoint::Pod(pod("y/b")),
            other_node("y/b"),
            81,
            Protocol::Sctp,
        ),
        (
            other_node("z/a"),
            Endpoint::Pod(pod("z/a")),
            80,
            Protocol::Udp,
        ),
    ];
    for (from, to, port, protocol) in rejections {
        let slow = std::time::Duration::from_secs(5);
        let t = Instant::now();
        let attempt = lab
            .host(from)
            .attempt(v6_ip(to), port, protocol, slow)
            .await;
        let reason = match attempt {
            Attempt::Denied(reason) => reason,
            other => panic!("{protocol}: {other:?}"),
        };
        assert!(reason.starts_with("rejected"), "{protocol}: {reason}");
        assert!(t.elapsed() < slow / 2, "{protocol}: {:?}", t.elapsed());
    }
    let sctp = lab
        .host(Endpoint::Pod(pod("y/b")))
        .attempt(
            v6_ip(other_node("y/b")),
            81,
            Protocol::Sctp,
            ProbeOptions::default().timeout,
        )
        .await;
    assert_eq!(
        sctp,
        Attempt::Denied("rejected: ICMPv6 destination unreachable, code 1".into()),
        "administratively prohibited"
    );
}

/// ip6tables rules in a node deny exactly the IPv6 probes they match: the
/// same pods' IPv4 probes stay allowed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ip6tables_rules_placed_by_hand_deny_exactly_that_pods_ipv6_probes() {
    common::require_root();
    let c = dual_stack();
    let lab = Lab::build(&c, "t6-rules").await.expect("lab");
    place_ipv6_rules(&lab, &c).await;
    let node_of = |name: &str| node_of(&c, name);
    let name = |e| c.endpoint_name(e);
    // Forwarded traffic crosses a node's FORWARD chain; a pod's traffic to
    // itself, and between a node and its own pods, does not.
    let forwarded_by = |p: &Probe, node: usize| -> bool {
        let on = |e: Endpoint| match e {
            Endpoint::Pod(i) => Some(c.pods[i].node),
            _ => None,
        };
        !p.is_self()
            && ((on(p.from) == Some(node) && p.to != Endpoint::Node(node))
                || (on(p.to) == Some(node) && p.from != Endpoint::Node(node)))
    };
    let expected_denied = |p: &Probe| -> bool {
        p.family == IpFamily::IPv6
            && ((name(p.to) == "x/b"
                && p.protocol == Protocol::Udp
                && forwarded_by(p, node_of("x/b")))
                || (name(p.to) == "x/c"
                    && p.protocol == Protocol::Tcp
                    && p.port == 81
                    && forwarded_by(p, node_of("x/c")))
                || (name(p.from) == "y/b"
                    && p.protocol == Protocol::Sctp
                    && p.port == 81
                    && forwarded_by(p, node_of("y/b")))
                || (name(p.to) == "z/a"
                    && p.protocol == Protocol::Udp
                    && p.port == 80
                    && forwarded_by(p, node_of("z/a"))))
    };
    let probes = all_probes(&c);
    let t = Instant::now();
    let observed = lab.probe(&probes, &ProbeOptions::default()).await;
    // Rejections are answered at once: far from the retry timeout.
    eprintln!("{} probes in {:?}", probes.len(), t.elapsed());
    let mut denied = [0usize; 4];
    let mut wrong = Vec::new();
    for (p, o) in probes.iter().zip(&observed) {
        let want = if expected_denied(p) {
            Verdict::Denied
        } else {
            Verdict::Allowed
        };
        if want == Verdict::Denied {
            let rule = ["x/b", "x/c", "y/b", "z/a"]
                .iter()
                .position(|n| name(p.to) == *n || (*n == "y/b" && name(p.from) == "y/b"))
                .expect("one of the rules");
            denied[rule] += 1;
        }
        if o != &Ok(want) {
            wrong.push(format!("{}: {o:?}, expected {want:?}", describe(&c, p)));
        }
    }
    assert!(
        wrong.is_empty(),
        "{} of {} probes:\n{}",
        wrong.len(),
        probes.len(),
        wrong.join("\n")
    );
    assert!(
        denied.iter().all(|&d| d >= 5),
        "each rule affects several probes ({denied:?})"
    );

    rejections_are_seen_at_once(&lab, &c).await;
    lab.teardown().await;
}

/// A probe in a family one of its ends has no address of is an error of
/// its maker, never a deny.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_probe_in_a_family_an_end_lacks_is_an_error_not_a_deny() {
    common::require_root();
    let c = dual_stack();
    let lab = Lab::build(&c, "t6-nofamily").await.expect("lab");
    let gw4 = Endpoint::External(0);
    let probes = [
        Probe {
            family: IpFamily::IPv6,
            from: Endpoint::Pod(0),
            to: gw4,
            port: 80,
            protocol: Protocol::Tcp,
        },
        Probe {
            family: IpFamily::IPv6,
            from: gw4,
            to: Endpoint::Pod(0),
            port: 80,
            protocol: Protocol::Sctp,
        },
        Probe {
            family: IpFamily::IPv4,
            from: Endpoint::External(1),
            to: Endpoint::Pod(0),
            port: 80,
            protocol: Protocol::Udp,
        },
        Probe {
            family: IpFamily::IPv4,
            from: Endpoint::Pod(0),
            to: gw4,
            port: 80,
            protocol: Protocol::Tcp,
        },
    ];
    let observed = lab.probe(&probes, &ProbeOptions::default()).await;
    for o in &observed[..3] {
        let e = o.as_ref().expect_err("no address of the family: an error");
        assert!(e.contains("not both have an IPv"), "{e}");
    }
    assert_eq!(observed[3], Ok(Verdict::Allowed));
    lab.teardown().await;
}

/// An IPv4 cluster's lab has no IPv6 anywhere, as before families existed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ipv4_lab_has_no_ipv6_address() {
    common::require_root();
    let c = Cluster::standard();
    let lab = Lab::build(&c, "t6-none").await.expect("lab");
    quiet_ipv6(&lab, &c).await;
    lab.teardown().await;
}
