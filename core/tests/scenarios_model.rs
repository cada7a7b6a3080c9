//! Every scenario file of the repository, checked against the model of the
//! spec: one test per file. A scenario with `expectInvalid` must be rejected
//! naming its field path; any other must load and every probe of every
//! round must get the verdict its hand-written `expect` gives.

use std::path::PathBuf;

use netpol_core::judge::simulate;
use netpol_core::suite::{self, Entry};
use rstest::rstest;

#[rstest]
fn scenario_agrees_with_the_model(#[files("../scenarios/**/*.yaml")] path: PathBuf) {
    let loaded = suite::load(std::slice::from_ref(&path))
        .pop()
        .expect("one file");
    let result = match &loaded.entry {
        Entry::Ready(s) => {
            assert!(
                s.rounds.iter().all(|r| r.expect.is_some()),
                "{}: every round of a repository scenario needs a hand-written expect",
                path.display()
            );
            simulate(s)
        }
        _ => netpol_core::run::simulate_entry(&loaded),
    };
    assert_passes(&result);
}

/// Suite-wide rules a single file cannot break alone: unique names.
#[test]
fn the_repository_suite_loads_as_a_whole() {
    let files = suite::discover(&[PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../scenarios"
    ))])
    .unwrap();
    assert!(
        files.len() >= 100,
        "the matrix is all there ({} files)",
        files.len()
    );
    for loaded in suite::load(&files) {
        if let Entry::Invalid(e) = &loaded.entry {
            panic!("{e}");
        }
    }
}

fn assert_passes(result: &netpol_core::results::ScenarioResult) {
    use netpol_core::report::terminal;
    assert_eq!(
        result.status,
        netpol_core::results::Status::Pass,
        "\n{}\n{}",
        terminal::scenario_line(result),
        terminal::details(result)
    );
}
