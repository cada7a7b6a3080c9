//! Reports: views of the result model (`crate::results`).

pub mod conformance;
pub mod html;
pub mod junit;
pub mod markdown;
pub mod terminal;
pub mod truth_table;

use std::fmt::Write;
use std::path::{Path, PathBuf};

use crate::results::{
    Changes, Convergence, Counts, FuzzStats, Mode, Observed, Report, RoundResult, Transition,
    TransitionKind,
};

/// What the probed scenarios of a run tested: `enforcer NAME VERSION`,
/// `enforcer none` (a run where nothing programs the lab), or the
/// scenarios' expectations, against the model (`simulate`).
pub fn tested(report: &Report) -> String {
    match (report.mode, &report.enforcer) {
        (Mode::Simulate, _) => "expectations against the model".to_string(),
        (Mode::Run, Some(e)) => format!("enforcer {} {}", e.name, e.version),
        (Mode::Run, None) => "enforcer none".to_string(),
    }
}

/// `6 passed, 66 failed, 0 errors, 14 unsupported (declared)`; the
/// unsupported count only where some were.
pub fn counts(c: &Counts) -> String {
    let mut text = format!(
        "{} passed, {} failed, {} errors",
        c.passed, c.failed, c.errors
    );
    if c.unsupported > 0 {
        let _ = write!(text, ", {} unsupported (declared)", c.unsupported);
    }
    if c.not_applicable > 0 {
        let _ = write!(
            text,
            ", {} not applicable in these IP families",
            c.not_applicable
        );
    }
    text
}

/// The enforcer's part of a run, apart from the loader checks:
/// `enforcer netpol-reference 0.1.0: 86 scenarios: 6 passed, 66 failed, 0 errors`.
pub fn enforcer_line(report: &Report) -> String {
    let c = &report.summary.enforcer;
    format!(
        "{}: {} scenario{}: {}",
        tested(report),
        c.scenarios,
        if c.scenarios == 1 { "" } else { "s" },
        counts(c)
    )
}

/// `text` with its first letter upper case, to open a sentence or a line.
pub fn capitalized(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// A fuzz run's figures, as header rows: its scenarios are only the cases
/// that did not agree, so these say what was run in all.
pub fn fuzz_rows(f: &FuzzStats) -> Vec<(&'static str, String)> {
    let features: Vec<String> = f.features.iter().map(|(k, n)| format!("{k} {n}")).collect();
    let mut rows = vec![
        ("fuzz seed", f.seed.to_string()),
        (
            "fuzz cases",
            format!(
                "{} ({:.1} per second), {} probes",
                f.cases, f.cases_per_second, f.probes
            ),
        ),
        (
            "fuzz found",
            format!(
                "{}, {} flaky, {}, {}",
                plural(f.disagreements, "disagreement"),
                f.flaky,
                plural(f.errors, "error"),
                plural(f.generator_bugs, "generator bug")
            ),
        ),
        (
            "fuzz cases per feature",
            if features.is_empty() {
                "none".to_string()
            } else {
                features.join(", ")
            },
        ),
    ];
    if !f.reproducers.is_empty() {
        rows.push(("fuzz reproducers", f.reproducers.join(", ")));
    }
    rows
}

/// `1 error`, `2 errors`.
fn plural(n: usize, noun: &str) -> String {
    format!("{n} {noun}{}", if n == 1 { "" } else { "s" })
}

/// `1.23 s` or `45.6 ms`.
pub fn duration(ms: f64) -> String {
    if ms >= 1000.0 {
        format!("{:.2} s", ms / 1e3)
    } else {
        format!("{ms:.1} ms")
    }
}

/// A run's convergence and transition figures, as one line:
/// `convergence after sync: median 41.2 ms, p95 80.3 ms, max 1.92 s over 293
/// rounds (0 polls); change watch: 280 rounds, 4445 probes, 0 leaks, 0 outages`.
pub fn changes_line(c: &Changes) -> String {
    let mut text = format!(
        "convergence after sync: median {}, p95 {}, max {} over {} (polls: {})",
        duration(c.p50_ms),
        duration(c.p95_ms),
        duration(c.max_ms),
        plural(c.rounds, "round"),
        c.polls
    );
    if c.unconverged > 0 {
        let _ = write!(
            text,
            "; {} did not converge",
            plural(c.unconverged, "round")
        );
    }
    let _ = write!(
        text,
        "; change watch: {} watched, {} in all: {}, {}",
        plural(c.watched_rounds, "round"),
        plural(c.watched_pairs, "probe"),
        plural(c.leaks, "leak"),
        plural(c.outages, "outage")
    );
    text
}

/// A round's convergence: `converged 1.23 s after sync started (14 polls)`.
pub fn convergence_text(c: &Convergence) -> String {
    let polls = if c.polls > 0 {
        format!(" ({})", plural(c.polls as usize, "poll"))
    } else {
        String::new()
    };
    if c.converged {
        format!("converged {} after sync started{polls}", duration(c.ms))
    } else {
        format!("did not converge within {}{polls}", duration(c.ms))
    }
}

/// A leak or an outage as one line: `leak: x/b -> x/a 80/TCP allowed from
/// 240.0 ms to 633.0 ms after the change started, though both states deny it`.
pub fn transition_line(round: &RoundResult, t: &Transition) -> String {
    let (seen, both) = match t.kind {
        TransitionKind::Leak => ("allowed", "deny"),
        TransitionKind::Outage => ("denied", "allow"),
    };
    let traffic = if round.has_ipv6() {
        format!("{}/{} over {}", t.port, t.protocol, t.family)
    } else {
        format!("{}/{}", t.port, t.protocol)
    };
    let when = if t.lasted_ms() > 0.0 {
        format!(
            "from {} to {} after the change started",
            duration(t.first_ms),
            duration(t.last_ms)
        )
    } else {
        format!("{} after the change started", duration(t.first_ms))
    };
    let though = if t.new_pod {
        format!(
            "though the state after {both}s it (a new pod, reachable before its policies apply)"
        )
    } else {
        format!("though both states {both} it")
    };
    format!(
        "{}: {} -> {} {traffic} {seen} {when}, {though}{}",
        t.kind.as_str(),
        t.from,
        t.to,
        if t.fails {
            ""
        } else {
            " (reported, not failed: --strict-transitions fails it)"
        }
    )
}

/// A round's established connections (`observeEstablished`), as one line:
/// `established connections the change denies: 2 kept (x/b -> x/a 80/TCP,
/// ...), 1 cut (...)`. An observation: the spec leaves it to the implementation.
pub fn established_line(round: &RoundResult) -> Option<String> {
    use crate::results::EstablishedOutcome;
    if round.established.is_empty() {
        return None;
    }
    let part = |outcome: EstablishedOutcome, word: &str| {
        let list: Vec<String> = round
            .established
            .iter()
            .filter(|c| c.outcome == outcome)
            .map(|c| {
                let family = if round.has_ipv6() {
                    format!(" over {}", c.family)
                } else {
                    String::new()
                };
                format!("{} -> {} {}/TCP{family}", c.from, c.to, c.port)
            })
            .collect();
        (!list.is_empty()).then(|| format!("{} {word} ({})", list.len(), list.join(", ")))
    };
    let parts: Vec<String> = [
        part(EstablishedOutcome::Kept, "kept"),
        part(EstablishedOutcome::Cut, "cut"),
        part(EstablishedOutcome::Error, "could not be opened"),
    ]
    .into_iter()
    .flatten()
    .collect();
    Some(format!(
        "established TCP connections the change denies (an observation: the spec leaves it to the implementation): {}",
        parts.join("; ")
    ))
}

/// The watch probes of a transition, one mark each in the order they were
/// sent: `.` as both states say, `A` / `D` the other verdict, `E` an error.
/// `..AAAAAAAA..`
pub fn timeline_marks(t: &Transition) -> String {
    t.timeline
        .iter()
        .map(|s| match (s.observed, t.kind) {
            (Observed::Error, _) => 'E',
            (Observed::Allowed, TransitionKind::Leak) => 'A',
            (Observed::Denied, TransitionKind::Outage) => 'D',
            _ => '.',
        })
        .collect()
}

/// What the loader checks are, as every format names them.
pub const LOADER_CHECKS: &str =
    "loader checks (expectInvalid files: rejected when loaded, no enforcer involved)";

/// `loader checks (...): 47 files: 47 passed, 0 failed, 0 errors`, or
/// `None` when the run has none.
pub fn loader_line(report: &Report) -> Option<String> {
    let c = &report.summary.loader_checks;
    (c.scenarios > 0).then(|| {
        format!(
            "{LOADER_CHECKS}: {} file{}: {}",
            c.scenarios,
            if c.scenarios == 1 { "" } else { "s" },
            counts(c)
        )
    })
}

/// Says how many scenarios were judged against the model, when any was.
pub fn model_line(report: &Report) -> Option<String> {
    let n = report.summary.judged_by_model;
    (n > 0).then(|| {
        format!(
            "{n} scenario{} judged against the model, not a hand-written expect (some round has no expect)",
            if n == 1 { " was" } else { "s were" }
        )
    })
}

/// Writes every report format into `dir` (created if need be): `report.json`,
/// `junit.xml`, `report.md`, `report.html`, and `conformance-report.yaml`
/// for a run with ClusterNetworkPolicy scenarios. Returns the files written.
pub fn write(dir: &Path, report: &Report) -> std::io::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir)?;
    let json = serde_json::to_string(report).map_err(std::io::Error::other)?;
    let files = [
        ("report.json", json + "\n"),
        ("junit.xml", junit::render(report)),
        ("report.md", markdown::render(report)),
        ("report.html", html::render(report)),
    ];
    let files = files
        .into_iter()
        .chain(conformance::render(report).map(|yaml| ("conformance-report.yaml", yaml)));
    let mut written = Vec::new();
    for (name, content) in files {
        let path = dir.join(name);
        std::fs::write(&path, content)?;
        written.push(path);
    }
    Ok(written)
}
