//! Judging scenarios: observed verdicts against expected ones, round by
//! round. `simulate` observes the model itself; the lab run observes
//! packets and uses the same judging.

use crate::features::Feature;
use std::collections::BTreeSet;
use std::time::Instant;

use crate::cluster::Protocol;
use crate::expect::Verdict;
use crate::model::Model;
use crate::probe::Probe;
use crate::results::{
    ExpectationSource, Observed, Outcome, ProbeResult, RoundResult, ScenarioResult, Status,
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
        Entry::NotApplicable(why) => (Status::NotApplicable, why.clone(), None),
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

/// The verdict a round expects of `probe`: its `expect`'s, or the model's
/// when the scenario has none.
pub fn expected(round: &Round, model: &Model<'_>, probe: &Probe) -> Verdict {
    match &round.expect {
        Some(e) => e.verdict(&round.cluster, probe),
        None => Verdict::from_allowed(model.allows(probe)),
    }
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
    let results: Vec<ProbeResult> = probes
        .iter()
        .zip(observations)
        .map(|(probe, observation)| {
            let expected = expected(round, model, probe);
            let (observed, error) = match observation {
                Ok(v) => (Observed::from(*v), None),
                Err(e) => (Observed::Error, Some(e.clone())),
            };
            let result = ProbeResult::outcome(expected, observed);
            // Every probe that did not pass carries the model's verdict and
            // reasons: they tell whether the observation or the expectation is wrong.
            let explained = (result != crate::results::Outcome::Pass).then(|| model.explain(probe));
            ProbeResult {
                family: probe.family,
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
        convergence: None,
        watch: None,
        established: Vec::new(),
        duration_ms,
        policies: results
            .iter()
            .any(|p| p.result != Outcome::Pass)
            .then(|| policies_yaml(round)),
        probes: results,
    }
}

/// The round's policies as a file would hold them: a YAML list.
fn policies_yaml(round: &Round) -> String {
    let objects: Vec<serde_json::Value> = round
        .policies
        .iter()
        .map(|p| serde_json::to_value(&p.object))
        .chain(
            round
                .cluster_policies
                .iter()
                .map(|p| serde_json::to_value(&p.object)),
        )
        .filter_map(Result::ok)
        .collect();
    if objects.is_empty() {
        return "[]  # no policy in force\n".to_string();
    }
    serde_saphyr::to_string(&objects).unwrap_or_default()
}

/// Why a scenario is not probed: its status (`unsupported` or `error`) and
/// what to tell.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NotProbed {
    pub status: Status,
    pub message: String,
}

/// The probes a run sends for `s`, or why it sends none. With
/// `require_expect` (`--require-expect`), a round without a hand-written
/// `expect` is an error; a scenario needing a feature declared
/// `unsupported` is unsupported, and so is one whose every probe is SCTP
/// with `sctp` declared unsupported (those probes are never sent); a
/// scenario without a probe is an error, for it would check nothing, and
/// so is one with ClusterNetworkPolicy `domainNames` peers (the lab
/// resolves no names).
pub fn probes_to_send(
    s: &Scenario,
    unsupported: &BTreeSet<Feature>,
    require_expect: bool,
) -> Result<Vec<Probe>, NotProbed> {
    let error = |message: String| NotProbed {
        status: Status::Error,
        message,
    };
    let without_expect: Vec<&str> = s
        .rounds
        .iter()
        .filter(|r| r.expect.is_none())
        .map(|r| r.name.as_str())
        .collect();
    if require_expect && !without_expect.is_empty() {
        return Err(error(format!(
            "no expect: round{} {} {} no hand-written expect, and --require-expect refuses the model as the expectation",
            if without_expect.len() == 1 { "" } else { "s" },
            without_expect.join(", "),
            if without_expect.len() == 1 {
                "has"
            } else {
                "have"
            },
        )));
    }
    let missing: Vec<Feature> = crate::features::needed(s)
        .into_iter()
        .filter(|f| unsupported.contains(f))
        .collect();
    if !missing.is_empty() {
        return Err(NotProbed {
            status: Status::Unsupported,
            message: format!(
                "unsupported (declared): needs {}",
                crate::features::list(&missing)
            ),
        });
    }
    // The lab resolves no names: what a domainNames peer allows cannot be
    // shown by any probe, so such a scenario is not run, and says why.
    if let Some(p) = s.rounds.iter().flat_map(|r| &r.cluster_policies).find(|p| {
        p.object
            .spec
            .egress
            .iter()
            .flat_map(|r| &r.to)
            .any(|peer| peer.domain_names.is_some())
    }) {
        return Err(error(format!(
            "ClusterNetworkPolicy {} has domainNames peers: the lab resolves no names, so verdicts that depend on them cannot be checked; netpol does not run such a scenario",
            p.name
        )));
    }
    if s.probes.is_empty() {
        return Err(error(format!(
            "no probe: {} sends no probe (no destination serves a probed port), so it would check nothing",
            s.name
        )));
    }
    let sctp = !unsupported.contains(&Feature::Sctp);
    let probes: Vec<Probe> = s
        .probes
        .iter()
        .copied()
        .filter(|p| sctp || p.protocol != Protocol::Sctp)
        .collect();
    if probes.is_empty() {
        return Err(NotProbed {
            status: Status::Unsupported,
            message: "unsupported (declared): every probe is SCTP, and sctp is declared unsupported (no SCTP probe is sent)".to_string(),
        });
    }
    Ok(probes)
}

/// The result of a scenario that is not probed.
pub fn not_probed_result(s: &Scenario, why: NotProbed, started: Instant) -> ScenarioResult {
    let mut r = scenario_result(s, Vec::new(), started);
    r.status = why.status;
    r.message = Some(why.message);
    r
}

/// A result with the scenario's identity and the given rounds. A round
/// without a probe makes it an error: nothing was checked.
pub fn scenario_result(s: &Scenario, rounds: Vec<RoundResult>, started: Instant) -> ScenarioResult {
    let message = match rounds.iter().find(|r| r.probes.is_empty()) {
        Some(r) => Some(format!(
            "no probe: round {} sent no probe, so it checked nothing",
            r.name
        )),
        None if rounds.is_empty() => Some("no probe: no round was run".to_string()),
        None => rounds.iter().find_map(|r| {
            r.convergence.as_ref().filter(|c| !c.converged).map(|c| {
                format!(
                    "round {} did not converge: after {:.1} s and {} polls its probes still did not show the expected verdicts; it is judged on the last observation",
                    r.name,
                    c.ms / 1e3,
                    c.polls
                )
            })
        }),
    };
    ScenarioResult {
        name: s.name.clone(),
        file: s.file.display().to_string(),
        description: s.description.clone(),
        tags: s.tags.clone(),
        needs: crate::features::needed(s).into_iter().collect(),
        status: ScenarioResult::status_of(&rounds),

        message,
        expect_invalid: None,
        duration_ms: started.elapsed().as_secs_f64() * 1e3,
        kept: None,
        lab: None,
        rounds,
    }
}

/// Checks every round of a scenario against the model of the spec. With
/// `require_expect`, a round without a hand-written `expect` is an error
/// (it would be the model checked against itself).
pub fn simulate(s: &Scenario, require_expect: bool) -> ScenarioResult {
    let started = Instant::now();
    let probes = match probes_to_send(s, &BTreeSet::new(), require_expect) {
        Ok(p) => p,
        Err(why) => return not_probed_result(s, why, started),
    };
    let mut rounds = Vec::new();
    for round in &s.rounds {
        let t = Instant::now();
        // Only between pods that exist in the round.
        let probes = round.cluster.present_probes(&probes);
        let model = match Model::for_probes(
            &round.cluster,
            &round.policies,
            &round.cluster_policies,
            &probes,
        ) {
            Ok(m) => m,
            Err(e) => {
                let mut r = scenario_result(s, rounds, started);
                r.status = Status::Error;
                r.message = Some(format!("round {}: {e}", round.name));
                return r;
            }
        };
        let observations: Vec<Observation> = probes
            .iter()
            .map(|p| Ok(Verdict::from_allowed(model.allows(p))))
            .collect();
        rounds.push(judge_round(
            round,
            &model,
            &probes,
            &observations,
            t.elapsed().as_secs_f64() * 1e3,
        ));
    }
    scenario_result(s, rounds, started)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    const SCTP_ONLY: &str = "probes: {ports: [{port: 80, protocol: SCTP}]}\n";

    fn scenario(rest: &str) -> Scenario {
        crate::scenario::load_str(Path::new("s.yaml"), &format!("name: s\n{rest}"))
            .loaded
            .expect("loads")
    }

    fn unsupported(features: &[&str]) -> BTreeSet<Feature> {
        features
            .iter()
            .map(|f| Feature::from_name(f).expect("a feature"))
            .collect()
    }

    #[test]
    fn only_sctp_probes_with_sctp_unsupported_is_unsupported_not_a_pass() {
        let s = scenario(&format!("{SCTP_ONLY}expect: {{default: allowed}}\n"));
        let why = probes_to_send(&s, &unsupported(&["sctp"]), false).unwrap_err();
        assert_eq!(why.status, Status::Unsupported);
        assert!(
            why.message
                .starts_with("unsupported (declared): every probe is SCTP"),
            "{}",
            why.message
        );
        // With other protocols too, the others are sent.
        let s = scenario("expect: {default: allowed}\n");
        let probes = probes_to_send(&s, &unsupported(&["sctp"]), false).unwrap();
        assert!(!probes.is_empty() && probes.iter().all(|p| p.protocol != Protocol::Sctp));
        assert!(probes.len() < s.probes.len());
    }

    #[test]
    fn a_needed_feature_declared_unsupported_is_unsupported() {
        let s = scenario(
            "policies:\n- apiVersion: networking.k8s.io/v1\n  kind: NetworkPolicy\n  metadata: {name: p, namespace: x}\n  spec:\n    podSelector: {}\n    ingress: [{ports: [{port: 80, endPort: 81}]}]\nexpect: {default: denied}\n",
        );
        let why = probes_to_send(&s, &unsupported(&["endPort"]), false).unwrap_err();
        assert_eq!(
            why,
            NotProbed {
                status: Status::Unsupported,
                message: "unsupported (declared): needs endPort".into()
            }
        );
        assert!(probes_to_send(&s, &unsupported(&["sctp"]), false).is_ok());
    }

    #[test]
    fn domain_names_peers_are_not_judged_and_say_why() {
        let s = scenario(
            "policies:\n- apiVersion: policy.networking.k8s.io/v1alpha2\n  kind: ClusterNetworkPolicy\n  metadata: {name: dns}\n  spec:\n    tier: Admin\n    priority: 1\n    subject: {namespaces: {}}\n    egress: [{action: Accept, to: [{domainNames: [example.com]}]}]\nexpect: {default: allowed}\n",
        );
        let why = probes_to_send(&s, &BTreeSet::new(), false).unwrap_err();
        assert_eq!(why.status, Status::Error);
        assert!(
            why.message.starts_with(
                "ClusterNetworkPolicy dns has domainNames peers: the lab resolves no names"
            ),
            "{}",
            why.message
        );
        assert_eq!(simulate(&s, false).status, Status::Error);
    }

    #[test]
    fn a_scenario_without_a_probe_is_an_error() {
        // The loader refuses such a file; a scenario built otherwise must not pass either.
        let mut s = scenario("expect: {default: allowed}\n");
        s.probes.clear();
        let why = probes_to_send(&s, &BTreeSet::new(), false).unwrap_err();
        assert_eq!(why.status, Status::Error);
        assert!(why.message.starts_with("no probe: "), "{}", why.message);
        let r = simulate(&s, false);
        assert_eq!(r.status, Status::Error);
        assert!(r.message.unwrap().starts_with("no probe: "));
    }

    #[test]
    fn a_round_without_a_probe_is_an_error() {
        let s = scenario("expect: {default: allowed}\n");
        let model = Model::new(&s.rounds[0].cluster, &s.rounds[0].policies, &[]).unwrap();
        let round = judge_round(&s.rounds[0], &model, &[], &[], 0.0);
        let r = scenario_result(&s, vec![round], Instant::now());
        assert_eq!(r.status, Status::Error);
        assert_eq!(
            r.message.as_deref(),
            Some("no probe: round initial sent no probe, so it checked nothing")
        );
        let r = scenario_result(&s, Vec::new(), Instant::now());
        assert_eq!(r.status, Status::Error);
    }

    #[test]
    fn require_expect_makes_a_round_without_expect_an_error() {
        let s = scenario(
            "expect: {default: allowed}\nsteps:\n- name: later\n  setPodLabels: {x/a: {pod: z}}\n",
        );
        let r = simulate(&s, false);
        assert_eq!(r.status, Status::Pass);
        assert_eq!(r.model_rounds(), ["later"]);
        let r = simulate(&s, true);
        assert_eq!(r.status, Status::Error);
        assert_eq!(
            r.message.as_deref(),
            Some(
                "no expect: round later has no hand-written expect, and --require-expect refuses the model as the expectation"
            )
        );
        assert!(r.rounds.is_empty(), "nothing was judged");
        let s = scenario("expect: {default: allowed}\n");
        assert!(probes_to_send(&s, &BTreeSet::new(), true).is_ok());
    }
}
