//! Enforcers: who programs the lab's dataplane. Every enforcer but `none`
//! is a plugin driven through the documented protocol
//! (`docs/plugin-protocol.md`), the bundled reference enforcer included.
//!
//! Every call runs in a PID namespace the harness owns: the lab's for `sync`
//! and `cleanup`, one of its own for `version`. Whatever a plugin starts
//! dies with that namespace, also when the harness is killed.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use netpol_protocol::{PROTOCOL_VERSION, State, VersionInfo};
use tokio::io::AsyncWriteExt;

use crate::cluster::Endpoint;
use crate::lab::pidns::{PidNs, Process};
use crate::lab::{Lab, topology};
use crate::scenario::Round;
use crate::stop::{self, StopSignal};

mod output;

/// How long processes may take to exit after `cleanup` returned (a plugin
/// that signals its daemons without waiting for them) before they count
/// as left behind.
const CLEANUP_GRACE: Duration = Duration::from_millis(250);

/// How the user names an enforcer on the command line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EnforcerSpec {
    /// Nothing enforces: every probe is allowed.
    None,
    /// The bundled iptables reference enforcer.
    Reference,
    /// A plugin executable.
    Path(PathBuf),
}

impl EnforcerSpec {
    pub fn parse(s: &str) -> EnforcerSpec {
        match s {
            "none" => EnforcerSpec::None,
            "reference" => EnforcerSpec::Reference,
            path => EnforcerSpec::Path(PathBuf::from(path)),
        }
    }
}

/// A failed plugin call: it names the plugin and the call.
#[derive(Debug, thiserror::Error)]
pub enum EnforcerError {
    #[error("enforcer {plugin}: `{command}`: cannot run {program}: {error}")]
    Spawn {
        plugin: String,
        command: String,
        program: String,
        error: std::io::Error,
    },
    #[error("enforcer {plugin}: `{command}` did not finish within {timeout:?}; it was killed")]
    Timeout {
        plugin: String,
        command: String,
        timeout: Duration,
    },
    #[error("enforcer {plugin}: `{command}` failed ({status}): {stderr}")]
    Failed {
        plugin: String,
        command: String,
        status: String,
        stderr: String,
    },
    #[error("enforcer {plugin}: `{command}` answered something that is not {expected}: {detail}")]
    BadAnswer {
        plugin: String,
        command: String,
        expected: &'static str,
        detail: String,
    },
    #[error("enforcer {plugin}: `{command}` was stopped by {signal}; it was killed")]
    Interrupted {
        plugin: String,
        command: String,
        signal: StopSignal,
    },
    #[error(
        "enforcer {plugin}: processes it started still ran after `cleanup` (they were killed with the lab): {}",
        processes.iter().map(Process::to_string).collect::<Vec<_>>().join(", ")
    )]
    LeftProcesses {
        plugin: String,
        processes: Vec<Process>,
    },
}

/// What a call about a lab takes: the state document, and the lab's PID
/// namespace, where the plugin's processes run.
#[derive(Debug)]
pub struct LabState<'a> {
    pub document: State,
    pub pids: &'a PidNs,
}

/// A plugin, ready to use: its `version` answer has been checked.
#[derive(Debug, Clone)]
pub struct Plugin {
    program: PathBuf,
    args: Vec<String>,
    timeout: Duration,
    pub info: VersionInfo,
    /// `sync` calls in a row that timed out, over every lab of the run
    /// (shared by the clones): see [`Enforcer::unresponsive`].
    sync_timeouts: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

/// After this many `sync` calls in a row time out, the run stops: a plugin
/// that never answers would cost the full timeout on every scenario.
pub const SYNC_TIMEOUTS_BEFORE_STOP: usize = 3;

/// An enforcer ready for a run.
#[derive(Debug, Clone)]
pub enum Enforcer {
    None,
    Plugin(Plugin),
}

impl Enforcer {
    /// Why the run should stop: the plugin's last
    /// [`SYNC_TIMEOUTS_BEFORE_STOP`] `sync` calls all timed out.
    pub fn unresponsive(&self) -> Option<String> {
        let Enforcer::Plugin(p) = self else {
            return None;
        };
        let n = p.sync_timeouts.load(std::sync::atomic::Ordering::Relaxed);
        (n >= SYNC_TIMEOUTS_BEFORE_STOP).then(|| {
            format!(
                "enforcer {}: {n} `sync` calls in a row did not finish within {:?} (--enforcer-timeout); it is not answering, so the run stopped",
                p.label(),
                p.timeout
            )
        })
    }

    /// Resolves `spec` and, for a plugin, asks its version. `args` go before
    /// the command on every call; `timeout` bounds every call.
    pub async fn start(
        spec: &EnforcerSpec,
        args: &[String],
        timeout: Duration,
    ) -> Result<Enforcer, EnforcerError> {
        let (program, mut all_args) = match spec {
            EnforcerSpec::None => return Ok(Enforcer::None),
            EnforcerSpec::Reference => (
                std::env::current_exe().unwrap_or_else(|_| PathBuf::from("netpol")),
                vec!["reference-enforcer".to_string()],
            ),
            EnforcerSpec::Path(p) => (p.clone(), Vec::new()),
        };
        all_args.extend(args.iter().cloned());
        // The host's baseline, before the plugin first runs; a failure to
        // record it fails each scenario (`host_guard::Watch`).
        let _ = crate::host_guard::shared().await;
        Plugin::start(program, all_args, timeout)
            .await
            .map(Enforcer::Plugin)
    }

    pub fn info(&self) -> Option<&VersionInfo> {
        match self {
            Enforcer::None => None,
            Enforcer::Plugin(p) => Some(&p.info),
        }
    }
}

impl Plugin {
    async fn start(
        program: PathBuf,
        args: Vec<String>,
        timeout: Duration,
    ) -> Result<Plugin, EnforcerError> {
        let mut plugin = Plugin {
            program,
            args,
            timeout,
            sync_timeouts: std::sync::Arc::default(),
            info: VersionInfo {
                name: String::new(),
                version: String::new(),
                protocol_versions: Vec::new(),
                unsupported: Vec::new(),
                sync: netpol_protocol::SyncMode::Blocking,
            },
        };
        // `version` comes before any lab: it gets a PID namespace of its
        // own, which ends (with anything the call left) when it returns.
        let pids = tokio::task::spawn_blocking(|| PidNs::create("netpol-version"))
            .await
            .map_err(std::io::Error::other)
            .and_then(|r| r)
            .map_err(|error| EnforcerError::Spawn {
                plugin: plugin.label(),
                command: "version".into(),
                program: plugin.program.display().to_string(),
                error,
            })?;
        let out = plugin.call(&pids, "version", b"{}").await;
        pids.end().await;
        let out = out?;
        let bad = |detail: String| EnforcerError::BadAnswer {
            plugin: plugin.label(),
            command: "version".into(),
            expected: "a version document",
            detail,
        };
        let info: VersionInfo = serde_json::from_slice(&out)
            .map_err(|e| bad(format!("{e}; it printed {:?}", truncate(&out))))?;
        if !info.protocol_versions.iter().any(|v| v == PROTOCOL_VERSION) {
            return Err(bad(format!(
                "it speaks protocol versions {:?}, the harness speaks {PROTOCOL_VERSION}",
                info.protocol_versions
            )));
        }
        plugin.info = info;
        Ok(plugin)
    }

    /// The plugin as messages name it: its own name once known, else its path.
    pub fn label(&self) -> String {
        if self.info.name.is_empty() {
            self.program.display().to_string()
        } else {
            format!("{} ({})", self.info.name, self.program.display())
        }
    }

    /// Makes the dataplane enforce `state`; returns how long it took.
    pub async fn sync(&self, state: &LabState<'_>) -> Result<Duration, EnforcerError> {
        use std::sync::atomic::Ordering::Relaxed;
        let t = Instant::now();
        let result = self
            .call(
                state.pids,
                "sync",
                &serde_json::to_vec(&state.document).expect("the state serializes"),
            )
            .await;
        match &result {
            Err(EnforcerError::Timeout { .. }) => self.sync_timeouts.fetch_add(1, Relaxed),
            _ => self.sync_timeouts.swap(0, Relaxed),
        };
        result?;
        Ok(t.elapsed())
    }

    /// Asks the plugin to remove everything it created. Processes of the
    /// plugin still running in the lab's PID namespace afterwards are left
    /// behind: an error naming them (the lab's teardown kills them).
    pub async fn cleanup(&self, state: &LabState<'_>) -> Result<(), EnforcerError> {
        self.call(
            state.pids,
            "cleanup",
            &serde_json::to_vec(&state.document).expect("the state serializes"),
        )
        .await?;
        let deadline = Instant::now() + CLEANUP_GRACE;
        loop {
            let processes = state.pids.processes().await;
            if processes.is_empty() {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(EnforcerError::LeftProcesses {
                    plugin: self.label(),
                    processes,
                });
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Runs `PROGRAM ARGS... COMMAND` with `input` on stdin, in `pids` and
    /// in a process group of its own, so that when the call ends (in time or
    /// not) the plugin and anything it started in its group are killed
    /// together. Calls but `cleanup` are killed when the run is stopped.
    async fn call(
        &self,
        pids: &PidNs,
        command: &str,
        input: &[u8],
    ) -> Result<Vec<u8>, EnforcerError> {
        let started = Instant::now();
        let result = self.run_call(pids, command, input).await;
        // `-v` shows every plugin call: a vendor debugging a plugin sees what
        // was asked, in which lab, how long it took and how it ended.
        let took_ms = started.elapsed().as_secs_f64() * 1000.0;
        match &result {
            Ok(out) => tracing::debug!(
                plugin = %self.label(),
                lab = pids.name(),
                command,
                input_bytes = input.len(),
                output_bytes = out.len(),
                took_ms = format_args!("{took_ms:.1}"),
                "plugin call succeeded"
            ),
            Err(error) => tracing::debug!(
                plugin = %self.label(),
                lab = pids.name(),
                command,
                input_bytes = input.len(),
                took_ms = format_args!("{took_ms:.1}"),
                %error,
                "plugin call failed"
            ),
        }
        result
    }

    async fn run_call(
        &self,
        pids: &PidNs,
        command: &str,
        input: &[u8],
    ) -> Result<Vec<u8>, EnforcerError> {
        let interruptible = command != "cleanup";
        // Only `version`'s answer is read; other calls' stdout is kept for
        // nothing but its end.
        let keep = if command == "version" {
            output::Keep::Head
        } else {
            output::Keep::Tail
        };
        let interrupted = |signal| EnforcerError::Interrupted {
            plugin: self.label(),
            command: command.into(),
            signal,
        };
        if let Some(signal) = stop::requested().filter(|_| interruptible) {
            return Err(interrupted(signal));
        }
        let mut process = tokio::process::Command::new(&self.program);
        process
            .args(&self.args)
            .arg(command)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .kill_on_drop(true);
        let mut child = pids
            .spawn(process)
            .await
            .map_err(|error| EnforcerError::Spawn {
                plugin: self.label(),
                command: command.into(),
                program: self.program.display().to_string(),
                error,
            })?;
        let pgid = child
            .id()
            .map(|id| nix::unistd::Pid::from_raw(crate::lab::pidns::pid_t(id)));
        let mut stdin = child.stdin.take().expect("piped stdin");
        let input = input.to_vec();
        // A plugin that does not read its input must not block us: write aside.
        let writer = tokio::spawn(async move {
            let _ = stdin.write_all(&input).await;
        });
        let stop = async {
            if interruptible {
                stop::stopped().await
            } else {
                std::future::pending().await
            }
        };
        // (The child is dropped with the select, and killed, before the
        // group is.)
        let outcome = tokio::select! {
            outcome = tokio::time::timeout(self.timeout, output::wait(child, keep)) => Ok(outcome),
            signal = stop => Err(signal),
        };
        writer.abort();
        let outcome = match outcome {
            Ok(outcome) => outcome,
            Err(signal) => {
                kill_group(pgid).await;
                return Err(interrupted(signal));
            }
        };
        match outcome {
            Err(_) => {
                kill_group(pgid).await;
                Err(EnforcerError::Timeout {
                    plugin: self.label(),
                    command: command.into(),
                    timeout: self.timeout,
                })
            }
            Ok(Err(error)) => {
                kill_group(pgid).await;
                Err(EnforcerError::Spawn {
                    plugin: self.label(),
                    command: command.into(),
                    program: self.program.display().to_string(),
                    error,
                })
            }
            Ok(Ok(out)) => {
                // Whatever the plugin left running in its group goes with it.
                kill_group(pgid).await;
                if out.status.success() {
                    Ok(out.stdout)
                } else {
                    Err(EnforcerError::Failed {
                        plugin: self.label(),
                        command: command.into(),
                        status: out.status.to_string(),
                        stderr: Some(tail(&out.stderr))
                            .filter(|t| !t.is_empty())
                            .unwrap_or_else(|| "it printed nothing on stderr".into()),
                    })
                }
            }
        }
    }
}

/// Kills the process group of a call, and waits until it is gone: what its
/// processes held (a lab's namespace) is released, and a check for processes
/// left after `cleanup` does not find them dying.
async fn kill_group(pgid: Option<nix::unistd::Pid>) {
    use nix::sys::signal::{Signal, killpg};
    let Some(pgid) = pgid else { return };
    let _ = killpg(pgid, Signal::SIGKILL);
    // Orphans are reaped by the PID namespace's init at once; a killed
    // leader by tokio, soon.
    let deadline = Instant::now() + Duration::from_secs(2);
    while killpg(pgid, None).is_ok() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// The last 2,000 characters of a stream: the messages before a failure.
fn tail(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let text = text.trim();
    let count = text.chars().count();
    if count > 2000 {
        format!("...{}", text.chars().skip(count - 2000).collect::<String>())
    } else {
        text.to_string()
    }
}

fn truncate(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let text = text.trim();
    if text.chars().count() > 2000 {
        format!("{}...", text.chars().take(2000).collect::<String>())
    } else {
        text.to_string()
    }
}

/// The protocol's state document for one round of a lab, with the lab's
/// PID namespace.
pub fn state<'a>(lab: &'a Lab, lab_id: &str, round: &Round) -> LabState<'a> {
    LabState {
        document: document(lab, lab_id, round),
        pids: lab.pids(),
    }
}

/// The protocol's state document for one round of a lab.
pub fn document(lab: &Lab, lab_id: &str, round: &Round) -> State {
    let c = &round.cluster;
    let ports = |ps: &[crate::cluster::ContainerPort]| {
        ps.iter()
            .map(|p| netpol_protocol::ContainerPort {
                name: p.name.clone(),
                container_port: p.port,
                protocol: p.protocol.as_str().to_string(),
            })
            .collect()
    };
    // `ip` is the address of the cluster's primary family (an external's
    // first, when it lacks that family); `ips` every address, `ip` first.
    let addresses = |a: &crate::cluster::Addresses| {
        let mut ips = a.in_order(&c.families);
        ips.extend(a.all().filter(|ip| !ips.contains(ip)).collect::<Vec<_>>());
        (ips[0], ips)
    };
    State {
        protocol_version: PROTOCOL_VERSION.to_string(),
        lab: lab_id.to_string(),
        ip_families: c.families.clone(),
        nodes: c
            .nodes
            .iter()
            .enumerate()
            .map(|(i, n)| {
                let (ip, ips) = addresses(&n.ips);
                netpol_protocol::Node {
                    name: n.name.clone(),
                    netns: lab.host(Endpoint::Node(i)).ns.path().display().to_string(),
                    ip,
                    ips,
                    labels: n.labels.clone(),
                }
            })
            .collect(),
        namespaces: c
            .namespaces
            .iter()
            .map(|n| netpol_protocol::Namespace {
                name: n.name.clone(),
                labels: n.labels.clone(),
            })
            .collect(),
        // Only the pods that exist in this round; each keeps its veth.
        pods: c
            .pods
            .iter()
            .enumerate()
            .filter(|(_, p)| p.present)
            .map(|(j, p)| {
                let (ip, ips) = addresses(&p.ips);
                netpol_protocol::Pod {
                    namespace: p.namespace.clone(),
                    name: p.name.clone(),
                    labels: p.labels.clone(),
                    ip,
                    ips,
                    node: c.nodes[p.node].name.clone(),
                    netns: lab.host(Endpoint::Pod(j)).ns.path().display().to_string(),
                    host_veth: topology::pod_veth_name(j),
                    container_ports: ports(&p.ports),
                }
            })
            .collect(),
        externals: c
            .externals
            .iter()
            .map(|e| {
                let (ip, ips) = addresses(&e.ips);
                netpol_protocol::External {
                    name: e.name.clone(),
                    ip,
                    ips,
                }
            })
            .collect(),
        network_policies: round.policies.iter().map(|p| p.object.clone()).collect(),
        cluster_network_policies: round
            .cluster_policies
            .iter()
            .map(|p| p.object.clone())
            .collect(),
    }
}
