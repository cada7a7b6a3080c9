//! The lab, for real: these tests build network namespaces and send
//! packets, so they need root (CAP_NET_ADMIN and CAP_SYS_ADMIN).

mod common;

use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use netpol::cluster::{Cluster, Endpoint, Protocol};
use netpol::expect::Verdict;
use netpol::lab::topology::{Netlink, mac};
use netpol::lab::{Lab, NetNs, ProbeOptions};
use netpol::probe::Probe;
use rtnetlink::packet_route::link::State;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_policy_every_probe_is_allowed() {
    common::require_root();
    let c = Cluster::standard();
    let t = Instant::now();
    let lab = Lab::build(&c, "t-allow").await.expect("lab");
    eprintln!("build {:?} ({:?})", t.elapsed(), lab.timings);
    // Packets conntrack finds invalid (e.g. a wrong SCTP checksum or
    // verification tag) would be dropped: none may be.
    for node in 0..c.nodes.len() {
        iptables(
            &lab,
            node,
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
    let probes = common::probes_with_nodes(&c);
    let t = Instant::now();
    let observed = lab.probe(&probes, &ProbeOptions::default()).await;
    eprintln!("{} probes in {:?}", probes.len(), t.elapsed());
    let bad: Vec<String> = probes
        .iter()
        .zip(&observed)
        .filter(|(_, o)| **o != Ok(Verdict::Allowed))
        .map(|(p, o)| {
            format!(
                "{} -> {} {}/{}: {o:?}",
                c.endpoint_name(p.from),
                c.endpoint_name(p.to),
                p.port,
                p.protocol
            )
        })
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

/// Runs `iptables ARGS` inside a node's namespace.
async fn iptables(lab: &Lab, node: usize, args: &[&str]) {
    let owned: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    let ran = lab
        .host(Endpoint::Node(node))
        .ns
        .run(move || std::process::Command::new("iptables").args(&owned).output())
        .await
        .expect("namespace worker");
    common::tool_output("iptables", args, ran, &[0]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rules_placed_by_hand_deny_exactly_the_affected_probes() {
    common::require_root();
    let c = Cluster::standard();
    let lab = Lab::build(&c, "t-rules").await.expect("lab");
    let ip = |name: &str| {
        c.pods[c
            .endpoints()
            .position(|e| c.endpoint_name(e) == name)
            .unwrap()]
        .ips
        .v4
        .expect("an IPv4 cluster")
        .to_string()
    };
    let (x_b, x_c, y_b) = (ip("x/b"), ip("x/c"), ip("y/b"));
    // x/b runs on node-2: drop new UDP flows forwarded to it there (its
    // answers to its own probes are not new, and pass).
    iptables(
        &lab,
        1,
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
    // x/c runs on node-1: reset TCP 81 forwarded to it.
    iptables(
        &lab,
        0,
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
    // y/b runs on node-1: reject SCTP 81 it sends (iptables' sctp match on our raw INITs).
    iptables(
        &lab,
        0,
        &[
            "-I", "FORWARD", "-s", &y_b, "-p", "sctp", "--dport", "81", "-j", "REJECT",
        ],
    )
    .await;

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
        (name(p.to) == "x/b" && p.protocol == Protocol::Udp && forwarded_by(p, 1))
            || (name(p.to) == "x/c"
                && p.protocol == Protocol::Tcp
                && p.port == 81
                && forwarded_by(p, 0))
            || (name(p.from) == "y/b"
                && p.protocol == Protocol::Sctp
                && p.port == 81
                && forwarded_by(p, 0))
    };
    let probes = common::probes_with_nodes(&c);
    let t = Instant::now();
    let observed = lab.probe(&probes, &ProbeOptions::default()).await;
    eprintln!("{} probes in {:?}", probes.len(), t.elapsed());
    let mut denied = 0;
    for (p, o) in probes.iter().zip(&observed) {
        let want = if expected_denied(p) {
            Verdict::Denied
        } else {
            Verdict::Allowed
        };
        denied += usize::from(want == Verdict::Denied);
        assert_eq!(
            o,
            &Ok(want),
            "{} -> {} {}/{}",
            name(p.from),
            name(p.to),
            p.port,
            p.protocol
        );
    }
    assert!(
        denied >= 30,
        "the rules affect a good share of the probes ({denied})"
    );
    lab.teardown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_probe_to_a_port_nothing_serves_is_an_error_not_a_deny() {
    common::require_root();
    let c = Cluster::standard();
    let lab = Lab::build(&c, "t-noserver").await.expect("lab");
    let probes = [
        Probe {
            family: netpol::cluster::IpFamily::IPv4,
            from: Endpoint::Pod(1),
            to: Endpoint::Pod(0),
            port: 8080,
            protocol: Protocol::Tcp,
        },
        Probe {
            family: netpol::cluster::IpFamily::IPv4,
            from: Endpoint::Pod(1),
            to: Endpoint::Pod(0),
            port: 8080,
            protocol: Protocol::Sctp,
        },
        Probe {
            family: netpol::cluster::IpFamily::IPv4,
            from: Endpoint::Pod(1),
            to: Endpoint::Pod(0),
            port: 80,
            protocol: Protocol::Tcp,
        },
    ];
    let observed = lab.probe(&probes, &ProbeOptions::default()).await;
    for o in &observed[..2] {
        let e = o.as_ref().expect_err("no server: an error");
        assert!(e.contains("serves nothing on 8080/"), "{e}");
    }
    assert_eq!(observed[2], Ok(Verdict::Allowed));
    lab.teardown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_probe_never_rides_on_a_connection_conntrack_remembers() {
    common::require_root();
    let c = Cluster::standard();
    let lab = Lab::build(&c, "t-conntrack").await.expect("lab");
    // x/a and z/c both run on node-1. Replies of known flows pass, as an
    // enforcer's stateful rules let them.
    iptables(
        &lab,
        0,
        &[
            "-A",
            "FORWARD",
            "-m",
            "conntrack",
            "--ctstate",
            "RELATED,ESTABLISHED",
            "-j",
            "ACCEPT",
        ],
    )
    .await;
    let (x_a, z_c) = (Endpoint::Pod(0), Endpoint::Pod(8));
    let probes = vec![
        Probe {
            family: netpol::cluster::IpFamily::IPv4,
            from: x_a,
            to: z_c,
            port: 80,
            protocol: Protocol::Udp
        };
        200
    ];
    let fast = ProbeOptions {
        timeout: std::time::Duration::from_millis(100),
        retry_timeout: std::time::Duration::from_millis(200),
    };
    assert!(
        lab.probe(&probes, &fast)
            .await
            .iter()
            .all(|o| *o == Ok(Verdict::Allowed))
    );
    // Now UDP to z/c is denied: a probe that reused the source port of one of
    // the 200 flows above would be let through as an old flow's reply.
    iptables(
        &lab,
        0,
        &[
            "-A",
            "FORWARD",
            "-d",
            &c.pods[8].ips.v4.expect("an IPv4 cluster").to_string(),
            "-p",
            "udp",
            "-j",
            "DROP",
        ],
    )
    .await;
    let observed = lab.probe(&probes, &fast).await;
    let allowed = observed
        .iter()
        .filter(|o| **o == Ok(Verdict::Allowed))
        .count();
    assert_eq!(
        allowed, 0,
        "{allowed} of 200 new probes matched a flow conntrack remembered"
    );
    lab.teardown().await;
}

/// The wiring the lab does for each link (a veth end created up in the hub,
/// its peer brought up in the leaf afterwards) leaves the hub's end unable
/// to transmit until link watch has run; `wait_operational` returns only
/// once it has, for every end, as a dump (which does not make link watch
/// catch up) shows at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wait_operational_returns_once_link_watch_has_activated_the_link() {
    const LEAVES: usize = 16;
    let hub = NetNs::create("t-wait-hub").expect("namespace");
    let leaves: Vec<NetNs> = (0..LEAVES)
        .map(|k| NetNs::create(&format!("t-wait-leaf{k}")).expect("namespace"))
        .collect();
    let hub_nl = Netlink::open(&hub).await.expect("netlink");
    let leaf_nl = futures::future::try_join_all(leaves.iter().map(Netlink::open))
        .await
        .expect("netlink");
    for (k, leaf) in leaves.iter().enumerate() {
        hub_nl
            .add_leaf_veth(
                &format!("l{k}"),
                100 + u32::try_from(k).expect("few leaves"),
                mac(0x40, k),
                leaf,
                mac(0x41, k),
            )
            .await
            .expect("veth");
    }
    futures::future::try_join_all(leaf_nl.iter().enumerate().map(|(k, nl)| async move {
        nl.configure_uplink(
            &[IpAddr::V4(Ipv4Addr::new(
                10,
                9,
                0,
                1 + u8::try_from(k).expect("few leaves"),
            ))],
            &mac(0x40, k),
        )
        .await
    }))
    .await
    .expect("uplinks");
    futures::future::try_join_all((0..LEAVES).map(|k| {
        hub_nl.wait_operational(
            100 + u32::try_from(k).expect("few leaves"),
            Duration::from_secs(10),
        )
    }))
    .await
    .expect("every hub end comes up");
    let down: Vec<String> = hub_nl
        .links()
        .await
        .expect("links")
        .into_iter()
        .filter(|(_, name, state)| name != "lo" && *state != State::Up)
        .map(|(_, name, state)| format!("{name} {state:?}"))
        .collect();
    assert!(down.is_empty(), "hub ends not up: {}", down.join(", "));
}

/// The kernel carries out a netlink request in the sending thread, where it
/// waits for the routing lock; the lab's netlink connections are therefore
/// driven by a runtime of their own, never by the one that runs the probe
/// servers. Here a connection opened on a runtime keeps answering while
/// that runtime is not running at all.
#[test]
fn netlink_connections_are_driven_off_the_runtime_that_opens_them() {
    let ns = NetNs::create("t-netlink-rt").expect("namespace");
    let current = || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime")
    };
    let opener = current();
    let nl = opener.block_on(Netlink::open(&ns)).expect("netlink");
    // `opener` is idle from here on.
    let state = current()
        .block_on(async { tokio::time::timeout(Duration::from_secs(5), nl.operstate(1)).await })
        .expect("the request is answered although the opening runtime is idle")
        .expect("lo");
    assert_ne!(state, State::NotPresent);
    drop(opener);
}
