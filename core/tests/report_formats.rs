//! The text report formats of a small, fixed run, as snapshots: the
//! terminal's lines, truth tables, details and summary, `report.md` and
//! `junit.xml`. The run has one scenario of each kind: a pass, a failure
//! (truth tables, explanations, both verdicts on who is wrong), an error, a
//! scenario declared unsupported and an `expectInvalid` scenario rejected as
//! expected. Everything that would vary (dates, durations, the harness's
//! version, the machine) is fixed. And every format, HTML and JSON
//! included, states the same counts.
//!
//! A change in a format shows up in `tests/snapshots/`: review it with
//! `cargo insta review`, or accept it with `INSTA_UPDATE=always` and read
//! the diff.
//!
//! The results are written in the JSON form of the result model (the
//! report's schema), so that a field added to it with a default does not
//! change these tests.

use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use netpol_core::cluster::Protocol;
use netpol_core::expect::Verdict;
use netpol_core::report::{self, html, junit, markdown, terminal};
use netpol_core::results::{Observed, ProbeResult, Report, ScenarioResult, Status, Summary};

fn from_json<T: DeserializeOwned>(v: Value) -> T {
    serde_json::from_value(v).expect("the result model's JSON form")
}

/// A probe's result as the judge writes it; the model's verdict and its
/// explanation only for one that did not pass.
fn probe(
    (from, to): (&str, &str),
    (port, protocol): (u16, Protocol),
    expected: Verdict,
    observed: Observed,
    model: Option<(Verdict, &str)>,
) -> Value {
    let mut p = json!({
        "from": from,
        "to": to,
        "port": port,
        "protocol": protocol,
        "expected": expected,
        "observed": observed,
        "result": ProbeResult::outcome(expected, observed),
    });
    if let Some((verdict, explanation)) = model {
        p["model"] = json!(verdict);
        p["explanation"] = json!(explanation);
    }
    if observed == Observed::Error {
        p["error"] = json!("connect: no route to host");
    }
    p
}

/// Every source to every destination on `port`, all as expected.
fn as_expected(
    sources: &[&str],
    destinations: &[&str],
    port: (u16, Protocol),
    verdict: Verdict,
) -> Vec<Value> {
    let mut probes = Vec::new();
    for from in sources {
        for to in destinations {
            probes.push(probe((from, to), port, verdict, verdict.into(), None));
        }
    }
    probes
}

fn round(name: &str, expectation: &str, probes: &[Value]) -> Value {
    json!({
        "name": name,
        "expectation": expectation,
        "sync_ms": 2.5,
        "duration_ms": 10.25,
        "probes": probes,
    })
}

/// A scenario run in a lab (timed), with its status from its probes.
fn scenario(name: &str, file: &str, tags: &[&str], rounds: &[Value]) -> ScenarioResult {
    let mut r: ScenarioResult = from_json(json!({
        "name": name,
        "file": file,
        "tags": tags,
        "status": "pass",
        "duration_ms": 42.0,
        "lab": {"setup_ms": 7.5, "preflight_ms": 1.25, "cleanup_ms": 0.5, "teardown_ms": 3.0},
        "rounds": rounds,
    }));
    r.status = ScenarioResult::status_of(&r.rounds);
    r
}

const TCP80: (u16, Protocol) = (80, Protocol::Tcp);
const UDP80: (u16, Protocol) = (80, Protocol::Udp);

fn report() -> Report {
    let pass = scenario(
        "allow-all",
        "scenarios/basics/allow-all.yaml",
        &["basics"],
        &[round(
            "initial",
            "scenario",
            &as_expected(&["x/a", "x/b"], &["x/a", "x/b"], TCP80, Verdict::Allowed),
        )],
    );

    // Round initial: x/b -> x/a on 80/UDP was expected allowed and observed
    // denied, as the model says: the expectation is suspect. Round
    // delete-policy (no expect: the model is the expectation): y/a -> x/a
    // was allowed, the model says denied: the enforcer is wrong.
    let mut initial = as_expected(&["x/b", "y/a"], &["x/a"], TCP80, Verdict::Allowed);
    initial.push(probe(
        ("x/b", "x/a"),
        UDP80,
        Verdict::Allowed,
        Observed::Denied,
        Some((
            Verdict::Denied,
            "ingress: x/a is isolated by x/web; no rule allows it (x/web ingress[0]: port does not match)",
        )),
    ));
    initial.push(probe(
        ("y/a", "x/a"),
        UDP80,
        Verdict::Denied,
        Observed::Denied,
        None,
    ));
    let mut step = as_expected(&["x/b"], &["x/a"], TCP80, Verdict::Denied);
    step.push(probe(
        ("y/a", "x/a"),
        TCP80,
        Verdict::Denied,
        Observed::Allowed,
        Some((
            Verdict::Denied,
            "ingress: x/a is isolated by x/deny-all; no policy allows it",
        )),
    ));
    let mut fail = scenario(
        "web-from-b",
        "scenarios/ports/web-from-b.yaml",
        &["ports", "ingress"],
        &[
            round("initial", "scenario", &initial),
            round("delete-policy", "model", &step),
        ],
    );
    fail.description = Some("Only x/b may reach x/a, on TCP 80.".into());

    let mut broken = as_expected(&["x/a"], &["y/a"], TCP80, Verdict::Denied);
    broken.push(probe(
        ("x/a", "y/b"),
        TCP80,
        Verdict::Denied,
        Observed::Error,
        Some((Verdict::Denied, "ingress: y/b is isolated by y/deny-all")),
    ));
    let mut error = scenario(
        "lab-broke",
        "scenarios/egress/lab-broke.yaml",
        &["egress"],
        &[round("initial", "scenario", &broken)],
    );
    error.message = Some("a probe could not be carried out".into());

    let mut unsupported = ScenarioResult::without_rounds(
        "sctp-only".into(),
        "scenarios/protocols/sctp-only.yaml".into(),
        Status::Unsupported,
        "unsupported (declared): needs sctp".into(),
    );
    unsupported.needs = vec![netpol_core::features::Feature::Sctp];
    unsupported.tags = vec!["protocols".into()];

    let mut invalid = ScenarioResult::without_rounds(
        "invalid-port-zero".into(),
        "scenarios/invalid/port-zero.yaml".into(),
        Status::Pass,
        "rejected as expected: scenarios/invalid/port-zero.yaml:13:23: policies[0] (NetworkPolicy x/bad): spec.ingress[0].ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive".into(),
    );
    invalid.expect_invalid = Some("spec.ingress[0].ports[0].port".into());
    invalid.tags = vec!["invalid".into(), "ports".into()];

    let scenarios = vec![pass, fail, error, unsupported, invalid];
    from_json(json!({
        "schema_version": netpol_core::results::SCHEMA_VERSION,
        // Not Harness::current(): a release must not change the snapshots.
        "harness": {"name": "netpol", "version": "0.0.0-test"},
        "mode": "run",
        "enforcer": {"name": "acme-cni", "version": "1.2.3", "unsupported": ["sctp"]},
        "unsupported_features": ["sctp"],
        "environment": {"kernel": "Linux 6.1.0-test", "iptables": "iptables v1.8.9 (nf_tables)"},
        "started_at": "2026-11-24T20:29:00Z",
        "duration_ms": 1234.5,
        "summary": Summary::of(&scenarios),
        "scenarios": scenarios,
    }))
}

/// What the console prints with `-v` (`Console`, which prints to stdout):
/// each scenario's line, its timings, and the details of those that did
/// not pass; the table per tag and the summary.
fn terminal_output(report: &Report) -> String {
    let mut out = String::new();
    for r in &report.scenarios {
        out.push_str(&terminal::scenario_line(r));
        out.push('\n');
        if r.lab.is_some() {
            out.push_str(&terminal::timings(r));
            out.push('\n');
        }
        if r.status != Status::Pass {
            out.push_str(&terminal::details(r));
        }
    }
    out.push_str(&terminal::tag_table(report));
    out.push('\n');
    out.push_str(&terminal::summary(report));
    out.push('\n');
    out
}

#[test]
fn the_report_has_one_scenario_of_each_kind() {
    let r = report();
    let s = &r.summary;
    assert_eq!(
        (s.scenarios, s.passed, s.failed, s.errors, s.unsupported),
        (5, 2, 1, 1, 1)
    );
    assert_eq!((s.probes, s.probes_failed, s.probes_errors), (12, 2, 1));
}

#[test]
fn terminal() {
    insta::assert_snapshot!(terminal_output(&report()));
}

#[test]
fn markdown() {
    insta::assert_snapshot!(markdown::render(&report()));
}

#[test]
fn junit() {
    insta::assert_snapshot!(junit::render(&report()));
}

fn attribute(xml: &str, name: &str) -> usize {
    let start = xml
        .find(&format!(" {name}=\""))
        .unwrap_or_else(|| panic!("no {name} attribute"))
        + name.len()
        + 3;
    xml[start..].split('"').next().unwrap().parse().unwrap()
}

#[test]
fn every_format_states_the_same_counts() {
    let report = report();
    let s = &report.summary;
    assert_eq!(s, &Summary::of(&report.scenarios));
    assert_eq!(
        s.passed + s.failed + s.errors + s.unsupported,
        s.scenarios,
        "every scenario has one status"
    );

    let json: Report = serde_json::from_str(&serde_json::to_string(&report).unwrap())
        .expect("report.json reads back");
    assert_eq!(&json.summary, s);
    assert_eq!(json.scenarios.len(), s.scenarios);

    let xml = junit::render(&report);
    assert_eq!(attribute(&xml, "tests"), s.scenarios);
    assert_eq!(attribute(&xml, "failures"), s.failed);
    assert_eq!(attribute(&xml, "errors"), s.errors);
    assert_eq!(attribute(&xml, "skipped"), s.unsupported);

    assert_eq!(
        s.enforcer.scenarios + s.loader_checks.scenarios,
        s.scenarios,
        "a scenario tests the enforcer or is a loader check"
    );
    let probes = format!(
        "{} probes, {} failed, {} errors",
        s.probes, s.probes_failed, s.probes_errors
    );
    let md = markdown::render(&report);
    let enforcer = report::capitalized(&report::enforcer_line(&report));
    let loader = report::capitalized(&report::loader_line(&report).expect("loader checks"));
    assert!(enforcer.contains(&format!(
        "{} scenarios: {} passed, {} failed, {} errors",
        s.enforcer.scenarios, s.enforcer.passed, s.enforcer.failed, s.enforcer.errors
    )));
    assert!(
        md.contains(&format!("**{enforcer}.** {probes}.")),
        "report.md states {enforcer}"
    );
    assert!(md.contains(&loader), "report.md states {loader}");
    let summary = terminal::summary(&report);
    assert!(
        summary.contains(&format!(
            "{} scenarios: {} passed, {} failed, {} errors",
            s.enforcer.scenarios, s.enforcer.passed, s.enforcer.failed, s.enforcer.errors
        )),
        "{summary}"
    );
    assert!(summary.contains(&probes), "{summary}");

    let page = html::render(&report);
    assert!(page.contains(&format!("<b>{}</b> scenarios", s.enforcer.scenarios)));
    assert!(page.contains(&format!("{} passed</span>", s.enforcer.passed)));
    assert!(page.contains(&format!("{} failed</span>", s.enforcer.failed)));
    assert!(page.contains(&format!("<b>{}</b> files", s.loader_checks.scenarios)));
    assert!(page.contains(&format!(
        "{} probes, {} failed, {} errors",
        s.probes, s.probes_failed, s.probes_errors
    )));
}

/// `conformance-report.yaml`: only for a run with ClusterNetworkPolicy
/// scenarios; each one a test, experimental when it needs one of upstream's
/// experimental features; failed, errored and unsupported scenarios named.
#[test]
fn conformance_report() {
    use netpol_core::features::Feature;
    use netpol_core::report::conformance;
    let mut report = report();
    assert!(
        conformance::render(&report).is_none(),
        "no ClusterNetworkPolicy scenario, no conformance report"
    );
    let needs = [
        vec![Feature::ClusterNetworkPolicy],
        vec![
            Feature::ClusterNetworkPolicy,
            Feature::ClusterNetworkPolicyNamedPorts,
        ],
        vec![Feature::ClusterNetworkPolicy],
        vec![
            Feature::ClusterNetworkPolicy,
            Feature::ClusterNetworkPolicyEgressNodePeers,
        ],
        // A loader check is never a test of the implementation.
        vec![Feature::ClusterNetworkPolicy],
    ];
    for (s, n) in report.scenarios.iter_mut().zip(needs) {
        s.needs = n;
    }
    report
        .unsupported_features
        .push(Feature::ClusterNetworkPolicyEgressNodePeers);
    insta::assert_snapshot!(conformance::render(&report).expect("a conformance report"));
}
