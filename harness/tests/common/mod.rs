//! Helpers shared by the integration tests.
#![allow(dead_code)] // each test file uses some of them

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use netpol::cluster::Endpoint;
use netpol::enforcer::{Enforcer, EnforcerError, EnforcerSpec, Plugin};
use netpol::lab::Lab;
use netpol::runner::check_privileges;
use netpol::scenario::{self, Scenario};

/// Where a run's events go when a test does not look at them.
pub fn events() -> tokio::sync::mpsc::UnboundedSender<netpol::runner::Event> {
    tokio::sync::mpsc::unbounded_channel().0
}

/// The repository's root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A scenario of the repository's matrix, e.g. `steps/delete-policy.yaml`.
pub fn scenario(file: &str) -> Scenario {
    scenario::load(&repo().join("scenarios").join(file))
        .loaded
        .expect("a repository scenario loads")
}

/// Lab tests need root, or for an ordinary user the user namespace
/// `ci/test-runner.sh` (cargo's runner here) puts them in: without either
/// they fail saying why, never skip.
pub fn require_root() {
    let Err(missing) = check_privileges() else {
        return;
    };
    let rootless = match netpol::userns::standing() {
        netpol::userns::Standing::Unprivileged => {
            match Command::new("unshare")
                .args(["--user", "--map-root-user", "true"])
                .output()
            {
                Ok(out) if out.status.success() => "\nan ordinary user's tests run in a user namespace, which this system allows: run them with `cargo test`, or this binary through ci/test-runner.sh".to_string(),
                ran => format!(
                    "\nan ordinary user's tests run in a user namespace, which this system refuses ({}): {}",
                    match ran {
                        Ok(out) => String::from_utf8_lossy(&out.stderr).trim().to_string(),
                        Err(e) => format!("unshare: {e}"),
                    },
                    netpol::userns::Blocker::find(None)
                ),
            }
        }
        _ => String::new(),
    };
    panic!("{missing}{rootless}\nor run the tests as root (CI does)");
}

/// The reference enforcer, as `--enforcer reference` runs it: through the
/// plugin protocol, as `netpol reference-enforcer`.
pub async fn reference() -> Enforcer {
    require_root();
    let spec = EnforcerSpec::Path(PathBuf::from(env!("CARGO_BIN_EXE_netpol")));
    Enforcer::start(
        &spec,
        &["reference-enforcer".to_string()],
        Duration::from_secs(60),
    )
    .await
    .expect("the reference enforcer answers `version`")
}

pub fn the_plugin(e: &Enforcer) -> &Plugin {
    match e {
        Enforcer::Plugin(p) => p,
        Enforcer::None => panic!("a plugin"),
    }
}

/// Runs an external tool a test depends on (`ip`, `iptables-save`, `nft`,
/// ...) in the host's namespace; see `tool_output`.
pub fn run_tool(tool: &str, args: &[&str]) -> Output {
    tool_output(tool, args, Command::new(tool).args(args).output(), &[0])
}

/// What a tool run gave (here or in a lab's namespace), when it exited with
/// one of `success`. A missing or failing tool fails the test saying so:
/// never a comparison of two error messages, never an empty output that
/// looks like an empty state.
pub fn tool_output(
    tool: &str,
    args: &[&str],
    ran: std::io::Result<Output>,
    success: &[i32],
) -> Output {
    let command = format!("{tool} {}", args.join(" "));
    let out = match ran {
        Ok(out) => out,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            panic!("{tool} is not installed: install it (ci/install-deps.sh)")
        }
        Err(e) => panic!("`{command}` cannot be run ({e}): install {tool} (ci/install-deps.sh)"),
    };
    if !out.status.code().is_some_and(|c| success.contains(&c)) {
        panic!(
            "`{command}` failed ({}): {}\n{tool} must be installed and working: install it (ci/install-deps.sh)",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    out
}

/// `iptables-save` of a node's filter table, without comments and counters.
pub async fn node_table(lab: &Lab, node: usize) -> String {
    let ran = lab
        .host(Endpoint::Node(node))
        .ns
        .run(|| {
            Command::new("iptables-save")
                .args(["-t", "filter"])
                .output()
        })
        .await
        .expect("namespace worker");
    let out = tool_output("iptables-save", &["-t", "filter"], ran, &[0]);
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.starts_with('#'))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The filter tables of nodes `0..nodes`.
pub async fn node_tables(lab: &Lab, nodes: usize) -> Vec<String> {
    futures::future::join_all((0..nodes).map(|n| node_table(lab, n))).await
}

/// A repository scenario must pass; otherwise its line and truth tables say why.
pub fn assert_passes(result: &netpol::results::ScenarioResult) {
    use netpol::report::terminal;
    assert_eq!(
        result.status,
        netpol::results::Status::Pass,
        "\n{}\n{}",
        terminal::scenario_line(result),
        terminal::details(result)
    );
}

/// What a test plugin answers to `version`.
pub const VERSION: &str =
    r#"{"name": "test-plugin", "version": "0.0.1", "protocolVersions": ["1"]}"#;

/// A plugin script in a directory of its own (removed on drop).
pub struct Script {
    dir: PathBuf,
}

impl Script {
    /// `body` is the shell code run for each call; `$1` is the command.
    pub fn new(name: &str, body: &str) -> Script {
        Script::reading_input(name, &format!("cat > /dev/null\n{body}"))
    }

    /// Like [`Script::new`], but the body reads the state on stdin itself.
    pub fn reading_input(name: &str, body: &str) -> Script {
        let dir = std::env::temp_dir().join(format!("netpol-test-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("plugin");
        std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        Script { dir }
    }

    pub fn path(&self) -> PathBuf {
        self.dir.join("plugin")
    }

    /// Runs the script through `/bin/sh` rather than executing the file just
    /// written: another test thread forking at that moment would briefly hold
    /// it open for writing, and exec would fail with "Text file busy".
    pub async fn start(&self, timeout: Duration) -> Result<Enforcer, EnforcerError> {
        // `version` runs in a PID namespace of its own.
        require_root();
        let script = self.path().display().to_string();
        Enforcer::start(&EnforcerSpec::Path("/bin/sh".into()), &[script], timeout).await
    }
}

impl Drop for Script {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The standard cluster's probes, plus every node to every pod and back,
/// in every family of the cluster.
pub fn probes_with_nodes(c: &netpol::cluster::Cluster) -> Vec<netpol::probe::Probe> {
    let mut probes = netpol::probe::ProbeSpec::default().probes(c);
    for &family in &c.families {
        for n in 0..c.nodes.len() {
            for p in 0..c.pods.len() {
                for protocol in netpol::cluster::Protocol::ALL {
                    probes.push(netpol::probe::Probe {
                        family,
                        from: Endpoint::Node(n),
                        to: Endpoint::Pod(p),
                        port: 80,
                        protocol,
                    });
                    probes.push(netpol::probe::Probe {
                        family,
                        from: Endpoint::Pod(p),
                        to: Endpoint::Node(n),
                        port: 81,
                        protocol,
                    });
                }
            }
        }
    }
    probes
}
