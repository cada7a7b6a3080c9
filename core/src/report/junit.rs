//! `junit.xml`: one testcase per scenario, grouped in a testsuite per
//! scenario folder. A failing scenario's `<failure>` lists every mismatching
//! probe with the model's reason; errors are `<error>`; scenarios declared
//! unsupported are `<skipped>`. Loader checks (`expectInvalid` files) are a
//! testsuite of their own, `loader-checks`, without the enforcer's name: they
//! pass without it. A testcase judged against the model (no hand-written
//! `expect`) has the property `expectation=model` and says so in its output.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::path::Path;
use std::time::Duration;

use quick_junit::{NonSuccessKind, Property, Report as JUnit, TestCase, TestCaseStatus, TestSuite};

use crate::results::{Outcome, Report, ScenarioResult, Status, Suspect};

/// The testsuite of loader checks.
pub const LOADER_CHECKS_SUITE: &str = "loader-checks";

/// The group of a scenario: its file's folder (`default-policies`), or its
/// first tag when the file sits in no folder; every loader check is in
/// [`LOADER_CHECKS_SUITE`].
pub fn group(r: &ScenarioResult) -> String {
    if r.is_loader_check() {
        return LOADER_CHECKS_SUITE.to_string();
    }
    Path::new(&r.file)
        .parent()
        .and_then(|p| p.file_name())
        .map(|n| n.to_string_lossy().into_owned())
        .or_else(|| r.tags.first().cloned())
        .unwrap_or_else(|| "scenarios".to_string())
}

/// Every probe that did not pass, one line each, with the model's reason;
/// then every leak and outage during a change, with its timeline.
pub fn mismatch_text(r: &ScenarioResult) -> String {
    let mut text = String::new();
    for (round, t) in r.transitions() {
        let _ = writeln!(
            text,
            "[{}] {}\n    timeline: {}",
            round.name,
            super::transition_line(round, t),
            super::timeline_marks(t)
        );
    }
    for round in &r.rounds {
        for p in round.probes.iter().filter(|p| p.result != Outcome::Pass) {
            let observed = match p.result {
                Outcome::Error => format!("error: {}", p.error.as_deref().unwrap_or("")),
                _ => format!("observed {:?}", p.observed).to_lowercase(),
            };
            let _ = write!(
                text,
                "[{}] {} -> {} {}: expected {}, {observed}",
                round.name,
                p.from,
                p.to,
                p.traffic(round),
                p.expected
            );
            match p.suspect() {
                Some(Suspect::Observed) => {
                    text.push_str(" (the model agrees with the expectation)")
                }
                Some(Suspect::Expectation) => {
                    text.push_str(" (the model agrees with the observation: check the expectation)")
                }
                None => {}
            }
            text.push('\n');
            if let Some(e) = &p.explanation {
                let _ = writeln!(text, "    model: {e}");
            }
        }
    }
    text
}

fn testcase(r: &ScenarioResult) -> TestCase {
    let bad = r
        .rounds
        .iter()
        .flat_map(|x| &x.probes)
        .filter(|p| p.result != Outcome::Pass)
        .count();
    let total: usize = r.rounds.iter().map(|x| x.probes.len()).sum();
    let status = match r.status {
        Status::Pass => TestCaseStatus::success(),
        Status::Unsupported | Status::NotApplicable => {
            let mut s = TestCaseStatus::skipped();
            s.set_message(
                r.message
                    .clone()
                    .unwrap_or_else(|| "unsupported (declared)".into()),
            );
            s
        }
        Status::Fail | Status::Error => {
            let kind = if r.status == Status::Fail {
                NonSuccessKind::Failure
            } else {
                NonSuccessKind::Error
            };
            let mut s = TestCaseStatus::non_success(kind);
            let leaks = r.transitions().filter(|(_, t)| t.fails).count();
            let message = match (&r.message, bad) {
                (Some(m), _) => m.lines().next().unwrap_or_default().to_string(),
                (None, 0) if leaks > 0 => format!(
                    "{leaks} probe{} seen with a verdict neither state gives during a change",
                    if leaks == 1 { " was" } else { "s were" }
                ),
                (None, n) => format!("{n} of {total} probes did not get the expected verdict"),
            };
            s.set_message(message);
            let mut description = r.message.clone().map(|m| m + "\n").unwrap_or_default();
            description.push_str(&mismatch_text(r));
            s.set_description(description);
            s
        }
    };
    let mut case = TestCase::new(r.name.clone(), status);
    case.set_classname(format!("netpol.{}", group(r)));
    if let Some(field) = &r.expect_invalid {
        case.add_property(Property::new("expectInvalid", field.clone()));
    }
    if let Some(note) = r.model_note() {
        case.add_property(Property::new("expectation", "model"));
        case.set_system_out(note);
    }
    // Each round's convergence, as CI dashboards read properties.
    for round in &r.rounds {
        if let Some(c) = &round.convergence {
            case.add_property(Property::new(
                format!("convergence.{}", round.name),
                super::convergence_text(c),
            ));
        }
        if let Some(line) = super::established_line(round) {
            case.add_property(Property::new(format!("established.{}", round.name), line));
        }
    }
    case.set_time(Duration::from_secs_f64(r.duration_ms.max(0.0) / 1e3));
    case.set_assertions(total);
    case
}

pub fn render(report: &Report) -> String {
    // The enforcer's suites first, then the loader checks.
    let mut groups: BTreeMap<(bool, String), Vec<&ScenarioResult>> = BTreeMap::new();
    for r in &report.scenarios {
        groups
            .entry((r.is_loader_check(), group(r)))
            .or_default()
            .push(r);
    }
    let mut junit = JUnit::new("netpol");
    junit.set_time(Duration::from_secs_f64(report.duration_ms.max(0.0) / 1e3));
    for ((loader_checks, name), results) in groups {
        let mut suite = TestSuite::new(name);
        suite.add_property(Property::new(
            "mode",
            format!("{:?}", report.mode).to_lowercase(),
        ));
        if loader_checks {
            suite.add_property(Property::new("checks", super::LOADER_CHECKS));
        } else {
            suite.add_property(Property::new("tested", super::tested(report)));
            if let Some(e) = &report.enforcer {
                suite.add_property(Property::new(
                    "enforcer",
                    format!("{} {}", e.name, e.version),
                ));
            }
        }
        suite.add_test_cases(results.into_iter().map(testcase));
        junit.add_test_suite(suite);
    }
    junit.to_string().expect("a JUnit report serializes")
}
