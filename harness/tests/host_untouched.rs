//! Nothing in the host's own network namespace changes, whatever happens
//! to a lab: built, used and torn down; dropped by a panic; held by a
//! process killed with SIGKILL. Needs root, and the host's tools
//! (iproute2, iptables, nftables): without one, the tests fail
//! saying which.
//!
//! Run by an ordinary user, the tests are in the user namespace
//! `ci/test-runner.sh` makes, and "the host" is the network namespace they
//! started in, their user namespace's own: the labs are built from it as
//! from the host's, and must leave it as they found it. The real host's
//! cannot be changed without root at all (`.ci/run` compares it around
//! the rootless run as well).

mod common;

use std::process::Command;

use netpol::cluster::Cluster;
use netpol::lab::{Lab, ProbeOptions};
use netpol::probe::ProbeSpec;

/// What a lab must never change, as the host's own tools print it.
fn host_state() -> Vec<(String, String)> {
    common::require_root();
    let run = |cmd: &str, args: &[&str]| -> String {
        String::from_utf8_lossy(&common::run_tool(cmd, args).stdout)
            .lines()
            .filter(|l| !l.starts_with('#'))
            .collect::<Vec<_>>()
            .join("\n")
    };
    let sysctl =
        |key: &str| std::fs::read_to_string(format!("/proc/sys/{key}")).unwrap_or_default();
    vec![
        ("links".into(), run("ip", &["-o", "link"])),
        (
            "addresses".into(),
            without_lifetimes(&run("ip", &["-o", "addr"])),
        ),
        (
            "routes".into(),
            without_lifetimes(&run("ip", &["route", "show", "table", "all"])),
        ),
        (
            "IPv6 addresses".into(),
            without_lifetimes(&run("ip", &["-6", "-o", "addr"])),
        ),
        (
            "IPv6 routes".into(),
            without_lifetimes(&run("ip", &["-6", "route", "show", "table", "all"])),
        ),
        ("IPv6 neighbours".into(), permanent_neighbours()),
        ("rules".into(), run("ip", &["rule"])),
        ("IPv6 rules".into(), run("ip", &["-6", "rule"])),
        ("named namespaces".into(), run("ip", &["netns", "list"])),
        ("iptables".into(), run("iptables-save", &[])),
        ("ip6tables".into(), run("ip6tables-save", &[])),
        ("nftables".into(), run("nft", &["list", "ruleset"])),
        ("ip_forward".into(), sysctl("net/ipv4/ip_forward")),
        (
            "ipv4 forwarding".into(),
            sysctl("net/ipv4/conf/all/forwarding"),
        ),
        (
            "ipv6 forwarding".into(),
            sysctl("net/ipv6/conf/all/forwarding"),
        ),
        ("rp_filter".into(), sysctl("net/ipv4/conf/all/rp_filter")),
        (
            "IPv6 settings".into(),
            [
                "disable_ipv6",
                "accept_ra",
                "autoconf",
                "accept_dad",
                "dad_transmits",
                "router_solicitations",
                "addr_gen_mode",
            ]
            .iter()
            .flat_map(|k| ["all", "default"].map(|c| format!("net/ipv6/conf/{c}/{k}")))
            .map(|key| format!("{key}={}", sysctl(&key)))
            .collect(),
        ),
        (
            "ICMPv6 rate limit".into(),
            sysctl("net/ipv6/icmp/ratelimit"),
        ),
        (
            "network namespaces of processes".into(),
            process_net_namespaces(),
        ),
    ]
}

/// The host's static IPv6 neighbour entries (the lab adds only static
/// ones; dynamic ones come and go with the host's own traffic).
fn permanent_neighbours() -> String {
    let out = common::run_tool("ip", &["-6", "neigh", "show", "nud", "permanent"]);
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The network namespaces the host's processes are in, read from `/proc`
/// (not `lsns`, which fails now and then when a process ends during its
/// scan). A process that ends while it is read is skipped.
fn process_net_namespaces() -> String {
    let mut seen = std::collections::BTreeSet::new();
    for entry in std::fs::read_dir("/proc").expect("/proc is readable") {
        let Ok(entry) = entry else { continue };
        let name = entry.file_name();
        if !name.to_string_lossy().bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        if let Ok(ns) = std::fs::read_link(entry.path().join("ns/net")) {
            seen.insert(ns.to_string_lossy().into_owned());
        }
    }
    assert!(
        !seen.is_empty(),
        "no process's network namespace could be read from /proc"
    );
    seen.into_iter().collect::<Vec<_>>().join("\n")
}

/// Lifetimes of dynamic addresses and routes count down on their own.
fn without_lifetimes(text: &str) -> String {
    let drop_word_after = |line: &str, key: &str| -> String {
        let words: Vec<&str> = line.split_whitespace().collect();
        let mut kept = Vec::new();
        let mut skip = false;
        for w in words {
            if skip {
                skip = false;
            } else if w == key {
                skip = true;
            } else {
                kept.push(w);
            }
        }
        kept.join(" ")
    };
    text.lines()
        .map(|l| {
            drop_word_after(
                &drop_word_after(&drop_word_after(l, "valid_lft"), "preferred_lft"),
                "expires",
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn assert_same(before: &[(String, String)], after: &[(String, String)]) {
    let host = match netpol::userns::standing() {
        netpol::userns::Standing::Root => "the host's",
        _ => "the tests' own network namespace's (rootless, in a user namespace)",
    };
    for ((what, b), (_, a)) in before.iter().zip(after) {
        assert_eq!(b, a, "{host} {what} changed");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn labs_leave_the_host_as_they_found_it() {
    let before = host_state();
    let c = Cluster::standard();

    // Built, used, torn down.
    let lab = Lab::build(&c, "t-host").await.expect("lab");
    let observed = lab
        .probe(&ProbeSpec::default().probes(&c), &ProbeOptions::default())
        .await;
    assert!(observed.iter().all(|o| o.is_ok()));
    lab.teardown().await;

    // Dropped while a panic unwinds.
    let panicked = tokio::spawn(async move {
        let _lab = Lab::build(&Cluster::standard(), "t-panic")
            .await
            .expect("lab");
        panic!("a test failing in the middle of a lab");
    })
    .await;
    assert!(panicked.unwrap_err().is_panic());

    assert_same(&before, &host_state());
}

/// IPv6 and dual-stack labs set IPv6 up (addresses, routes, neighbours,
/// sysctls) in their own namespaces only, and leave no namespace or link.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ipv6_and_dual_stack_labs_leave_the_host_as_they_found_it() {
    use netpol::cluster::IpFamily::{IPv4, IPv6};
    let before = host_state();
    for (families, label) in [(vec![IPv4, IPv6], "t-host-dual"), (vec![IPv6], "t-host-v6")] {
        let c = Cluster::standard_in(families);
        let lab = Lab::build(&c, label).await.expect("lab");
        let probes = ProbeSpec::default().probes(&c);
        assert!(probes.iter().any(|p| p.family == IPv6));
        let observed = lab.probe(&probes, &ProbeOptions::default()).await;
        assert!(observed.iter().all(|o| o.is_ok()), "{observed:?}");
        lab.teardown().await;
    }
    assert_same(&before, &host_state());
}

#[test]
fn a_run_killed_with_sigkill_leaves_nothing() {
    let before = host_state();
    let scenario = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../scenarios/default-policies/default-deny-ingress.yaml"
    );
    let mut child = Command::new(env!("CARGO_BIN_EXE_netpol"))
        .args(["run", scenario, "--enforcer", "none", "--pause"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("netpol runs");
    // Wait until the lab is up and the run waits for Enter, then kill it.
    let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    loop {
        line.clear();
        assert!(
            std::io::BufRead::read_line(&mut out, &mut line).unwrap() > 0,
            "the run ended before its lab was up"
        );
        if line.contains("press Enter") {
            break;
        }
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert_same(&before, &host_state());
}

/// The tools `host_state` depends on fail the test when they are missing or
/// fail, instead of comparing two error messages (or two empty outputs).
#[test]
#[should_panic(expected = "netpol-no-such-tool is not installed: install it (ci/install-deps.sh)")]
fn a_missing_tool_fails_the_test_saying_so() {
    common::run_tool("netpol-no-such-tool", &["list"]);
}

#[test]
#[should_panic(expected = "`sh -c exit 3` failed (exit status: 3)")]
fn a_failing_tool_fails_the_test_saying_so() {
    common::run_tool("sh", &["-c", "exit 3"]);
}

#[test]
fn a_tool_may_say_no_with_an_exit_status() {
    // pgrep and grep exit 1 for "nothing found".
    let ran = Command::new("sh").args(["-c", "exit 1"]).output();
    let out = common::tool_output("sh", &["-c", "exit 1"], ran, &[0, 1]);
    assert_eq!(out.status.code(), Some(1));
}
