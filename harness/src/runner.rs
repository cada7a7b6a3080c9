//! `netpol run`: per scenario, build its lab, let the enforcer program it,
//! probe every round, judge every probe, tear the lab down.

use std::io::BufRead;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use std::collections::BTreeSet;

use crate::cluster::Protocol;
use crate::enforcer::{self, Enforcer};
use crate::features;
use crate::host_guard;
use crate::probe::Probe;

use crate::expect::Verdict;
use crate::judge::{judge_round, scenario_result};
use crate::lab::{Lab, ProbeOptions, keep};
use crate::model::Model;
use crate::results::{LabTimings, ScenarioResult, Status};
use crate::scenario::Scenario;

#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    pub probe: ProbeOptions,
    /// Leave each lab's namespaces up (named under /run/netns) after the run.
    pub keep: bool,
    /// Wait for Enter once each lab is up, to inspect it with its servers running.
    pub pause: bool,
    /// Before the first sync, check that the lab allows every probe (a lab
    /// that denies anything on its own would turn into wrong verdicts).
    pub preflight: bool,
    /// Features declared unsupported: scenarios needing them are not run;
    /// with `sctp`, no SCTP probe is sent.
    pub unsupported: BTreeSet<String>,
}

impl RunOptions {
    /// The probes of `s` this run sends.
    fn probes(&self, s: &Scenario) -> Vec<Probe> {
        let sctp = !self.unsupported.contains("sctp");
        s.probes
            .iter()
            .copied()
            .filter(|p| sctp || p.protocol != Protocol::Sctp)
            .collect()
    }
}

/// Names labs uniquely within this process: `netpol-<pid>-<n>`.
fn lab_label() -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(1);
    format!(
        "netpol-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

fn errored(
    s: &Scenario,
    rounds: Vec<crate::results::RoundResult>,
    started: Instant,
    message: String,
) -> ScenarioResult {
    let mut r = scenario_result(s, rounds, started);
    r.status = Status::Error;
    r.message = Some(message);
    r
}

/// Runs one scenario in a lab of its own. Failures of the lab or the
/// enforcer make the scenario an error, never a pass or a deny; the lab is
/// torn down in every case.
pub async fn run_scenario(
    s: &Scenario,
    enforcer: &Enforcer,
    options: &RunOptions,
) -> ScenarioResult {
    let started = Instant::now();
    let missing: Vec<String> = features::needed(s)
        .into_iter()
        .filter(|f| options.unsupported.contains(*f))
        .map(str::to_string)
        .collect();
    if !missing.is_empty() {
        let mut r = scenario_result(s, Vec::new(), started);
        r.status = Status::Unsupported;
        r.message = Some(format!(
            "unsupported (declared): needs {}",
            missing.join(", ")
        ));
        return r;
    }
    let host = host_guard::Watch::start(enforcer, options.keep).await;
    let label = lab_label();
    let lab = match Lab::build(s.cluster(), &label).await {
        Ok(lab) => lab,
        Err(e) => return errored(s, Vec::new(), started, format!("cannot build the lab: {e}")),
    };
    let setup_ms = started.elapsed().as_secs_f64() * 1e3;
    let probes = options.probes(s);
    let t = Instant::now();
    let mut failure = None;
    let preflight_ms = if options.preflight && matches!(enforcer, Enforcer::Plugin(_)) {
        failure = preflight(s, &lab, &probes, &options.probe).await.err();
        Some(t.elapsed().as_secs_f64() * 1e3)
    } else {
        None
    };
    let mut rounds = Vec::new();
    if failure.is_none() {
        failure = run_rounds(s, enforcer, options, &lab, &label, &probes, &mut rounds)
            .await
            .err();
    }
    // The enforcer cleans up even after a failure (its failure to do so is
    // one too), except in a lab kept for inspection.
    let t = Instant::now();
    let cleanup = match (enforcer, s.rounds.last()) {
        (Enforcer::Plugin(plugin), Some(last)) if !options.keep => plugin
            .cleanup(&enforcer::state(&lab, &label, last))
            .await
            .err()
            .map(|e| e.to_string()),
        _ => None,
    };
    let cleanup_ms =
        matches!(enforcer, Enforcer::Plugin(_)).then(|| t.elapsed().as_secs_f64() * 1e3);
    // The host must be as before the run once the plugin cleaned up.
    let host = host.check(&s.name).await;
    let failure: Vec<String> = [failure, cleanup, host].into_iter().flatten().collect();
    let failure = (!failure.is_empty()).then(|| failure.join("\n"));
    let kept = options.keep.then(|| keep::keep(&lab));
    let teardown_ms = lab.teardown().await.as_secs_f64() * 1e3;
    let mut result = match failure {
        Some(message) => errored(s, rounds, started, message),
        None => scenario_result(s, rounds, started),
    };
    result.lab = Some(LabTimings {
        setup_ms,
        preflight_ms,
        cleanup_ms,
        teardown_ms,
    });
    match kept {
        Some(Ok(k)) => result.kept = Some(k.instructions()),
        Some(Err(e)) => result.kept = Some(format!("--keep failed: {e}")),
        None => {}
    }
    result
}

/// Syncs, probes and judges every round; the first failure of the lab or
/// the enforcer ends the scenario.
async fn run_rounds(
    s: &Scenario,
    enforcer: &Enforcer,
    options: &RunOptions,
    lab: &Lab,
    label: &str,
    probes: &[Probe],
    rounds: &mut Vec<crate::results::RoundResult>,
) -> Result<(), String> {
    for round in &s.rounds {
        let model = Model::new(&round.cluster, &round.policies)
            .map_err(|e| format!("round {}: {e}", round.name))?;
        let sync_ms = match enforcer {
            // Nothing programs the lab: there is nothing to converge.
            Enforcer::None => None,
            Enforcer::Plugin(plugin) => {
                let took = plugin
                    .sync(&enforcer::state(lab, label, round))
                    .await
                    .map_err(|e| format!("round {}: {e}", round.name))?;
                Some(took.as_secs_f64() * 1e3)
            }
        };
        if options.pause {
            pause(s, lab, &round.name).await;
        }
        let t = Instant::now();
        let observations = lab.probe(probes, &options.probe).await;
        let duration_ms = t.elapsed().as_secs_f64() * 1e3;
        let mut judged = judge_round(round, &model, probes, &observations, duration_ms);
        judged.sync_ms = sync_ms;
        rounds.push(judged);
    }
    Ok(())
}

/// Before the first sync, the lab must allow every probe: a lab that
/// denies anything on its own would turn into wrong verdicts.
async fn preflight(
    s: &Scenario,
    lab: &Lab,
    probes: &[Probe],
    options: &ProbeOptions,
) -> Result<(), String> {
    let observed = lab.probe(probes, options).await;
    match probes
        .iter()
        .zip(&observed)
        .find(|(_, o)| **o != Ok(Verdict::Allowed))
    {
        None => Ok(()),
        Some((p, o)) => {
            let c = s.cluster();
            Err(format!(
                "lab preflight: before any enforcer sync, {} -> {} {}/{} was {o:?}, not allowed; the lab itself is broken",
                c.endpoint_name(p.from),
                c.endpoint_name(p.to),
                p.port,
                p.protocol
            ))
        }
    }
}

/// Prints how to enter each namespace, then waits for Enter: the lab is up,
/// its servers run, and the enforcer has synced the round's state.
async fn pause(s: &Scenario, lab: &Lab, round: &str) {
    println!(
        "lab of {} ready for round {round} (synced, about to probe): enter a namespace with",
        s.name
    );

    for ns in lab.namespaces() {
        println!(
            "  nsenter --net={} bash   # {}",
            ns.path().display(),
            ns.name()
        );
    }
    println!("press Enter to continue");
    let _ =
        tokio::task::spawn_blocking(|| std::io::stdin().lock().read_line(&mut String::new())).await;
}

/// Whether this process can build labs; an explanation if not.
pub fn check_privileges() -> Result<(), String> {
    crate::lab::NetNs::create("privilege-check").map(drop).map_err(|e| {
        format!("netpol run builds network namespaces and needs root (CAP_SYS_ADMIN and CAP_NET_ADMIN); creating one failed: {e}")
    })
}
