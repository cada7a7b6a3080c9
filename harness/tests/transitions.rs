//! Enforcers that converge in their own time, and what happens while they
//! change the dataplane: an asynchronous plugin is polled until each round
//! converges; a plugin that rewrites its rules non-atomically is caught
//! leaking, one that drops everything while rewriting is caught with
//! outages; the reference enforcer shows neither. The test plugins are
//! `examples/converging/plugin.sh` (the reference enforcer, applied late or
//! in two steps). Needs root and jq.

mod common;

use common::*;
use std::path::PathBuf;
use std::time::Duration;

use netpol::enforcer::{Enforcer, EnforcerSpec};
use netpol::results::{ScenarioResult, Status, TransitionKind};
use netpol::runner::{RunOptions, WatchMode, run_scenario};

/// `examples/converging/plugin.sh MODE NETPOL`.
async fn converging(mode: &str) -> Enforcer {
    require_root();
    let plugin = repo().join("examples/converging/plugin.sh");
    Enforcer::start(
        &EnforcerSpec::Path(PathBuf::from("/bin/sh")),
        &[
            plugin.display().to_string(),
            mode.to_string(),
            env!("CARGO_BIN_EXE_netpol").to_string(),
        ],
        Duration::from_secs(60),
    )
    .await
    .expect("the converging plugin answers `version`")
}

async fn run(file: &str, enforcer: &Enforcer, options: &RunOptions) -> ScenarioResult {
    run_scenario(&scenario(file), enforcer, options, &events()).await
}

fn kinds(r: &ScenarioResult) -> Vec<(TransitionKind, bool)> {
    r.transitions().map(|(_, t)| (t.kind, t.fails)).collect()
}

/// Scenarios with steps that allow and deny, and pods that come and go:
/// every kind of change.
const CHANGING: [&str; 4] = [
    "steps/delete-policy.yaml",
    "steps/and-selector-relabel.yaml",
    "steps/delete-and-recreate.yaml",
    "steps/pods-come-and-go.yaml",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_asynchronous_plugin_is_polled_until_each_round_converges() {
    // Changes applied 0 to 1.5 s after `sync` returned.
    let enforcer = converging("async:1500").await;
    assert_eq!(
        the_plugin(&enforcer).info.sync,
        netpol_protocol::SyncMode::Async
    );
    // And one where a ClusterNetworkPolicy denies pods their own node (the
    // harness's own checks of the lab expect what the model says there).
    for file in CHANGING
        .into_iter()
        .chain(["cluster-network-policy/own-node-admin-deny.yaml"])
    {
        let r = run(file, &enforcer, &RunOptions::default()).await;
        assert_passes(&r);
        for round in &r.rounds {
            let c = round.convergence.as_ref().expect("a convergence time");
            assert!(c.converged && c.polls >= 1, "{file} {}: {c:?}", round.name);
        }
        // A change applied late was polled for: more than one poll somewhere.
        assert!(
            r.rounds
                .iter()
                .any(|x| x.convergence.as_ref().unwrap().polls > 1),
            "{file}: every round converged at the first poll"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_round_that_never_converges_fails_with_the_time_waited() {
    // Applied up to 60 s late, so never within the 1 s given.
    let enforcer = converging("async:60000").await;
    let options = RunOptions {
        converge_timeout: Duration::from_secs(1),
        ..RunOptions::default()
    };
    let r = run("steps/delete-policy.yaml", &enforcer, &options).await;
    assert_eq!(r.status, Status::Fail, "{}", terminal(&r));
    let message = r.message.clone().unwrap_or_default();
    assert!(message.contains("did not converge"), "{message}");
    let c = r.rounds[0].convergence.as_ref().unwrap();
    assert!(!c.converged && c.ms >= 1000.0 && c.polls >= 1, "{c:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rewrite_that_is_not_atomic_is_caught_leaking() {
    let enforcer = converging("leaky").await;
    let r = run(
        "steps/delete-policy.yaml",
        &enforcer,
        &RunOptions::default(),
    )
    .await;
    assert_eq!(r.status, Status::Fail, "{}", terminal(&r));
    // Every probe got its verdict once the change was done: only the leaks fail it.
    assert!(
        r.rounds
            .iter()
            .flat_map(|x| &x.probes)
            .all(|p| p.result == netpol::results::Outcome::Pass)
    );
    let (round, leak) = r.transitions().next().expect("a leak");
    assert_eq!((leak.kind, leak.fails), (TransitionKind::Leak, true));
    // With its timeline: seen allowed after the change started, before it ended.
    let w = round.watch.as_ref().unwrap();
    assert!(leak.first_ms > 0.0 && leak.last_ms <= w.ms, "{leak:?}");
    assert!(leak.timeline.len() >= 2, "{leak:?}");
    let text = netpol::report::terminal::details(&r);
    assert!(
        text.contains("leak: ")
            && text.contains("though both states deny it")
            && text.contains("timeline: "),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn old_rules_removed_before_the_new_ones_are_in_is_an_outage() {
    let enforcer = converging("outage").await;
    let r = run(
        "steps/delete-policy.yaml",
        &enforcer,
        &RunOptions::default(),
    )
    .await;
    // Reported, not failed...
    assert_passes(&r);
    let found = kinds(&r);
    assert!(
        !found.is_empty() && found.iter().all(|&k| k == (TransitionKind::Outage, false)),
        "{found:?}"
    );
    // ...unless --strict-transitions.
    let strict = RunOptions {
        strict_transitions: true,
        ..RunOptions::default()
    };
    let r = run("steps/delete-policy.yaml", &enforcer, &strict).await;
    assert_eq!(r.status, Status::Fail, "{}", terminal(&r));
    // --no-watch sees nothing, and says so: no watch in the rounds.
    let quiet = RunOptions {
        watch: WatchMode::Never,
        ..RunOptions::default()
    };
    let r = run("steps/delete-policy.yaml", &enforcer, &quiet).await;
    assert_passes(&r);
    assert!(r.rounds.iter().all(|x| x.watch.is_none()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_pod_reachable_before_its_policies_apply_is_caught() {
    let enforcer = converging("late-pods").await;
    let r = run(
        "steps/pods-come-and-go.yaml",
        &enforcer,
        &RunOptions::default(),
    )
    .await;
    assert_eq!(r.status, Status::Fail, "{}", terminal(&r));
    // Every leak is to or from a pod its step adds, in that step's round.
    let added = [
        ("add-client-x-c", "x/c"),
        ("add-web-x-d", "x/d"),
        ("add-y-b", "y/b"),
    ];
    let leaks: Vec<_> = r.transitions().collect();
    assert!(!leaks.is_empty());
    for (round, t) in leaks {
        assert_eq!(t.kind, TransitionKind::Leak);
        let pod = added
            .iter()
            .find(|(name, _)| *name == round.name)
            .map(|(_, pod)| *pod);
        assert!(
            pod.is_some_and(|pod| t.from == pod || t.to == pod),
            "a leak of a pod that is not new: round {} {} -> {}",
            round.name,
            t.from,
            t.to
        );
    }
    // The web pod added to an isolated namespace was reachable by a pod its policy does not admit.
    assert!(
        r.transitions()
            .any(|(round, t)| round.name == "add-web-x-d" && t.to == "x/d")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reference_enforcer_neither_leaks_nor_drops_while_it_changes() {
    let enforcer = reference().await;
    let options = RunOptions {
        watch: WatchMode::Always,
        ..RunOptions::default()
    };
    for file in CHANGING {
        let r = run(file, &enforcer, &options).await;
        assert_passes(&r);
        assert!(
            r.rounds.iter().all(|x| x.watch.is_some()),
            "{file}: every round watched"
        );
        assert_eq!(kinds(&r), [], "{file}:\n{}", terminal(&r));
        // Blocking: converged when `sync` returned, without polls.
        for round in &r.rounds {
            let c = round.convergence.as_ref().unwrap();
            assert_eq!((c.polls, c.converged, Some(c.ms)), (0, true, round.sync_ms));
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_becomes_of_established_connections_is_observed_never_judged() {
    use netpol::results::EstablishedOutcome;
    let outcomes = |r: &ScenarioResult| -> Vec<EstablishedOutcome> {
        r.rounds
            .iter()
            .flat_map(|x| &x.established)
            .map(|c| c.outcome)
            .collect()
    };
    // The reference keeps them (conntrack accepts established traffic first).
    let r = run(
        "steps/established-connections.yaml",
        &reference().await,
        &RunOptions::default(),
    )
    .await;
    assert_passes(&r);
    assert_eq!(
        outcomes(&r),
        [EstablishedOutcome::Kept; 2],
        "{}",
        terminal(&r)
    );
    // A plugin that forgets connections after each sync (as one that
    // rescans conntrack) cuts them: still a pass, the report says so.
    let netpol = env!("CARGO_BIN_EXE_netpol");
    let forgetful = Script::reading_input(
        "forgets-connections",
        &format!(
            "case \"$1\" in version) {netpol} reference-enforcer version;; \
             sync) state=$(cat); printf '%s' \"$state\" | {netpol} reference-enforcer sync || exit $?; \
               for ns in $(printf '%s' \"$state\" | jq -r '.nodes[].netns'); do \
                 nsenter --net=\"$ns\" conntrack -F >/dev/null 2>&1; done; exit 0;; \
             *) {netpol} reference-enforcer \"$1\";; esac"
        ),
    );
    let enforcer = forgetful
        .start(Duration::from_secs(60))
        .await
        .expect("version");
    let r = run(
        "steps/established-connections.yaml",
        &enforcer,
        &RunOptions::default(),
    )
    .await;
    assert_passes(&r);
    assert_eq!(
        outcomes(&r),
        [EstablishedOutcome::Cut; 2],
        "{}",
        terminal(&r)
    );
    let mut report =
        netpol::run::ReportBuilder::new(netpol::results::Mode::Run, Default::default());
    report.add(0, r);
    let text = netpol::report::markdown::render(&report.finish());
    assert!(
        text.contains("2 cut (x/b -> x/a 80/TCP, x/c -> x/a 80/TCP)"),
        "{text}"
    );
}

fn terminal(r: &ScenarioResult) -> String {
    format!(
        "{}\n{}",
        netpol::report::terminal::scenario_line(r),
        netpol::report::terminal::details(r)
    )
}
