//! Network namespaces held by file descriptors, each with a worker thread
//! that lives inside it.
//!
//! A namespace is created by a thread that `unshare(CLONE_NEWNET)`s itself
//! into it: no fork in a threaded process, no mount under `/run/netns`. The
//! namespace lives as long as its descriptor and its worker thread, so it
//! vanishes with the process, even after `kill -9`. Anything that must be
//! created inside the namespace (sockets, netlink connections, sysctls,
//! child processes such as `iptables`) is created by its worker: the
//! namespace of a socket or a child process is that of the thread that made it.

use std::fs::File;
use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::PathBuf;
use std::sync::mpsc;
use std::thread::JoinHandle;

use nix::sched::{CloneFlags, unshare};
use tokio::sync::oneshot;

type Job = Box<dyn FnOnce() + Send>;

/// A network namespace the lab created, and the thread that works in it.
#[derive(Debug)]
pub struct NetNs {
    name: String,
    fd: OwnedFd,
    jobs: Option<mpsc::Sender<Job>>,
    thread: Option<JoinHandle<()>>,
}

impl NetNs {
    /// Creates a fresh, empty network namespace (only `lo`, down).
    /// `name` is for messages and for `--keep`.
    pub fn create(name: &str) -> io::Result<NetNs> {
        let (jobs, queue) = mpsc::channel::<Job>();
        let (ready_tx, ready_rx) = mpsc::channel::<io::Result<OwnedFd>>();
        let thread = std::thread::Builder::new()
            .name(format!("netns-{name}"))
            .spawn(move || {
                // Only this thread moves into the new namespace.
                let entered = unshare(CloneFlags::CLONE_NEWNET)
                    .map_err(io::Error::from)
                    .and_then(|()| File::open("/proc/thread-self/ns/net").map(OwnedFd::from));
                let ok = entered.is_ok();
                let _ = ready_tx.send(entered);
                if ok {
                    while let Ok(job) = queue.recv() {
                        job();
                    }
                }
            })?;
        let fd = ready_rx
            .recv()
            .map_err(|_| io::Error::other("namespace thread died"))??;
        Ok(NetNs {
            name: name.to_string(),
            fd,
            jobs: Some(jobs),
            thread: Some(thread),
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// A path other processes can open to enter the namespace while this
    /// process lives (`nsenter --net=PATH`, `setns(open(PATH))`).
    pub fn path(&self) -> PathBuf {
        PathBuf::from(format!(
            "/proc/{}/fd/{}",
            std::process::id(),
            self.fd.as_raw_fd()
        ))
    }

    pub fn fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// Runs `f` on the namespace's thread, inside the namespace. A panic in
    /// `f` is reported as an error; the thread stays usable.
    pub async fn run<R: Send + 'static>(
        &self,
        f: impl FnOnce() -> R + Send + 'static,
    ) -> io::Result<R> {
        let (tx, rx) = oneshot::channel();
        let job: Job = Box::new(move || {
            let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
            let _ = tx.send(result);
        });
        let gone = || io::Error::other(format!("namespace {}: worker thread is gone", self.name));
        self.jobs
            .as_ref()
            .ok_or_else(gone)?
            .send(job)
            .map_err(|_| gone())?;
        match rx.await {
            Ok(Ok(r)) => Ok(r),
            Ok(Err(_)) => Err(io::Error::other(format!(
                "namespace {}: the work panicked",
                self.name
            ))),
            Err(_) => Err(gone()),
        }
    }

    /// Like `run`, for work that needs a tokio runtime context (e.g. to
    /// register a socket with the reactor).
    pub async fn run_in_runtime<R: Send + 'static>(
        &self,
        f: impl FnOnce() -> R + Send + 'static,
    ) -> io::Result<R> {
        let handle = tokio::runtime::Handle::current();
        self.run(move || {
            let _entered = handle.enter();
            f()
        })
        .await
    }

    /// Writes a sysctl of this namespace (`net/ipv4/ip_forward`).
    pub async fn sysctl(&self, key: &str, value: &str) -> io::Result<()> {
        let path = format!("/proc/sys/{key}");
        let value = value.to_string();
        let name = self.name.clone();
        self.run(move || {
            std::fs::write(&path, value)
                .map_err(|e| io::Error::new(e.kind(), format!("{name}: {path}: {e}")))
        })
        .await?
    }
}

impl Drop for NetNs {
    fn drop(&mut self) {
        // Closing the queue ends the thread; with it and the descriptor gone,
        // the kernel frees the namespace and everything in it.
        self.jobs.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
