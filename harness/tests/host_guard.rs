//! The host is the enforcer's no-go zone: a plugin that leaves an iptables
//! rule, a link or a named namespace in the host's own namespace makes the
//! scenario an error naming the plugin, the scenario and the difference.
//! These tests change the host for the length of one small scenario and
//! restore it at once, also on panic; they run one at a time. Needs root.

mod common;

use common::*;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use netpol::host_guard::{self, HostGuard};
use netpol::lab::NetNs;
use netpol::results::Status;
use netpol::runner::{RunOptions, run_scenario};
use netpol::scenario::{self, Scenario};

/// The host and the process-wide guard are shared: one test at a time.
static HOST: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// One node, two pods, no policy: everything is allowed, so a plugin that
/// does nothing in the lab passes.
fn small_scenario() -> Scenario {
    let text = "\
name: host-guard
description: No policy, every probe allowed.
cluster:
  nodes: [{name: node-1}]
  namespaces: [{name: x}]
  pods:
    - {name: a, namespace: x, labels: {pod: a}, ports: [{name: serve-80-tcp, containerPort: 80, protocol: TCP}]}
    - {name: b, namespace: x, labels: {pod: b}, ports: [{name: serve-80-tcp, containerPort: 80, protocol: TCP}]}
expect:
  default: allowed
";
    scenario::load_str(Path::new("host-guard.yaml"), text)
        .loaded
        .expect("the test scenario loads")
}

fn sh(script: &str) -> bool {
    Command::new("sh")
        .args(["-c", script])
        .status()
        .is_ok_and(|s| s.success())
}

/// Undoes a change to the host when dropped, also while a panic unwinds.
struct Restore(String);

impl Drop for Restore {
    fn drop(&mut self) {
        sh(&self.0);
    }
}

/// Runs the small scenario with a plugin whose `sync` runs `change` in the
/// host's namespace (and whose `cleanup` does nothing); the scenario must be
/// an error whose message has every one of `expected`. Then restores the
/// host and checks that the guard sees it as before.
async fn a_change_fails_the_scenario(name: &str, change: &str, restore: &str, expected: &[String]) {
    require_root();
    let _host = HOST.lock().await;
    // The baseline, before anything changes.
    let guard = host_guard::shared()
        .await
        .expect("the host's state is readable");
    assert!(
        guard.differences().await.unwrap().is_empty(),
        "the host differs from the baseline before the test"
    );
    let script = Script::new(
        name,
        &format!("case $1 in version) echo '{VERSION}';; sync) {change};; esac"),
    );
    let plugin = script
        .start(Duration::from_secs(20))
        .await
        .expect("version works");
    let undo = Restore(restore.to_string());
    let result = run_scenario(
        &small_scenario(),
        &plugin,
        &RunOptions::default(),
        &events(),
    )
    .await;
    drop(undo);
    let message = result.message.clone().unwrap_or_default();
    assert_eq!(
        result.status,
        Status::Error,
        "a plugin that changed the host must make the scenario an error; message: {message}"
    );
    assert!(
        message.contains(
            "enforcer test-plugin (/bin/sh) changed the host's network namespace in scenario host-guard"
        ),
        "{message}"
    );
    for line in expected {
        assert!(message.contains(line.as_str()), "no {line:?} in: {message}");
    }
    // Restored: nothing differs, and the next check has nothing to report.
    assert_eq!(
        guard.differences().await.unwrap(),
        [],
        "the host was not restored"
    );
    guard.check("test", "restore").await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_iptables_rule_in_the_host_fails_the_scenario() {
    let comment = format!("netpol-guard-{}", std::process::id());
    // Harmless: accepts what the default policy accepts anyway.
    let rule = format!("INPUT -s 198.51.100.77/32 -m comment --comment {comment} -j ACCEPT");
    // iptables-nft creates the table with the rule; a table the host did
    // not have goes too.
    let had_table = sh("nft list table ip filter >/dev/null 2>&1");
    let restore = format!(
        "iptables -D {rule}; {}",
        if had_table {
            ""
        } else {
            "nft delete table ip filter"
        }
    );
    a_change_fails_the_scenario(
        "host-iptables",
        &format!("iptables -C {rule} 2>/dev/null || iptables -A {rule}"),
        &restore,
        &[format!(
            "+ iptables filter: -A INPUT -s 198.51.100.77/32 -m comment --comment {comment} -j ACCEPT"
        )],
    )
    .await;
}

/// `dummy`, or `bridge` where the kernel has no dummy driver (tried in a
/// namespace of the test's own).
async fn dummy_kind() -> &'static str {
    let ns = NetNs::create("t-kind").unwrap();
    let dummy = ns
        .run(|| sh("ip link add d0 type dummy 2>/dev/null"))
        .await
        .unwrap();
    if dummy { "dummy" } else { "bridge" }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_link_in_the_host_fails_the_scenario() {
    let link = format!("npguard{}", std::process::id() % 100_000);
    let kind = dummy_kind().await;
    a_change_fails_the_scenario(
        "host-link",
        &format!("ip link show {link} >/dev/null 2>&1 || ip link add {link} type {kind}"),
        &format!("ip link del {link}"),
        &[format!("+ link {link}: type {kind}, down, mtu 1500")],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_named_namespace_fails_the_scenario() {
    let ns = format!("netpol-guard-{}", std::process::id());
    // `ip netns add` makes /run/netns a mount of its own the first time;
    // that goes too, and the directory if the test made it.
    let had_dir = Path::new("/run/netns").exists();
    let had_mount = std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .any(|l| l.split_whitespace().nth(4) == Some("/run/netns"));
    let mut restore = format!("ip netns del {ns}");
    if !had_mount {
        restore.push_str("; umount /run/netns");
    }
    if !had_dir {
        restore.push_str("; rmdir /run/netns");
    }
    a_change_fails_the_scenario(
        "host-netns",
        &format!("[ -e /run/netns/{ns} ] || ip netns add {ns}"),
        &restore,
        &[
            format!("+ named namespace {ns}"),
            format!("+ mount /run/netns/{ns}: nsfs net:["),
        ],
    )
    .await;
}

/// Runs `script` in the namespace `ns`.
async fn in_ns(ns: &NetNs, script: &str) {
    let script = script.to_string();
    let out = ns
        .run(move || Command::new("sh").args(["-c", &script]).output())
        .await
        .unwrap()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The snapshot's coverage, in a namespace of the test's own rather than
/// the host's: every kind of change shows, and traffic alone changes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_kind_of_change_shows_and_traffic_does_not() {
    require_root();
    let ns = NetNs::create("t-guard").unwrap();
    in_ns(&ns, "ip link set lo up").await;
    let guard = HostGuard::record(ns.fd().try_clone_to_owned().unwrap())
        .await
        .unwrap();
    let baseline: Vec<&str> = guard.baseline().lines().collect();
    for line in [
        "link lo: type loopback, up, mtu 65536, address 00:00:00:00:00:00",
        "address lo: 127.0.0.1/8 scope host",
        "route local inet6: local ::1/128 dev lo metric 0 proto kernel scope global pref medium",
        "route local inet: local 127.0.0.1/32 dev lo src 127.0.0.1 proto kernel scope host",
        "rule inet: 32766: from 0.0.0.0/0 to 0.0.0.0/0 proto kernel lookup main",
        "sysctl net.ipv4.ip_forward = 0",
    ] {
        assert!(baseline.contains(&line), "no {line:?} in {baseline:#?}");
    }

    // Counted packets, link statistics, conntrack: not differences.
    in_ns(
        &ns,
        "nft add table inet t && nft add chain inet t c '{ type filter hook input priority 0; }' \
         && nft add rule inet t c counter",
    )
    .await;
    let guard = HostGuard::record(ns.fd().try_clone_to_owned().unwrap())
        .await
        .unwrap();
    ns.run(|| {
        let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        for _ in 0..20 {
            socket.send_to(b"counted", "127.0.0.1:9").unwrap();
        }
    })
    .await
    .unwrap();
    assert_eq!(guard.differences().await.unwrap(), []);

    let kind = dummy_kind().await;
    in_ns(
        &ns,
        &format!(
            "ip link add d0 type {kind} && ip link set d0 up && ip addr add 10.9.0.1/24 dev d0 \
         && ip route add 10.8.0.0/16 via 10.9.0.2 table 100 && ip rule add fwmark 7 table 100 \
         && iptables -A FORWARD -s 10.8.0.0/16 -j DROP && ip6tables -P INPUT DROP \
         && iptables-legacy -t raw -A PREROUTING -j NOTRACK \
         && nft add rule inet t c ip saddr 10.7.0.1 drop \
         && sysctl -qw net.ipv4.ip_forward=1"
        ),
    )
    .await;
    let shown: Vec<String> = guard
        .differences()
        .await
        .unwrap()
        .iter()
        .map(ToString::to_string)
        .collect();
    let link_d0 = format!("+ link d0: type {kind}, up, mtu 1500");
    for line in [
        link_d0.as_str(),
        "+ address d0: 10.9.0.1/24 scope global",
        "+ route 100 inet: unicast 10.8.0.0/16 via 10.9.0.2 dev d0 proto boot scope global",
        "+ route main inet: unicast 10.9.0.0/24 dev d0 src 10.9.0.1 proto kernel scope link",
        "+ rule inet: 32765: from 0.0.0.0/0 to 0.0.0.0/0 fwmark 0x7/0xffffffff proto unspec lookup 100",
        "+ iptables filter: -A FORWARD -s 10.8.0.0/16 -j DROP",
        "+ ip6tables filter: :INPUT DROP",
        "+ iptables-legacy raw: -A PREROUTING -j NOTRACK",
        "+ nft table inet t, chain c: ip saddr 10.7.0.1 drop",
        "+ sysctl net.ipv4.ip_forward = 1",
        "- sysctl net.ipv4.ip_forward = 0",
    ] {
        assert!(
            shown.iter().any(|s| s.starts_with(line)),
            "no {line:?} in {shown:#?}"
        );
    }
    // iptables-nft's tables are not repeated in nft's words.
    assert!(
        !shown.iter().any(|s| s.starts_with("+ nft table ip filter")),
        "{shown:#?}"
    );
}
