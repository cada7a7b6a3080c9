//! What is wrong with a scenario file: every problem with the file, the
//! line and column, and the field path (of the scenario, and of the
//! Kubernetes object when the problem is inside a NetworkPolicy).

use std::fmt;
use std::path::PathBuf;

use super::source::Position;
use crate::field_path::FieldPath;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// Where in the scenario document: `probes.from[1]`, `policies[0]`.
    pub path: FieldPath,
    /// For a problem inside a NetworkPolicy: the object (`NetworkPolicy x/web`)
    /// and the Kubernetes field path relative to it (`spec.ingress[0].ports[0].port`).
    pub object: Option<(String, FieldPath)>,
    pub position: Option<Position>,
    pub message: String,
}

impl Problem {
    pub fn at(path: FieldPath, message: impl Into<String>) -> Problem {
        Problem {
            path,
            object: None,
            position: None,
            message: message.into(),
        }
    }

    /// The full path in the document, `policies[0].spec.ingress[0]`.
    pub fn document_path(&self) -> FieldPath {
        match &self.object {
            Some((_, field)) => self.path.join(field),
            None => self.path.clone(),
        }
    }

    /// The Kubernetes field path, for problems inside an object.
    pub fn field_path(&self) -> Option<&FieldPath> {
        self.object.as_ref().map(|(_, f)| f)
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(p) = self.position {
            write!(f, "{}:{}: ", p.line, p.column)?;
        }
        match &self.object {
            Some((object, field)) if field.is_root() => {
                write!(f, "{} ({object}): {}", self.path, cut(&self.message))
            }
            Some((object, field)) => {
                write!(
                    f,
                    "{} ({object}): {field}: {}",
                    self.path,
                    cut(&self.message)
                )
            }
            None if self.path.is_root() => f.write_str(&cut(&self.message)),
            None => write!(f, "{}: {}", self.path, cut(&self.message)),
        }
    }
}

/// The most of a message printed: messages quote what was written, and a
/// 10 MB label value is no help in a terminal.
const MESSAGE_CHARS: usize = 500;

fn cut(message: &str) -> std::borrow::Cow<'_, str> {
    let count = message.chars().count();
    if count <= MESSAGE_CHARS {
        return message.into();
    }
    let head: String = message.chars().take(MESSAGE_CHARS).collect();
    format!("{head}... ({} more characters cut)", count - MESSAGE_CHARS).into()
}

/// A scenario that cannot be loaded, with every problem found.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct LoadError {
    pub file: PathBuf,
    pub problems: Vec<Problem>,
}

impl fmt::Display for LoadError {
    /// One line per problem: `file:line:column: path: message`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.problems.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{}:{p}", self.file.display())?;
        }
        Ok(())
    }
}

impl LoadError {
    /// The first problem that names `expected`, either as a Kubernetes field
    /// path inside an object or as a path in the scenario document.
    pub fn problem_naming(&self, expected: &str) -> Option<&Problem> {
        self.problems.iter().find(|p| {
            p.field_path()
                .is_some_and(|f| crate::field_path::names_field(&f.to_string(), expected))
                || crate::field_path::names_field(&p.document_path().to_string(), expected)
        })
    }
}
