//! File descriptors: a lab holds a few per host, and every probe in flight
//! holds a socket. The soft limit is raised to the hard one once, and probes
//! in flight are bounded so that parallel labs never run out.

use std::sync::OnceLock;

use nix::sys::resource::{Resource, getrlimit, setrlimit};
use tokio::sync::{Semaphore, SemaphorePermit};

/// Descriptors left for everything that is not a probe socket (servers,
/// netlink, namespaces, the enforcer's pipes, the runtime).
const RESERVED: u64 = 512;

static LIMIT: OnceLock<u64> = OnceLock::new();
static PROBES: OnceLock<Semaphore> = OnceLock::new();

/// Raises the soft limit on open files to the hard limit, once; returns the
/// limit in force.
pub fn raise_limit() -> u64 {
    *LIMIT.get_or_init(|| match getrlimit(Resource::RLIMIT_NOFILE) {
        Ok((soft, hard)) if soft < hard => match setrlimit(Resource::RLIMIT_NOFILE, hard, hard) {
            Ok(()) => hard,
            Err(_) => soft,
        },
        Ok((soft, _)) => soft,
        Err(_) => 1024,
    })
}

/// A permit to hold one probe socket.
pub async fn probe_permit() -> SemaphorePermit<'static> {
    let permits = (raise_limit().saturating_sub(RESERVED) / 2).clamp(64, 65_536) as usize;
    let semaphore = PROBES.get_or_init(|| Semaphore::new(permits));
    semaphore
        .acquire()
        .await
        .expect("the probe semaphore is never closed")
}
