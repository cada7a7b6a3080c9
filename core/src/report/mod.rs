//! Reports: views of the result model (`crate::results`).

pub mod html;
pub mod junit;
pub mod markdown;
pub mod terminal;
pub mod truth_table;

use std::path::{Path, PathBuf};

use crate::results::Report;

/// Writes every report format into `dir` (created if need be): `report.json`,
/// `junit.xml`, `report.md`, `report.html`. Returns the files written.
pub fn write(dir: &Path, report: &Report) -> std::io::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir)?;
    let json = serde_json::to_string(report).map_err(std::io::Error::other)?;
    let files = [
        ("report.json", json + "\n"),
        ("junit.xml", junit::render(report)),
        ("report.md", markdown::render(report)),
        ("report.html", html::render(report)),
    ];
    let mut written = Vec::new();
    for (name, content) in files {
        let path = dir.join(name);
        std::fs::write(&path, content)?;
        written.push(path);
    }
    Ok(written)
}
