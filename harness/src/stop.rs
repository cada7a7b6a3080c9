//! Stopping a run on SIGINT or SIGTERM.
//!
//! What a stopped run does, in this order:
//! 1. it launches no more scenarios (`until_stopped`), and builds no new
//!    lab (`Lab::build` fails at once);
//! 2. running plugin calls (`version`, `sync`) are killed, with their process
//!    group, and fail as interrupted; no new one starts;
//! 3. each running scenario still calls `cleanup` (not interrupted, bounded by
//!    the enforcer timeout), then tears its lab down, which kills every
//!    process left in the lab's PID namespace;
//! 4. the run exits with 128 + the signal: 130 (SIGINT), 143 (SIGTERM).
//!
//! A second signal ends the run at once: the labs are dropped, and the
//! kernel removes their namespaces and kills their processes (as it does
//! when the run is killed with SIGKILL).

use std::future::Future;
use std::io;
use std::sync::LazyLock;

use futures::{Stream, StreamExt};
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::watch;

/// The signal that stopped the run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StopSignal {
    Interrupt,
    Terminate,
}

impl StopSignal {
    /// The exit status of a run it stopped: 128 + the signal's number.
    pub fn exit_status(self) -> u8 {
        match self {
            StopSignal::Interrupt => 130,
            StopSignal::Terminate => 143,
        }
    }
}

impl std::fmt::Display for StopSignal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            StopSignal::Interrupt => "SIGINT",
            StopSignal::Terminate => "SIGTERM",
        })
    }
}

/// The process-wide stop: signals are process-wide too.
static STOP: LazyLock<watch::Sender<Option<StopSignal>>> = LazyLock::new(|| watch::channel(None).0);

/// Stops the run: what the first signal does (see the module's documentation).
pub fn request(signal: StopSignal) {
    STOP.send_if_modified(|s| {
        let first = s.is_none();
        if first {
            *s = Some(signal);
        }
        first
    });
}

/// The signal that stopped the run, if one did.
pub fn requested() -> Option<StopSignal> {
    *STOP.borrow()
}

/// Resolves once the run is stopped.
pub async fn stopped() -> StopSignal {
    let mut rx = STOP.subscribe();
    let signal = *rx
        .wait_for(Option::is_some)
        .await
        .expect("the sender is a static");
    signal.expect("waited for it")
}

/// The items of `stream` until the run is stopped: a suite's scenarios, so
/// that a stopped run launches no more of them.
pub fn until_stopped<S: Stream>(stream: S) -> impl Stream<Item = S::Item> {
    stream.take_while(|_| std::future::ready(requested().is_none()))
}

/// SIGINT and SIGTERM, once listened to (their default action, ending the
/// process, no longer applies).
#[derive(Debug)]
pub struct Signals {
    interrupt: tokio::signal::unix::Signal,
    terminate: tokio::signal::unix::Signal,
}

impl Signals {
    pub fn listen() -> io::Result<Signals> {
        Ok(Signals {
            interrupt: signal(SignalKind::interrupt())?,
            terminate: signal(SignalKind::terminate())?,
        })
    }

    /// The next SIGINT or SIGTERM.
    pub async fn recv(&mut self) -> StopSignal {
        tokio::select! {
            _ = self.interrupt.recv() => StopSignal::Interrupt,
            _ = self.terminate.recv() => StopSignal::Terminate,
        }
    }
}

/// Drives `work` (e.g. the stream of a suite's scenarios) to its end, unless
/// SIGINT or SIGTERM comes: then the run is stopped and `work` is driven on
/// until its running scenarios have cleaned up and torn down their labs, or
/// until a second signal. Returns the signal that stopped the run, if any.
pub async fn run_until_stopped(work: impl Future<Output = ()>) -> io::Result<Option<StopSignal>> {
    let mut signals = Signals::listen()?;
    let mut work = std::pin::pin!(work);
    let first = tokio::select! {
        () = &mut work => return Ok(None),
        signal = signals.recv() => signal,
    };
    request(first);
    tokio::select! {
        () = work => {}
        _ = signals.recv() => {}
    }
    Ok(Some(first))
}
