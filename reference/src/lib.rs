//! The reference NetworkPolicy enforcer: a plugin of the netpol harness
//! (`docs/plugin-protocol.md`) that implements `docs/spec-notes.md` with
//! iptables inside the lab's node namespaces.
//!
//! `netpol-reference [--iptables auto|nft|legacy] [--deny reject|drop] COMMAND`
//! with COMMAND `version`, `sync` or `cleanup` and the protocol's JSON state
//! on standard input. Each sync rewrites each node's filter table of each
//! family of the cluster with one atomic restore (`iptables-restore` for
//! IPv4, `ip6tables-restore` for IPv6): the same state gives the same
//! tables. An IPv4-only cluster's ip6tables tables are never touched.

pub mod rules;

use std::io::Read;
use std::process::{Command, ExitCode, Stdio};

use netpol_protocol::{Feature, IpFamily, PROTOCOL_VERSION, State, SyncMode, VersionInfo};

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
    /// The restore command of `family`'s tables.
    pub fn restore(self, family: IpFamily) -> &'static str {
        match (self, family) {
            (Backend::Auto, IpFamily::IPv4) => "iptables-restore",
            (Backend::Nft, IpFamily::IPv4) => "iptables-nft-restore",
            (Backend::Legacy, IpFamily::IPv4) => "iptables-legacy-restore",
            (Backend::Auto, IpFamily::IPv6) => "ip6tables-restore",
            (Backend::Nft, IpFamily::IPv6) => "ip6tables-nft-restore",
            (Backend::Legacy, IpFamily::IPv6) => "ip6tables-legacy-restore",
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
        Some("sync") => apply_all(&read_state()?, backend, |node, family| {
            rules::node_rules_for(node, family, deny)
        }),
        Some("cleanup") => apply_all(&read_state()?, backend, |_, _| Ok(rules::empty_table())),
        Some(other) => Err(format!("unknown command {other:?}\n{USAGE}")),
        None => Err(USAGE.to_string()),
    }
}

/// Prints the version of each family's restore command. Without a working
/// `ip6tables-restore`, IPv6 is declared unsupported, so that the harness
/// runs no IPv6 cluster rather than failing each `sync`.
fn version(backend: Backend) -> Result<(), String> {
    let info = version_info(|family| {
        let command = backend.restore(family);
        match Command::new(command).arg("--version").output() {
            Ok(o) if o.status.success() => {
                Ok(String::from_utf8_lossy(&o.stdout).trim().to_string())
            }
            Ok(o) => Err(format!(
                "{command} unavailable: --version failed ({})",
                o.status
            )),
            Err(e) => Err(format!("{command} unavailable: {e}")),
        }
    });
    println!(
        "{}",
        serde_json::to_string(&info).map_err(|e| e.to_string())?
    );
    Ok(())
}

/// The `version` answer, given what each family's restore command says to
/// `--version` (or why it cannot run).
fn version_info(probe: impl Fn(IpFamily) -> Result<String, String>) -> VersionInfo {
    let iptables = probe(IpFamily::IPv4).unwrap_or_else(|e| e);
    let (ip6tables, unsupported) = match probe(IpFamily::IPv6) {
        Ok(v) => (v, Vec::new()),
        Err(e) => (format!("{e}, so no IPv6"), vec![Feature::Ipv6]),
    };
    VersionInfo {
        name: "netpol-reference".into(),
        version: format!("{} ({iptables}; {ip6tables})", env!("CARGO_PKG_VERSION")),
        protocol_versions: vec![PROTOCOL_VERSION.into()],
        unsupported,
        // One atomic iptables-restore per node and family, done when it exits.
        sync: SyncMode::Blocking,
    }
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

/// The families whose tables a state's `sync` and `cleanup` write: those of
/// the cluster, each once, IPv4 first.
pub fn families(state: &State) -> Vec<IpFamily> {
    IpFamily::ALL
        .into_iter()
        .filter(|f| state.ip_families.contains(f))
        .collect()
}

/// Computes every node's table of each family of the cluster, then applies
/// them all, one restore per node and family, in parallel; reports every
/// failure.
fn apply_all(
    state: &State,
    backend: Backend,
    table: impl Fn(&NodeRef<'_>, IpFamily) -> Result<String, rules::RulesError>,
) -> Result<(), String> {
    let families = families(state);
    let mut tables: Vec<(String, String, IpFamily, String)> = Vec::new();
    for n in &state.nodes {
        let node = NodeRef {
            state,
            name: &n.name,
        };
        for &family in &families {
            let text = table(&node, family).map_err(|e| e.to_string())?;
            tables.push((n.name.clone(), n.netns.clone(), family, text));
        }
    }
    let errors: Vec<String> = std::thread::scope(|s| {
        let handles: Vec<_> = tables
            .iter()
            .map(|(name, netns, family, text)| {
                s.spawn(move || {
                    restore_in(netns, backend.restore(*family), text)
                        .map_err(|e| format!("node {name} ({family}): {e}"))
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

/// Runs `restore` (`iptables-restore` or `ip6tables-restore`, of some back
/// end) inside the namespace at `netns`: this thread enters it, and the
/// child process inherits it.
fn restore_in(netns: &str, restore: &str, text: &str) -> Result<(), String> {
    let ns = std::fs::File::open(netns)
        .map_err(|e| format!("cannot open its namespace {netns}: {e}"))?;
    nix::sched::setns(&ns, nix::sched::CloneFlags::CLONE_NEWNET)
        .map_err(|e| format!("cannot enter its namespace {netns}: {e}"))?;
    run_restore(restore, &[], text)
}

/// Feeds `text` to `restore -w ARGS`; its error output on failure.
pub fn run_restore(restore: &str, args: &[&str], text: &str) -> Result<(), String> {
    let mut child = Command::new(restore)
        .arg("-w")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run {restore}: {e}"))?;
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().expect("piped stdin");
        stdin
            .write_all(text.as_bytes())
            .map_err(|e| format!("writing to {restore}: {e}"))?;
    }
    let out = child
        .wait_with_output()
        .map_err(|e| format!("{restore}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{restore} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_ip6tables_restore_version_declares_ipv6_unsupported() {
        let info = version_info(|f| match f {
            IpFamily::IPv4 => Ok("iptables-restore v1.8.9 (nf_tables)".into()),
            IpFamily::IPv6 => Err("ip6tables-restore unavailable: No such file".into()),
        });
        assert_eq!(info.unsupported, [Feature::Ipv6]);
        assert!(
            info.version
                .ends_with("ip6tables-restore unavailable: No such file, so no IPv6)"),
            "{}",
            info.version
        );
        let info = version_info(|f| Ok(format!("{f} restore")));
        assert!(info.unsupported.is_empty());
        assert!(info.version.ends_with("(IPv4 restore; IPv6 restore)"));
    }

    #[test]
    fn each_family_has_its_restore_of_the_chosen_back_end() {
        assert_eq!(Backend::Auto.restore(IpFamily::IPv6), "ip6tables-restore");
        assert_eq!(
            Backend::Nft.restore(IpFamily::IPv6),
            "ip6tables-nft-restore"
        );
        assert_eq!(
            Backend::Legacy.restore(IpFamily::IPv6),
            "ip6tables-legacy-restore"
        );
        assert_eq!(
            Backend::Legacy.restore(IpFamily::IPv4),
            "iptables-legacy-restore"
        );
    }
}
