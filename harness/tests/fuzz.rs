//! `netpol fuzz` finds realistic plugin bugs and shrinks them to a small
//! scenario that replays the failure; against the reference enforcer it
//! finds nothing. The broken plugins are the reference enforcer behind a
//! `jq` filter that bends the state, one bug each. Needs root (and jq).

mod common;

use common::*;
use std::path::PathBuf;
use std::time::Duration;

use netpol::fuzzer::{CaseOutcome, FuzzOptions, fuzz};
use netpol::results::FuzzStats;
use netpol::results::Status;
use netpol::runner::{RunOptions, run_scenario};

fn options(seed: u64, cases: u64, out: PathBuf) -> FuzzOptions {
    FuzzOptions {
        seed,
        cases: Some(cases),
        time: None,
        only: None,
        run: RunOptions {
            jobs: 2,
            ..RunOptions::default()
        },
        out,
        shrink_budget: 300,
        max_found: Some(1),
    }
}

/// The reference enforcer with the state passed through `filter` first.
fn bent(name: &str, filter: &str) -> Script {
    let netpol = env!("CARGO_BIN_EXE_netpol");
    Script::reading_input(
        name,
        &format!(
            "case \"$1\" in version) {netpol} reference-enforcer version | jq -c '.name = \"{name}\"';; \
             *) jq -c '{filter}' | {netpol} reference-enforcer \"$1\";; esac"
        ),
    )
}

async fn run_fuzz(
    enforcer: &netpol::enforcer::Enforcer,
    o: &FuzzOptions,
) -> (FuzzStats, Vec<PathBuf>) {
    let mut files = Vec::new();
    let summary = fuzz(enforcer, o, |r| {
        if let CaseOutcome::Found(f) = &r.outcome {
            assert!(f.policies <= 3, "shrunk to at most 3 policies:\n{}", f.yaml);
            files.push(f.file.clone());
        }
    })
    .await;
    (summary, files)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reference_enforcer_agrees_with_the_model_on_every_case() {
    let out = std::env::temp_dir().join(format!("netpol-fuzz-ref-{}", std::process::id()));
    let (summary, files) = run_fuzz(&reference().await, &options(11, 30, out.clone())).await;
    let _ = std::fs::remove_dir_all(&out);
    assert_eq!(summary.cases, 30);
    assert_eq!(
        (
            summary.disagreements,
            summary.flaky,
            summary.errors,
            summary.generator_bugs
        ),
        (0, 0, 0, 0),
        "{files:?}"
    );
    assert!(
        summary.probes > 3000,
        "the cases sent probes: {}",
        summary.probes
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn realistic_bugs_are_found_shrunk_and_replayed() {
    // (name, filter, seed, cases to search): each found well within them.
    let bugs = [
        (
            "no-except",
            "del(.networkPolicies[].spec.ingress[]?.from[]?.ipBlock.except) | del(.networkPolicies[].spec.egress[]?.to[]?.ipBlock.except)",
            3,
            40,
        ),
        (
            "ports-ignored",
            "del(.networkPolicies[].spec.ingress[]?.ports) | del(.networkPolicies[].spec.egress[]?.ports)",
            1,
            30,
        ),
        (
            "and-read-as-or",
            "(.networkPolicies[].spec | (.ingress[]?.from, .egress[]?.to)) |= (if . then [.[] | if .podSelector and .namespaceSelector then {podSelector}, {namespaceSelector} else . end] else . end)",
            1,
            60,
        ),
        (
            "sctp-as-tcp",
            "(.networkPolicies[].spec | (.ingress[]?, .egress[]?) | .ports[]? | .protocol) |= (if . == \"SCTP\" then \"TCP\" else . end)",
            1,
            10,
        ),
        (
            "policy-types-ignored",
            "del(.networkPolicies[].spec.policyTypes)",
            1,
            10,
        ),
        (
            "end-port-ignored",
            "del(.networkPolicies[].spec | (.ingress[]?, .egress[]?) | .ports[]? | .endPort)",
            1,
            10,
        ),
        (
            "cnp-pass-as-accept",
            "(.clusterNetworkPolicies[]?.spec | (.ingress[]?, .egress[]?) | .action) |= (if . == \"Pass\" then \"Accept\" else . end)",
            1,
            70,
        ),
        (
            "cnp-baseline-as-admin",
            "(.clusterNetworkPolicies[]?.spec.tier) |= \"Admin\"",
            4,
            30,
        ),
        (
            "cnp-priority-reversed",
            "(.clusterNetworkPolicies[]?.spec.priority) |= (1000 - .)",
            3,
            40,
        ),
    ];
    for (name, filter, seed, cases) in bugs {
        found_shrunk_and_replayed(name, &bent(name, filter), seed, cases).await;
    }
}

/// A bug no filter of the state expresses: a plugin that drops the
/// stateful rule after the reference's sync, so replies meet the policies.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plugin_without_stateful_replies_is_found_too() {
    let netpol = env!("CARGO_BIN_EXE_netpol");
    let script = Script::reading_input(
        "stateless-replies",
        &format!(
            "case \"$1\" in version) {netpol} reference-enforcer version;; \
             sync) state=$(cat); printf '%s' \"$state\" | {netpol} reference-enforcer sync || exit $?; \
               for ns in $(printf '%s' \"$state\" | jq -r '.nodes[].netns'); do for t in iptables ip6tables; do \
                 nsenter --net=\"$ns\" $t -D NETPOL-FORWARD -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT 2>/dev/null; \
               done; done; exit 0;; \
             *) {netpol} reference-enforcer \"$1\";; esac"
        ),
    );
    found_shrunk_and_replayed("stateless-replies", &script, 1, 10).await;
}

/// Fuzzing `script` finds a disagreement within `cases` of `seed`, and its
/// reproducer replays: the broken plugin fails it, the reference passes it.
async fn found_shrunk_and_replayed(name: &str, script: &Script, seed: u64, cases: u64) {
    let broken = script
        .start(Duration::from_secs(60))
        .await
        .expect("version");
    let out = std::env::temp_dir().join(format!("netpol-fuzz-{name}-{}", std::process::id()));
    let (summary, files) = run_fuzz(&broken, &options(seed, cases, out.clone())).await;
    assert!(
        summary.disagreements > 0,
        "{name}: not found in {cases} cases: {summary:?}"
    );
    assert_eq!(summary.generator_bugs, 0);
    let s = netpol::scenario::load(&files[0])
        .loaded
        .expect("the reproducer loads");
    assert!(
        s.description
            .as_deref()
            .unwrap_or_default()
            .contains("Expectations from the model")
    );
    let with_bug = run_scenario(&s, &broken, &RunOptions::default(), &events()).await;
    assert_eq!(
        with_bug.status,
        Status::Fail,
        "{name}: {:?}",
        with_bug.message
    );
    let fixed = run_scenario(&s, &reference().await, &RunOptions::default(), &events()).await;
    assert_eq!(fixed.status, Status::Pass, "{name}: {:?}", fixed.message);
    let _ = std::fs::remove_dir_all(&out);
}

/// `netpol fuzz --report DIR`: the run's figures in a `fuzz` object, and
/// the reproducer of each disagreement among the scenarios, as it failed.
#[test]
fn a_fuzz_report_carries_the_run_and_each_reproducer() {
    let script = bent(
        "and-read-as-or",
        "(.networkPolicies[].spec | (.ingress[]?.from, .egress[]?.to)) |= (if . then [.[] | if .podSelector and .namespaceSelector then {podSelector}, {namespaceSelector} else . end] else . end)",
    );
    let dir = std::env::temp_dir().join(format!("netpol-fuzz-report-{}", std::process::id()));
    let (out, report) = (dir.join("out"), dir.join("report"));
    let status = std::process::Command::new(env!("CARGO_BIN_EXE_netpol"))
        .args([
            "fuzz",
            "-q",
            "--seed",
            "1",
            "--cases",
            "40",
            "--max-found",
            "1",
        ])
        .arg("--enforcer")
        .arg(script.path())
        .arg("--out")
        .arg(&out)
        .arg("--report")
        .arg(&report)
        .status()
        .expect("netpol runs");
    assert_eq!(status.code(), Some(1), "a disagreement fails the run");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(report.join("report.json")).unwrap())
            .unwrap();
    let fuzz = &json["fuzz"];
    assert_eq!(fuzz["seed"], 1);
    assert_eq!(fuzz["disagreements"], 1, "{fuzz}");
    assert!(fuzz["probes"].as_u64().unwrap() > 1000, "{fuzz}");
    assert!(fuzz["features"]["egress"].as_u64().unwrap() > 0, "{fuzz}");
    let reproducer = fuzz["reproducers"][0].as_str().expect("one reproducer");
    let failed: Vec<&serde_json::Value> = json["scenarios"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["file"] == reproducer)
        .collect();
    assert_eq!(failed.len(), 1, "the reproducer is among the scenarios");
    assert_eq!(failed[0]["status"], "fail");
    let md = std::fs::read_to_string(report.join("report.md")).unwrap();
    assert!(
        md.contains("| fuzz found | 1 disagreement, 0 flaky, 0 errors, 0 generator bugs |"),
        "{md}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
