//! Every process of a plugin ends with its lab: daemons live across a lab's
//! calls and are reported when `cleanup` leaves them; nothing a plugin
//! started survives the run, whether it ends normally, is killed with
//! SIGKILL, or is stopped with SIGINT or SIGTERM (then after `cleanup`).
//! Needs root.

mod common;

use common::*;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use netpol::enforcer::{Enforcer, EnforcerSpec};
use netpol::results::Status;
use netpol::runner::{RunOptions, run_scenario};

const VERSION: &str = r#"{"name": "test-plugin", "version": "0.0.1", "protocolVersions": ["1"]}"#;

/// Three rounds: `sync`, `sync`, `sync`, then `cleanup`.
const SCENARIO: &str = "steps/delete-policy.yaml";

/// A test plugin: the reference enforcer, plus processes of its own, each a
/// `sleep 86400.<marker><role>` (unique to this test) so that pgrep finds
/// only them. In `sync`, it starts
/// - role 1: a background process in the first node's network namespace,
///   in the call's process group (it writes that namespace's identity to
///   `netns` first);
/// - role 2: a daemon, once, in a session of its own, also in that node's
///   namespace (meant to live across the lab's calls; `cleanup` leaves it);
/// - role 3 (`hold`): after enforcing, a sync that does not return.
///
/// `log` says, per call, whether the daemon was found alive.
/// Dropping it kills what is left of its processes, by PID.
struct TestPlugin {
    dir: PathBuf,
    marker: String,
}

impl TestPlugin {
    fn new(name: &str, hold: bool) -> TestPlugin {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let marker = format!(
            "{}{:02}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let dir = std::env::temp_dir().join(format!("netpol-procs-{marker}-{name}"));
        std::fs::create_dir_all(&dir).unwrap();
        let d = dir.display();
        let netpol = env!("CARGO_BIN_EXE_netpol");
        let hold = if hold {
            format!("if [ \"$1\" = sync ]; then touch {d}/holding; sleep 86400.{marker}3; fi")
        } else {
            String::new()
        };
        let script = format!(
            r#"#!/bin/sh
state=$(cat)
case $1 in
version)
  echo '{VERSION}'
  exit 0;;
sync)
  netns=$(printf '%s' "$state" | grep -o '"netns":"[^"]*"' | head -n 1 | cut -d '"' -f 4)
  nsenter --net="$netns" sh -c "readlink /proc/self/ns/net > {d}/netns.new && mv {d}/netns.new {d}/netns; exec sleep 86400.{marker}1" < /dev/null > /dev/null 2>&1 &
  while [ ! -s {d}/netns ]; do sleep 0.01; done
  if [ -s {d}/daemon ] && kill -0 "$(cat {d}/daemon)" 2>/dev/null; then
    echo "sync: daemon alive" >> {d}/log
  else
    setsid nsenter --net="$netns" sleep 86400.{marker}2 < /dev/null > /dev/null 2>&1 &
    echo $! > {d}/daemon
    echo "sync: daemon started" >> {d}/log
  fi;;
cleanup)
  if kill -0 "$(cat {d}/daemon)" 2>/dev/null; then
    echo "cleanup: daemon alive" >> {d}/log
  else
    echo "cleanup: daemon gone" >> {d}/log
  fi;;
esac
printf '%s' "$state" | {netpol} reference-enforcer "$1" || exit $?
{hold}
"#
        );
        let path = dir.join("plugin");
        std::fs::write(&path, script).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        TestPlugin { dir, marker }
    }

    fn script(&self) -> String {
        self.dir.join("plugin").display().to_string()
    }

    fn file(&self, name: &str) -> String {
        std::fs::read_to_string(self.dir.join(name)).unwrap_or_default()
    }

    /// The identity of the node namespace its processes entered (`net:[N]`).
    fn netns(&self) -> String {
        let netns = self.file("netns").trim().to_string();
        assert!(netns.starts_with("net:["), "the plugin recorded {netns:?}");
        netns
    }

    /// `PID COMMAND` of every process of the plugin still running: its
    /// marked sleeps, and the plugin itself (its directory is on its
    /// command line).
    fn survivors(&self) -> Vec<String> {
        let sleeps = format!("86400\\.{}[0-9]([^0-9]|$)", self.marker);
        [sleeps, self.dir.display().to_string()]
            .iter()
            .flat_map(|pattern| {
                let out = Command::new("pgrep")
                    .args(["-a", "-f", pattern])
                    .output()
                    .expect("pgrep runs");
                String::from_utf8_lossy(&out.stdout)
                    .lines()
                    .map(str::to_string)
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    /// Waits (a few seconds at most) until none of its processes runs.
    fn wait_for_none(&self) -> Vec<String> {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let left = self.survivors();
            if left.is_empty() || Instant::now() > deadline {
                return left;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for TestPlugin {
    fn drop(&mut self) {
        // Whatever a failed test left, by PID.
        for line in self.survivors() {
            if let Some(pid) = line.split_whitespace().next().and_then(|p| p.parse().ok()) {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(pid),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Every process's reference to the network namespace `netns` (`net:[N]`):
/// a thread in it, or a descriptor of it. None: the kernel has freed it.
fn holders(netns: &str) -> Vec<String> {
    let mut found = Vec::new();
    let Ok(procs) = std::fs::read_dir("/proc") else {
        return found;
    };
    for p in procs.flatten() {
        let pid = p.path();
        if pid
            .file_name()
            .and_then(|n| n.to_str())
            .is_none_or(|n| n.parse::<u32>().is_err())
        {
            continue;
        }
        let mut links = Vec::new();
        for dir in ["task", "fd"] {
            for e in std::fs::read_dir(pid.join(dir))
                .into_iter()
                .flatten()
                .flatten()
            {
                links.push(if dir == "task" {
                    e.path().join("ns/net")
                } else {
                    e.path()
                });
            }
        }
        for link in links {
            if std::fs::read_link(&link).is_ok_and(|l| l == Path::new(netns)) {
                found.push(link.display().to_string());
            }
        }
    }
    found
}

fn wait_until_freed(netns: &str) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let held = holders(netns);
        if held.is_empty() || Instant::now() > deadline {
            return held;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_daemon_lives_across_calls_and_is_reported_after_cleanup_then_killed() {
    require_root();
    let plugin = TestPlugin::new("leak", false);
    let script = plugin.script();
    let enforcer = Enforcer::start(
        &EnforcerSpec::Path("/bin/sh".into()),
        &[script],
        Duration::from_secs(60),
    )
    .await
    .expect("version works");
    let result = run_scenario(
        &scenario(SCENARIO),
        &enforcer,
        &RunOptions::default(),
        &events(),
    )
    .await;
    assert_eq!(
        plugin.file("log"),
        "sync: daemon started\nsync: daemon alive\nsync: daemon alive\ncleanup: daemon alive\n",
        "the daemon lived from the first sync to cleanup"
    );
    let message = result.message.clone().unwrap_or_default();
    assert_eq!(result.status, Status::Error, "{message}");
    let daemon = plugin.file("daemon");
    assert!(
        message.starts_with(
            "enforcer test-plugin (/bin/sh): processes it started still ran after `cleanup`"
        ) && message.contains(&format!("`sleep 86400.{}2`", plugin.marker)),
        "the daemon (pid {} in the lab) is named: {message}",
        daemon.trim()
    );
    assert!(
        !message.contains(&format!("86400.{}1", plugin.marker)),
        "the background process of the call's group died with the call: {message}"
    );
    assert_eq!(
        plugin.survivors(),
        Vec::<String>::new(),
        "the lab's teardown killed the daemon"
    );
    assert_eq!(
        holders(&plugin.netns()),
        Vec::<String>::new(),
        "nothing keeps the node namespace alive"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_version_starts_dies_when_it_returns() {
    require_root();
    let plugin = TestPlugin::new("version", false);
    let script = format!(
        "setsid sleep 86400.{}4 < /dev/null > /dev/null 2>&1 &\necho '{VERSION}'\n",
        plugin.marker
    );
    let path = plugin.dir.join("version");
    std::fs::write(&path, script).unwrap();
    Enforcer::start(
        &EnforcerSpec::Path("/bin/sh".into()),
        &[path.display().to_string()],
        Duration::from_secs(60),
    )
    .await
    .expect("version works");
    assert_eq!(plugin.survivors(), Vec::<String>::new());
}

/// `netpol run` of the scenario with `plugin`, its output in the plugin's
/// directory; returns once the plugin holds its first `sync`.
fn run_until_a_sync_holds(plugin: &TestPlugin) -> Child {
    let out = |name: &str| std::fs::File::create(plugin.dir.join(name)).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_netpol"))
        .args(["run", "--jobs", "1", "--enforcer", "/bin/sh"])
        .arg(format!("--enforcer-arg={}", plugin.script()))
        .arg(repo().join("scenarios").join(SCENARIO))
        .stdin(Stdio::null())
        .stdout(out("stdout"))
        .stderr(out("stderr"))
        .spawn()
        .expect("netpol runs");
    let deadline = Instant::now() + Duration::from_secs(120);
    while !plugin.dir.join("holding").exists() {
        if let Ok(Some(status)) = child.try_wait() {
            panic!(
                "netpol ended ({status}) before the sync held: {}{}",
                plugin.file("stdout"),
                plugin.file("stderr")
            );
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the sync never held");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child
}

/// Sends `signal` to the run and waits (60 s at most) for it to end.
fn signal_and_wait(
    child: &mut Child,
    signal: nix::sys::signal::Signal,
) -> std::process::ExitStatus {
    let pid = nix::unistd::Pid::from_raw(netpol::lab::pidns::pid_t(child.id()));
    nix::sys::signal::kill(pid, signal).unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the run did not end within 60 s of {signal}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn sigkill_during_a_sync_leaves_no_plugin_process_and_no_lab_namespace() {
    require_root();
    let plugin = TestPlugin::new("sigkill", true);
    let mut child = run_until_a_sync_holds(&plugin);
    let netns = plugin.netns();
    assert!(
        !plugin.survivors().is_empty(),
        "the plugin's processes run before the kill"
    );
    let status = signal_and_wait(&mut child, nix::sys::signal::Signal::SIGKILL);
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&status),
        Some(9)
    );
    assert_eq!(
        plugin.wait_for_none(),
        Vec::<String>::new(),
        "every process of the plugin died with the run"
    );
    assert_eq!(
        wait_until_freed(&netns),
        Vec::<String>::new(),
        "no process keeps the lab's node namespace alive"
    );
}

fn stopped_during_a_sync(signal: nix::sys::signal::Signal, exit: i32) {
    require_root();
    let plugin = TestPlugin::new(&format!("{signal}"), true);
    let mut child = run_until_a_sync_holds(&plugin);
    let netns = plugin.netns();
    let status = signal_and_wait(&mut child, signal);
    let output = format!("{}{}", plugin.file("stdout"), plugin.file("stderr"));
    assert_eq!(status.code(), Some(exit), "{output}");
    assert_eq!(
        plugin.file("log"),
        "sync: daemon started\ncleanup: daemon alive\n",
        "cleanup was called, after the interrupted sync"
    );
    assert_eq!(
        plugin.wait_for_none(),
        Vec::<String>::new(),
        "every process of the plugin is gone"
    );
    assert_eq!(
        wait_until_freed(&netns),
        Vec::<String>::new(),
        "no process keeps the lab's node namespace alive"
    );
    assert!(
        output.contains(&format!("stopped by {signal}")),
        "it says why: {output}"
    );
}

#[test]
fn sigint_during_a_sync_cleans_up_and_exits_130() {
    stopped_during_a_sync(nix::sys::signal::Signal::SIGINT, 130);
}

#[test]
fn sigterm_during_a_sync_cleans_up_and_exits_143() {
    stopped_during_a_sync(nix::sys::signal::Signal::SIGTERM, 143);
}
