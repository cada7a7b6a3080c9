//! Reports: views of the result model (`crate::results`).

pub mod terminal;
pub mod truth_table;

use std::path::Path;

use crate::results::Report;

/// Writes `DIR/report.json`, creating the directory.
pub fn write(dir: &Path, report: &Report) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let json = serde_json::to_string_pretty(report).map_err(std::io::Error::other)?;
    std::fs::write(dir.join("report.json"), json + "\n")
}
