//! PID namespaces: where plugin processes run, so that the harness can list
//! them and end them all, also when it is killed.
//!
//! A thread of the harness `unshare(CLONE_NEWPID)`s itself: its later
//! children go into a new PID namespace (the thread itself stays where it
//! is). Its first child is the namespace's init; every plugin call about the
//! namespace is then spawned by that thread, so every process a plugin
//! starts (daemons included: orphans are adopted by the init) is inside.
//!
//! The init is `env --ignore-signal=CHLD cat`, reading a pipe whose only
//! writer is the harness:
//! - when the harness exits, however it exits (SIGKILL included), the
//!   kernel closes the pipe, `cat` reads end-of-file and exits; when the init
//!   of a PID namespace exits, the kernel kills every process in it;
//! - with SIGCHLD ignored, the kernel reaps the orphans it adopts (no zombies);
//! - as a namespace's init, it ignores the signals its own processes send it.
//!
//! (PR_SET_PDEATHSIG would need code run between fork and exec, leaves a
//! window in which the harness may die unnoticed, and is tied to the thread
//! that spawned the init; the pipe has none of these.)

use std::fs;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;

use nix::sched::{CloneFlags, unshare};
use tokio::sync::oneshot;

/// The init's command line (the namespace lives as long as it runs).
const INIT: [&str; 3] = ["env", "--ignore-signal=CHLD", "cat"];

type Job = Box<dyn FnOnce(&mut Child) + Send>;

/// A process of a PID namespace, as the host sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Process {
    /// Its process ID in the host's PID namespace (what `ps` shows there).
    pub pid: i32,
    /// Its command line, arguments separated by spaces (`[comm]` if empty).
    pub command: String,
}

impl std::fmt::Display for Process {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "pid {} `{}`", self.pid, self.command)
    }
}

/// A PID namespace the harness created, its init, and the thread that
/// spawns processes into it. Dropping it (or `end`) kills every process in it.
#[derive(Debug)]
pub struct PidNs {
    name: String,
    init: i32,
    /// The namespace's identity: device and inode of `/proc/PID/ns/pid`.
    id: (u64, u64),
    jobs: Option<mpsc::Sender<Job>>,
    ended: Option<oneshot::Receiver<()>>,
}

impl PidNs {
    /// Creates a PID namespace with its init. Blocks for about a fork and
    /// an exec. `name` is for messages.
    pub fn create(name: &str) -> io::Result<PidNs> {
        let (jobs, queue) = mpsc::channel::<Job>();
        let (ready_tx, ready_rx) = mpsc::channel::<io::Result<(i32, (u64, u64))>>();
        let (ended_tx, ended_rx) = oneshot::channel();
        std::thread::Builder::new()
            .name(format!("pidns-{name}"))
            .spawn(move || {
                let mut init = match start_init() {
                    Ok(init) => init,
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                        return;
                    }
                };
                let pid = pid_t(init.id());
                match namespace_id(pid) {
                    Ok(id) => {
                        let _ = ready_tx.send(Ok((pid, id)));
                        while let Ok(job) = queue.recv() {
                            job(&mut init);
                        }
                    }
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                    }
                }
                // The init was never waited for, so its PID is still ours to
                // kill. Its exit kills everything in the namespace; it is
                // reaped once every process in it is gone.
                let _ = init.kill();
                let _ = init.wait();
                let _ = ended_tx.send(());
            })?;
        let (init, id) = ready_rx
            .recv()
            .map_err(|_| io::Error::other("PID namespace thread died"))??;
        Ok(PidNs {
            name: name.to_string(),
            init,
            id,
            jobs: Some(jobs),
            ended: Some(ended_rx),
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The init's process ID, as the host sees it.
    pub fn init_pid(&self) -> i32 {
        self.init
    }

    /// Spawns `command` as a process of the namespace (the namespace's
    /// thread forks it, in the runtime's context, so that tokio can reap it).
    pub async fn spawn(
        &self,
        mut command: tokio::process::Command,
    ) -> io::Result<tokio::process::Child> {
        let handle = tokio::runtime::Handle::current();
        let name = self.name.clone();
        let (tx, rx) = oneshot::channel();
        let job: Job = Box::new(move |init: &mut Child| {
            let _entered = handle.enter();
            let spawned = match init.try_wait() {
                Ok(None) => command.spawn(),
                Ok(Some(status)) => Err(io::Error::other(format!(
                    "PID namespace {name}: its init (`{}`, coreutils 8.31 or later) is gone: {status}",
                    INIT.join(" ")
                ))),
                Err(e) => Err(e),
            };
            let _ = tx.send(spawned);
        });
        let gone = || io::Error::other(format!("PID namespace {}: its thread is gone", self.name));
        self.jobs
            .as_ref()
            .ok_or_else(gone)?
            .send(job)
            .map_err(|_| gone())?;
        rx.await.map_err(|_| gone())?
    }

    /// Every live process in the namespace but its init (zombies are not
    /// running anything and are left out), in PID order.
    pub async fn processes(&self) -> Vec<Process> {
        let (id, init) = (self.id, self.init);
        tokio::task::spawn_blocking(move || members(id, init))
            .await
            .unwrap_or_default()
    }

    /// Kills every process in the namespace; returns once they are all gone.
    pub async fn end(mut self) {
        self.jobs.take();
        if let Some(ended) = self.ended.take() {
            let _ = ended.await;
        }
    }
}

impl Drop for PidNs {
    fn drop(&mut self) {
        // Closing the queue makes the thread kill the init (and with it the
        // namespace); it reaps the init on its own.
        self.jobs.take();
    }
}

/// Starts the init of a new PID namespace, from the calling thread (which
/// is moved to spawn its later children there too).
fn start_init() -> io::Result<Child> {
    unshare(CloneFlags::CLONE_NEWPID)?;
    Command::new(INIT[0])
        .args(&INIT[1..])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .current_dir("/")
        .spawn()
}

/// A process id as the kernel's `pid_t`. Linux hands out pids up to
/// `PID_MAX_LIMIT` (2^22), so every real one fits.
pub fn pid_t(id: u32) -> i32 {
    i32::try_from(id).expect("pids are at most 2^22 (PID_MAX_LIMIT)")
}

fn namespace_id(pid: i32) -> io::Result<(u64, u64)> {
    let m = fs::metadata(format!("/proc/{pid}/ns/pid"))?;
    Ok((m.dev(), m.ino()))
}

/// The live processes whose PID namespace is `id`, but `init`.
fn members(id: (u64, u64), init: i32) -> Vec<Process> {
    let Ok(dir) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut found: Vec<Process> = dir
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter(|&pid| pid != init)
        .filter_map(|pid| {
            // Checked before and after reading: the PID may be reused meanwhile.
            let inside = || namespace_id(pid).is_ok_and(|ns| ns == id);
            if !inside() {
                return None;
            }
            let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            let cmdline = fs::read(format!("/proc/{pid}/cmdline")).ok()?;
            if !inside() {
                return None;
            }
            // `PID (COMM) STATE ...`: COMM may hold spaces and parentheses.
            let (head, rest) = stat.rsplit_once(')')?;
            if rest.trim_start().starts_with(['Z', 'X']) {
                return None;
            }
            let command = cmdline
                .split(|&b| b == 0)
                .filter(|a| !a.is_empty())
                .map(String::from_utf8_lossy)
                .collect::<Vec<_>>()
                .join(" ");
            let command = if command.is_empty() {
                format!("[{}]", head.split_once('(').map_or("", |(_, c)| c))
            } else {
                command
            };
            Some(Process { pid, command })
        })
        .collect();
    found.sort_by_key(|p| p.pid);
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_host_namespace_has_members_and_an_unknown_one_none() {
        let me = namespace_id(pid_t(std::process::id())).expect("our own namespace");
        let here = members(me, 0);
        let pid = pid_t(std::process::id());
        let own = here.iter().find(|p| p.pid == pid).expect("this process");
        assert!(!own.command.is_empty());
        assert!(members((me.0, me.1.wrapping_add(1)), 0).is_empty());
    }
}
