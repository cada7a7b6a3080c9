//! Judging scenarios: observed verdicts against expected ones, round by
//! round. `simulate` observes the model itself; the lab run observes
//! packets and uses the same judging.

use std::time::Instant;

use crate::expect::Verdict;
use crate::model::Model;
use crate::probe::Probe;
use crate::results::{
    ExpectationSource, Observed, ProbeResult, RoundResult, ScenarioResult, Status,
};
use crate::scenario::{Round, Scenario};
use crate::suite::{Entry, Loaded};

/// One probe as observed: a verdict, or why it could not be carried out.
pub type Observation = Result<Verdict, String>;

/// The result of a suite entry that is not probed: an `expectInvalid`
/// scenario, judged, or a scenario that could not be loaded. `None` for a
/// scenario ready to run.
pub fn unprobed_result(loaded: &Loaded) -> Option<ScenarioResult> {
    let (status, message, expect_invalid) = match &loaded.entry {
        Entry::Ready(_) => return None,
        Entry::Invalid(e) => (Status::Error, e.to_string(), None),
        Entry::ExpectInvalid {
            field,
            verdict: Ok(problem),
        } => (
            Status::Pass,
            format!("rejected as expected: {problem}"),
            Some(field.clone()),
        ),
        Entry::ExpectInvalid {
            field,
            verdict: Err(why),
        } => (Status::Fail, why.clone(), Some(field.clone())),
    };
    let mut r = ScenarioResult::without_rounds(
        loaded.name.clone(),
        loaded.file.display().to_string(),
        status,
        message,
    );
    r.description = loaded.header.description.clone();
    r.tags = loaded.header.tags.clone();
    r.expect_invalid = expect_invalid;
    Some(r)
}

/// Judges one round: `observations[i]` is what happened to `probes[i]`.
/// The expected verdict is the round's `expect`, or the model's when the
/// scenario has none; every probe that does not pass carries the model's
/// explanation.
pub fn judge_round(
    round: &Round,
    model: &Model<'_>,
    probes: &[Probe],
    observations: &[Observation],
    duration_ms: f64,
) -> RoundResult {
    let cluster = &round.cluster;
    let results = probes
        .iter()
        .zip(observations)
        .map(|(probe, observation)| {
            let expected = match &round.expect {
                Some(e) => e.verdict(cluster, probe),
                None => Verdict::from_allowed(model.allows(probe)),
            };
            let (observed, error) = match observation {
                Ok(v) => (Observed::from(*v), None),
                Err(e) => (Observed::Error, Some(e.clone())),
            };
            let result = ProbeResult::outcome(expected, observed);
            // Every probe that did not pass carries the model's verdict and
            // reasons: they tell whether the observation or the expectation is wrong.
            let explained = (result != crate::results::Outcome::Pass).then(|| model.explain(probe));
            ProbeResult {
                from: cluster.endpoint_name(probe.from),
                to: cluster.endpoint_name(probe.to),
                port: probe.port,
                protocol: probe.protocol,
                expected,
                observed,
                result,
                model: explained.as_ref().map(|e| Verdict::from_allowed(e.allowed)),
                explanation: explained.map(|e| e.to_string()),
                error,
            }
        })
        .collect();
    RoundResult {
        name: round.name.clone(),
        expectation: if round.expect.is_some() {
            ExpectationSource::Scenario
        } else {
            ExpectationSource::Model
        },
        sync_ms: None,
        duration_ms,
        probes: results,
    }
}

/// A result with the scenario's identity and the given rounds.
pub fn scenario_result(s: &Scenario, rounds: Vec<RoundResult>, started: Instant) -> ScenarioResult {
    ScenarioResult {
        name: s.name.clone(),
        file: s.file.display().to_string(),
        description: s.description.clone(),
        tags: s.tags.clone(),
        needs: crate::features::needed(s).into_iter().collect(),
        status: ScenarioResult::status_of(&rounds),

        message: None,
        expect_invalid: None,
        duration_ms: started.elapsed().as_secs_f64() * 1e3,
        kept: None,
        lab: None,
        rounds,
    }
}

/// Checks every round of a scenario against the model of the spec.
pub fn simulate(s: &Scenario) -> ScenarioResult {
    let started = Instant::now();
    let mut rounds = Vec::new();
    for round in &s.rounds {
        let t = Instant::now();
        let model = match Model::new(&round.cluster, &round.policies) {
            Ok(m) => m,
            Err(e) => {
                let mut r = scenario_result(s, rounds, started);
                r.status = Status::Error;
                r.message = Some(format!("round {}: {e}", round.name));
                return r;
            }
        };
        let observations: Vec<Observation> = s
            .probes
            .iter()
            .map(|p| Ok(Verdict::from_allowed(model.allows(p))))
            .collect();
        rounds.push(judge_round(
            round,
            &model,
            &s.probes,
            &observations,
            t.elapsed().as_secs_f64() * 1e3,
        ));
    }
    scenario_result(s, rounds, started)
}
