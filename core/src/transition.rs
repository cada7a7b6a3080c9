//! Transitions: what a change of the desired state looked like between
//! its two states. While an enforcer moves the dataplane from one round to
//! the next, every probe whose verdict is the same in both is watched: seen
//! allowed when both states deny it, it leaked; seen denied when both
//! allow it, it had an outage.

use crate::expect::Verdict;
use crate::judge::Observation;
use crate::model::Model;
use crate::probe::Probe;
use crate::results::{
    Observed, Outcome, RoundResult, Sample, Transition, TransitionKind, Watch,
};

/// A probe of a round to watch during the change into it: its index in
/// the round's probes and the verdict both states give it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Watched {
    pub index: usize,
    pub probe: Probe,
    pub verdict: Verdict,
}

/// The probes whose verdict is the same under `before` and `after`, among
/// those the state before was seen to enforce (`confirmed[i]`: the probe
/// passed in the previous round, or the lab's preflight). A probe whose
/// verdict the spec leaves to the implementation in either state is not
/// watched.
pub fn stable(
    before: &Model<'_>,
    after: &Model<'_>,
    probes: &[Probe],
    confirmed: &[bool],
) -> Vec<Watched> {
    probes
        .iter()
        .enumerate()
        .filter(|&(i, p)| {
            confirmed.get(i).copied().unwrap_or(false)
                && before.undefined(p).is_none()
                && after.undefined(p).is_none()
                && before.allows(p) == after.allows(p)
        })
        .map(|(index, p)| Watched {
            index,
            probe: *p,
            verdict: Verdict::from_allowed(after.allows(p)),
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
        .filter(|(w, _)| round.probes.get(w.index).is_some_and(|p| p.result == Outcome::Pass))
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
            let mut wrong = timeline.iter().filter(|s| s.observed == other).map(|s| s.at_ms);
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
