//! The host is the enforcer's no-go zone: a plugin programs the lab's
//! namespaces, never the host's own. The harness records the host's network
//! state before a run and compares it after each scenario's `cleanup`; a
//! difference makes the scenario an error that names the plugin, the
//! scenario and the difference.
//!
//! Compared: links, addresses, routes (all tables), policy rules, the
//! nf_tables ruleset (tables that iptables-nft manages as `iptables-save`
//! prints them), legacy iptables and ip6tables tables, named namespaces
//! under `/run/netns` and the mounts there, and the forwarding and
//! `rp_filter` sysctls. Not compared: what the harness itself does there
//! (`--keep` names lab namespaces `netpol-<pid>-<n>-...` under `/run/netns`),
//! and what changes on its own (counters, link statistics, carrier,
//! address and route lifetimes, cached routes).
//!
//! Cheap enough to be always on: netlink dumps and a few files, read by a
//! thread of its own in the host's namespace; processes only for the
//! firewall, and only when it could have changed (the nf_tables generation,
//! one netlink request, moves with every nf_tables commit; legacy tables are
//! listed only when the host has any).

mod firewall;
mod rtnl;

use std::collections::BTreeSet;
use std::fmt;
use std::fs::File;
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;
use std::sync::{Arc, Mutex};

use nix::sched::{CloneFlags, setns};
use tokio::sync::{OnceCell, oneshot};

use crate::enforcer::Enforcer;

/// The host's network state as comparable lines, one per link, address,
/// route, rule, firewall rule, named namespace, mount or sysctl.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HostState {
    lines: BTreeSet<String>,
}

impl HostState {
    /// A state of these lines; a line that repeats (the same iptables rule
    /// appended twice) is numbered, so that one more copy is a difference.
    pub fn from_lines(lines: impl IntoIterator<Item = String>) -> HostState {
        let mut sorted: Vec<String> = lines.into_iter().collect();
        sorted.sort();
        let mut out = BTreeSet::new();
        let mut copy = 1;
        for (i, line) in sorted.iter().enumerate() {
            copy = if i > 0 && sorted[i - 1] == *line {
                copy + 1
            } else {
                1
            };
            out.insert(if copy == 1 {
                line.clone()
            } else {
                format!("{line} (copy {copy})")
            });
        }
        HostState { lines: out }
    }

    pub fn lines(&self) -> impl Iterator<Item = &str> {
        self.lines.iter().map(String::as_str)
    }
}

/// One line that appeared (`+`) or disappeared (`-`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Difference {
    pub line: String,
    pub added: bool,
}

impl fmt::Display for Difference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.added { '+' } else { '-' };
        write!(f, "{sign} {}", self.line)
    }
}

/// What changed from `before` to `after`, in line order.
pub fn diff(before: &HostState, after: &HostState) -> Vec<Difference> {
    let mut out: Vec<Difference> = before
        .lines
        .difference(&after.lines)
        .map(|l| Difference {
            line: l.clone(),
            added: false,
        })
        .chain(after.lines.difference(&before.lines).map(|l| Difference {
            line: l.clone(),
            added: true,
        }))
        .collect();
    out.sort();
    out
}

#[derive(Debug, thiserror::Error)]
pub enum HostGuardError {
    #[error("cannot read the host's network state: {what}: {error}")]
    Read { what: String, error: io::Error },
    #[error(
        "enforcer {plugin} changed the host's network namespace in scenario {scenario}:{}",
        list(differences)
    )]
    Changed {
        plugin: String,
        scenario: String,
        differences: Vec<Difference>,
    },
}

fn list(differences: &[Difference]) -> String {
    match differences {
        [one] => format!(" {one}"),
        many => many.iter().map(|d| format!("\n  {d}")).collect(),
    }
}

fn read_error(what: &str) -> impl FnOnce(io::Error) -> HostGuardError + '_ {
    move |error| HostGuardError::Read {
        what: what.to_string(),
        error,
    }
}

/// Watches one network namespace (the host's) for changes.
#[derive(Debug)]
pub struct HostGuard {
    ns: Arc<OwnedFd>,
    baseline: HostState,
    firewall: Arc<Mutex<firewall::Cache>>,
    /// Differences already reported and still there: a leak fails the
    /// scenario whose check saw it first, not every scenario after it.
    reported: Mutex<BTreeSet<Difference>>,
}

impl HostGuard {
    /// Records the state of the process's own network namespace, that of
    /// its main thread (lab threads live in namespaces of their own).
    pub async fn record_host() -> Result<HostGuard, HostGuardError> {
        let ns = File::open("/proc/self/ns/net")
            .map(OwnedFd::from)
            .map_err(read_error("/proc/self/ns/net"))?;
        HostGuard::record(ns).await
    }

    /// Records the state of the namespace `ns` as the baseline.
    pub async fn record(ns: OwnedFd) -> Result<HostGuard, HostGuardError> {
        let mut guard = HostGuard {
            ns: Arc::new(ns),
            baseline: HostState::default(),
            firewall: Arc::default(),
            reported: Mutex::default(),
        };
        guard.baseline = guard.snapshot().await?;
        Ok(guard)
    }

    pub fn baseline(&self) -> &HostState {
        &self.baseline
    }

    /// The namespace's state now.
    pub async fn snapshot(&self) -> Result<HostState, HostGuardError> {
        let cache = self.firewall.clone();
        let lines = in_namespace(&self.ns, move || {
            let mut lines = rtnl::lines().map_err(read_error("netlink"))?;
            lines.extend(files());
            lines.extend(firewall::lines(&cache).map_err(read_error("the firewall"))?);
            Ok(lines)
        })
        .await?;
        Ok(HostState::from_lines(lines))
    }

    /// What differs from the baseline now.
    pub async fn differences(&self) -> Result<Vec<Difference>, HostGuardError> {
        Ok(diff(&self.baseline, &self.snapshot().await?))
    }

    /// After `plugin`'s cleanup in `scenario`: an error listing every
    /// difference from the baseline not reported before.
    pub async fn check(&self, plugin: &str, scenario: &str) -> Result<(), HostGuardError> {
        let now = self.differences().await?;
        let new = not_reported(
            &mut self.reported.lock().unwrap_or_else(|e| e.into_inner()),
            now,
        );
        if new.is_empty() {
            Ok(())
        } else {
            Err(HostGuardError::Changed {
                plugin: plugin.to_string(),
                scenario: scenario.to_string(),
                differences: new,
            })
        }
    }
}

/// The differences of `now` not in `reported`, which then holds those of
/// `now`: a difference gone is forgotten, and new again if it comes back.
fn not_reported(reported: &mut BTreeSet<Difference>, now: Vec<Difference>) -> Vec<Difference> {
    reported.retain(|d| now.contains(d));
    let new: Vec<Difference> = now.into_iter().filter(|d| !reported.contains(d)).collect();
    reported.extend(new.iter().cloned());
    new
}

/// The guard of this process: its baseline is recorded by the first call,
/// before the first plugin runs.
pub async fn shared() -> Result<&'static HostGuard, HostGuardError> {
    static SHARED: OnceCell<HostGuard> = OnceCell::const_new();
    SHARED.get_or_try_init(HostGuard::record_host).await
}

/// The runner's hook: one scenario watched from before its lab is built to
/// after its plugin's cleanup.
#[derive(Debug)]
pub enum Watch {
    /// No plugin runs, or it is not asked to clean up (`--keep`).
    Off,
    On {
        guard: &'static HostGuard,
        plugin: String,
    },
    Broken(String),
}

impl Watch {
    pub async fn start(enforcer: &Enforcer, keep: bool) -> Watch {
        match enforcer {
            Enforcer::Plugin(plugin) if !keep => match shared().await {
                Ok(guard) => Watch::On {
                    guard,
                    plugin: plugin.label(),
                },
                Err(e) => Watch::Broken(e.to_string()),
            },
            _ => Watch::Off,
        }
    }

    /// After the plugin's cleanup: what the scenario's error should say, if
    /// the host changed (or cannot be read).
    pub async fn check(self, scenario: &str) -> Option<String> {
        match self {
            Watch::Off => None,
            Watch::On { guard, plugin } => guard
                .check(&plugin, scenario)
                .await
                .err()
                .map(|e| e.to_string()),
            Watch::Broken(e) => Some(e),
        }
    }
}

/// Runs `f` on a thread of its own in the namespace `ns`: a socket or a
/// child process belongs to the namespace of the thread that makes it, no
/// thread of the runtime is moved, and the work waits for no task.
async fn in_namespace<R: Send + 'static>(
    ns: &Arc<OwnedFd>,
    f: impl FnOnce() -> Result<R, HostGuardError> + Send + 'static,
) -> Result<R, HostGuardError> {
    let ns = ns.clone();
    let (tx, rx) = oneshot::channel();
    std::thread::Builder::new()
        .name("host-guard".into())
        .spawn(move || {
            let result = setns(ns.as_fd(), CloneFlags::CLONE_NEWNET)
                .map_err(|e| HostGuardError::Read {
                    what: "entering the host's namespace".into(),
                    error: e.into(),
                })
                .and_then(|()| f());
            let _ = tx.send(result);
        })
        .map_err(read_error("a thread"))?;
    rx.await.map_err(|_| HostGuardError::Read {
        what: "the host guard's thread".into(),
        error: io::Error::other("it panicked"),
    })?
}

const NETNS_DIR: &str = "/run/netns";

/// Sysctls a plugin must not change on the host (as `ci/host-state.sh`).
const SYSCTLS: [&str; 4] = [
    "net/ipv4/ip_forward",
    "net/ipv4/conf/all/forwarding",
    "net/ipv6/conf/all/forwarding",
    "net/ipv4/conf/all/rp_filter",
];

/// Named namespaces, the mounts under /run/netns, sysctls: files, read in
/// the calling thread's namespace.
fn files() -> Vec<String> {
    let mut lines = Vec::new();
    if let Ok(dir) = std::fs::read_dir(NETNS_DIR) {
        for entry in dir.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if !harness_owned(&name) {
                lines.push(format!("named namespace {name}"));
            }
        }
    }
    // Nothing can be mounted under a directory that is not there.
    if Path::new(NETNS_DIR).exists() {
        let mountinfo = std::fs::read_to_string("/proc/thread-self/mountinfo").unwrap_or_default();
        lines.extend(netns_mounts(&mountinfo));
    }
    for key in SYSCTLS {
        // /proc/sys/net is that of the thread that opens it.
        let value = std::fs::read_to_string(format!("/proc/sys/{key}"))
            .map(|v| v.trim().to_string())
            .unwrap_or_else(|e| format!("({})", e.kind()));
        lines.push(format!("sysctl {} = {value}", key.replace('/', ".")));
    }
    lines
}

/// The mounts at or under /run/netns (`ip netns add` makes /run/netns a
/// mount and bind-mounts each namespace there), but the harness's own.
fn netns_mounts(mountinfo: &str) -> Vec<String> {
    mountinfo
        .lines()
        .filter_map(|l| {
            // ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPER
            let fields: Vec<&str> = l.split_whitespace().collect();
            let (root, point) = (*fields.get(3)?, *fields.get(4)?);
            let fstype = fields
                .iter()
                .position(|f| *f == "-")
                .and_then(|i| fields.get(i + 1))
                .copied()
                .unwrap_or("?");
            let name = point.strip_prefix(NETNS_DIR)?;
            let name = match name.strip_prefix('/') {
                Some(n) => n,
                None if name.is_empty() => "",
                None => return None,
            };
            (!harness_owned(name)).then(|| format!("mount {point}: {fstype} {root}"))
        })
        .collect()
}

/// Names `netpol run --keep` gives a lab's namespaces:
/// `netpol-<pid>-<n>-<kind>-<name>` (`runner::lab_label`, `Lab::build`).
fn harness_owned(name: &str) -> bool {
    fn number_then_dash(s: &str) -> Option<&str> {
        let digits = s.bytes().take_while(u8::is_ascii_digit).count();
        (digits > 0)
            .then(|| s[digits..].strip_prefix('-'))
            .flatten()
    }
    name.strip_prefix("netpol-")
        .and_then(number_then_dash)
        .and_then(number_then_dash)
        .is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(lines: &[&str]) -> HostState {
        HostState::from_lines(lines.iter().map(|l| l.to_string()))
    }

    fn shown(d: &[Difference]) -> Vec<String> {
        d.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn the_same_state_has_no_difference_whatever_the_order() {
        let a = state(&["link lo: loopback", "route main inet: 10.0.0.0/8"]);
        let b = state(&["route main inet: 10.0.0.0/8", "link lo: loopback"]);
        assert!(diff(&a, &b).is_empty());
    }

    #[test]
    fn added_and_removed_lines_are_signed_in_line_order() {
        let before = state(&["link eth0: type ether, mtu 1500, up", "named namespace a"]);
        let after = state(&[
            "link eth0: type ether, mtu 1400, up",
            "named namespace a",
            "iptables filter: -A INPUT -j DROP",
        ]);
        assert_eq!(
            shown(&diff(&before, &after)),
            [
                "+ iptables filter: -A INPUT -j DROP",
                "+ link eth0: type ether, mtu 1400, up",
                "- link eth0: type ether, mtu 1500, up",
            ]
        );
    }

    #[test]
    fn one_more_copy_of_a_repeated_line_is_a_difference() {
        let rule = "iptables filter: -A FORWARD -j ACCEPT";
        let before = state(&[rule]);
        let after = state(&[rule, rule]);
        assert_eq!(
            shown(&diff(&before, &after)),
            [format!("+ {rule} (copy 2)")]
        );
        assert_eq!(
            shown(&diff(&after, &before)),
            [format!("- {rule} (copy 2)")]
        );
    }

    #[test]
    fn a_difference_is_reported_once_while_it_lasts_and_again_if_it_comes_back() {
        let rule = diff(&state(&[]), &state(&["iptables filter: -A INPUT -j DROP"]));
        let link = diff(&state(&[]), &state(&["link d: type dummy"]));
        let both: Vec<Difference> = rule.iter().chain(&link).cloned().collect();
        let mut reported = BTreeSet::new();
        assert_eq!(not_reported(&mut reported, rule.clone()), rule);
        assert_eq!(not_reported(&mut reported, rule.clone()), []);
        assert_eq!(not_reported(&mut reported, both.clone()), link);
        assert_eq!(not_reported(&mut reported, Vec::new()), []);
        assert_eq!(not_reported(&mut reported, both.clone()), both);
    }

    #[test]
    fn the_error_names_the_plugin_the_scenario_and_each_difference() {
        let one = HostGuardError::Changed {
            plugin: "./my-plugin".into(),
            scenario: "deny-all".into(),
            differences: diff(&state(&[]), &state(&["iptables filter: -A INPUT -j DROP"])),
        };
        assert_eq!(
            one.to_string(),
            "enforcer ./my-plugin changed the host's network namespace in scenario deny-all: + iptables filter: -A INPUT -j DROP"
        );
        let two = HostGuardError::Changed {
            plugin: "p".into(),
            scenario: "s".into(),
            differences: diff(
                &state(&["named namespace x"]),
                &state(&["link d: type dummy"]),
            ),
        };
        assert_eq!(
            two.to_string(),
            "enforcer p changed the host's network namespace in scenario s:\n  + link d: type dummy\n  - named namespace x"
        );
    }

    #[test]
    fn only_the_names_of_kept_labs_belong_to_the_harness() {
        assert!(harness_owned("netpol-4242-7-node-node-1"));
        assert!(harness_owned("netpol-1-12-pod-x-a"));
        for name in [
            "netpol-guard-test",
            "netpol-4242-node-1",
            "netpol-4242-7",
            "netpol--7-node",
            "cni-1234",
            "",
        ] {
            assert!(!harness_owned(name), "{name}");
        }
    }

    #[test]
    fn mounts_under_run_netns_but_the_harness_own_are_compared() {
        let mountinfo = "\
22 1 0:21 / /run rw,nosuid shared:5 - tmpfs tmpfs rw
310 22 0:21 /netns /run/netns rw,nosuid shared:5 - tmpfs tmpfs rw
311 310 0:4 net:[4026532300] /run/netns/blue rw shared:140 - nsfs nsfs rw
312 310 0:4 net:[4026532301] /run/netns/netpol-77-1-fabric-0 rw shared:141 - nsfs nsfs rw
313 22 0:22 / /run/netns-other rw - tmpfs tmpfs rw
";
        assert_eq!(
            netns_mounts(mountinfo),
            [
                "mount /run/netns: tmpfs /netns",
                "mount /run/netns/blue: nsfs net:[4026532300]",
            ]
        );
    }
}
