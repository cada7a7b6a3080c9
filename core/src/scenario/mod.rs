//! Loading scenario files (`docs/scenario-format.md`, version 1):
//! the cluster, the NetworkPolicies (decoded and validated as the API server
//! would), the probes, the expectations and the steps, checked for
//! consistency, as a list of rounds to evaluate.

mod build;
pub mod cluster_policy;
pub mod error;
mod families;
pub mod policy;
mod raw;
pub mod source;
mod wording;
pub mod yaml11;

#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};

pub use cluster_policy::ClusterPolicy;
pub use error::{LoadError, Problem};
pub use policy::Policy;

use crate::cluster::Cluster;
use crate::expect::Expectation;
use crate::probe::Probe;

/// A loaded scenario: the probes to send and the rounds to send them in.
#[derive(Clone, Debug)]
pub struct Scenario {
    pub name: String,
    pub description: Option<String>,
    pub tags: Vec<String>,
    /// Ids of the rules of `docs/spec-notes.md` the scenario checks (see
    /// [`crate::rules`]), each known and listed once.
    pub rules: Vec<String>,
    pub file: PathBuf,
    /// The probes of the scenario: each round sends those between
    /// endpoints that exist in it (see [`crate::cluster::Pod::present`]).
    pub probes: Vec<Probe>,
    /// The initial round, then one per step.
    pub rounds: Vec<Round>,
    /// What the API server would accept with a warning (a namespace on a
    /// cluster-scoped object).
    pub warnings: Vec<Problem>,
    /// Why the file ties the scenario to its IP addresses or families
    /// (a pinned address, an external host, `probes.families`, an
    /// expectation's `family`), if it does; policies are looked at apart
    /// ([`Scenario::names_addresses`]).
    pub tied_to_addresses: Option<String>,
}

impl Scenario {
    /// The cluster as it starts: every pod of the scenario, those that
    /// steps add absent (later rounds differ in labels and in which pods
    /// are present).
    pub fn cluster(&self) -> &Cluster {
        &self.rounds[0].cluster
    }

    /// The round of a step, by its name (`initial` for the first round).
    pub fn round(&self, name: &str) -> Option<&Round> {
        self.rounds.iter().find(|r| r.name == name)
    }
}

/// The name of the round before any step.
pub const INITIAL_ROUND: &str = "initial";

/// The cluster and policies as they are for one round of probes.
#[derive(Clone, Debug)]
pub struct Round {
    /// `initial`, or the step's name.
    pub name: String,
    pub description: Option<String>,
    pub cluster: Cluster,
    pub policies: Vec<Policy>,
    /// The ClusterNetworkPolicies in force, in the order written.
    pub cluster_policies: Vec<ClusterPolicy>,
    /// `None`: the model of the spec is the expectation.
    pub expect: Option<Expectation>,
    /// `observeEstablished: true` (a step, an extension): TCP connections
    /// the round before allowed and this one denies are opened before the
    /// change, and whether they survive it is reported (an observation,
    /// never a failure: the spec leaves it to the implementation).
    pub observe_established: bool,
}

/// A scenario file and what loading it gave. `expect_invalid` and `name`
/// are read even when the rest of the file cannot be.
#[derive(Debug)]
pub struct ScenarioFile {
    pub file: PathBuf,
    pub header: Header,
    pub loaded: Result<Scenario, LoadError>,
}

/// What a scenario says about itself, read even when the rest of the file
/// cannot be loaded (an `expectInvalid` scenario, a broken one).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Header {
    pub name: Option<String>,
    pub description: Option<String>,
    pub tags: Vec<String>,
    pub expect_invalid: Option<String>,
}

impl ScenarioFile {
    /// The name reports use: the scenario's name, or the file stem.
    pub fn display_name(&self) -> String {
        self.header.name.clone().unwrap_or_else(|| {
            self.file
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default()
        })
    }
}

/// The largest scenario file read, in bytes: the matrix's largest is about
/// 31 KB; the limit keeps a mistaken path (a log, `/dev/zero` behind a link)
/// from costing memory in proportion to its size.
pub const MAX_FILE_BYTES: u64 = 1 << 20;

/// Loads one scenario file.
pub fn load(path: &Path) -> ScenarioFile {
    match read_text(path) {
        Ok(text) => load_str(path, &text),
        Err(message) => ScenarioFile {
            file: path.to_path_buf(),
            header: Header::default(),
            loaded: Err(LoadError {
                file: path.to_path_buf(),
                problems: vec![Problem::at(crate::field_path::FieldPath::root(), message)],
            }),
        },
    }
}

/// The file's text, read only when it is a regular file of at most
/// [`MAX_FILE_BYTES`], not empty, and UTF-8; otherwise what is wrong, in words.
fn read_text(path: &Path) -> Result<String, String> {
    use std::io::Read;
    let file = std::fs::File::open(path).map_err(|e| format!("cannot read: {e}"))?;
    let meta = file.metadata().map_err(|e| format!("cannot read: {e}"))?;
    if !meta.is_file() {
        return Err("not a regular file (a FIFO, a device or a directory): not read".into());
    }
    let mut bytes = Vec::new();
    file.take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read: {e}"))?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(format!(
            "the file is larger than {} KiB, the most a scenario file may hold",
            MAX_FILE_BYTES / 1024
        ));
    }
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err("the file is empty: a scenario holds at least its `name` \
                    (docs/scenario-format.md)"
            .into());
    }
    String::from_utf8(bytes).map_err(|e| {
        let at = e.utf8_error().valid_up_to();
        let before = &e.as_bytes()[..at];
        let line = before.iter().filter(|b| **b == b'\n').count() + 1;
        let column = at
            - before
                .iter()
                .rposition(|b| *b == b'\n')
                .map_or(0, |i| i + 1)
            + 1;
        format!(
            "not UTF-8: invalid byte 0x{:02x} at line {line}, byte {column} of the line \
             (byte offset {at} in the file); scenario files are UTF-8 text",
            e.as_bytes()[at]
        )
    })
}

/// Loads a scenario from text; `file` names it in errors.
pub fn load_str(file: &Path, text: &str) -> ScenarioFile {
    build::build(file, text)
}
