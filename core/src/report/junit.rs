//! `junit.xml`: one testcase per scenario, grouped in a testsuite per
//! scenario folder. A failing scenario's `<failure>` lists every mismatching
//! probe with the model's reason; errors are `<error>`; scenarios declared
//! unsupported are `<skipped>`.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::path::Path;
use std::time::Duration;

use quick_junit::{NonSuccessKind, Property, Report as JUnit, TestCase, TestCaseStatus, TestSuite};

use crate::results::{Outcome, Report, ScenarioResult, Status, Suspect};

/// The group of a scenario: its file's folder (`default-policies`), or its
/// first tag when the file sits in no folder.
pub fn group(r: &ScenarioResult) -> String {
    Path::new(&r.file)
        .parent()
        .and_then(|p| p.file_name())
        .map(|n| n.to_string_lossy().into_owned())
        .or_else(|| r.tags.first().cloned())
        .unwrap_or_else(|| "scenarios".to_string())
}

/// Every probe that did not pass, one line each, with the model's reason.
pub fn mismatch_text(r: &ScenarioResult) -> String {
    let mut text = String::new();
    for round in &r.rounds {
        for p in round.probes.iter().filter(|p| p.result != Outcome::Pass) {
            let observed = match p.result {
                Outcome::Error => format!("error: {}", p.error.as_deref().unwrap_or("")),
                _ => format!("observed {:?}", p.observed).to_lowercase(),
            };
            let _ = write!(
                text,
                "[{}] {} -> {} {}/{}: expected {}, {observed}",
                round.name, p.from, p.to, p.port, p.protocol, p.expected
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
        Status::Unsupported => {
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
            let message = match (&r.message, bad) {
                (Some(m), _) => m.lines().next().unwrap_or_default().to_string(),
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
    case.set_time(Duration::from_secs_f64(r.duration_ms.max(0.0) / 1e3));
    case.set_assertions(total);
    case
}

pub fn render(report: &Report) -> String {
    let mut groups: BTreeMap<String, Vec<&ScenarioResult>> = BTreeMap::new();
    for r in &report.scenarios {
        groups.entry(group(r)).or_default().push(r);
    }
    let mut junit = JUnit::new("netpol");
    junit.set_time(Duration::from_secs_f64(report.duration_ms.max(0.0) / 1e3));
    for (name, results) in groups {
        let mut suite = TestSuite::new(name);
        suite.add_property(Property::new(
            "mode",
            format!("{:?}", report.mode).to_lowercase(),
        ));
        if let Some(e) = &report.enforcer {
            suite.add_property(Property::new(
                "enforcer",
                format!("{} {}", e.name, e.version),
            ));
        }
        suite.add_test_cases(results.into_iter().map(testcase));
        junit.add_test_suite(suite);
    }
    junit.to_string().expect("a JUnit report serializes")
}
