//! A conformance tool's first duty is that PASS means passed: whole suites,
//! judged as `netpol simulate` and `netpol run` judge them, and the reports
//! written of them.
//!
//! - Loader checks (`expectInvalid` files: the loader rejects them, no
//!   enforcer is involved) are counted apart from the enforcer's scenarios,
//!   in every format, and never in its per-tag counts.
//! - A header field of the wrong type, a scenario without a probe, and (with
//!   `--require-expect`) a round without a hand-written `expect` are errors.
//! - A round judged against the model is marked so in every format.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use netpol_core::judge::{self, probes_to_send, unprobed_result};
use netpol_core::report::{html, junit, markdown, terminal};
use netpol_core::results::{
    EnforcerInfo, Harness, Mode, Report, SCHEMA_VERSION, ScenarioResult, Status, Summary,
};
use netpol_core::suite::{self, Entry};

/// What `netpol simulate` does with the files, as a report.
fn simulate(files: &[PathBuf], require_expect: bool) -> Report {
    let scenarios: Vec<ScenarioResult> = suite::load(files)
        .iter()
        .map(|l| match &l.entry {
            Entry::Ready(s) => judge::simulate(s, require_expect),
            _ => unprobed_result(l).expect("judged without probes"),
        })
        .collect();
    Report {
        schema_version: SCHEMA_VERSION,
        harness: Harness::current(),
        mode: Mode::Simulate,
        enforcer: None,
        profile: None,
        unsupported_features: Vec::new(),
        environment: None,
        started_at: "2026-01-01T00:00:00Z".into(),
        duration_ms: 1.0,
        summary: Summary::of(&scenarios),
        scenarios,
        fuzz: None,
        changes: None,
    }
}

fn matrix() -> Vec<PathBuf> {
    suite::discover(&[Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios")]).unwrap()
}

/// A directory of scenario files, removed on drop.
struct Files(PathBuf);

impl Files {
    fn new(name: &str, files: &[(&str, &str)]) -> Files {
        let dir = std::env::temp_dir().join(format!("netpol-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        for (file, text) in files {
            std::fs::write(dir.join(file), text).unwrap();
        }
        Files(dir)
    }

    fn paths(&self) -> Vec<PathBuf> {
        suite::discover(std::slice::from_ref(&self.0)).unwrap()
    }
}

impl Drop for Files {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn by_name<'a>(report: &'a Report, name: &str) -> &'a ScenarioResult {
    report
        .scenarios
        .iter()
        .find(|r| r.name == name)
        .unwrap_or_else(|| panic!("no result named {name}"))
}

#[test]
fn the_matrix_counts_loader_checks_apart_from_the_enforcer() {
    let files = matrix();
    let loaded = suite::load(&files);
    let checks = loaded
        .iter()
        .filter(|l| l.header.expect_invalid.is_some())
        .count();
    assert!(checks >= 40, "the matrix has its loader checks ({checks})");
    let report = simulate(&files, true);
    let s = &report.summary;
    assert!(s.all_passed(), "{}", terminal::summary(&report));
    assert_eq!(s.loader_checks.scenarios, checks);
    assert_eq!(s.loader_checks.passed, checks);
    assert_eq!(s.enforcer.scenarios, files.len() - checks);
    assert_eq!(s.enforcer.passed, files.len() - checks);

    // Per tag, only scenarios that probe: the ipBlock row is the enforcer's.
    let tags = Summary::by_tag(&report.scenarios);
    let row = |tag: &str| tags.iter().find(|(t, _)| t == tag).map(|(_, s)| s.clone());
    let ipblock_probed = loaded
        .iter()
        .filter(|l| {
            matches!(l.entry, Entry::Ready(_)) && l.header.tags.iter().any(|t| t == "ipblock")
        })
        .count();
    let ipblock_all = loaded
        .iter()
        .filter(|l| l.header.tags.iter().any(|t| t == "ipblock"))
        .count();
    assert!(
        ipblock_all > ipblock_probed,
        "some loader checks are tagged ipblock"
    );
    assert_eq!(row("ipblock").unwrap().scenarios, ipblock_probed);
    assert!(
        row("invalid").is_none(),
        "loader checks have no row per tag"
    );

    // The terminal says it apart.
    let summary = terminal::summary(&report);
    assert!(
        summary.starts_with(&format!(
            "expectations against the model: {} scenarios: {} passed, 0 failed, 0 errors;",
            files.len() - checks,
            files.len() - checks
        )),
        "{summary}"
    );
    assert!(
        summary.contains(&format!("loader checks (expectInvalid files: rejected when loaded, no enforcer involved): {checks} files: {checks} passed")),
        "{summary}"
    );
    assert!(!terminal::tag_table(&report).contains("invalid"));
}

/// A run whose enforcer implements nothing: every probed scenario fails,
/// the loader checks still pass, and no format shows those as the enforcer's.
#[test]
fn an_enforcer_that_does_nothing_gets_no_pass_from_loader_checks() {
    let mut report = simulate(&matrix(), true);
    for r in report.scenarios.iter_mut().filter(|r| !r.is_loader_check()) {
        r.status = Status::Fail;
    }
    report.mode = Mode::Run;
    report.enforcer = Some(EnforcerInfo {
        name: "does-nothing".into(),
        version: "0".into(),
        unsupported: Vec::new(),
    });
    report.summary = Summary::of(&report.scenarios);
    let s = &report.summary;
    assert_eq!(s.enforcer.passed, 0);
    assert!(s.loader_checks.passed > 40);
    for (tag, t) in Summary::by_tag(&report.scenarios) {
        assert_eq!(t.passed, 0, "tag {tag}: {t:?}");
    }

    let enforcer = format!(
        "enforcer does-nothing 0: {} scenarios: 0 passed, {} failed, 0 errors",
        s.enforcer.scenarios, s.enforcer.scenarios
    );
    assert!(terminal::summary(&report).starts_with(&enforcer));
    assert!(markdown::render(&report).contains(&format!("**E{}.**", &enforcer[1..])));
    let page = html::render(&report);
    assert!(page.contains(&format!(
        "Enforcer does-nothing 0: <b>{}</b> scenarios: <span class=\"st z\">0 passed</span>",
        s.enforcer.scenarios
    )));
    let xml = junit::render(&report);
    for suite in xml.split("<testsuite ").skip(1) {
        if suite.starts_with("name=\"loader-checks\"") {
            assert!(
                !suite.contains("does-nothing"),
                "loader checks do not test the enforcer"
            );
        } else {
            assert!(suite.contains("<property name=\"enforcer\" value=\"does-nothing 0\"/>"));
            assert!(
                !suite.contains("expectInvalid"),
                "no loader check among the enforcer's"
            );
        }
    }
    let json: serde_json::Value = serde_json::to_value(&report).unwrap();
    assert_eq!(json["summary"]["enforcer"]["passed"], 0);
    assert_eq!(
        json["summary"]["loader_checks"]["passed"],
        s.loader_checks.passed
    );
}

const BODY: &str = "policies: []\nexpect: {default: allowed}\n";

#[test]
fn header_fields_of_the_wrong_type_do_not_pass() {
    let files = Files::new(
        "headers",
        &[
            ("a.yaml", &format!("name: 123\n{BODY}")),
            ("b.yaml", &format!("name: 123\n{BODY}")),
            ("c.yaml", &format!("name: c\nexpectInvalid: 5\n{BODY}")),
            ("d.yaml", &format!("name: d\ntags: x\n{BODY}")),
            ("e.yaml", &format!("name: e\ndescription: [a, b]\n{BODY}")),
        ],
    );
    let report = simulate(&files.paths(), false);
    assert_eq!(report.summary.errors, 5, "{}", terminal::summary(&report));
    for (name, message) in [
        ("a", "a.yaml:1:1: name: must be a string, not a number"),
        ("b", "b.yaml:1:1: name: must be a string, not a number"),
        (
            "c",
            "c.yaml:2:1: expectInvalid: must be a string (a field path), not a number",
        ),
        (
            "d",
            "d.yaml:2:1: tags: must be a list of strings, not a string",
        ),
        ("e", "e.yaml:2:1: description: must be a string, not a list"),
    ] {
        let r = by_name(&report, name);
        assert_eq!(r.status, Status::Error, "{name}");
        assert!(!r.is_loader_check(), "{name}");
        assert!(
            r.message.as_deref().unwrap().contains(message),
            "{name}: {:?}",
            r.message
        );
    }
}

#[test]
fn a_scenario_without_a_probe_does_not_pass() {
    let files = Files::new(
        "probes",
        &[
            (
                "no-ports.yaml",
                &format!(
                    "name: no-ports\ncluster:\n  nodes: [{{name: n1}}]\n  namespaces: [{{name: x}}]\n  pods:\n  - {{name: a, namespace: x, ports: []}}\n{BODY}"
                ),
            ),
            (
                "sctp-only.yaml",
                &format!(
                    "name: sctp-only\nprobes: {{ports: [{{port: 80, protocol: SCTP}}]}}\n{BODY}"
                ),
            ),
        ],
    );
    let report = simulate(&files.paths(), false);
    let r = by_name(&report, "no-ports");
    assert_eq!(r.status, Status::Error);
    assert!(
        r.message
            .as_deref()
            .unwrap()
            .contains("cluster: no probe: "),
        "{:?}",
        r.message
    );

    // Every probe SCTP, sctp declared unsupported: unsupported, not a pass.
    let loaded = suite::load(&files.paths());
    let Entry::Ready(s) = &loaded.iter().find(|l| l.name == "sctp-only").unwrap().entry else {
        panic!("sctp-only loads");
    };
    let sctp: BTreeSet<netpol_core::features::Feature> =
        [netpol_core::features::Feature::Sctp].into();
    let why = probes_to_send(s, &sctp, false).unwrap_err();
    assert_eq!(why.status, Status::Unsupported);
    let r = judge::not_probed_result(s, why, std::time::Instant::now());
    assert_eq!(Summary::of(&[r]).enforcer.unsupported, 1);
}

#[test]
fn a_round_judged_against_the_model_is_marked_in_every_format() {
    let files = Files::new(
        "model",
        &[
            ("with.yaml", &format!("name: with-expect\n{BODY}")),
            ("without.yaml", "name: without-expect\npolicies: []\n"),
        ],
    );
    let report = simulate(&files.paths(), false);
    assert_eq!(report.summary.judged_by_model, 1);
    let note = "expected verdicts from the model: no expect in round initial";
    let without = by_name(&report, "without-expect");
    assert_eq!(without.status, Status::Pass);
    assert!(terminal::scenario_line(without).contains(note));
    assert!(
        !terminal::scenario_line(by_name(&report, "with-expect"))
            .contains("expected verdicts from")
    );
    assert!(
        terminal::summary(&report)
            .contains("1 scenario was judged against the model, not a hand-written expect")
    );

    let md = markdown::render(&report);
    assert!(
        md.contains("| without-expect | Pass | 486 | **the model** (no expect: initial) |"),
        "{md}"
    );
    assert!(md.contains("| with-expect | Pass | 486 | expect |"), "{md}");
    assert!(md.contains("1 scenario was judged against the model"));

    let xml = junit::render(&report);
    let case = xml
        .split("<testcase ")
        .find(|c| c.starts_with("name=\"without-expect\""))
        .unwrap();
    let case = case.split("</testcase>").next().unwrap();
    assert!(
        case.contains("<property name=\"expectation\" value=\"model\"/>"),
        "{case}"
    );
    assert!(case.contains(note), "{case}");
    let other = xml
        .split("<testcase ")
        .find(|c| c.starts_with("name=\"with-expect\""))
        .unwrap();
    assert!(
        !other
            .split("</testcase>")
            .next()
            .unwrap()
            .contains("expectation")
    );

    let page = html::render(&report);
    let summary = page
        .split("<details class=\"sc p\"")
        .find(|d| d.contains("<b>without-expect</b>"))
        .unwrap()
        .split("</summary>")
        .next()
        .unwrap();
    assert!(
        summary.contains("<span class=\"st m\">MODEL</span>"),
        "{summary}"
    );
    assert!(summary.contains(note), "{summary}");
    assert_eq!(
        page.matches("<span class=\"st m\">MODEL</span> <b>")
            .count(),
        1
    );

    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["summary"]["judged_by_model"], 1);

    // --require-expect: the same file is an error.
    let strict = simulate(&files.paths(), true);
    let r = by_name(&strict, "without-expect");
    assert_eq!(r.status, Status::Error);
    assert!(
        r.message
            .as_deref()
            .unwrap()
            .starts_with("no expect: round initial")
    );
    assert_eq!(by_name(&strict, "with-expect").status, Status::Pass);
    assert!(!strict.summary.all_passed());
}
