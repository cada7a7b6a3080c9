//! `netpol check`: load and validate scenario files, nothing else.

use std::path::PathBuf;

use netpol::suite::{self, Entry};

use super::{Result, usage};
use crate::exit;

pub fn run(paths: &[PathBuf]) -> Result {
    let files = suite::discover(paths).map_err(usage)?;
    let mut failed = 0;
    for loaded in suite::load(&files) {
        let file = loaded.file.display();
        match &loaded.entry {
            Entry::Ready(s) => {
                println!("ok      {file}");
                for w in &s.warnings {
                    println!("        warning: {file}:{w}");
                }
            }
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
            // `check` takes no families: nothing is made not applicable.
            Entry::NotApplicable(why) => println!("ok      {file} ({why})"),
        }
    }
    println!(
        "{} files, {} ok, {failed} failed",
        files.len(),
        files.len() - failed
    );
    Ok(if failed == 0 { exit::OK } else { exit::FAILED })
}
