//! Transitions: what a change of the desired state looked like between
//! its two states. While an enforcer moves the dataplane from one round to
//! the next, every probe whose verdict is the same in both is watched: seen
//! allowed when both states deny it, it leaked; seen denied when both
//! allow it, it had an outage. A pod the change adds is watched too: seen
//! allowed where the state after denies it, it leaked.

use crate::expect::Verdict;
use crate::judge::Observation;
use crate::model::Model;
use crate::probe::Probe;
use crate::results::{Observed, Outcome, RoundResult, Sample, Transition, TransitionKind, Watch};

/// A probe of a round to watch during the change into it: its index in
/// the round's probes and the verdict both states give it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Watched {
    pub index: usize,
    pub probe: Probe,
    pub verdict: Verdict,
    /// To or from a pod the change adds: only the state after has a verdict.
    pub new_pod: bool,
}

/// The probes to watch during the change from `before` to `after`:
/// - a probe the round before sent too (`before_passed(p)` is `Some`),
///   whose verdict is the same in both states, if the state before was
///   seen to enforce it (`Some(true)`: it passed in the round before, or in
///   the lab's preflight);
/// - a probe to or from a pod the change adds (`None`: the round before did
///   not send it) that the state after denies: reachable before its
///   policies apply, the new pod leaks.
///
/// A probe whose verdict the spec leaves to the implementation is not watched.
pub fn stable(
    before: &Model<'_>,
    after: &Model<'_>,
    probes: &[Probe],
    before_passed: impl Fn(&Probe) -> Option<bool>,
) -> Vec<Watched> {
    probes
        .iter()
        .enumerate()
        .filter(|&(_, p)| {
            after.undefined(p).is_none()
                && match before_passed(p) {
                    Some(passed) => {
                        passed
                            && before.undefined(p).is_none()
                            && before.allows(p) == after.allows(p)
                    }
                    None => !after.allows(p),
                }
        })
        .map(|(index, p)| Watched {
            index,
            probe: *p,
            verdict: Verdict::from_allowed(after.allows(p)),
            new_pod: before_passed(p).is_none(),
        })
        .collect()
}

/// What the watch saw of each watched probe (`samples[k]` for
/// `watched[k]`: when each attempt was sent, in ms since the change
/// started, and what it observed).
#[derive(Clone, Debug, Default)]
pub struct Samples {
    pub samples: Vec<Vec<(f64, Observation)>>,
    /// Times the watched probes were sent.
    pub sweeps: u32,
    /// How long the watch lasted, in ms.
    pub ms: f64,
}

/// The round's watch: every watched probe seen with the other verdict is a
/// leak or an outage, with its timeline. Only probes the round itself
/// judged as passed count: one that ends wrong is a wrong verdict of the
/// round, reported as such, not a transition. Every leak fails the
/// scenario; an outage does with `strict_outages`.
pub fn watch(
    round: &RoundResult,
    watched: &[Watched],
    samples: Samples,
    strict_outages: bool,
) -> Watch {
    let transitions = watched
        .iter()
        .zip(samples.samples)
        .filter(|(w, _)| {
            round
                .probes
                .get(w.index)
                .is_some_and(|p| p.result == Outcome::Pass)
        })
        .filter_map(|(w, seen)| {
            let timeline: Vec<Sample> = seen
                .iter()
                .map(|(at_ms, o)| Sample {
                    at_ms: *at_ms,
                    observed: match o {
                        Ok(v) => Observed::from(*v),
                        Err(_) => Observed::Error,
                    },
                })
                .collect();
            let (kind, other) = match w.verdict {
                Verdict::Denied => (TransitionKind::Leak, Observed::Allowed),
                Verdict::Allowed => (TransitionKind::Outage, Observed::Denied),
            };
            let mut wrong = timeline
                .iter()
                .filter(|s| s.observed == other)
                .map(|s| s.at_ms);
            let first_ms = wrong.next()?;
            let last_ms = wrong.fold(first_ms, f64::max);
            let p = &round.probes[w.index];
            Some(Transition {
                kind,
                family: p.family,
                from: p.from.clone(),
                to: p.to.clone(),
                port: p.port,
                protocol: p.protocol,
                first_ms,
                last_ms,
                new_pod: w.new_pod,
                fails: kind == TransitionKind::Leak || strict_outages,
                timeline,
            })
        })
        .collect();
    Watch {
        pairs: watched.len(),
        sweeps: samples.sweeps,
        ms: samples.ms,
        transitions,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::{Endpoint, IpFamily, Protocol};
    use crate::results::{ExpectationSource, ProbeResult};

    fn probe(to: usize) -> Probe {
        Probe {
            from: Endpoint::Pod(0),
            to: Endpoint::Pod(to),
            port: 80,
            protocol: Protocol::Tcp,
            family: IpFamily::IPv4,
        }
    }

    fn round(results: &[Outcome]) -> RoundResult {
        RoundResult {
            name: "step".into(),
            expectation: ExpectationSource::Scenario,
            sync_ms: None,
            convergence: None,
            watch: None,
            established: Vec::new(),
            duration_ms: 0.0,
            policies: None,
            probes: results
                .iter()
                .enumerate()
                .map(|(i, &result)| ProbeResult {
                    family: IpFamily::IPv4,
                    from: "x/a".into(),
                    to: format!("x/p{i}"),
                    port: 80,
                    protocol: Protocol::Tcp,
                    expected: Verdict::Denied,
                    observed: Observed::Denied,
                    result,
                    model: None,
                    explanation: None,
                    error: None,
                })
                .collect(),
        }
    }

    fn samples(list: &[&[(f64, Observation)]]) -> Samples {
        Samples {
            samples: list.iter().map(|s| s.to_vec()).collect(),
            sweeps: 3,
            ms: 120.0,
        }
    }

    #[test]
    fn a_probe_seen_with_the_verdict_neither_state_gives_is_a_leak_or_an_outage() {
        let watched = [
            Watched {
                index: 0,
                probe: probe(1),
                verdict: Verdict::Denied,
                new_pod: false,
            },
            Watched {
                index: 1,
                probe: probe(2),
                verdict: Verdict::Allowed,
                new_pod: false,
            },
            Watched {
                index: 2,
                probe: probe(3),
                verdict: Verdict::Denied,
                new_pod: false,
            },
        ];
        let seen = samples(&[
            &[
                (0.0, Ok(Verdict::Denied)),
                (40.0, Ok(Verdict::Allowed)),
                (80.0, Ok(Verdict::Allowed)),
                (120.0, Ok(Verdict::Denied)),
            ],
            &[
                (0.0, Ok(Verdict::Allowed)),
                (40.0, Ok(Verdict::Denied)),
                (80.0, Ok(Verdict::Allowed)),
            ],
            // An error is neither: the lab failed, not the enforcer.
            &[(0.0, Err("no socket".into())), (40.0, Ok(Verdict::Denied))],
        ]);
        let w = watch(&round(&[Outcome::Pass; 3]), &watched, seen.clone(), false);
        assert_eq!((w.pairs, w.sweeps, w.ms), (3, 3, 120.0));
        let found: Vec<_> = w
            .transitions
            .iter()
            .map(|t| (t.kind, t.to.as_str(), t.first_ms, t.last_ms, t.fails))
            .collect();
        assert_eq!(
            found,
            [
                (TransitionKind::Leak, "x/p0", 40.0, 80.0, true),
                (TransitionKind::Outage, "x/p1", 40.0, 40.0, false),
            ]
        );
        assert_eq!(w.transitions[0].timeline.len(), 4);
        // --strict-transitions: the outage fails too.
        let strict = watch(&round(&[Outcome::Pass; 3]), &watched, seen, true);
        assert!(strict.transitions.iter().all(|t| t.fails));
    }

    #[test]
    fn a_probe_the_round_judged_wrong_is_a_wrong_verdict_not_a_transition() {
        let watched = [Watched {
            index: 0,
            probe: probe(1),
            verdict: Verdict::Denied,
            new_pod: false,
        }];
        let seen = samples(&[&[(0.0, Ok(Verdict::Allowed))]]);
        let w = watch(&round(&[Outcome::Fail]), &watched, seen, false);
        assert!(w.transitions.is_empty());
    }
}
