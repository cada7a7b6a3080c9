//! `netpol fuzz`: generated scenarios against an enforcer, the model as the
//! oracle; a disagreement is re-run (a flake is reported as one), shrunk in
//! the lab while the same disagreement persists, and written out as an
//! ordinary scenario whose expectations are the model's, saying so.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use futures::StreamExt;
use serde_json::{Value, json};
use tokio::sync::mpsc;

use crate::cluster::{IpFamily, Protocol};
use crate::enforcer::Enforcer;
use crate::features::Feature;
use crate::model::Model;
use crate::results::{FuzzStats, Observed, Outcome, ScenarioResult, Status};
use crate::runner::{Event, RunOptions, run_scenario};
use crate::scenario::{self, Scenario};
use crate::stop;
use netpol_core::fuzz::{Allowed, generate, smaller, to_yaml};

/// How a fuzz run goes.
#[derive(Clone, Debug)]
pub struct FuzzOptions {
    pub seed: u64,
    /// Cases to run (`--cases`), or `None` to go on until `time`.
    pub cases: Option<u64>,
    pub time: Option<Duration>,
    /// `--case K`: replay this case only.
    pub only: Option<u64>,
    pub run: RunOptions,
    /// Where reproducers go.
    pub out: PathBuf,
    /// Most lab runs one shrink may take.
    pub shrink_budget: usize,
    /// Stop once this many disagreements were found (`--max-found`).
    pub max_found: Option<usize>,
}

/// A probe on which the enforcer and the model disagree, as the reports
/// name it, with what the enforcer did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Disagreement {
    pub from: String,
    pub to: String,
    pub port: u16,
    pub protocol: Protocol,
    pub family: IpFamily,
    pub observed: Observed,
}

impl std::fmt::Display for Disagreement {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (observed, model) = match self.observed {
            Observed::Allowed => ("allowed", "denied"),
            _ => ("denied", "allowed"),
        };
        write!(
            f,
            "{} -> {} {}/{} over {}: the enforcer {observed}, the model {model}",
            self.from, self.to, self.port, self.protocol, self.family
        )
    }
}

/// What happened to one case.
#[derive(Debug)]
pub enum CaseOutcome {
    /// Every probe as the model says.
    Agreed { probes: usize },
    /// The generator wrote a scenario the loader rejects: its bug.
    GeneratorBug(String),
    /// The lab or the enforcer failed (not a verdict).
    Error(String),
    /// A disagreement that did not come back when the case was run again.
    Flaky(Disagreement),
    /// A disagreement, shrunk and written out.
    Found(Box<Finding>),
}

#[derive(Debug)]
pub struct Finding {
    pub disagreement: Disagreement,
    /// The reproducer file, and its text.
    pub file: PathBuf,
    pub yaml: String,
    pub policies: usize,
    /// The model's explanation of the disagreeing probe.
    pub explanation: String,
    /// Lab runs the shrink took.
    pub runs: usize,
}

/// A finished case, for the caller to show.
#[derive(Debug)]
pub struct CaseReport {
    pub case: u64,
    pub features: Vec<Feature>,
    /// Probes judged in the case's first run.
    pub probes: usize,
    pub outcome: CaseOutcome,
    /// For the reports, a case that did not agree: the reproducer's run
    /// (a disagreement), or the case's own (a flake, an error).
    pub result: Option<ScenarioResult>,
}

/// Runs the cases, `options.run.jobs` at a time, calling `each` as each
/// ends, until the count or the time is reached, the run is stopped, or
/// the enforcer stops answering (`Enforcer::unresponsive`).
pub async fn fuzz(
    enforcer: &Enforcer,
    options: &FuzzOptions,
    mut each: impl FnMut(CaseReport),
) -> FuzzStats {
    let started = Instant::now();
    let numbers: Box<dyn Iterator<Item = u64> + Send> = match (options.only, options.cases) {
        (Some(k), _) => Box::new(std::iter::once(k)),
        (None, Some(n)) => Box::new(0..n),
        (None, None) => Box::new(0..),
    };
    // No new case after the time, or once `max_found` were found.
    let found = &std::sync::atomic::AtomicUsize::new(0);
    let in_time = move |_: &u64| {
        let enough = options
            .max_found
            .is_some_and(|m| found.load(std::sync::atomic::Ordering::Relaxed) >= m);
        std::future::ready(
            !enough
                && enforcer.unresponsive().is_none()
                && options.time.is_none_or(|t| started.elapsed() < t),
        )
    };
    let mut summary = FuzzStats {
        seed: options.seed,
        ..FuzzStats::default()
    };
    let mut results = stop::until_stopped(futures::stream::iter(numbers))
        .take_while(in_time)
        .map(|case| async move { run_case(enforcer, options, case).await })
        .buffer_unordered(options.run.jobs.max(1));
    while let Some(report) = results.next().await {
        summary.cases += 1;
        summary.probes += report.probes;
        for f in &report.features {
            *summary.features.entry(*f).or_default() += 1;
        }
        match &report.outcome {
            CaseOutcome::Agreed { .. } => {}
            CaseOutcome::GeneratorBug(_) => summary.generator_bugs += 1,
            CaseOutcome::Error(_) => summary.errors += 1,
            CaseOutcome::Flaky(_) => summary.flaky += 1,
            CaseOutcome::Found(f) => {
                summary.disagreements += 1;
                summary.reproducers.push(f.file.display().to_string());
                found.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
        }
        each(report);
    }
    let seconds = started.elapsed().as_secs_f64();
    if seconds > 0.0 {
        summary.cases_per_second = summary.cases as f64 / seconds;
    }
    summary
}

async fn run_case(enforcer: &Enforcer, options: &FuzzOptions, case: u64) -> CaseReport {
    let allowed = Allowed::new(&options.run.unsupported);
    let doc = generate(options.seed, case, &allowed);
    let s = match load(&doc) {
        Ok(s) => s,
        Err(e) => {
            return CaseReport {
                case,
                features: Vec::new(),
                probes: 0,
                outcome: CaseOutcome::GeneratorBug(format!("{e}\n{}", to_yaml(&doc))),
                result: None,
            };
        }
    };
    let features: Vec<Feature> = crate::features::needed(&s).into_iter().collect();
    let mut result = run(&s, enforcer, options).await;
    let probes = result.rounds.iter().map(|r| r.probes.len()).sum();
    let (outcome, result) = match result.status {
        Status::Pass => (CaseOutcome::Agreed { probes }, None),
        Status::Fail => {
            let first = disagreements(&result).remove(0);
            // A disagreement must come back before it is shrunk.
            let again = run(&s, enforcer, options).await;
            if disagreements(&again).contains(&first) {
                match shrink(doc, &first, enforcer, options, case).await {
                    Ok((finding, reproduced)) => {
                        (CaseOutcome::Found(Box::new(finding)), Some(reproduced))
                    }
                    Err(e) => (CaseOutcome::Error(e), Some(result)),
                }
            } else {
                result.message = Some(format!(
                    "flaky: {first}, and not when the case was run again"
                ));
                (CaseOutcome::Flaky(first), Some(result))
            }
        }
        _ => (
            CaseOutcome::Error(result.message.clone().unwrap_or_default()),
            Some(result),
        ),
    };
    CaseReport {
        case,
        features,
        probes,
        outcome,
        result,
    }
}

fn load(doc: &Value) -> Result<Scenario, String> {
    scenario::load_str(Path::new("fuzz.yaml"), &to_yaml(doc))
        .loaded
        .map_err(|e| e.to_string())
}

async fn run(s: &Scenario, enforcer: &Enforcer, options: &FuzzOptions) -> ScenarioResult {
    let (events, _) = mpsc::unbounded_channel::<Event>();
    run_scenario(s, enforcer, &options.run, &events).await
}

/// Every probe of the result that did not get the model's verdict.
fn disagreements(result: &ScenarioResult) -> Vec<Disagreement> {
    let mut out = Vec::new();
    for round in &result.rounds {
        for p in round.probes.iter().filter(|p| p.result == Outcome::Fail) {
            let d = Disagreement {
                from: p.from.clone(),
                to: p.to.clone(),
                port: p.port,
                protocol: p.protocol,
                family: p.family,
                observed: p.observed,
            };
            if !out.contains(&d) {
                out.push(d);
            }
        }
    }
    out
}

/// Makes `doc` as small as it goes while the enforcer still disagrees with
/// the model on `target`: first only that probe, then one removal at a
/// time (lists' elements, mappings' keys), kept when the disagreement
/// stays. Then writes the reproducer, and runs it once more for the
/// reports.
async fn shrink(
    mut doc: Value,
    target: &Disagreement,
    enforcer: &Enforcer,
    options: &FuzzOptions,
    case: u64,
) -> Result<(Finding, ScenarioResult), String> {
    let mut runs = 0;
    let still = |result: &ScenarioResult| disagreements(result).contains(target);
    // Only the probe that disagrees.
    let narrowed = narrow(&doc, target);
    if let Ok(s) = load(&narrowed) {
        runs += 1;
        if still(&run(&s, enforcer, options).await) {
            doc = narrowed;
        }
    }
    let mut changed = true;
    while changed && runs < options.shrink_budget {
        changed = false;
        let mut i = 0;
        loop {
            let candidates = smaller(&doc);
            let Some(candidate) = candidates.into_iter().nth(i) else {
                break;
            };
            i += 1;
            let Ok(s) = load(&candidate) else { continue };
            if runs >= options.shrink_budget || stop::requested().is_some() {
                break;
            }
            runs += 1;
            if still(&run(&s, enforcer, options).await) {
                doc = candidate;
                changed = true;
                // The same position now holds the next candidate.
                i -= 1;
            }
        }
    }
    let finding = reproducer(doc, target, enforcer, options, case, runs)?;
    let written = scenario::load(&finding.file)
        .loaded
        .map_err(|e| format!("the reproducer does not load (a bug of netpol fuzz): {e}"))?;
    let reproduced = run(&written, enforcer, options).await;
    Ok((finding, reproduced))
}

/// The document with only `target`'s probe.
fn narrow(doc: &Value, target: &Disagreement) -> Value {
    let mut doc = doc.clone();
    let mut probes = json!({
        "from": [target.from],
        "to": [target.to],
        "ports": [{"port": target.port, "protocol": target.protocol.as_str()}],
    });
    if doc.get("ipFamilies").is_some() {
        probes["families"] = json!([target.family.name()]);
    }
    doc["probes"] = probes;
    doc
}

fn reproducer(
    mut doc: Value,
    target: &Disagreement,
    enforcer: &Enforcer,
    options: &FuzzOptions,
    case: u64,
    runs: usize,
) -> Result<Finding, String> {
    let s = load(&doc)?;
    let name = format!("fuzz-{}-{case}", options.seed);
    let against = enforcer.info().map_or_else(
        || "no enforcer".to_string(),
        |i| format!("{} {}", i.name, i.version),
    );
    doc["name"] = json!(name);
    doc["description"] = json!(format!(
        "Found by `netpol fuzz --seed {} --case {case}` against {against}: {target}. \
         Expectations from the model; check them against the spec \
         (docs/spec-notes.md) before adding this file to a suite.",
        options.seed
    ));
    doc["tags"] = json!(["fuzz"]);
    // Every round's expectation: the model's verdict of each probe.
    let mut explanation = String::new();
    for (r, round) in s.rounds.iter().enumerate() {
        let model = Model::new(&round.cluster, &round.policies, &round.cluster_policies)
            .map_err(|e| e.to_string())?;
        let rules: Vec<Value> = s
            .probes
            .iter()
            .map(|p| {
                let verdict = if model.allows(p) { "allowed" } else { "denied" };
                let mut rule = json!({
                    "from": round.cluster.endpoint_name(p.from),
                    "to": round.cluster.endpoint_name(p.to),
                    "port": p.port,
                    "protocol": p.protocol.as_str(),
                    "verdict": verdict,
                });
                if !round.cluster.is_ipv4_only() {
                    rule["family"] = json!(p.family.name());
                }
                rule
            })
            .collect();
        let expect = json!({"default": "allowed", "rules": rules});
        if r == 0 {
            doc["expect"] = expect;
        } else if let Some(step) = doc["steps"].get_mut(r - 1) {
            step["expect"] = expect;
        }
        let is_target = |p: &&crate::probe::Probe| {
            round.cluster.endpoint_name(p.from) == target.from
                && round.cluster.endpoint_name(p.to) == target.to
                && (p.port, p.protocol, p.family) == (target.port, target.protocol, target.family)
        };
        if explanation.is_empty()
            && let Some(p) = s.probes.iter().find(is_target)
        {
            explanation = model.explain(p).to_string();
        }
    }
    let yaml = to_yaml(&doc);
    load(&doc).map_err(|e| format!("the reproducer does not load (a bug of netpol fuzz): {e}"))?;
    std::fs::create_dir_all(&options.out)
        .map_err(|e| format!("cannot create {}: {e}", options.out.display()))?;
    let file = options.out.join(format!("{name}.yaml"));
    std::fs::write(&file, &yaml).map_err(|e| format!("cannot write {}: {e}", file.display()))?;
    let policies = s.rounds.iter().map(|r| r.policies.len()).max().unwrap_or(0);
    Ok(Finding {
        disagreement: target.clone(),
        file,
        yaml,
        policies,
        explanation,
        runs,
    })
}
