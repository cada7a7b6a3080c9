//! The four report formats are views of one result model: for the sample
//! report in `reports/sample/` (the matrix against the reference enforcer,
//! plus a deliberately failing scenario), they state the same counts, with
//! the loader checks apart from the enforcer's scenarios.

use std::path::Path;

use netpol_core::report::{self, html, junit, markdown};
use netpol_core::results::{Report, Summary};

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
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../reports/sample");
    let json = std::fs::read_to_string(dir.join("report.json"))
        .expect("the sample report exists (bash ci/sample-report.sh)");
    let mut report: Report = serde_json::from_str(&json).expect("report.json follows the schema");
    // A sample written before the summary split the loader checks off reads
    // them as zeros: count again, and the totals it wrote must agree.
    let counted = Summary::of(&report.scenarios);
    let s = &report.summary;
    assert_eq!(
        (
            s.scenarios,
            s.passed,
            s.failed,
            s.errors,
            s.unsupported,
            s.probes
        ),
        (
            counted.scenarios,
            counted.passed,
            counted.failed,
            counted.errors,
            counted.unsupported,
            counted.probes
        ),
        "the sample's totals are the counts of its scenarios"
    );
    report.summary = counted;
    let s = &report.summary;
    assert_eq!(s.scenarios, report.scenarios.len());
    assert_eq!(
        s.passed + s.failed + s.errors + s.unsupported,
        s.scenarios,
        "every scenario has one status"
    );
    assert_eq!(
        s.enforcer.scenarios + s.loader_checks.scenarios,
        s.scenarios,
        "a scenario tests the enforcer or is a loader check"
    );
    assert!(
        s.loader_checks.scenarios >= 40,
        "the sample has the matrix's loader checks"
    );
    assert!(
        s.enforcer.failed >= 1,
        "the sample includes the deliberately failing scenario"
    );

    let rendered = junit::render(&report);
    let written = std::fs::read_to_string(dir.join("junit.xml")).unwrap();
    for xml in [&rendered, &written] {
        assert_eq!(attribute(xml, "tests"), s.scenarios);
        assert_eq!(attribute(xml, "failures"), s.failed);
        assert_eq!(attribute(xml, "errors"), s.errors);
        assert_eq!(attribute(xml, "skipped"), s.unsupported);
        assert!(
            xml.contains("<failure"),
            "a failing testcase carries a <failure>"
        );
        assert!(
            xml.contains("expected allowed, observed denied"),
            "its text lists the mismatching probes"
        );
    }
    let loader_suite = rendered
        .split("<testsuite ")
        .find(|t| t.starts_with("name=\"loader-checks\""))
        .expect("a loader-checks testsuite");
    assert_eq!(attribute(loader_suite, "tests"), s.loader_checks.scenarios);
    assert!(
        !loader_suite.contains("name=\"enforcer\""),
        "the loader checks do not test the enforcer"
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
    assert!(
        std::fs::read_to_string(dir.join("report.md"))
            .unwrap()
            .contains(&probes),
        "the written report.md states {probes}"
    );
    let page = html::render(&report);
    assert!(page.contains(&format!("<b>{}</b> scenarios", s.enforcer.scenarios)));
    assert!(page.contains(&format!("{} passed</span>", s.enforcer.passed)));
    assert!(page.contains(&format!("{} failed</span>", s.enforcer.failed)));
    assert!(page.contains(&format!("<b>{}</b> files", s.loader_checks.scenarios)));
    for page in [
        page,
        std::fs::read_to_string(dir.join("report.html")).unwrap(),
    ] {
        assert!(page.contains(&probes));
    }
}
