//! The conformance run: every file under `scenarios/` is a test case, run
//! in a real lab against the bundled reference enforcer, through the plugin
//! protocol. Needs root: without it, each test fails saying so.

use std::path::PathBuf;
use std::time::Duration;

use netpol::enforcer::{Enforcer, EnforcerSpec};
use netpol::judge::unprobed_result;
use netpol::report::terminal;
use netpol::results::Status;
use netpol::runner::{RunOptions, check_privileges, run_scenario};
use netpol::suite::{self, Entry};
use rstest::rstest;

/// The reference enforcer, as `--enforcer reference` runs it.
async fn reference() -> Enforcer {
    let spec = EnforcerSpec::Path(PathBuf::from(env!("CARGO_BIN_EXE_netpol")));
    Enforcer::start(
        &spec,
        &["reference-enforcer".to_string()],
        Duration::from_secs(60),
    )
    .await
    .expect("the reference enforcer answers `version`")
}

#[rstest]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scenario_passes_against_the_reference_enforcer(
    #[files("../scenarios/**/*.yaml")] path: PathBuf,
) {
    if let Err(missing) = check_privileges() {
        panic!("{missing}\nrun the tests as root (CI does)");
    }
    let loaded = suite::load(std::slice::from_ref(&path))
        .pop()
        .expect("one file");
    let result = match &loaded.entry {
        Entry::Ready(s) => {
            run_scenario(
                s,
                &reference().await,
                &RunOptions {
                    preflight: true,
                    ..RunOptions::default()
                },
            )
            .await
        }
        _ => unprobed_result(&loaded).expect("judged without probes"),
    };
    assert_eq!(
        result.status,
        Status::Pass,
        "\n{}\n{}",
        terminal::scenario_line(&result),
        terminal::details(&result)
    );
}
