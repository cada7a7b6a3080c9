//! The four report formats are views of one result model: for the sample
//! report in `reports/sample/` (the matrix against the reference enforcer,
//! plus a deliberately failing scenario), they state the same counts.

use std::path::Path;

use netpol_core::report::{html, junit, markdown};
use netpol_core::results::Report;

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
    let report: Report = serde_json::from_str(&json).expect("report.json follows the schema");
    let s = &report.summary;
    assert_eq!(s.scenarios, report.scenarios.len());
    assert_eq!(
        s.passed + s.failed + s.errors + s.unsupported,
        s.scenarios,
        "every scenario has one status"
    );
    assert!(
        s.failed >= 1,
        "the sample includes the deliberately failing scenario"
    );

    for xml in [
        junit::render(&report),
        std::fs::read_to_string(dir.join("junit.xml")).unwrap(),
    ] {
        assert_eq!(attribute(&xml, "tests"), s.scenarios);
        assert_eq!(attribute(&xml, "failures"), s.failed);
        assert_eq!(attribute(&xml, "errors"), s.errors);
        assert_eq!(attribute(&xml, "skipped"), s.unsupported);
        assert!(
            xml.contains("<failure"),
            "a failing testcase carries a <failure>"
        );
        assert!(
            xml.contains("expected allowed, observed denied"),
            "its text lists the mismatching probes"
        );
    }
    let line = format!(
        "**{} scenarios: {} passed, {} failed, {} errors, {} unsupported (declared).** {} probes, {} failed, {} errors.",
        s.scenarios,
        s.passed,
        s.failed,
        s.errors,
        s.unsupported,
        s.probes,
        s.probes_failed,
        s.probes_errors
    );
    for md in [
        markdown::render(&report),
        std::fs::read_to_string(dir.join("report.md")).unwrap(),
    ] {
        assert!(md.contains(&line), "report.md states {line}");
    }
    for page in [
        html::render(&report),
        std::fs::read_to_string(dir.join("report.html")).unwrap(),
    ] {
        assert!(page.contains(&format!("<b>{}</b> scenarios", s.scenarios)));
        assert!(page.contains(&format!("{} passed</span>", s.passed)));
        assert!(page.contains(&format!("{} failed</span>", s.failed)));
        assert!(page.contains(&format!(
            "{} probes, {} failed, {} errors",
            s.probes, s.probes_failed, s.probes_errors
        )));
    }
}
