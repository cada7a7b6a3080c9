//! The commands of the binary: each parses nothing, calls the library and
//! prints. Errors are [`Failure`]s: a usage error or a failed run.

pub mod bench;
pub mod check;
pub mod explain;
pub mod fuzz;
mod rootless;
pub mod run;
pub mod simulate;

use std::path::Path;

use netpol::report;
use netpol::results::Report;

use crate::exit;

/// Why a command could not do its work (its scenarios' failures are not
/// errors: they are in the exit status).
#[derive(Debug)]
pub enum Failure {
    /// A bad flag or value, a missing path, missing privileges: exit 2.
    Usage(anyhow::Error),
    /// The run could not be carried out: exit 3.
    Run(anyhow::Error),
}

/// `Err(Failure::Usage(..))` from anything that converts to an anyhow error.
pub fn usage<E: Into<anyhow::Error>>(e: E) -> Failure {
    Failure::Usage(e.into())
}

pub type Result = std::result::Result<u8, Failure>;

/// The runtime of a command that drives an enforcer, and the enforcer
/// started (`version` asked, features declared): missing privileges are a
/// usage error, an enforcer that fails `version` a failed run.
pub fn start_enforcer(
    enforcer: &str,
    args: &[String],
    timeout: std::time::Duration,
    profile: Option<netpol::features::Profile>,
) -> std::result::Result<
    (
        tokio::runtime::Runtime,
        netpol::enforcer::Enforcer,
        netpol::run::RunContext,
    ),
    Failure,
> {
    use netpol::runner::StartError;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::Run(e.into()))?;
    let (enforcer, context) = runtime
        .block_on(netpol::runner::start(
            &netpol::enforcer::EnforcerSpec::parse(enforcer),
            args,
            timeout,
            profile,
        ))
        .map_err(|e| match e {
            StartError::Privileges(_) => usage(e),
            StartError::Enforcer(_) => Failure::Run(e.into()),
        })?;
    Ok((runtime, enforcer, context))
}

/// Fails early, before any work, when `dir` cannot take the report.
pub fn check_report_dir(dir: Option<&Path>) -> std::result::Result<(), Failure> {
    let Some(dir) = dir else { return Ok(()) };
    std::fs::create_dir_all(dir)
        .and_then(|()| tempfile_probe(dir))
        .map_err(|e| {
            usage(anyhow::anyhow!(
                "--report {}: cannot write there: {e}",
                dir.display()
            ))
        })
}

fn tempfile_probe(dir: &Path) -> std::io::Result<()> {
    let probe = dir.join(format!(".netpol-write-check-{}", std::process::id()));
    std::fs::write(&probe, b"")?;
    std::fs::remove_file(probe)
}

/// `--profile FILE`, read before the run: a bad one is a usage error.
pub fn load_profile(
    path: Option<&Path>,
) -> std::result::Result<Option<netpol::features::Profile>, Failure> {
    path.map(netpol::features::Profile::load)
        .transpose()
        .map_err(usage)
}

/// Writes the report files, and says the exit status the report gives.
pub fn finish(report: &Report, dir: Option<&Path>) -> Result {
    if let Some(dir) = dir {
        let written = report::write(dir, report).map_err(|e| {
            Failure::Run(anyhow::anyhow!(
                "{}: cannot write the report: {e}",
                dir.display()
            ))
        })?;
        let names: Vec<String> = written.iter().map(|p| p.display().to_string()).collect();
        println!("report: {}", names.join(", "));
    }
    Ok(if report.summary.all_passed() {
        exit::OK
    } else {
        exit::FAILED
    })
}
