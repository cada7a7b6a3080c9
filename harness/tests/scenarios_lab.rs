//! The conformance run: every file under `scenarios/` is a test case, run
//! in a real lab against the bundled reference enforcer, through the plugin
//! protocol. Needs root: without it, each test fails saying so.

mod common;

use common::*;
use std::path::PathBuf;

use netpol::runner::{RunOptions, run_entry};
use netpol::suite;
use rstest::rstest;

#[rstest]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scenario_passes_against_the_reference_enforcer(
    #[files("../scenarios/**/*.yaml")] path: PathBuf,
) {
    require_root();

    let loaded = suite::load(std::slice::from_ref(&path))
        .pop()
        .expect("one file");
    let result = run_entry(
        &loaded,
        &reference().await,
        &RunOptions::default(),
        &events(),
    )
    .await;
    assert_passes(&result);
}
