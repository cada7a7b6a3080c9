//! Plain-text views for terminals and CI logs.

use std::fmt::Write;

use super::truth_table::{self, LEGEND};
use crate::results::{
    EnforcerInfo, ExpectationSource, Observed, Outcome, Report, RoundResult, ScenarioResult,
    Status, Summary, Suspect, TransitionKind,
};

/// Mismatching probes listed per round, at most (the report has them all).
const MAX_LISTED: usize = 6;

/// One line per scenario: `PASS  name  (486 probes, 2 rounds)  file`;
/// loader checks and rounds judged against the model say so.
pub fn scenario_line(r: &ScenarioResult) -> String {
    let status = match r.status {
        Status::Pass => "PASS ",
        Status::Fail => "FAIL ",
        Status::Error => "ERROR",
        Status::Unsupported => "UNSUPPORTED",
        Status::NotApplicable => "N/A  ",
    };
    let probes: usize = r.rounds.iter().map(|x| x.probes.len()).sum();
    let mut what = match (&r.expect_invalid, r.rounds.len()) {
        (Some(field), _) => format!("loader check: expectInvalid {field}"),
        (None, _) if r.status == Status::NotApplicable => r.message.clone().unwrap_or_default(),
        (None, _) if r.status == Status::Unsupported && r.needs.is_empty() => {
            "declared unsupported".to_string()
        }
        (None, _) if r.status == Status::Unsupported => {
            format!("declared: needs {}", crate::features::list(&r.needs))
        }

        (None, 0) if r.lab.is_some() => "stopped before its first probe round".to_string(),
        (None, 0) => "not run".to_string(),

        (None, n) => format!(
            "{probes} probes, {n} round{}",
            if n == 1 { "" } else { "s" }
        ),
    };
    if let Some(note) = r.model_note() {
        what.push_str("; ");
        what.push_str(&note);
    }
    let transitions: Vec<_> = r.transitions().collect();
    if !transitions.is_empty() {
        let leaks = transitions
            .iter()
            .filter(|(_, t)| t.kind == TransitionKind::Leak)
            .count();
        let _ = write!(
            what,
            "; during changes: {} leak{}, {} outage{}",
            leaks,
            if leaks == 1 { "" } else { "s" },
            transitions.len() - leaks,
            if transitions.len() - leaks == 1 {
                ""
            } else {
                "s"
            }
        );
    }
    format!("{status} {}  ({what})  {}", r.name, r.file)
}

/// The first line of `run`: which enforcer is tested, and what it declares
/// unsupported.
pub fn run_header(
    enforcer: Option<&EnforcerInfo>,
    unsupported: &[crate::features::Feature],
) -> String {
    let mut text = match enforcer {
        Some(e) => format!("testing enforcer {} {}", e.name, e.version),
        None => "testing enforcer none: nothing programs the lab, every probe should be allowed"
            .to_string(),
    };
    if !unsupported.is_empty() {
        let _ = write!(
            text,
            " (declared unsupported: {})",
            crate::features::list(unsupported)
        );
    }
    text
}

/// For a scenario that did not pass: its message, and the truth table of
/// each failing port/protocol of each round, with the mismatching probes
/// and the model's explanation of each.
pub fn details(r: &ScenarioResult) -> String {
    let mut out = String::new();
    if let Some(m) = &r.message {
        for line in m.lines() {
            let _ = writeln!(out, "    {line}");
        }
    }
    for round in &r.rounds {
        transitions(&mut out, round);
        let tables: Vec<_> = truth_table::tables(round)
            .into_iter()
            .filter(|t| t.has_mismatch())
            .collect();
        if tables.is_empty() {
            continue;
        }
        let source = match round.expectation {
            ExpectationSource::Scenario => "the scenario's expect",
            ExpectationSource::Model => "the model (no expect in the scenario)",
        };
        let _ = writeln!(
            out,
            "  round {}: expected verdicts from {source}",
            round.name
        );
        for t in &tables {
            for line in truth_table::render(t).lines() {
                let _ = writeln!(out, "    {line}");
            }
        }
        let bad: Vec<_> = round
            .probes
            .iter()
            .filter(|p| p.result != Outcome::Pass)
            .collect();
        for p in bad.iter().take(MAX_LISTED) {
            let _ = writeln!(
                out,
                "    {} -> {} {}: expected {}, observed {}",
                p.from,
                p.to,
                p.traffic(round),
                p.expected,
                observed(p.observed)
            );
            if let Some(e) = &p.error {
                let _ = writeln!(out, "      error: {e}");
            }
            if let Some(e) = &p.explanation {
                let _ = writeln!(out, "      model: {e}");
            }
            match p.suspect() {
                Some(Suspect::Observed) => {
                    let _ = writeln!(
                        out,
                        "      => the model agrees with the expectation: the {} is wrong",
                        observer(r)
                    );
                }
                Some(Suspect::Expectation) => {
                    let _ = writeln!(
                        out,
                        "      => the model agrees with what was observed: check the scenario's expectation"
                    );
                }
                None => {}
            }
        }
        if bad.len() > MAX_LISTED {
            let _ = writeln!(
                out,
                "    ... and {} more mismatching probes in this round (the report lists them all)",
                bad.len() - MAX_LISTED
            );
        }
        let _ = writeln!(out, "    ({LEGEND})");
    }
    out
}

/// A round's leaks and outages, each with its timeline, and what became
/// of its established connections.
fn transitions(out: &mut String, round: &RoundResult) {
    if let Some(line) = super::established_line(round) {
        let _ = writeln!(out, "  round {}: {line}", round.name);
    }
    let Some(w) = round.watch.as_ref().filter(|w| !w.transitions.is_empty()) else {
        return;
    };
    let _ = writeln!(
        out,
        "  round {}: during the change ({} probes watched for {}, each sent {} times):",
        round.name,
        w.pairs,
        super::duration(w.ms),
        w.sweeps
    );
    for t in w.transitions.iter().take(MAX_LISTED) {
        let _ = writeln!(out, "    {}", super::transition_line(round, t));
        let _ = writeln!(out, "      timeline: {}", super::timeline_marks(t));
    }
    if w.transitions.len() > MAX_LISTED {
        let _ = writeln!(
            out,
            "    ... and {} more in this round (the report lists them all)",
            w.transitions.len() - MAX_LISTED
        );
    }
}

/// The totals: the enforcer's scenarios and probes, then the loader checks
/// apart (they pass without the enforcer), then how many scenarios were
/// judged against the model.
pub fn summary(report: &Report) -> String {
    let s = &report.summary;
    let mut out = format!(
        "{}; {} probes, {} failed, {} errors ({:.2} s)",
        super::enforcer_line(report),
        s.probes,
        s.probes_failed,
        s.probes_errors,
        report.duration_ms / 1e3
    );
    for line in [
        report.changes.as_ref().map(super::changes_line),
        super::loader_line(report),
        super::model_line(report),
    ]
    .into_iter()
    .flatten()
    {
        out.push('\n');
        out.push_str(&line);
    }
    out
}

/// `--timings`: lab setup, each round (sync, probes), teardown.
pub fn timings(r: &ScenarioResult) -> String {
    let mut parts = Vec::new();
    if let Some(lab) = &r.lab {
        parts.push(format!("lab setup {:.1} ms", lab.setup_ms));
        if let Some(ms) = lab.preflight_ms {
            parts.push(format!("preflight {ms:.1} ms"));
        }
    }
    for round in &r.rounds {
        let mut sync = round
            .sync_ms
            .map(|ms| format!("sync {ms:.1} ms, "))
            .unwrap_or_default();
        if let Some(c) = round.convergence.as_ref().filter(|c| c.polls > 0) {
            let _ = write!(sync, "{}, ", super::convergence_text(c));
        }
        if let Some(w) = &round.watch {
            let _ = write!(
                sync,
                "watch {} probes × {} for {}, ",
                w.pairs,
                w.sweeps,
                super::duration(w.ms)
            );
        }
        parts.push(format!(
            "{}: {sync}{} probes in {:.1} ms",
            round.name,
            round.probes.len(),
            round.duration_ms
        ));
    }
    if let Some(lab) = &r.lab {
        if let Some(ms) = lab.cleanup_ms {
            parts.push(format!("cleanup {ms:.1} ms"));
        }
        parts.push(format!("teardown {:.1} ms", lab.teardown_ms));
    }
    format!(
        "      timings: {}; total {:.1} ms",
        parts.join("; "),
        r.duration_ms
    )
}

fn observed(o: Observed) -> &'static str {
    match o {
        Observed::Allowed => "allowed",
        Observed::Denied => "denied",
        Observed::Error => "error",
    }
}

/// What observed the verdicts of a scenario: the enforcer in a run, the
/// model in a simulation.
fn observer(r: &ScenarioResult) -> &'static str {
    if r.lab.is_some() { "enforcer" } else { "model" }
}

/// How much the console says.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Verbosity {
    /// Failures and the summary.
    Quiet,
    /// A line per scenario, failures in detail, the summary per tag.
    Normal,
    /// Also timings, and why scenarios were not run.
    Verbose,
}

/// The console of a run: a progress bar on a terminal (scenarios done,
/// probes sent), plain lines otherwise (CI logs).
#[derive(Debug)]
pub struct Console {
    verbosity: Verbosity,
    bar: indicatif::ProgressBar,
    probes: usize,
    /// The line of every scenario that failed or errored, for the summary.
    problems: Vec<String>,
}

/// The progress of `netpol fuzz`, on stderr when it is a terminal: cases
/// (of the number asked for, or against the clock), probes, disagreements
/// and cases per second.
#[derive(Debug)]
pub struct FuzzBar {
    bar: indicatif::ProgressBar,
    started: std::time::Instant,
}

impl FuzzBar {
    pub fn new(cases: Option<u64>) -> FuzzBar {
        let bar = indicatif::ProgressBar::with_draw_target(
            cases,
            indicatif::ProgressDrawTarget::stderr(),
        );
        let template = if cases.is_some() {
            "{bar:30} {pos}/{len} cases, {msg} [{elapsed}]"
        } else {
            "{spinner} {pos} cases, {msg} [{elapsed}]"
        };
        bar.set_style(indicatif::ProgressStyle::with_template(template).expect("a valid template"));
        FuzzBar {
            bar,
            started: std::time::Instant::now(),
        }
    }

    /// After each case: the totals so far.
    pub fn update(&self, cases: u64, probes: usize, disagreements: usize) {
        let seconds = self.started.elapsed().as_secs_f64();
        let rate = if seconds > 0.0 {
            cases as f64 / seconds
        } else {
            0.0
        };
        self.bar.set_position(cases);
        self.bar.set_message(format!(
            "{probes} probes, {disagreements} disagreement{}, {rate:.1} cases/s",
            if disagreements == 1 { "" } else { "s" }
        ));
    }

    /// Prints above the bar.
    pub fn println(&self, text: &str) {
        if !text.is_empty() {
            self.bar.suspend(|| print!("{text}"));
        }
    }

    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

/// Failed or errored scenarios whose mismatches are printed as they finish;
/// past these, a long failing run prints each one's line only (all with
/// `-v`), and the reports have every mismatch.
const DETAILED_PROBLEMS: usize = 10;

impl Console {
    pub fn new(verbosity: Verbosity, scenarios: usize) -> Console {
        // Drawn on stderr only when it is a terminal; hidden otherwise.
        let bar = indicatif::ProgressBar::with_draw_target(
            Some(scenarios as u64),
            indicatif::ProgressDrawTarget::stderr(),
        );
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{bar:30} {pos}/{len} scenarios, {msg} [{elapsed}]",
            )
            .expect("a valid template"),
        );
        Console {
            verbosity,
            bar,
            probes: 0,
            problems: Vec::new(),
        }
    }

    fn print(&self, text: &str) {
        self.bar.suspend(|| print!("{text}"));
    }

    /// Reports a finished scenario.
    pub fn scenario(&mut self, r: &ScenarioResult) {
        let mut out = String::new();
        let problem = !matches!(
            r.status,
            Status::Pass | Status::Unsupported | Status::NotApplicable
        );
        if self.verbosity >= Verbosity::Normal || problem {
            let _ = writeln!(out, "{}", scenario_line(r));
        }
        if self.verbosity >= Verbosity::Verbose && r.lab.is_some() {
            let _ = writeln!(out, "{}", timings(r));
        }
        let detailed =
            self.problems.len() < DETAILED_PROBLEMS || self.verbosity >= Verbosity::Verbose;
        if (problem && detailed)
            || (self.verbosity >= Verbosity::Verbose && r.status == Status::Unsupported)
        {
            out.push_str(&details(r));
        } else if r.transitions().next().is_some()
            || r.rounds.iter().any(|x| !x.established.is_empty())
        {
            // Outages that do not fail the scenario are still reported.
            for round in &r.rounds {
                transitions(&mut out, round);
            }
        }
        if problem {
            self.problems.push(scenario_line(r));
        }
        self.print(&out);
        self.probes += r.rounds.iter().map(|x| x.probes.len()).sum::<usize>();
        self.bar.set_message(format!("{} probes", self.probes));
        self.bar.inc(1);
    }

    /// A message of the run that is not a result (a kept lab, a pause).
    pub fn note(&self, text: &str) {
        let text = if text.ends_with('\n') {
            text.to_string()
        } else {
            format!("{text}\n")
        };
        self.print(&text);
    }

    /// The summary per tag, and the totals.
    pub fn finish(&self, report: &Report) {
        self.bar.finish_and_clear();
        let mut out = String::new();
        // A long failing run: the list of what failed, one line each, next
        // to the totals rather than thousands of lines up.
        if self.problems.len() > DETAILED_PROBLEMS {
            let _ = writeln!(
                out,
                "\n{} scenarios failed or errored (the mismatches of the first {DETAILED_PROBLEMS} are above; -v prints them all, and --report DIR writes every one):",
                self.problems.len()
            );
            for line in &self.problems {
                let _ = writeln!(out, "  {line}");
            }
            out.push('\n');
        }
        if self.verbosity >= Verbosity::Normal && report.summary.enforcer.scenarios > 0 {
            let _ = writeln!(out, "{}", tag_table(report));
        }
        let _ = writeln!(out, "{}", summary(report));
        print!("{out}");
    }
}

/// The enforcer's scenarios per tag (loader checks apart): passed, failed,
/// errors, unsupported.
pub fn tag_table(report: &Report) -> String {
    // Laid out by hand (psql style): tabled's layout took memory growing
    // with the square of the rows, 1.7 GB for 5,000 tags.
    let header = [
        "tag",
        "scenarios",
        "passed",
        "failed",
        "errors",
        "unsupported",
    ]
    .map(String::from);
    let rows: Vec<[String; 6]> = Summary::by_tag(&report.scenarios)
        .into_iter()
        .map(|(tag, s)| {
            [
                tag,
                s.scenarios.to_string(),
                s.passed.to_string(),
                s.failed.to_string(),
                s.errors.to_string(),
                s.unsupported.to_string(),
            ]
        })
        .collect();
    let mut widths = [0; 6];
    for row in std::iter::once(&header).chain(&rows) {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |row: &[String; 6]| {
        let cells: Vec<String> = row
            .iter()
            .zip(widths)
            .map(|(cell, w)| format!(" {cell:<w$} "))
            .collect();
        cells.join("|")
    };
    let mut lines = vec![line(&header)];
    lines.push(
        widths
            .iter()
            .map(|w| "-".repeat(w + 2))
            .collect::<Vec<_>>()
            .join("+"),
    );
    lines.extend(rows.iter().map(line));
    lines.join("\n")
}
