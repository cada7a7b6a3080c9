//! A suite: the scenario files named on the command line, found and loaded,
//! with the suite-wide checks (unique names) and `expectInvalid` judged.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use crate::field_path::FieldPath;
use crate::scenario::{self, Header, LoadError, Problem, Scenario, ScenarioFile};

#[derive(Debug, thiserror::Error)]
pub enum DiscoverError {
    #[error("{0}: no such file or directory")]
    Missing(PathBuf),
    #[error("{0}: cannot read directory: {1}")]
    Unreadable(PathBuf, std::io::Error),
    #[error("{0}: no scenario files (*.yaml, *.yml) found")]
    Empty(PathBuf),
    /// Named directly, a path that is neither a regular file nor a directory:
    /// reading it could block forever (a FIFO) or never end (`/dev/zero`).
    #[error("{0}: is {1}, not a scenario file (a regular file) or a directory")]
    NotAFile(PathBuf, &'static str),
}

/// What kind of file a path is, in words, when it is not a regular file or a
/// directory (symbolic links followed).
fn special_kind(meta: &std::fs::Metadata) -> Option<&'static str> {
    use std::os::unix::fs::FileTypeExt;
    let t = meta.file_type();
    if t.is_file() || t.is_dir() {
        None
    } else if t.is_fifo() {
        Some("a FIFO (named pipe)")
    } else if t.is_char_device() {
        Some("a character device")
    } else if t.is_block_device() {
        Some("a block device")
    } else if t.is_socket() {
        Some("a socket")
    } else {
        Some("not a regular file")
    }
}

/// The scenario files under `paths`: files as given, directories searched
/// recursively for `*.yaml` and `*.yml`, in a stable order, each once.
///
/// Walks look at regular files and directories only (a FIFO, a device or a
/// socket named `*.yaml` is passed over), and enter each directory once, so a
/// symbolic link back up the tree (`self -> .`) ends the descent.
pub fn discover(paths: &[PathBuf]) -> Result<Vec<PathBuf>, DiscoverError> {
    let mut files = Vec::new();
    let mut entered = HashSet::new();
    for path in paths {
        let Ok(meta) = std::fs::metadata(path) else {
            return Err(DiscoverError::Missing(path.clone()));
        };
        if let Some(kind) = special_kind(&meta) {
            return Err(DiscoverError::NotAFile(path.clone(), kind));
        }
        if meta.is_file() {
            files.push(path.clone());
        } else {
            let before = files.len();
            walk(path, &meta, &mut entered, &mut files)?;
            if files.len() == before {
                return Err(DiscoverError::Empty(path.clone()));
            }
        }
    }
    let mut seen = HashSet::new();
    files.retain(|f| seen.insert(f.canonicalize().unwrap_or_else(|_| f.clone())));
    Ok(files)
}

fn walk(
    dir: &Path,
    meta: &std::fs::Metadata,
    entered: &mut HashSet<(u64, u64)>,
    out: &mut Vec<PathBuf>,
) -> Result<(), DiscoverError> {
    use std::os::unix::fs::MetadataExt;
    if !entered.insert((meta.dev(), meta.ino())) {
        return Ok(());
    }
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| DiscoverError::Unreadable(dir.to_path_buf(), e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    for path in entries {
        // A dangling link or a vanished entry is passed over, like a FIFO.
        let Ok(meta) = std::fs::metadata(&path) else {
            continue;
        };
        if meta.is_dir() {
            walk(&path, &meta, entered, out)?;
        } else if meta.is_file() && path.extension().is_some_and(|e| e == "yaml" || e == "yml") {
            out.push(path);
        }
    }
    Ok(())
}

/// What a scenario file amounts to before anything is evaluated.
#[derive(Debug)]
pub enum Entry {
    /// Loaded; ready to evaluate.
    Ready(Box<Scenario>),
    /// An `expectInvalid` scenario: `Ok` with the matching problem when it was
    /// rejected naming the expected field, `Err` with why it did not pass.
    ExpectInvalid {
        field: String,
        verdict: Result<String, String>,
    },
    /// Could not be loaded.
    Invalid(LoadError),
    /// Loaded, but not applicable in the IP families of the run (why).
    NotApplicable(String),
}

/// A scenario file of the suite and what it amounts to.
#[derive(Debug)]
pub struct Loaded {
    pub file: PathBuf,
    /// The scenario's name, or the file stem when the name cannot be read.
    pub name: String,
    /// What the file says about itself (tags and description for reports).
    pub header: Header,
    pub entry: Entry,
}

/// Loads every file and judges `expectInvalid` scenarios. A name used by an
/// earlier file makes the later one invalid (names are unique in a suite).
pub fn load(files: &[PathBuf]) -> Vec<Loaded> {
    let mut names: HashMap<String, PathBuf> = HashMap::new();
    files
        .iter()
        .map(|f| {
            let mut sf = scenario::load(f);
            if let (Some(name), Ok(_)) = (&sf.header.name, &sf.loaded) {
                match names.get(name) {
                    Some(first) => {
                        let message = format!(
                            "scenario name {name:?} is already used by {}",
                            first.display()
                        );
                        sf.loaded = Err(LoadError {
                            file: f.clone(),
                            problems: vec![Problem::at(FieldPath::new("name"), message)],
                        });
                    }
                    None => {
                        names.insert(name.clone(), f.clone());
                    }
                }
            }
            Loaded {
                file: f.clone(),
                name: sf.display_name(),
                header: sf.header.clone(),
                entry: judge(sf),
            }
        })
        .collect()
}

/// The suite in `families` (`--ip-families`): each ready scenario that
/// names no IP address is taken into them; one that does is not
/// applicable there, unless they are its own.
pub fn in_families(loaded: Vec<Loaded>, families: &[crate::cluster::IpFamily]) -> Vec<Loaded> {
    loaded
        .into_iter()
        .map(|mut l| {
            if let Entry::Ready(s) = &l.entry {
                l.entry = match s.in_families(families) {
                    Ok(s) => Entry::Ready(Box::new(s)),
                    Err(why) => Entry::NotApplicable(why),
                };
            }
            l
        })
        .collect()
}

fn judge(sf: ScenarioFile) -> Entry {
    match (sf.header.expect_invalid, sf.loaded) {
        (None, Ok(s)) => Entry::Ready(Box::new(s)),
        (None, Err(e)) => Entry::Invalid(e),
        (Some(field), Ok(_)) => Entry::ExpectInvalid {
            verdict: Err(format!(
                "expected to be rejected naming {field}, but it loaded without error"
            )),
            field,
        },
        (Some(field), Err(e)) => {
            let verdict = match e.problem_naming(&field) {
                Some(p) => Ok(format!("{}:{p}", e.file.display())),
                None => Err(format!("expected an error naming {field}; got:\n{e}")),
            };
            Entry::ExpectInvalid { field, verdict }
        }
    }
}
