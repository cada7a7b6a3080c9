//! The reference NetworkPolicy enforcer: a plugin of the netpol harness
//! (`docs/plugin-protocol.md`) that implements `docs/spec-notes.md` with
//! iptables inside the lab's node namespaces.
//!
//! `netpol-reference [--iptables auto|nft|legacy] [--deny reject|drop] COMMAND`
//! with COMMAND `version`, `sync` or `cleanup` and the protocol's JSON state
//! on standard input. Each sync rewrites each node's filter table with one
//! atomic `iptables-restore`: the same state gives the same table.

pub mod rules;

use std::io::Read;
use std::process::{Command, ExitCode, Stdio};

use netpol_protocol::{PROTOCOL_VERSION, State, VersionInfo};

pub use rules::Deny;

/// Which iptables to drive.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// The system's `iptables-restore`, whichever back end it is.
    Auto,
    Nft,
    Legacy,
}

impl Backend {
    fn restore(self) -> &'static str {
        match self {
            Backend::Auto => "iptables-restore",
            Backend::Nft => "iptables-nft-restore",
            Backend::Legacy => "iptables-legacy-restore",
        }
    }

    fn iptables(self) -> &'static str {
        match self {
            Backend::Auto => "iptables",
            Backend::Nft => "iptables-nft",
            Backend::Legacy => "iptables-legacy",
        }
    }
}

const USAGE: &str = "usage: netpol-reference [--iptables auto|nft|legacy] [--deny reject|drop] version|sync|cleanup  (the state as JSON on stdin)";

/// Runs one protocol command; errors go to standard error with a non-zero exit.
pub fn main(args: Vec<String>) -> ExitCode {
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("netpol-reference: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: Vec<String>) -> Result<(), String> {
    let (mut backend, mut deny, mut command) = (Backend::Auto, Deny::Reject, None);
    let mut args = args.into_iter();
    while let Some(a) = args.next() {
        let mut value = |name: &str| {
            args.next()
                .ok_or_else(|| format!("{name} needs a value\n{USAGE}"))
        };
        match a.as_str() {
            "--iptables" => {
                backend = match value("--iptables")?.as_str() {
                    "auto" => Backend::Auto,
                    "nft" => Backend::Nft,
                    "legacy" => Backend::Legacy,
                    other => return Err(format!("unknown iptables back end {other:?}\n{USAGE}")),
                }
            }
            "--deny" => {
                deny = match value("--deny")?.as_str() {
                    "reject" => Deny::Reject,
                    "drop" => Deny::Drop,
                    other => return Err(format!("unknown deny mode {other:?}\n{USAGE}")),
                }
            }
            c if command.is_none() && !c.starts_with('-') => command = Some(c.to_string()),
            other => return Err(format!("unexpected argument {other:?}\n{USAGE}")),
        }
    }
    match command.as_deref() {
        Some("version") => version(backend),
        Some("sync") => apply_all(&read_state()?, backend, |node| {
            rules::node_rules_for(node, deny)
        }),
        Some("cleanup") => apply_all(&read_state()?, backend, |_| Ok(rules::empty_table())),
        Some(other) => Err(format!("unknown command {other:?}\n{USAGE}")),
        None => Err(USAGE.to_string()),
    }
}

fn version(backend: Backend) -> Result<(), String> {
    let iptables = Command::new(backend.iptables())
        .arg("--version")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|e| format!("{} unavailable: {e}", backend.iptables()));
    let info = VersionInfo {
        name: "netpol-reference".into(),
        version: format!("{} ({iptables})", env!("CARGO_PKG_VERSION")),
        protocol_versions: vec![PROTOCOL_VERSION.into()],
        unsupported: Vec::new(),
    };
    println!(
        "{}",
        serde_json::to_string(&info).map_err(|e| e.to_string())?
    );
    Ok(())
}

fn read_state() -> Result<State, String> {
    let mut input = String::new();
    std::io::stdin()
        .read_to_string(&mut input)
        .map_err(|e| format!("reading the state: {e}"))?;
    let state: State = serde_json::from_str(&input)
        .map_err(|e| format!("the state is not a protocol document: {e}"))?;
    if state.protocol_version != PROTOCOL_VERSION {
        return Err(format!(
            "protocol version {:?} is not supported (this plugin speaks {PROTOCOL_VERSION})",
            state.protocol_version
        ));
    }
    Ok(state)
}

/// Computes every node's table, then applies them all, one
/// `iptables-restore` per node, in parallel; reports every failure.
fn apply_all(
    state: &State,
    backend: Backend,
    table: impl Fn(&NodeRef<'_>) -> Result<String, rules::RulesError>,
) -> Result<(), String> {
    let tables: Vec<(String, String, String)> = state
        .nodes
        .iter()
        .map(|n| {
            table(&NodeRef {
                state,
                name: &n.name,
            })
            .map(|t| (n.name.clone(), n.netns.clone(), t))
        })
        .collect::<Result<_, _>>()
        .map_err(|e| e.to_string())?;
    let errors: Vec<String> = std::thread::scope(|s| {
        let handles: Vec<_> = tables
            .iter()
            .map(|(name, netns, text)| {
                s.spawn(move || {
                    restore_in(netns, backend, text).map_err(|e| format!("node {name}: {e}"))
                })
            })
            .collect();
        handles
            .into_iter()
            .filter_map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err("a worker thread panicked".into()))
                    .err()
            })
            .collect()
    });
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors.join("; "))
    }
}

/// A node of the state, for computing its table.
#[derive(Debug)]
pub struct NodeRef<'a> {
    pub state: &'a State,
    pub name: &'a str,
}

/// Runs `iptables-restore` inside the namespace at `netns`: this thread
/// enters it, and the child process inherits it.
fn restore_in(netns: &str, backend: Backend, text: &str) -> Result<(), String> {
    let ns = std::fs::File::open(netns)
        .map_err(|e| format!("cannot open its namespace {netns}: {e}"))?;
    nix::sched::setns(&ns, nix::sched::CloneFlags::CLONE_NEWNET)
        .map_err(|e| format!("cannot enter its namespace {netns}: {e}"))?;
    let mut child = Command::new(backend.restore())
        .arg("-w")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run {}: {e}", backend.restore()))?;
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().expect("piped stdin");
        stdin
            .write_all(text.as_bytes())
            .map_err(|e| format!("writing to {}: {e}", backend.restore()))?;
    }
    let out = child
        .wait_with_output()
        .map_err(|e| format!("{}: {e}", backend.restore()))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{} failed ({}): {}",
            backend.restore(),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}
