//! `report.html`: a report built in memory (a pass, a failure with
//! mismatches in two rounds, an error, a scenario declared unsupported, a
//! pass judged against the model, a loader check) is
//! rendered and its structure checked; then it is rendered in headless
//! Chromium by `ci/check-html.sh` (layout, DOM, screenshot). Chromium is
//! required: `ci/install-deps.sh` installs it.

use std::path::{Path, PathBuf};
use std::process::Command;

use netpol_core::cluster::Protocol;
use netpol_core::expect::Verdict;
use netpol_core::features::Profile;
use netpol_core::report::html;
use netpol_core::results::{
    EnforcerInfo, Environment, ExpectationSource, Harness, LabTimings, Mode, Observed, ProbeResult,
    Report, RoundResult, ScenarioResult, Status, Summary,
};

const PODS: [&str; 3] = ["x/a", "x/b", "y/a"];

fn probe(from: &str, to: &str, port: u16, protocol: Protocol, expected: Verdict) -> ProbeResult {
    ProbeResult {
        family: netpol_core::cluster::IpFamily::IPv4,
        from: from.into(),
        to: to.into(),
        port,
        protocol,
        expected,
        observed: expected.into(),
        result: ProbeResult::outcome(expected, expected.into()),
        model: None,
        explanation: None,
        error: None,
    }
}

/// Every pod to every pod on each port, all as expected (allowed).
fn round(name: &str, ports: &[(u16, Protocol)]) -> RoundResult {
    let mut probes = Vec::new();
    for &(port, protocol) in ports {
        for from in PODS {
            for to in PODS {
                probes.push(probe(from, to, port, protocol, Verdict::Allowed));
            }
        }
    }
    RoundResult {
        name: name.into(),
        expectation: ExpectationSource::Scenario,
        sync_ms: Some(3.5),
        convergence: None,
        watch: None,
        established: Vec::new(),
        duration_ms: 10.0,
        probes,
        policies: None,
    }
}

/// Makes the probe `from -> to` of `port` observe `observed`, with the
/// model's verdict and explanation, as the runner does.
fn observe(
    r: &mut RoundResult,
    (from, to, port): (&str, &str, u16),
    expected: Verdict,
    observed: Observed,
    model: Verdict,
    explanation: &str,
) {
    let p = r
        .probes
        .iter_mut()
        .find(|p| p.from == from && p.to == to && p.port == port)
        .expect("a probe");
    p.expected = expected;
    p.observed = observed;
    p.result = ProbeResult::outcome(expected, observed);
    p.model = Some(model);
    p.explanation = Some(explanation.into());
    if observed == Observed::Error {
        p.error = Some("connect: no route to host".into());
    }
}

fn scenario(name: &str, status: Status, rounds: Vec<RoundResult>) -> ScenarioResult {
    ScenarioResult {
        name: name.into(),
        file: format!("scenarios/test/{name}.yaml"),
        description: Some(format!("The {name} scenario.")),
        tags: vec!["ingress".into()],
        needs: Vec::new(),
        status,
        message: None,
        expect_invalid: None,
        duration_ms: 12.0,
        kept: None,
        lab: Some(LabTimings {
            setup_ms: 5.0,
            preflight_ms: None,
            cleanup_ms: None,
            teardown_ms: 1.0,
        }),
        rounds,
    }
}

fn report() -> Report {
    let pass = scenario(
        "all-allowed",
        Status::Pass,
        vec![round(
            "initial",
            &[(80, Protocol::Tcp), (81, Protocol::Udp)],
        )],
    );

    let mut initial = round("initial", &[(80, Protocol::Tcp), (80, Protocol::Sctp)]);
    observe(
        &mut initial,
        ("x/a", "x/b", 80),
        Verdict::Allowed,
        Observed::Denied,
        Verdict::Allowed,
        "EXPLAIN-ONE: x/b is selected by x/allow-a <all pods> & allowed",
    );
    let mut step = round("delete-allow", &[(80, Protocol::Tcp)]);
    observe(
        &mut step,
        ("y/a", "x/a", 80),
        Verdict::Denied,
        Observed::Allowed,
        Verdict::Allowed,
        "EXPLAIN-TWO: x/a is not isolated",
    );
    initial.policies = Some("- kind: NetworkPolicy\n  metadata: {name: <allow-a>}\n".into());
    let mut fail = scenario("deny-ingress-broken", Status::Fail, vec![initial, step]);
    fail.description =
        Some("Wrong on purpose: <script>alert(\"pwned\")</script> & 'quoted'.".into());
    fail.tags = vec!["ingress".into(), "steps".into()];

    let mut broken = round("initial", &[(80, Protocol::Tcp)]);
    observe(
        &mut broken,
        ("x/a", "y/a", 80),
        Verdict::Denied,
        Observed::Error,
        Verdict::Denied,
        "EXPLAIN-THREE: y/a is isolated",
    );
    let mut error = scenario("lab-broke", Status::Error, vec![broken]);
    error.message = Some("a probe could not be carried out".into());

    let mut unsupported = ScenarioResult::without_rounds(
        "needs-sctp".into(),
        "scenarios/test/needs-sctp.yaml".into(),
        Status::Unsupported,
        "unsupported (declared): needs sctp".into(),
    );
    unsupported.needs = vec![netpol_core::features::Feature::Sctp];
    unsupported.tags = vec!["sctp".into()];

    let mut by_model = scenario(
        "no-expect",
        Status::Pass,
        vec![round("initial", &[(80, Protocol::Tcp)])],
    );
    by_model.rounds[0].expectation = ExpectationSource::Model;

    let mut check = ScenarioResult::without_rounds(
        "rejects-port-zero".into(),
        "scenarios/invalid/port-zero.yaml".into(),
        Status::Pass,
        "rejected as expected: port-zero.yaml:12:5: spec.ingress[0].ports[0].port: Invalid value: 0".into(),
    );
    check.expect_invalid = Some("spec.ingress[0].ports[0].port".into());
    check.tags = vec!["invalid".into(), "ingress".into()];

    // Not in display order: the page puts failures and errors first.
    let scenarios = vec![pass, fail, error, unsupported, by_model, check];
    Report {
        schema_version: netpol_core::results::SCHEMA_VERSION,
        harness: Harness::current(),
        mode: Mode::Run,
        enforcer: Some(EnforcerInfo {
            name: "acme-cni".into(),
            version: "9.9.9".into(),
            unsupported: vec![netpol_core::features::Feature::Sctp],
        }),
        profile: Some(Profile {
            name: Some("acme-profile".into()),
            unsupported: vec![netpol_core::features::Feature::Sctp],
            file: None,
        }),
        unsupported_features: vec![netpol_core::features::Feature::Sctp],
        environment: Some(Environment {
            kernel: "Linux 6.1.0-test".into(),
            iptables: "iptables v1.8.9 (nf_tables)".into(),
        }),
        started_at: "2026-11-24T20:29:00Z".into(),
        duration_ms: 1234.0,
        summary: Summary::of(&scenarios),
        scenarios,
        fuzz: None,
        changes: None,
    }
}

fn pos(html: &str, needle: &str) -> usize {
    html.find(needle)
        .unwrap_or_else(|| panic!("the page lacks {needle:?}"))
}

#[test]
fn renders_the_structure() {
    let html = html::render(&report());
    for want in [
        "<!DOCTYPE html>",
        // Header.
        "netpol 0.",
        "acme-cni 9.9.9",
        "Linux 6.1.0-test",
        "iptables v1.8.9 (nf_tables)",
        "acme-profile",
        "2026-11-24T20:29:00Z",
        "1.23 s",
        // The four statuses and the per-tag table.
        ">PASS<",
        ">FAIL<",
        ">ERROR<",
        ">UNSUPPORTED<",
        "<table class=tg>",
        "<th scope=row>steps</th>",
        // The legend, with every mark.
        "aria-label=legend",
        "<span class=y>.</span>allowed",
        "<span class=n>x</span>denied",
        "<span class=fa>A!</span>",
        "<span class=fd>D!</span>",
        "<span class=fe>E!</span>",
        // Truth tables with headers.
        "<caption>80/TCP</caption>",
        "<caption>81/UDP</caption>",
        "<caption>80/SCTP</caption>",
        "<th scope=col>x/b</th>",
        "<th scope=row>y/a</th>",
        "<td class=y>.</td>",
        "Round delete-allow",
    ] {
        assert!(html.contains(want), "the page lacks {want:?}");
    }

    // One table per round and port/protocol: pass 2, fail 2 + 1, error 1, model 1.
    assert_eq!(html.matches("<table class=tt>").count(), 7);

    // Mismatch cells: the mark, the explanation and the suspect on hover,
    // and a link to the same text in the list under the table.
    let d = "<td class=\"fd\" title=\"x/a → x/b 80/TCP: expected allowed, observed denied; model: allowed\n\
             Suspect: the enforcer (the model agrees with the expectation)\n\
             EXPLAIN-ONE: x/b is selected by x/allow-a &lt;all pods&gt; &amp; allowed\"><a href=\"#m1-0-0-1\">D!</a></td>";
    assert!(html.contains(d), "the D! cell:\n{html}");
    let a = pos(
        &html,
        "<td class=\"fa se\" title=\"y/a → x/a 80/TCP: expected denied, observed allowed; model: allowed\nSuspect: the expectation",
    );
    assert!(
        html[a..]
            .split("</td>")
            .next()
            .unwrap()
            .contains("EXPLAIN-TWO")
    );
    let e = pos(
        &html,
        "<td class=\"fe\" title=\"x/a → y/a 80/TCP: expected denied, error: connect: no route to host",
    );
    assert!(html[e..].split("</td>").next().unwrap().contains(">E!</a>"));
    let item = pos(&html, "<li id=m1-0-0-1>");
    assert!(html[item..].split("</li>").next().unwrap().contains(
        "<div class=ex>EXPLAIN-ONE: x/b is selected by x/allow-a &lt;all pods&gt; &amp; allowed</div>"
    ));
    assert!(html.contains("<li id=m1-1-0-1>"), "the second round's list");
    // Explanations only on mismatches.
    assert_eq!(
        html.matches("EXPLAIN-").count(),
        6,
        "title and list, three probes"
    );

    // Order: failures and errors (open), then passes (closed), then unsupported.
    let fail = pos(&html, "<details class=\"sc f\" id=s1 open>");
    let error = pos(&html, "<details class=\"sc e\" id=s2 open>");
    let pass = pos(&html, "<details class=\"sc p\" id=s0>");
    let unsup = pos(&html, "<section id=unsup>");
    assert!(pos(&html, "<section id=bad>") < fail);
    assert!(fail < error && error < pass && pass < unsup);
    assert!(pos(&html, "<details class=\"sc u\" id=s3>") > unsup);

    // Judged against the model: a badge and a note on the scenario's line,
    // and the count at the top.
    let model = pos(&html, "<details class=\"sc p\" id=s4>");
    assert!(pass < model && model < unsup);
    assert!(html[model..].starts_with(
        "<details class=\"sc p\" id=s4>\n<summary><span class=\"st p\">PASS</span> <span class=\"st m\">MODEL</span> <b>no-expect</b> <span class=sm>(9 probes, 1 round; expected verdicts from the model: no expect in round initial)</span>"
    ));
    assert!(html.contains("1 scenario was judged against the model"));

    // The loader check: apart, after the enforcer's, and not in its counts.
    let loader = pos(&html, "<section id=loader>");
    assert!(unsup < loader && loader < pos(&html, "<details class=\"sc p\" id=s5>"));
    assert!(html.contains("(loader check: expectInvalid spec.ingress[0].ports[0].port)"));
    assert!(
        html.contains("acme-cni 9.9.9: <b>5</b> scenarios: <span class=\"st p\">2 passed</span>")
    );
    assert!(html.contains("<b>1</b> files: <span class=\"st p\">1 passed</span>"));
    assert!(html.contains("<a href=\"#loader\">loader checks (1)</a>"));
    assert!(
        !html.contains("<th scope=row>invalid</th>"),
        "no tag row for loader checks"
    );
    assert!(html.contains("a probe could not be carried out"));
    assert!(html.contains("unsupported (declared): needs sctp"));

    // Escaping: the description's markup is text; the only script is ours.
    assert!(!html.contains("<script>alert"));
    assert!(html.contains(
        "Wrong on purpose: &lt;script&gt;alert(&quot;pwned&quot;)&lt;/script&gt; &amp; &#39;quoted&#39;."
    ));
    assert_eq!(html.matches("<script").count(), 1);

    // Self-contained.
    assert!(!html.contains("http://") && !html.contains("https://"));
    assert!(!html.contains("<link") && !html.contains(" src="));
}

/// The whole matrix (133 scenarios, ~30 000 probes) stays well under 2 MB.
#[test]
fn a_failing_round_shows_its_policies_beside_its_truth_tables() {
    let html = html::render(&report());
    let policies = pos(&html, "<summary>Policies in force</summary>");
    assert!(
        html[policies..]
            .contains("<pre>- kind: NetworkPolicy\n  metadata: {name: &lt;allow-a&gt;}"),
        "escaped YAML"
    );
    // In the round's row of tables (`.ts`), before its mismatch list.
    let row = html[..policies]
        .rfind("<div class=ts>")
        .expect("the tables' row");
    assert!(!html[row..policies].contains("</div>\n<details class=mm"));
    let mismatches = row
        + html[row..]
            .find("<details class=mm")
            .expect("a mismatch list");
    assert!(policies < mismatches, "before the mismatch list");
    let md = netpol_core::report::markdown::render(&report());
    assert!(md.contains("<summary>Policies in force in round <code>initial</code></summary>\n\n```yaml\n- kind: NetworkPolicy"));
}

#[test]
fn the_full_matrix_stays_small() {
    let mut r = report();
    let ports = [
        (80, Protocol::Tcp),
        (80, Protocol::Udp),
        (80, Protocol::Sctp),
        (81, Protocol::Tcp),
        (81, Protocol::Udp),
        (81, Protocol::Sctp),
    ];
    let mut scenarios = Vec::new();
    for i in 0..133 {
        let mut round = RoundResult {
            probes: Vec::new(),
            ..round("initial", &[])
        };
        for (port, protocol) in ports.iter().take(if i % 2 == 0 { 6 } else { 3 }) {
            for from in [
                "x/a", "x/b", "x/c", "y/a", "y/b", "y/c", "z/a", "z/b", "z/c",
            ] {
                for to in [
                    "x/a", "x/b", "x/c", "y/a", "y/b", "y/c", "z/a", "z/b", "z/c",
                ] {
                    round
                        .probes
                        .push(probe(from, to, *port, *protocol, Verdict::Denied));
                }
            }
        }
        scenarios.push(scenario(
            &format!("scenario-{i}"),
            Status::Pass,
            vec![round],
        ));
    }
    r.summary = Summary::of(&scenarios);
    r.scenarios = scenarios;
    assert!(r.summary.probes > 30_000, "{} probes", r.summary.probes);
    let size = html::render(&r).len();
    assert!(
        size < 1_500_000,
        "{size} bytes for {} probes",
        r.summary.probes
    );
}

fn chromium() -> Option<PathBuf> {
    if let Some(c) = std::env::var_os("CHROMIUM") {
        return Some(PathBuf::from(c));
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .flat_map(|d| [d.join("chromium"), d.join("chromium-browser")])
        .find(|p| p.is_file())
}

/// Renders the page in headless Chromium: `ci/check-html.sh` checks the
/// layout at two widths and the DOM, and takes a screenshot.
#[test]
fn renders_in_headless_chromium() {
    assert!(
        chromium().is_some(),
        "chromium is not installed, and the HTML report must be checked in a browser: \
         run ci/install-deps.sh (as root), or set CHROMIUM to a Chromium binary"
    );
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let dir = std::env::temp_dir().join(format!("netpol-html-report-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let page = dir.join("report.html");
    std::fs::write(&page, html::render(&report())).unwrap();
    let out = Command::new("bash")
        .arg(root.join("ci/check-html.sh"))
        .arg(&page)
        .arg(dir.join("report.png"))
        .current_dir(&root)
        .output()
        .expect("bash runs");
    assert!(
        out.status.success(),
        "ci/check-html.sh {} failed:\n{}{}",
        page.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(std::fs::metadata(dir.join("report.png")).unwrap().len() > 1000);
    std::fs::remove_dir_all(&dir).unwrap();
}
