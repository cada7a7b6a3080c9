//! `netpol fuzz` finds realistic plugin bugs and shrinks them to a small
//! scenario that replays the failure; against the reference enforcer it
//! finds nothing. The broken plugins are the reference enforcer behind a
//! `jq` filter that bends the state, one bug each. Needs root (and jq).

mod common;

use common::*;
use std::path::PathBuf;
use std::time::Duration;

use netpol::fuzzer::{CaseOutcome, FuzzOptions, FuzzSummary, fuzz};
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
) -> (FuzzSummary, Vec<PathBuf>) {
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
            summary.found,
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
    let bugs = [
        (
            "no-except",
            "del(.networkPolicies[].spec.ingress[]?.from[]?.ipBlock.except) | del(.networkPolicies[].spec.egress[]?.to[]?.ipBlock.except)",
        ),
        (
            "ports-ignored",
            "del(.networkPolicies[].spec.ingress[]?.ports) | del(.networkPolicies[].spec.egress[]?.ports)",
        ),
    ];
    for (name, filter) in bugs {
        let script = bent(name, filter);
        let broken = script
            .start(Duration::from_secs(60))
            .await
            .expect("version");
        let out = std::env::temp_dir().join(format!("netpol-fuzz-{name}-{}", std::process::id()));
        let (summary, files) = run_fuzz(&broken, &options(1, 60, out.clone())).await;
        assert!(
            summary.found > 0,
            "{name}: not found in 60 cases: {summary:?}"
        );
        assert_eq!(summary.generator_bugs, 0);
        // The reproducer replays: the broken plugin fails it, the reference passes it.
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
}
