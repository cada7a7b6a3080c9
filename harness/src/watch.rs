//! The transition watch: while an enforcer moves the dataplane from one
//! round to the next, the probes whose verdict is the same in both states
//! are sent again every [`INTERVAL`], each attempt on its own (a denied
//! one waiting out its timeout does not delay the next), until the round
//! converges. `netpol_core::transition` reads leaks and outages from what
//! they saw.

use std::time::{Duration, Instant};

use futures::StreamExt;
use futures::stream::FuturesUnordered;
use tokio::sync::watch;

use crate::lab::Lab;
use netpol_core::transition::{Samples, Watched};

/// How often every watched probe is sent: the watch's resolution.
pub const INTERVAL: Duration = Duration::from_millis(40);

/// After the round converged, how long attempts already sent may still be
/// answered (a probe sent before convergence and answered is a sample; one
/// still unanswered is dropped, neither a leak nor an outage).
const GRACE: Duration = Duration::from_millis(5);

/// Watches `watched` from `since` (the start of the change) until `done`
/// says the round converged; each attempt waits `timeout` for an answer.
pub async fn watch(
    lab: &Lab,
    watched: &[Watched],
    timeout: Duration,
    since: Instant,
    mut done: watch::Receiver<bool>,
) -> Samples {
    let mut samples = Samples {
        samples: vec![Vec::new(); watched.len()],
        ..Samples::default()
    };
    if watched.is_empty() {
        return samples;
    }
    let mut ticks = tokio::time::interval(INTERVAL);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut in_flight = FuturesUnordered::new();
    let mut stop_at: Option<tokio::time::Instant> = None;
    loop {
        tokio::select! {
            _ = ticks.tick(), if stop_at.is_none() => {
                samples.sweeps += 1;
                for (k, w) in watched.iter().enumerate() {
                    in_flight.push(async move {
                        let (sent, observation) = lab.watch_attempt(&w.probe, timeout, since).await;
                        (k, sent, observation)
                    });
                }
            }
            Some((k, sent, observation)) = in_flight.next(), if !in_flight.is_empty() => {
                samples.samples[k].push((sent.as_secs_f64() * 1e3, observation));
            }
            changed = done.changed(), if stop_at.is_none() => {
                // A dropped sender ends the watch too.
                if changed.is_err() || *done.borrow() {
                    stop_at = Some(tokio::time::Instant::now() + GRACE);
                }
            }
            () = sleep_until(stop_at) => break,
        }
        if stop_at.is_some() && in_flight.is_empty() {
            break;
        }
    }
    samples.ms = since.elapsed().as_secs_f64() * 1e3;
    for s in &mut samples.samples {
        s.sort_by(|a, b| a.0.total_cmp(&b.0));
    }
    samples
}

async fn sleep_until(at: Option<tokio::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}
