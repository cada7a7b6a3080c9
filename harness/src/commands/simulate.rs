//! `netpol simulate`: the suite against the model, no lab.

use std::path::{Path, PathBuf};

use netpol::report::terminal::{Console, Verbosity};
use netpol::suite;

use super::{Result, check_report_dir, finish, usage};

pub fn run(
    paths: &[PathBuf],
    report_dir: Option<&Path>,
    (require_expect, families): (bool, Option<&[netpol::cluster::IpFamily]>),
    verbosity: Verbosity,
) -> Result {
    let files = suite::discover(paths).map_err(usage)?;
    check_report_dir(report_dir)?;
    let mut loaded = suite::load(&files);
    if let Some(families) = families {
        loaded = suite::in_families(loaded, families);
    }
    let mut console = Console::new(verbosity, loaded.len());
    let report = netpol::run::simulate_suite(&loaded, require_expect, |r| console.scenario(r));
    console.finish(&report);
    finish(&report, report_dir)
}
