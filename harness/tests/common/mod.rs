//! Helpers shared by the integration tests.
#![allow(dead_code)] // each test file uses some of them

use std::path::{Path, PathBuf};
use std::time::Duration;

use netpol::cluster::Endpoint;
use netpol::enforcer::{Enforcer, EnforcerSpec, Plugin};
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
