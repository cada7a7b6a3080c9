//! `netpol run`: a suite of scenarios, each in a lab of its own, against
//! one enforcer. The stages, in order:
//!
//! 1. [`start`]: the enforcer answers `version`; with the profile, that
//!    gives the features declared unsupported and the run's context;
//! 2. [`run_suite`]: scenarios run in parallel (`jobs` labs at a time) until
//!    all are done or a signal stops the run, each through [`run_scenario`]:
//!    build the lab, preflight, per round sync + probe + judge, the
//!    enforcer's cleanup, teardown;
//! 3. the results, in the suite's order, make the [`Report`]; what happens
//!    on the way reaches the caller as [`Event`]s (the console prints them).

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use futures::StreamExt;
use tokio::sync::{mpsc, oneshot, watch};

use crate::cluster::{Endpoint, Protocol};
use crate::enforcer::{self, Enforcer, EnforcerError, EnforcerSpec};
use crate::expect::Verdict;
use crate::features::{Feature, Profile};
use crate::host_guard;
use crate::judge::{
    self, Observation, judge_round, not_probed_result, probes_to_send, scenario_result,
};
use crate::lab::{Lab, LabError, ProbeOptions, keep};
use crate::model::{CompileError, Model};
use crate::probe::{Probe, sanity_probes};
use crate::results::{
    Convergence, EnforcerInfo, Environment, EstablishedConnection, EstablishedOutcome, LabTimings,
    Mode, Observed, Report, RoundResult, ScenarioResult, Status,
};
use crate::run::{ReportBuilder, RunContext};
use crate::scenario::Scenario;
use crate::stop::{self, StopSignal};
use crate::suite::{Entry, Loaded};
use crate::transition;
use netpol_protocol::SyncMode;

#[derive(Debug, Clone)]
pub struct RunOptions {
    pub probe: ProbeOptions,
    /// Scenarios run at once, each in its own lab.
    pub jobs: usize,
    /// Leave each lab's namespaces up (named under /run/netns) after the run.
    pub keep: bool,
    /// Before each round's probes, wait until the caller resumes (see [`Event::Paused`]).
    pub pause: bool,
    /// Before the first sync, check that the lab allows every probe (a lab
    /// that denies anything on its own would turn into wrong verdicts).
    pub preflight: bool,
    /// Features declared unsupported: scenarios needing them are not run;
    /// with `sctp`, no SCTP probe is sent.
    pub unsupported: BTreeSet<Feature>,
    /// `--require-expect`: a round without a hand-written `expect` is an
    /// error instead of being judged against the model.
    pub require_expect: bool,
    /// `--max-failures N` (`--fail-fast`: 1): once N scenarios failed or
    /// errored, no more start (those in flight finish).
    pub max_failures: Option<usize>,
    /// An asynchronous enforcer (`"sync": "async"`): how long after the
    /// start of `sync` a round's probes are polled for convergence before
    /// the round is judged on the last observation.
    pub converge_timeout: Duration,
    /// Which rounds get a transition watch (see [`crate::watch`]).
    pub watch: WatchMode,
    /// `--strict-transitions`: an outage fails the scenario (a leak always does).
    pub strict_transitions: bool,
}

/// Which rounds get a transition watch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WatchMode {
    /// Rounds with at most [`WATCH_AUTO_PAIRS`] probes to watch (the default).
    Auto,
    /// Every round (`--watch`).
    Always,
    /// None (`--no-watch`).
    Never,
}

/// The default watch is cheap: every watched probe is sent every
/// [`crate::watch::INTERVAL`], so the watch of a round with more pairs than
/// this waits for `--watch`.
pub const WATCH_AUTO_PAIRS: usize = 128;

/// The default of `--converge-timeout`.
pub const CONVERGE_TIMEOUT: Duration = Duration::from_secs(10);

/// Polls for convergence start at most this often: a poll whose probes
/// all answer at once does not spin.
const POLL_INTERVAL: Duration = Duration::from_millis(20);

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            probe: ProbeOptions::default(),
            jobs: 4,
            keep: false,
            pause: false,
            preflight: true,
            unsupported: BTreeSet::new(),
            require_expect: false,
            max_failures: None,
            converge_timeout: CONVERGE_TIMEOUT,
            watch: WatchMode::Auto,
            strict_transitions: false,
        }
    }
}

impl RunOptions {
    /// The probes of `probes` this run can send: no SCTP where it is declared unsupported.
    fn sendable(&self, probes: &[Probe]) -> Vec<Probe> {
        let sctp = !self.unsupported.contains(&Feature::Sctp);
        probes
            .iter()
            .copied()
            .filter(|p| sctp || p.protocol != Protocol::Sctp)
            .collect()
    }
}

/// What happens during a run, as it happens.
#[derive(Debug)]
pub enum Event {
    /// The `index`-th scenario of the suite finished (they finish in any order).
    Finished {
        index: usize,
        result: Box<ScenarioResult>,
    },
    /// `--pause`: a lab is up, its servers run, the enforcer has synced the
    /// round; the lab waits for `resume` before probing.
    Paused(Pause),
    /// `--keep`: a lab was kept after its scenario.
    Kept {
        scenario: String,
        instructions: String,
    },
}

/// A lab waiting before a round's probes.
#[derive(Debug)]
pub struct Pause {
    pub scenario: String,
    pub round: String,
    /// Each namespace's name and a path to enter it with (`nsenter --net=PATH`).
    pub namespaces: Vec<(String, PathBuf)>,
    /// Send (or drop) to let the lab go on.
    pub resume: oneshot::Sender<()>,
}

/// How a suite run ended.
#[derive(Debug)]
pub enum SuiteEnd {
    /// Every scenario was judged.
    Completed(Box<Report>),
    /// A signal stopped the run; every lab was cleaned up and torn down.
    Stopped(StopSignal),
}

/// Why a run could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(
        "netpol run builds network namespaces and needs root (CAP_SYS_ADMIN and CAP_NET_ADMIN); creating one failed: {0}"
    )]
    Privileges(std::io::Error),
    #[error(transparent)]
    Enforcer(#[from] EnforcerError),
}

/// Why a scenario could not be carried out: a failure of the lab or the
/// enforcer, never a verdict.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    #[error("cannot build the lab: {0}")]
    Lab(#[from] LabError),
    #[error(
        "lab preflight: before any enforcer sync, {probe} was {observed}, not allowed; {blame}"
    )]
    Preflight {
        probe: String,
        observed: String,
        blame: String,
    },
    #[error("round {round}: {error}")]
    Model { round: String, error: CompileError },
    #[error("round {round}: {error}")]
    Sync { round: String, error: EnforcerError },
    #[error(
        "round {round}: the enforcer broke the lab: {probe} was {observed}, yet the spec always allows it ({rule}); no verdict of this round can be trusted"
    )]
    BrokenLab {
        round: String,
        probe: String,
        observed: String,
        rule: &'static str,
    },
    #[error("{0}")]
    Cleanup(EnforcerError),
    /// The plugin changed the host's network namespace.
    #[error("{0}")]
    Host(String),
}

/// Every failure of a scenario: teardown goes on after the first one, and
/// a failed cleanup after a failed sync is reported too.
#[derive(Debug, Default)]
pub struct ScenarioErrors(pub Vec<ScenarioError>);

impl std::fmt::Display for ScenarioErrors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

/// Checks privileges, starts the enforcer (its `version` call) and states
/// what the run declares unsupported: the enforcer's answer and the profile.
pub async fn start(
    spec: &EnforcerSpec,
    args: &[String],
    timeout: Duration,
    profile: Option<Profile>,
) -> Result<(Enforcer, RunContext), StartError> {
    check_privileges()?;
    let enforcer = Enforcer::start(spec, args, timeout).await?;
    let mut unsupported: BTreeSet<Feature> = BTreeSet::new();
    if let Some(info) = enforcer.info() {
        unsupported.extend(info.unsupported.iter().copied());
    } else {
        // Nothing enforces anything: ClusterNetworkPolicy scenarios are
        // said to be unsupported rather than failed (NetworkPolicy ones
        // show what an unprotected cluster does).
        unsupported.insert(Feature::ClusterNetworkPolicy);
    }
    unsupported.extend(profile.iter().flat_map(|p| p.unsupported.iter().copied()));
    let context = RunContext {
        enforcer: enforcer.info().map(|i| EnforcerInfo {
            name: i.name.clone(),
            version: i.version.clone(),
            unsupported: i.unsupported.clone(),
        }),
        profile,
        unsupported: unsupported.into_iter().collect(),
        environment: Some(environment()),
    };
    Ok((enforcer, context))
}

/// Runs every scenario of the suite, `options.jobs` labs at a time, until
/// all are judged or SIGINT / SIGTERM stops the run (the labs in flight are
/// cleaned up and torn down first; see [`crate::stop`]). An error only if
/// the signal handlers cannot be installed. Entries that are not ready
/// (`expectInvalid`, files that did not load) are judged without a lab.
/// `events` closes when the run ends.
pub async fn run_suite(
    loaded: &[Loaded],
    enforcer: &Enforcer,
    options: &RunOptions,
    context: RunContext,
    events: mpsc::UnboundedSender<Event>,
) -> std::io::Result<SuiteEnd> {
    let events = &events;
    let mut report = ReportBuilder::new(Mode::Run, context);
    let failures = &std::sync::atomic::AtomicUsize::new(0);
    let below_limit = move || {
        options
            .max_failures
            .is_none_or(|max| failures.load(std::sync::atomic::Ordering::Relaxed) < max)
            && enforcer.unresponsive().is_none()
    };
    // SIGINT or SIGTERM: no more scenarios start; see `crate::stop`. Nor
    // once `max_failures` scenarios failed, or the enforcer stopped
    // answering (`Enforcer::unresponsive`).
    let results = stop::until_stopped(futures::stream::iter(loaded.iter().enumerate()))
        .take_while(move |_| std::future::ready(below_limit()))
        .map(|(index, l)| async move { (index, run_entry(l, enforcer, options, events).await) })
        .buffer_unordered(options.jobs.max(1));
    let collect = results.for_each(|(index, result)| {
        if matches!(result.status, Status::Fail | Status::Error) {
            failures.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        let _ = events.send(Event::Finished {
            index,
            result: Box::new(result.clone()),
        });
        report.add(index, result);
        std::future::ready(())
    });
    Ok(match stop::run_until_stopped(collect).await? {
        None => SuiteEnd::Completed(Box::new(report.finish())),
        Some(signal) => SuiteEnd::Stopped(signal),
    })
}

/// One entry of a suite: a scenario ready to run goes to a lab; the others
/// (`expectInvalid`, files that did not load) are judged as they are.
pub async fn run_entry(
    l: &Loaded,
    enforcer: &Enforcer,
    options: &RunOptions,
    events: &mpsc::UnboundedSender<Event>,
) -> ScenarioResult {
    match &l.entry {
        Entry::Ready(s) => run_scenario(s, enforcer, options, events).await,
        _ => crate::run::simulate_entry(l, false),
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

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// Runs one scenario in a lab of its own. Failures of the lab or the
/// enforcer make the scenario an error, never a pass or a deny; the lab is
/// torn down in every case.
pub async fn run_scenario(
    s: &Scenario,
    enforcer: &Enforcer,
    options: &RunOptions,
    events: &mpsc::UnboundedSender<Event>,
) -> ScenarioResult {
    let started = Instant::now();
    // Which probes are sent, or why none is (unsupported, no probe, no expect): core decides.
    let probes = match probes_to_send(s, &options.unsupported, options.require_expect) {
        Ok(probes) => probes,
        Err(why) => return not_probed_result(s, why, started),
    };
    let host = host_guard::Watch::start(enforcer, options.keep).await;
    let label = lab_label();
    let lab = match Lab::build(s.cluster(), &label).await {
        Ok(lab) => lab,
        Err(e) => {
            return errored(s, Vec::new(), started, &ScenarioErrors(vec![e.into()]));
        }
    };
    let setup_ms = ms(started.elapsed());
    tracing::debug!(scenario = %s.name, lab = %label, setup_ms = format_args!("{setup_ms:.1}"), "lab built");
    let plugin = match enforcer {
        Enforcer::Plugin(p) => Some(p),
        Enforcer::None => None,
    };
    let mut errors = ScenarioErrors::default();
    let t = Instant::now();
    let preflight_ms = if options.preflight && plugin.is_some() {
        let present = s.cluster().present_probes(&probes);
        if let Err(e) = preflight(s, &lab, &present, &options.probe).await {
            errors.0.push(e);
        }
        Some(ms(t.elapsed()))
    } else {
        None
    };
    let mut rounds = Vec::new();
    if errors.0.is_empty()
        && let Err(e) = run_rounds(
            s,
            enforcer,
            options,
            &lab,
            &label,
            &probes,
            events,
            &mut rounds,
        )
        .await
    {
        errors.0.push(e);
    }
    // The enforcer cleans up even after a failure (its failure to do so is
    // one too), except in a lab kept for inspection.
    let t = Instant::now();
    if let (Some(plugin), Some(last), false) = (plugin, s.rounds.last(), options.keep)
        && let Err(e) = plugin.cleanup(&enforcer::state(&lab, &label, last)).await
    {
        errors.0.push(ScenarioError::Cleanup(e));
    }
    let cleanup_ms = plugin.is_some().then(|| ms(t.elapsed()));
    // The host must be as before the run once the plugin cleaned up.
    if let Some(e) = host.check(&s.name).await {
        errors.0.push(ScenarioError::Host(e));
    }
    let kept = options.keep.then(|| keep::keep(&lab));
    let teardown_ms = ms(lab.teardown().await);
    tracing::debug!(scenario = %s.name, lab = %label, teardown_ms = format_args!("{teardown_ms:.1}"), "lab torn down");
    let mut result = if errors.0.is_empty() {
        scenario_result(s, rounds, started)
    } else {
        errored(s, rounds, started, &errors)
    };
    result.lab = Some(LabTimings {
        setup_ms,
        preflight_ms,
        cleanup_ms,
        teardown_ms,
    });
    let kept = match kept {
        Some(Ok(k)) => Some(k.instructions()),
        Some(Err(e)) => Some(format!("--keep failed: {e}")),
        None => None,
    };
    if let Some(instructions) = &kept {
        let _ = events.send(Event::Kept {
            scenario: s.name.clone(),
            instructions: instructions.clone(),
        });
    }
    result.kept = kept;
    result
}

fn errored(
    s: &Scenario,
    rounds: Vec<RoundResult>,
    started: Instant,
    errors: &ScenarioErrors,
) -> ScenarioResult {
    let mut r = scenario_result(s, rounds, started);
    r.status = Status::Error;
    r.message = Some(errors.to_string());
    r
}

/// What every round of one scenario's run shares.
struct Rounds<'a> {
    s: &'a Scenario,
    options: &'a RunOptions,
    lab: &'a Lab,
    label: &'a str,
    events: &'a mpsc::UnboundedSender<Event>,
}

/// What a round left for the next one's change: the state it enforced,
/// and what its probes saw.
struct Enforced<'c> {
    model: Model<'c>,
    /// Whether each probe of the round passed.
    passed: std::collections::HashMap<Probe, bool>,
    /// The probes it saw allowed, as expected.
    allowed: std::collections::HashSet<Probe>,
}

/// Syncs, probes and judges every round; the first failure of the lab or
/// the enforcer ends the scenario.
#[allow(clippy::too_many_arguments)]
async fn run_rounds(
    s: &Scenario,
    enforcer: &Enforcer,
    options: &RunOptions,
    lab: &Lab,
    label: &str,
    probes: &[Probe],
    events: &mpsc::UnboundedSender<Event>,
    rounds: &mut Vec<RoundResult>,
) -> Result<(), ScenarioError> {
    let run = Rounds {
        s,
        options,
        lab,
        label,
        events,
    };
    // None: before the first sync, nothing enforced, which the preflight
    // saw (every probe allowed).
    let mut before: Option<Enforced<'_>> = None;
    for round in &s.rounds {
        // Only between the pods that exist in this round.
        let probes = &round.cluster.present_probes(probes)[..];
        let model = Model::for_probes(
            &round.cluster,
            &round.policies,
            &round.cluster_policies,
            probes,
        )
        .map_err(|error| ScenarioError::Model {
            round: round.name.clone(),
            error,
        })?;
        let judged = match enforcer {
            Enforcer::Plugin(plugin) => {
                plugin_round(&run, plugin, round, probes, &model, before.as_ref()).await?
            }
            Enforcer::None => {
                // Nothing programs the lab: there is nothing to converge.
                if options.pause {
                    pause(s, lab, &round.name, events).await;
                }
                let t = Instant::now();
                let observations = lab.probe(probes, &options.probe).await;
                check_sanity(s, &model, &round.name, probes, &observations, &[], &[])?;
                judge_round(round, &model, probes, &observations, ms(t.elapsed()))
            }
        };
        let passing = || {
            probes
                .iter()
                .zip(&judged.probes)
                .filter(|(_, r)| r.result == crate::results::Outcome::Pass)
        };
        before = Some(Enforced {
            passed: probes
                .iter()
                .zip(&judged.probes)
                .map(|(p, r)| (*p, r.result == crate::results::Outcome::Pass))
                .collect(),
            allowed: passing()
                .filter(|(_, r)| r.observed == Observed::Allowed)
                .map(|(p, _)| *p)
                .collect(),
            model,
        });
        rounds.push(judged);
    }
    Ok(())
}

/// One round with a plugin: the change (its `sync`, watched, polled until
/// it converges for an asynchronous plugin), then the judged probes.
async fn plugin_round(
    run: &Rounds<'_>,
    plugin: &enforcer::Plugin,
    round: &crate::scenario::Round,
    probes: &[Probe],
    model: &Model<'_>,
    before: Option<&Enforced<'_>>,
) -> Result<RoundResult, ScenarioError> {
    let (lab, options) = (run.lab, run.options);
    // Sent with every round after a sync, unless the scenario sends them itself.
    let sanity: Vec<Probe> = options
        .sendable(&sanity_probes(&round.cluster))
        .into_iter()
        .filter(|p| !probes.contains(p))
        .collect();
    let watched = watched(round, probes, model, before, options.watch)?;
    let all: Vec<Probe> = probes.iter().chain(&sanity).copied().collect();
    // The sanity probes' verdicts are the model's: allowed, but under a
    // ClusterNetworkPolicy, which may decide a pod's own-node traffic.
    let expected: Vec<Verdict> = probes
        .iter()
        .map(|p| judge::expected(round, model, p))
        .chain(
            sanity
                .iter()
                .map(|p| Verdict::from_allowed(model.allows(p))),
        )
        .collect();
    // `observeEstablished`: TCP connections the round before allowed (and
    // saw allowed) and this one denies, opened before the change.
    let to_cut: Vec<Probe> = probes
        .iter()
        .zip(&expected)
        .filter(|(p, e)| {
            round.observe_established
                && p.protocol == Protocol::Tcp
                && **e == Verdict::Denied
                && before.is_some_and(|b| b.allowed.contains(*p))
        })
        .map(|(p, _)| *p)
        .collect();
    let opened = futures::future::join_all(
        to_cut
            .iter()
            .map(|p| lab.establish(p, options.probe.retry_timeout)),
    )
    .await;
    let changed = Instant::now();
    let (converged, done) = watch::channel(false);
    let watched_pairs = watched.as_deref().unwrap_or_default();
    let watch = crate::watch::watch(lab, watched_pairs, options.probe.timeout, changed, done);
    let change = async {
        // Owned here: a failed sync drops it, which ends the watch too.
        let converged = converged;
        let took = plugin
            .sync(&enforcer::state(lab, run.label, round))
            .await
            .map_err(|error| ScenarioError::Sync {
                round: round.name.clone(),
                error,
            })?;
        let polled = match plugin.info.sync {
            SyncMode::Blocking => None,
            SyncMode::Async => Some(converge(lab, &all, &expected, options, changed).await),
        };
        let _ = converged.send(true);
        Ok::<_, ScenarioError>((took, polled))
    };
    let (samples, changed) = tokio::join!(watch, change);
    let (took, polled) = changed?;
    if options.pause {
        pause(run.s, lab, &round.name, run.events).await;
    }
    let (mut observations, convergence, probes_ms) = match polled {
        Some(polled) if !options.pause => polled,
        _ => {
            let t = Instant::now();
            let observed = lab.probe(&all, &options.probe).await;
            let convergence = polled.map_or(
                Convergence {
                    ms: ms(took),
                    polls: 0,
                    converged: true,
                },
                |(_, c, _)| c,
            );
            (observed, convergence, ms(t.elapsed()))
        }
    };
    let sanity_observed = observations.split_off(probes.len());
    check_sanity(
        run.s,
        model,
        &round.name,
        probes,
        &observations,
        &sanity,
        &sanity_observed,
    )?;
    let mut judged = judge_round(round, model, probes, &observations, probes_ms);
    judged.established = established(round, &to_cut, opened, options).await;
    judged.sync_ms = Some(ms(took));
    judged.convergence = Some(convergence);
    judged.watch =
        watched.map(|w| transition::watch(&judged, &w, samples, options.strict_transitions));
    Ok(judged)
}

/// The probes to watch during the change into `round`, or `None` when the
/// round is not watched (`--no-watch`, or more than [`WATCH_AUTO_PAIRS`]
/// by default).
fn watched(
    round: &crate::scenario::Round,
    probes: &[Probe],
    model: &Model<'_>,
    before: Option<&Enforced<'_>>,
    mode: WatchMode,
) -> Result<Option<Vec<transition::Watched>>, ScenarioError> {
    if mode == WatchMode::Never {
        return Ok(None);
    }
    let unenforced;
    let before_model = match before {
        Some(b) => &b.model,
        None => {
            unenforced =
                Model::new(&round.cluster, &[], &[]).map_err(|error| ScenarioError::Model {
                    round: round.name.clone(),
                    error,
                })?;
            &unenforced
        }
    };
    let before_passed = |p: &Probe| match before {
        Some(b) => b.passed.get(p).copied(),
        None => Some(true),
    };
    let watched = transition::stable(before_model, model, probes, before_passed);
    Ok((mode == WatchMode::Always || watched.len() <= WATCH_AUTO_PAIRS).then_some(watched))
}

/// What became of the connections opened before the change (`opened[i]`
/// for `to_cut[i]`), now that the round converged.
async fn established(
    round: &crate::scenario::Round,
    to_cut: &[Probe],
    opened: Vec<Result<crate::lab::Established, String>>,
    options: &RunOptions,
) -> Vec<EstablishedConnection> {
    let outcomes = futures::future::join_all(opened.into_iter().map(|c| async move {
        match c {
            Ok(c) => {
                if c.still_carries(options.probe.retry_timeout).await {
                    EstablishedOutcome::Kept
                } else {
                    EstablishedOutcome::Cut
                }
            }
            Err(_) => EstablishedOutcome::Error,
        }
    }))
    .await;
    to_cut
        .iter()
        .zip(outcomes)
        .map(|(p, outcome)| EstablishedConnection {
            family: p.family,
            from: round.cluster.endpoint_name(p.from),
            to: round.cluster.endpoint_name(p.to),
            port: p.port,
            outcome,
        })
        .collect()
}

/// An asynchronous enforcer's round: polls `all` (each probe once, without
/// a second try) until what they observe is `expected`, confirms it with
/// the judged probes (with their second try), or gives up
/// `--converge-timeout` after `since` and returns the last judged
/// observation. Also returns when the round converged, and how long the
/// judged probes took.
async fn converge(
    lab: &Lab,
    all: &[Probe],
    expected: &[Verdict],
    options: &RunOptions,
    since: Instant,
) -> (Vec<Observation>, Convergence, f64) {
    let deadline = since + options.converge_timeout;
    let matches = |observed: &[Observation]| {
        observed
            .iter()
            .zip(expected)
            .all(|(o, e)| o.as_ref().is_ok_and(|v| v == e))
    };
    let mut polls = 0;
    loop {
        let poll = Instant::now();
        polls += 1;
        let quick = lab.probe_once(all, options.probe.timeout).await;
        // A probe the lab cannot carry out does not converge: judge it now.
        let failed = quick.iter().any(Result::is_err);
        if matches(&quick) || failed || Instant::now() >= deadline {
            let t = Instant::now();
            let judged = lab.probe(all, &options.probe).await;
            let probes_ms = ms(t.elapsed());
            if matches(&judged) {
                let at = Convergence {
                    ms: ms(poll - since),
                    polls,
                    converged: true,
                };
                return (judged, at, probes_ms);
            }
            if failed || Instant::now() >= deadline {
                let waited = Convergence {
                    ms: ms(since.elapsed()),
                    polls,
                    converged: false,
                };
                return (judged, waited, probes_ms);
            }
        }
        tokio::time::sleep_until((poll + POLL_INTERVAL).into()).await;
    }
}

/// After a sync, the traffic the spec always allows must still flow: a pod
/// to itself, a pod to and from its own node (whether the scenario probes
/// it or [`sanity_probes`] adds it). If not, the enforcer broke the lab,
/// and the round's denials mean nothing.
fn check_sanity(
    s: &Scenario,
    model: &Model<'_>,
    round: &str,
    probes: &[Probe],
    observations: &[Observation],
    extra: &[Probe],
    extra_observed: &[Observation],
) -> Result<(), ScenarioError> {
    let c = s.cluster();
    let always_allowed = |p: &Probe| match (p.from, p.to) {
        _ if p.is_self() => Some("self-traffic"),
        // Under a ClusterNetworkPolicy the API text gives no own-node
        // exemption: an implementation may decide it.
        (Endpoint::Node(n), Endpoint::Pod(i)) | (Endpoint::Pod(i), Endpoint::Node(n))
            if c.pods[i].node == n && !model.is_cluster_policy_subject(i) =>
        {
            Some("own-node")
        }
        _ => None,
    };
    let broken = probes
        .iter()
        .zip(observations)
        .chain(extra.iter().zip(extra_observed))
        .filter(|(_, o)| !matches!(o, Ok(Verdict::Allowed)))
        .find_map(|(p, o)| always_allowed(p).map(|rule| (p, o, rule)));
    match broken {
        None => Ok(()),
        Some((p, o, rule)) => Err(ScenarioError::BrokenLab {
            round: round.to_string(),
            probe: name(s, p),
            observed: describe(o),
            rule,
        }),
    }
}

fn name(s: &Scenario, p: &Probe) -> String {
    let c = s.cluster();
    let family = if c.is_ipv4_only() {
        String::new()
    } else {
        format!(" over {}", p.family)
    };
    format!(
        "{} -> {} {}/{}{family}",
        c.endpoint_name(p.from),
        c.endpoint_name(p.to),
        p.port,
        p.protocol
    )
}

/// Before the first sync, the lab must allow every probe: a lab that
/// denies anything on its own would turn into wrong verdicts.
async fn preflight(
    s: &Scenario,
    lab: &Lab,
    probes: &[Probe],
    options: &ProbeOptions,
) -> Result<(), ScenarioError> {
    let observed = lab.probe(probes, options).await;
    let Some((p, o)) = probes
        .iter()
        .zip(&observed)
        .find(|(_, o)| !matches!(o, Ok(Verdict::Allowed)))
    else {
        return Ok(());
    };
    Err(ScenarioError::Preflight {
        probe: name(s, p),
        observed: describe(o),
        blame: preflight_blame(o),
    })
}

/// Who is to blame for a failed preflight: the descriptor limit when a
/// socket could not be opened for want of descriptors, else the lab.
fn preflight_blame(o: &Observation) -> String {
    match o {
        Err(e) if e.contains("os error 24") => {
            let limit = nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE)
                .map_or_else(|_| "?".to_string(), |(soft, _)| soft.to_string());
            format!(
                "the open-file limit ({limit}, `ulimit -n`) is too low for the labs: raise it, or run fewer at once (-j)"
            )
        }
        _ => "the lab itself is broken".to_string(),
    }
}

fn describe(o: &Observation) -> String {
    match o {
        Ok(Verdict::Allowed) => "allowed".into(),
        Ok(Verdict::Denied) => "denied".into(),
        Err(e) => format!("an error ({e})"),
    }
}

/// Tells the caller the lab is ready for inspection, and waits until it
/// says to go on.
async fn pause(s: &Scenario, lab: &Lab, round: &str, events: &mpsc::UnboundedSender<Event>) {
    let (resume, resumed) = oneshot::channel();
    let pause = Pause {
        scenario: s.name.clone(),
        round: round.to_string(),
        namespaces: lab
            .namespaces()
            .map(|ns| (ns.name().to_string(), ns.path()))
            .collect(),
        resume,
    };
    if events.send(Event::Paused(pause)).is_ok() {
        // A dropped sender resumes too.
        let _ = resumed.await;
    }
}

/// Whether this process can build labs.
pub fn check_privileges() -> Result<(), StartError> {
    crate::lab::NetNs::create("privilege-check")
        .map(drop)
        .map_err(StartError::Privileges)
}

/// The machine a run's labs run on, for the report.
pub fn environment() -> Environment {
    let kernel = nix::sys::utsname::uname()
        .map(|u| {
            format!(
                "{} {}",
                u.sysname().to_string_lossy(),
                u.release().to_string_lossy()
            )
        })
        .unwrap_or_else(|e| format!("unknown ({e})"));
    let iptables = std::process::Command::new("iptables")
        .arg("--version")
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "not installed".to_string());
    Environment { kernel, iptables }
}
