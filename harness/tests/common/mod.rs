//! Helpers shared by the integration tests.
#![allow(dead_code)] // each test file uses some of them

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use netpol::cluster::Endpoint;
use netpol::enforcer::{Enforcer, EnforcerError, EnforcerSpec, Plugin};
use netpol::lab::Lab;
use netpol::runner::check_privileges;
use netpol::scenario::{self, Scenario};

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

/// Lab tests need root: without it they fail saying so, never skip.
pub fn require_root() {
    if let Err(missing) = check_privileges() {
        panic!("{missing}\nrun the tests as root (CI does)");
    }
}

/// The reference enforcer, as `--enforcer reference` runs it: through the
/// plugin protocol, as `netpol reference-enforcer`.
pub async fn reference() -> Enforcer {
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

/// `iptables-save` of a node's filter table, without comments and counters.
pub async fn node_table(lab: &Lab, node: usize) -> String {
    let out = lab
        .host(Endpoint::Node(node))
        .ns
        .run(|| {
            std::process::Command::new("iptables-save")
                .args(["-t", "filter"])
                .output()
        })
        .await
        .unwrap()
        .expect("iptables-save runs");
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
        let dir = std::env::temp_dir().join(format!("netpol-test-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("plugin");
        std::fs::write(&path, format!("#!/bin/sh\ncat > /dev/null\n{body}\n")).unwrap();
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
        let script = self.path().display().to_string();
        Enforcer::start(&EnforcerSpec::Path("/bin/sh".into()), &[script], timeout).await
    }
}

impl Drop for Script {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
