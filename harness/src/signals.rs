//! The signals that stop a run: SIGINT (Ctrl-C) and SIGTERM (a CI job
//! cancelled, `kill`). Either one stops the run the same way; only the exit
//! status differs (128 + the signal's number).

/// A signal that asked the run to stop.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Signal {
    Interrupt,
    Terminate,
}

impl Signal {
    /// The conventional exit status of a process stopped by it.
    pub fn exit_status(self) -> u8 {
        match self {
            Signal::Interrupt => 130,
            Signal::Terminate => 143,
        }
    }
}

/// Waits for SIGINT or SIGTERM. Once installed, the handlers replace the
/// default action (dying at once), so the run can tear its labs down first.
pub async fn stop_requested() -> std::io::Result<Signal> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut terminate = signal(SignalKind::terminate())?;
    Ok(tokio::select! {
        _ = interrupt.recv() => Signal::Interrupt,
        _ = terminate.recv() => Signal::Terminate,
    })
}
