//! `report.md`: the header, the summary per tag, and the truth tables of
//! every failing scenario.

use std::fmt::Write;

use super::junit::mismatch_text;
use super::truth_table::{self, LEGEND};
use crate::results::{Report, ScenarioResult, Status, Summary};

fn escape(s: &str) -> String {
    s.replace('|', "\\|")
}

/// The run's identity, as every human-readable format shows it.
pub fn header_rows(report: &Report) -> Vec<(&'static str, String)> {
    let mut rows = vec![
        (
            "harness",
            format!("{} {}", report.harness.name, report.harness.version),
        ),
        ("mode", format!("{:?}", report.mode).to_lowercase()),
    ];
    if let Some(e) = &report.enforcer {
        rows.push(("enforcer", format!("{} {}", e.name, e.version)));
    }
    if let Some(env) = &report.environment {
        rows.push(("kernel", env.kernel.clone()));
        rows.push(("iptables", env.iptables.clone()));
    }
    if let Some(p) = &report.profile {
        let name = p
            .name
            .clone()
            .or_else(|| p.file.as_ref().map(|f| f.display().to_string()))
            .unwrap_or_default();
        rows.push(("profile", name));
    }
    if !report.unsupported_features.is_empty() {
        rows.push((
            "declared unsupported",
            crate::features::list(&report.unsupported_features),
        ));
    }
    if let Some(f) = &report.fuzz {
        rows.extend(super::fuzz_rows(f));
    }
    if let Some(c) = &report.changes {
        rows.push(("changes", super::changes_line(c)));
    }
    rows.push(("date", report.started_at.clone()));
    rows.push(("duration", format!("{:.2} s", report.duration_ms / 1e3)));
    rows
}

pub fn render(report: &Report) -> String {
    let mut md = String::from("# netpol conformance report\n\n| | |\n|---|---|\n");
    for (k, v) in header_rows(report) {
        let _ = writeln!(md, "| {k} | {} |", escape(&v));
    }
    let s = &report.summary;
    let _ = writeln!(
        md,
        "\n**{}.** {} probes, {} failed, {} errors.\n",
        super::capitalized(&super::enforcer_line(report)),
        s.probes,
        s.probes_failed,
        s.probes_errors
    );
    for line in [super::loader_line(report), super::model_line(report)]
        .into_iter()
        .flatten()
    {
        let _ = writeln!(md, "{}.\n", super::capitalized(&line));
    }

    md.push_str("## By tag\n\nEvery scenario but the loader checks, which are counted apart.\n\n| tag | scenarios | passed | failed | errors | unsupported |\n|---|---:|---:|---:|---:|---:|\n");
    for (tag, t) in Summary::by_tag(&report.scenarios) {
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} | {} |",
            escape(&tag),
            t.scenarios,
            t.passed,
            t.failed,
            t.errors,
            t.unsupported
        );
    }

    let enforcer: Vec<&ScenarioResult> = report
        .scenarios
        .iter()
        .filter(|r| !r.is_loader_check())
        .collect();
    let checks: Vec<&ScenarioResult> = report
        .scenarios
        .iter()
        .filter(|r| r.is_loader_check())
        .collect();
    let of = |status: Status| enforcer.iter().copied().filter(move |r| r.status == status);
    if of(Status::Fail).chain(of(Status::Error)).next().is_some() {
        md.push_str("\n## Failures and errors\n");
        let _ = writeln!(md, "\nCells: {LEGEND}.");
        for r in of(Status::Fail).chain(of(Status::Error)) {
            failure(&mut md, r);
        }
    }
    // Scenarios not run, each with why.
    for (status, heading) in [
        (Status::Unsupported, "Unsupported (declared)"),
        (
            Status::NotApplicable,
            "Not applicable in the IP families of the run",
        ),
    ] {
        if of(status).next().is_some() {
            let _ = writeln!(md, "\n## {heading}\n");
            for r in of(status) {
                let _ = writeln!(
                    md,
                    "- `{}` ({}): {}",
                    r.name,
                    r.file,
                    r.message.as_deref().unwrap_or("")
                );
            }
        }
    }
    if !checks.is_empty() {
        let _ = writeln!(
            md,
            "\n## Loader checks\n\nEach file must be rejected when loaded, naming its `expectInvalid` field path; no enforcer is involved.\n\n| check | status | expectInvalid | file |\n|---|---|---|---|"
        );
        for r in &checks {
            let _ = writeln!(
                md,
                "| {} | {:?} | `{}` | {} |",
                escape(&r.name),
                r.status,
                escape(r.expect_invalid.as_deref().unwrap_or_default()),
                escape(&r.file)
            );
        }
        for r in checks.iter().filter(|r| r.status != Status::Pass) {
            failure(&mut md, r);
        }
    }
    changes(&mut md, &enforcer);
    md.push_str(
        "\n## All scenarios\n\nEvery scenario but the loader checks, which are listed above.\n\n| scenario | status | probes | expected verdicts | file |\n|---|---|---:|---|---|\n",
    );
    for r in &enforcer {
        let probes: usize = r.rounds.iter().map(|x| x.probes.len()).sum();
        let expected = match r.model_rounds().as_slice() {
            [] if r.rounds.is_empty() => String::new(),
            [] => "expect".to_string(),
            rounds => format!("**the model** (no expect: {})", rounds.join(", ")),
        };
        let _ = writeln!(
            md,
            "| {} | {:?} | {probes} | {} | {} |",
            escape(&r.name),
            r.status,
            escape(&expected),
            escape(&r.file)
        );
    }
    md
}

/// Every round's convergence and watch, and each leak and outage with its
/// timeline.
fn changes(md: &mut String, scenarios: &[&ScenarioResult]) {
    let rounds: Vec<_> = scenarios
        .iter()
        .flat_map(|r| r.rounds.iter().map(move |x| (r, x)))
        .filter(|(_, x)| x.convergence.is_some())
        .collect();
    if rounds.is_empty() {
        return;
    }
    let transitions: Vec<_> = scenarios.iter().flat_map(|r| r.transitions()).collect();
    if !transitions.is_empty() {
        md.push_str("\n## Leaks and outages during changes\n\nTimeline: one mark per watch probe, in the order sent; `.` as both states say, `A` allowed (a leak), `D` denied (an outage), `E` an error.\n\n");
        for r in scenarios {
            for (round, t) in r.transitions() {
                let _ = writeln!(
                    md,
                    "- `{}`, round `{}`: {}; timeline `{}`",
                    r.name,
                    round.name,
                    escape(&super::transition_line(round, t)),
                    super::timeline_marks(t)
                );
            }
        }
    }
    let observed: Vec<_> = scenarios
        .iter()
        .flat_map(|r| r.rounds.iter().map(move |x| (r, x)))
        .filter_map(|(r, x)| super::established_line(x).map(|line| (r, x, line)))
        .collect();
    if !observed.is_empty() {
        md.push_str("\n## Established connections\n\n");
        for (r, x, line) in observed {
            let _ = writeln!(md, "- `{}`, round `{}`: {}", r.name, x.name, escape(&line));
        }
    }
    md.push_str("\n## Convergence\n\nFor each round: its `sync` call, when the dataplane enforced the round (counted from the start of `sync`), and the probes watched during the change.\n\n| scenario | round | sync | convergence | watched | leaks | outages |\n|---|---|---:|---|---:|---:|---:|\n");
    for (r, x) in rounds {
        let (watched, leaks, outages) =
            x.watch
                .as_ref()
                .map_or(("not watched".to_string(), 0, 0), |w| {
                    let leaks = w
                        .transitions
                        .iter()
                        .filter(|t| t.kind == crate::results::TransitionKind::Leak)
                        .count();
                    (
                        format!("{} × {}", w.pairs, w.sweeps),
                        leaks,
                        w.transitions.len() - leaks,
                    )
                });
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {watched} | {leaks} | {outages} |",
            escape(&r.name),
            escape(&x.name),
            x.sync_ms.map(super::duration).unwrap_or_default(),
            x.convergence
                .as_ref()
                .map(super::convergence_text)
                .unwrap_or_default()
        );
    }
}

fn failure(md: &mut String, r: &ScenarioResult) {
    let _ = writeln!(md, "\n### {} ({:?})\n\n`{}`", r.name, r.status, r.file);
    if let Some(d) = &r.description {
        let _ = writeln!(md, "\n{}", d.trim());
    }
    if let Some(m) = &r.message {
        let _ = writeln!(md, "\n```\n{}\n```", m.trim());
    }
    if let Some(note) = r.model_note() {
        let _ = writeln!(md, "\n**{note}.**");
    }
    for round in &r.rounds {
        for t in truth_table::tables(round)
            .into_iter()
            .filter(|t| t.has_mismatch())
        {
            let _ = writeln!(md, "\nRound `{}`, {}:\n", round.name, t.caption());
            let _ = writeln!(md, "| from \\ to | {} |", t.destinations.join(" | "));
            let _ = writeln!(md, "|---|{}", "---|".repeat(t.destinations.len()));
            for (src, row) in t.sources.iter().zip(&t.cells) {
                let cells: Vec<&str> = row.iter().map(|c| truth_table::cell_text(*c)).collect();
                let _ = writeln!(md, "| **{src}** | {} |", cells.join(" | "));
            }
        }
        if let Some(yaml) = &round.policies {
            let _ = writeln!(
                md,
                "\n<details><summary>Policies in force in round <code>{}</code></summary>\n\n```yaml\n{}```\n\n</details>",
                round.name, yaml
            );
        }
    }
    let text = mismatch_text(r);
    if !text.is_empty() {
        let _ = writeln!(md, "\n```\n{}```", text);
    }
}
