//! `netpol`: the command line of the NetworkPolicy conformance harness.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use netpol::suite::{self, Entry};

/// Exit statuses, the contract with CI scripts.
const EXIT_OK: u8 = 0;
const EXIT_FAILED: u8 = 1;
const EXIT_USAGE: u8 = 2;

#[derive(Debug, Parser)]
#[command(
    name = "netpol",
    version,
    about = "Prove that a NetworkPolicy implementation does what the Kubernetes specification says, packet by packet.",
    after_help = "Exit status: 0 every scenario passed; 1 some scenario failed or was invalid; 2 usage error."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Validate scenario files: the format, the cluster, and every NetworkPolicy as the API server would.
    ///
    /// A scenario with `expectInvalid` passes if and only if it is rejected with an
    /// error naming that field path.
    ///
    /// Example: netpol check scenarios/
    #[command(verbatim_doc_comment)]
    Check {
        /// Scenario files, or directories searched recursively for *.yaml and *.yml.
        #[arg(required = true, value_name = "PATH")]
        paths: Vec<PathBuf>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Check { paths } => check(&paths),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("netpol: {e:#}");
            ExitCode::from(EXIT_USAGE)
        }
    }
}

fn check(paths: &[PathBuf]) -> anyhow::Result<u8> {
    let files = suite::discover(paths)?;
    let mut failed = 0;
    for loaded in suite::load(&files) {
        let file = loaded.file.display();
        match &loaded.entry {
            Entry::Ready(_) => println!("ok      {file}"),
            Entry::ExpectInvalid {
                field,
                verdict: Ok(_),
            } => println!("ok      {file} (rejected naming {field}, as expected)"),
            Entry::ExpectInvalid {
                verdict: Err(why), ..
            } => {
                failed += 1;
                println!("FAIL    {file}: {why}");
            }
            Entry::Invalid(e) => {
                failed += 1;
                println!("INVALID {file}\n{e}");
            }
        }
    }
    println!(
        "{} files, {} ok, {failed} failed",
        files.len(),
        files.len() - failed
    );
    Ok(if failed == 0 { EXIT_OK } else { EXIT_FAILED })
}
