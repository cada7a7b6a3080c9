//! A run of a suite, as a report: what every command that judges scenarios
//! (`simulate`, `run`, and later `fuzz`) shares. Results arrive in any
//! order; the report lists them in the suite's order.

use std::time::Instant;

use crate::features::{Feature, Profile};
use crate::judge;
use crate::results::{
    Changes, EnforcerInfo, Environment, Harness, Mode, Report, SCHEMA_VERSION, ScenarioResult,
    Summary, now_rfc3339,
};
use crate::suite::{Entry, Loaded};

/// What a run states about itself besides its results.
#[derive(Clone, Debug, Default)]
pub struct RunContext {
    /// With an enforcer: what its `version` call answered.
    pub enforcer: Option<EnforcerInfo>,
    pub profile: Option<Profile>,
    /// Declared by the enforcer or the profile.
    pub unsupported: Vec<Feature>,
    pub environment: Option<Environment>,
}

/// Collects a run's results into its [`Report`].
#[derive(Debug)]
pub struct ReportBuilder {
    mode: Mode,
    context: RunContext,
    started_at: String,
    started: Instant,
    results: Vec<(usize, ScenarioResult)>,
}

impl ReportBuilder {
    pub fn new(mode: Mode, context: RunContext) -> ReportBuilder {
        ReportBuilder {
            mode,
            context,
            started_at: now_rfc3339(),
            started: Instant::now(),
            results: Vec::new(),
        }
    }

    /// The result of the `index`-th scenario of the suite.
    pub fn add(&mut self, index: usize, result: ScenarioResult) {
        self.results.push((index, result));
    }

    pub fn finish(mut self) -> Report {
        self.results.sort_by_key(|(i, _)| *i);
        let scenarios: Vec<ScenarioResult> = self.results.into_iter().map(|(_, r)| r).collect();
        Report {
            schema_version: SCHEMA_VERSION,
            harness: Harness::current(),
            mode: self.mode,
            enforcer: self.context.enforcer,
            profile: self.context.profile,
            unsupported_features: self.context.unsupported,
            environment: self.context.environment,
            started_at: self.started_at,
            duration_ms: self.started.elapsed().as_secs_f64() * 1e3,
            summary: Summary::of(&scenarios),
            changes: Changes::of(&scenarios),
            scenarios,
            fuzz: None,
        }
    }
}

/// The result of a suite entry that is not probed in a lab: an
/// `expectInvalid` file or one that does not load is judged as it is, a
/// scenario ready to run is checked against the model (`simulate`).
/// With `require_expect`, a round without a hand-written `expect` is an error.
pub fn simulate_entry(loaded: &Loaded, require_expect: bool) -> ScenarioResult {
    match &loaded.entry {
        Entry::Ready(s) => judge::simulate(s, require_expect),
        _ => judge::unprobed_result(loaded).expect("an entry that is not ready has no probes"),
    }
}

/// `netpol simulate`: every scenario of the suite against the model of the
/// spec; `on_result` sees each result as it comes.
pub fn simulate_suite(
    loaded: &[Loaded],
    require_expect: bool,
    mut on_result: impl FnMut(&ScenarioResult),
) -> Report {
    let mut report = ReportBuilder::new(Mode::Simulate, RunContext::default());
    for (i, l) in loaded.iter().enumerate() {
        let result = simulate_entry(l, require_expect);
        on_result(&result);
        report.add(i, result);
    }
    report.finish()
}
