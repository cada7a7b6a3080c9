//! The example plugin `examples/iptables-partial/` through the harness, as
//! `netpol run --enforcer examples/iptables-partial/plugin.sh --profile
//! examples/iptables-partial/profile.yaml` runs it: every repository scenario
//! that needs a feature it declares unsupported comes out unsupported
//! (declared), and every other one passes. Also: its syncs are idempotent,
//! drop the chains a new state no longer needs, its cleanup leaves nothing
//! behind, and a policy it cannot enforce fails `sync` loudly. Needs root
//! (and jq): without it, each test fails saying so.

mod common;

use common::*;
use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::Duration;

use netpol::cluster::Protocol;
use netpol::enforcer::{self, Enforcer, EnforcerSpec};
use netpol::features::Profile;
use netpol::lab::Lab;
use netpol::report::terminal;
use netpol::results::Status;
use netpol::runner::{RunOptions, run_scenario};
use rstest::rstest;

/// The scenarios that need a feature the example declares unsupported
/// (sctp, endPort, namedPorts, the ClusterNetworkPolicy features), by file
/// under `scenarios/`. Every other scenario must pass.
const UNSUPPORTED: &[(&str, &[&str])] = &[
    ("ports/endport-egress-range.yaml", &["endPort"]),
    ("ports/endport-ingress-range.yaml", &["endPort"]),
    ("ports/endport-udp-sctp-ingress.yaml", &["endPort", "sctp"]),
    ("ports/named-port-egress.yaml", &["namedPorts"]),
    ("ports/named-port-ingress.yaml", &["namedPorts"]),
    ("ports/named-port-per-destination.yaml", &["namedPorts"]),
    ("ports/named-port-protocol-mismatch.yaml", &["namedPorts"]),
    ("ports/several-ports-one-rule.yaml", &["namedPorts", "sctp"]),
    (
        "protocols/endport-udp-sctp-egress.yaml",
        &["endPort", "sctp"],
    ),
    ("protocols/protocol-without-port.yaml", &["sctp"]),
    ("protocols/sctp-egress.yaml", &["sctp"]),
    ("protocols/sctp-only.yaml", &["sctp"]),
    ("upstream-e2e/egress-named-port.yaml", &["namedPorts"]),
    ("upstream-e2e/ingress-named-port.yaml", &["namedPorts"]),
    ("upstream-e2e/sctp-isolates.yaml", &["sctp"]),
    ("upstream-e2e/sctp-not-tcp.yaml", &["sctp"]),
];

fn example() -> PathBuf {
    repo().join("examples/iptables-partial")
}

/// The example plugin, as `--enforcer examples/iptables-partial/plugin.sh` starts it.
async fn plugin() -> Enforcer {
    require_root();
    Enforcer::start(
        &EnforcerSpec::Path(example().join("plugin.sh")),
        &[],
        Duration::from_secs(60),
    )
    .await
    .unwrap_or_else(|e| panic!("the example answers `version` (is jq installed?): {e}"))
}

/// The example's profile, as `--profile` loads it.
fn profile() -> Profile {
    Profile::load(&example().join("profile.yaml")).expect("the example's profile loads")
}

#[rstest]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repository_scenario_passes_or_is_declared_unsupported(
    #[files("../scenarios/**/*.yaml")]
    #[exclude("/invalid/")]
    path: PathBuf,
) {
    require_root();
    let file = path
        .strip_prefix(repo().join("scenarios"))
        .or_else(|_| path.strip_prefix(std::fs::canonicalize(repo().join("scenarios")).unwrap()))
        .expect("under scenarios/")
        .to_string_lossy()
        .into_owned();
    let s = scenario(&file);
    let options = RunOptions {
        unsupported: profile().unsupported.into_iter().collect(),
        ..RunOptions::default()
    };
    let result = run_scenario(&s, &plugin().await, &options, &events()).await;
    let details = format!(
        "\n{}\n{}",
        terminal::scenario_line(&result),
        terminal::details(&result)
    );
    // Every ClusterNetworkPolicy scenario needs the feature the example
    // lacks, and every IPv6 and dual-stack one needs ipv6.
    let cnp: &[&str] = &["ClusterNetworkPolicy"];
    let ipv6: &[&str] = &["ipv6"];
    let listed = UNSUPPORTED
        .iter()
        .find(|(f, _)| *f == file)
        .map(|(_, needs)| *needs);
    let expected = if ["cluster-network-policy/", "cnp-upstream/", "cnp-blind/"]
        .iter()
        .any(|d| file.starts_with(d))
    {
        Some(listed.unwrap_or(cnp))
    } else if file.starts_with("ipv6/") || file.starts_with("dual-stack/") {
        Some(listed.unwrap_or(ipv6))
    } else {
        listed
    };
    match expected {
        Some(needs) => {
            assert_eq!(result.status, Status::Unsupported, "{details}");
            let message = result.message.as_deref().unwrap_or_default();
            assert!(
                message.starts_with("unsupported (declared): needs ")
                    && needs.iter().all(|n| message.contains(n)),
                "the message names {needs:?}: {message}"
            );
            assert!(result.rounds.is_empty(), "nothing was run");
        }
        None => {
            assert_eq!(
                result.status,
                Status::Pass,
                "iptables-partial should handle {file} (if it needs sctp, endPort or namedPorts, list it in UNSUPPORTED){details}"
            );
            assert!(
                result
                    .rounds
                    .iter()
                    .flat_map(|r| &r.probes)
                    .all(|p| p.protocol != Protocol::Sctp),
                "with sctp declared unsupported, no SCTP probe is sent"
            );
        }
    }
}

#[test]
fn the_unsupported_list_names_existing_scenarios_with_those_needs() {
    let declared = profile().unsupported;
    for (file, needs) in UNSUPPORTED {
        let mut got: Vec<&str> = netpol::features::needed(&scenario(file))
            .into_iter()
            .filter(|f| declared.contains(f))
            .map(netpol::features::Feature::name)
            .collect();
        got.sort_unstable();
        let mut want = needs.to_vec();
        want.sort();
        assert_eq!(got, want, "{file}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_version_answer_declares_what_the_profile_declares() {
    let plugin = plugin().await;
    let info = plugin.info().expect("a plugin");
    assert_eq!(info.name, "iptables-partial");
    assert_eq!(info.protocol_versions, ["1"]);
    let declared: BTreeSet<&str> = info.unsupported.iter().map(|f| f.name()).collect();
    let profile = profile();
    let profiled: BTreeSet<&str> = profile.unsupported.iter().map(|f| f.name()).collect();
    assert_eq!(
        declared,
        BTreeSet::from([
            "sctp",
            "endPort",
            "namedPorts",
            "ClusterNetworkPolicy",
            "ClusterNetworkPolicyNamedPorts",
            "ClusterNetworkPolicyEgressNodePeers",
            "ClusterNetworkPolicyEgressNetworkPeers",
            "ipv6",
        ])
    );
    assert_eq!(
        declared, profiled,
        "examples/iptables-partial/README.md says they agree"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn syncs_are_idempotent_drop_stale_chains_and_cleanup_removes_everything() {
    require_root();
    // Round initial: deny-all isolates every pod of x both ways, a-from-y
    // adds an ingress rule for x/a; then deny-all goes, then a-from-y.
    let s = scenario("steps/delete-policy.yaml");
    assert_eq!(s.rounds.len(), 3);
    let enforcer = plugin().await;
    let plugin = the_plugin(&enforcer);
    let nodes = s.cluster().nodes.len();
    let lab = Lab::build(s.cluster(), "t-example").await.unwrap();
    let state = |round: usize| enforcer::state(&lab, "t-example", &s.rounds[round]);
    let all = |tables: &[String], what: &str| tables.iter().any(|t| t.contains(what));

    plugin.sync(&state(0)).await.unwrap();
    let first = node_tables(&lab, nodes).await;
    assert!(
        all(&first, "-A FORWARD -j IPTP-FORWARD")
            && all(&first, ":IPTP-IN-veth0 ")
            && all(&first, ":IPTP-OUT-veth0 "),
        "x/a (veth0) is isolated both ways:\n{}",
        first.join("\n")
    );
    plugin.sync(&state(0)).await.unwrap();
    assert_eq!(
        first,
        node_tables(&lab, nodes).await,
        "a second sync of the same state changes nothing"
    );

    plugin.sync(&state(1)).await.unwrap();
    let second = node_tables(&lab, nodes).await;
    assert!(
        all(&second, ":IPTP-IN-veth0 ") && !all(&second, "IPTP-OUT-"),
        "without deny-all, only x/a's ingress chain is left:\n{}",
        second.join("\n")
    );
    plugin.sync(&state(2)).await.unwrap();
    let third = node_tables(&lab, nodes).await;
    assert!(
        !all(&third, "IPTP-IN-") && !all(&third, "IPTP-OUT-"),
        "no policy, no per-pod chain:\n{}",
        third.join("\n")
    );

    plugin.cleanup(&state(2)).await.unwrap();
    for (n, table) in node_tables(&lab, nodes).await.iter().enumerate() {
        assert!(
            !table.contains("-A ") && !table.contains("IPTP") && !table.contains("NETPOL"),
            "node {n} still has rules or chains after cleanup:\n{table}"
        );
    }
    plugin
        .cleanup(&state(2))
        .await
        .expect("a second cleanup has nothing to do, and succeeds");
    lab.teardown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_policy_it_cannot_enforce_fails_sync_naming_the_field() {
    require_root();
    // Without the declarations, the runner would hand it a named port.
    let s = scenario("ports/named-port-ingress.yaml");
    let enforcer = plugin().await;
    let lab = Lab::build(s.cluster(), "t-example-named").await.unwrap();
    let state = enforcer::state(&lab, "t-example-named", &s.rounds[0]);
    let e = the_plugin(&enforcer)
        .sync(&state)
        .await
        .expect_err("named ports are not supported")
        .to_string();
    assert!(
        e.contains("`sync` failed")
            && e.contains("spec.ingress[0].ports[0].port: named port")
            && e.contains("(feature namedPorts)"),
        "{e}"
    );
    for n in 0..s.cluster().nodes.len() {
        assert!(
            !node_table(&lab, n).await.contains("IPTP"),
            "a refused state changes nothing"
        );
    }
    the_plugin(&enforcer).cleanup(&state).await.unwrap();
    lab.teardown().await;
}

/// A plugin that handles IPv4 only and does not say so fails the dual-stack
/// scenarios that expect an IPv6 probe denied: it is never a silent pass.
/// The example (iptables rules only) without its `ipv6` declaration: its
/// `version` answer is rewritten, every other call is its own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ipv4_only_plugin_fails_the_dual_stack_scenarios() {
    require_root();
    let wrapper = Script::reading_input(
        "ipv4-only",
        &format!(
            "if [ \"$1\" = version ]; then {plugin} version | jq -c '.unsupported -= [\"ipv6\"]'; else exec {plugin} \"$@\"; fi",
            plugin = example().join("plugin.sh").display()
        ),
    );
    let enforcer = wrapper
        .start(Duration::from_secs(60))
        .await
        .expect("version");
    assert!(
        !enforcer
            .info()
            .unwrap()
            .unsupported
            .contains(&netpol::features::Feature::Ipv6),
        "the wrapper hides the declaration"
    );
    let mut unsupported: BTreeSet<_> = profile().unsupported.into_iter().collect();
    unsupported.remove(&netpol::features::Feature::Ipv6);
    let options = RunOptions {
        unsupported: unsupported.clone(),
        ..RunOptions::default()
    };
    let mut failed = Vec::new();
    for entry in std::fs::read_dir(repo().join("scenarios/dual-stack")).unwrap() {
        let file = format!(
            "dual-stack/{}",
            entry.unwrap().file_name().to_string_lossy()
        );
        let s = scenario(&file);
        if netpol::features::needed(&s)
            .iter()
            .any(|f| unsupported.contains(f))
        {
            continue;
        }
        // Does the file expect some IPv6 probe denied?
        let denies_ipv6 = s.rounds.iter().any(|r| {
            r.expect.as_ref().is_some_and(|e| {
                s.probes.iter().any(|p| {
                    p.family == netpol::cluster::IpFamily::IPv6
                        && e.verdict(&r.cluster, p) == netpol::expect::Verdict::Denied
                })
            })
        });
        if !denies_ipv6 {
            continue;
        }
        let result = run_scenario(&s, &enforcer, &options, &events()).await;
        assert_ne!(
            result.status,
            Status::Pass,
            "{file} passed with a plugin that leaves IPv6 unfiltered\n{}",
            terminal::details(&result)
        );
        // Fail: it left IPv6 open. Error: in an IPv6-primary cluster its
        // IPv4-only rules cannot even take `ip` (its sync fails loudly).
        assert!(
            matches!(result.status, Status::Fail | Status::Error),
            "{file}: {:?} {:?}",
            result.status,
            result.message
        );
        failed.push(file);
    }
    assert!(
        failed.len() >= 5,
        "too few dual-stack scenarios checked: {failed:?}"
    );
}
