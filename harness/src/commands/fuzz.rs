//! `netpol fuzz`: generated cases against an enforcer; prints each
//! disagreement as it is found and shrunk, and a summary of what was
//! exercised.

use std::fmt::Write;
use std::time::Duration;

use netpol::fuzzer::{CaseOutcome, CaseReport, FuzzOptions, fuzz};
use netpol::report::terminal::{FuzzBar, Verbosity};
use netpol::results::{FuzzStats, Mode};
use netpol::runner::RunOptions;
use netpol_core::run::ReportBuilder;

use super::{Result, check_report_dir};
use crate::{FuzzArgs, exit};

pub fn run(args: &FuzzArgs, verbosity: Verbosity) -> Result {
    let profile = super::load_profile(args.profile.as_deref())?;
    check_report_dir(args.report.as_deref())?;
    // Before any thread: an ordinary user's run enters a user namespace.
    super::rootless::acquire(false, verbosity)?;
    let (runtime, enforcer, context) = super::start_enforcer(
        &args.enforcer,
        &args.enforcer_args,
        Duration::from_secs(60),
        profile,
    )?;
    let seed = args.seed.unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_secs())
    });
    let options = FuzzOptions {
        seed,
        cases: match (args.cases, args.time) {
            (None, None) => Some(100),
            (cases, _) => cases,
        },
        time: args.time.map(Duration::from_secs),
        only: args.case,
        run: RunOptions {
            jobs: args.jobs.into(),
            unsupported: context.unsupported.iter().copied().collect(),
            // A case is judged on its verdicts; its shrinking knows nothing
            // of transitions.
            watch: netpol::runner::WatchMode::Never,
            ..RunOptions::default()
        },
        out: args.out.clone(),
        shrink_budget: 300,
        max_found: args.max_found,
    };
    println!(
        "{}\nfuzz: seed {seed}{}",
        netpol::report::terminal::run_header(context.enforcer.as_ref(), &context.unsupported),
        match (options.only, options.cases, options.time) {
            (Some(k), _, _) => format!(", case {k}"),
            (None, _, Some(t)) => format!(", for {} s", t.as_secs()),
            (None, Some(n), None) => format!(", {n} cases"),
            (None, None, None) => String::new(),
        }
    );
    // The reports list the cases that did not agree, in case order.
    let mut reports = ReportBuilder::new(Mode::Run, context);
    let bar = FuzzBar::new(options.only.map(|_| 1).or(options.cases));
    let (mut cases, mut probes, mut found) = (0, 0, 0);
    let summary = runtime.block_on(fuzz(&enforcer, &options, |report| {
        bar.println(&show(&report, verbosity, &replay_flags(args)));
        cases += 1;
        probes += report.probes;
        found += usize::from(matches!(report.outcome, CaseOutcome::Found(_)));
        bar.update(cases, probes, found);
        if let Some(result) = report.result {
            reports.add(usize::try_from(report.case).unwrap_or(usize::MAX), result);
        }
    }));
    bar.finish();
    print_summary(&summary);
    if let Some(why) = enforcer.unresponsive() {
        eprintln!("netpol: {why}");
    }
    let clean =
        summary.disagreements + summary.flaky + summary.errors + summary.generator_bugs == 0;
    if args.report.is_some() {
        let mut report = reports.finish();
        report.fuzz = Some(summary);
        super::finish(&report, args.report.as_deref())?;
    }
    Ok(if clean { exit::OK } else { exit::FAILED })
}

/// One case as it ends: nothing for an agreeing one (but with `-v`),
/// a disagreement with its reproducer and how to replay it.
/// `--enforcer X --enforcer-arg=...`, as a replay names them.
fn replay_flags(args: &FuzzArgs) -> String {
    std::iter::once(format!("--enforcer {}", args.enforcer))
        .chain(
            args.enforcer_args
                .iter()
                .map(|a| format!("--enforcer-arg={a}")),
        )
        .collect::<Vec<_>>()
        .join(" ")
}

fn show(report: &CaseReport, verbosity: Verbosity, enforcer: &str) -> String {
    let case = report.case;
    let mut out = String::new();
    match &report.outcome {
        CaseOutcome::Agreed { probes } if verbosity >= Verbosity::Verbose => {
            let _ = writeln!(out, "case {case}: {probes} probes, all as the model says");
        }
        CaseOutcome::Agreed { .. } => {}
        CaseOutcome::GeneratorBug(e) => {
            let _ = writeln!(
                out,
                "case {case}: GENERATOR BUG (a scenario the loader rejects):\n{e}"
            );
        }
        CaseOutcome::Error(e) => {
            let _ = writeln!(out, "case {case}: ERROR {e}");
        }
        CaseOutcome::Flaky(d) => {
            let _ = writeln!(
                out,
                "case {case}: FLAKY {d} (it did not come back when run again)"
            );
        }
        CaseOutcome::Found(f) => {
            let _ = writeln!(
                out,
                "case {case}: DISAGREEMENT {}\n  shrunk in {} lab runs to {} polic{}: {}\n  model: {}\n  replay: netpol run {} {enforcer}",
                f.disagreement,
                f.runs,
                f.policies,
                if f.policies == 1 { "y" } else { "ies" },
                f.file.display(),
                f.explanation,
                f.file.display(),
            );
            if verbosity != Verbosity::Quiet {
                for line in f.yaml.lines() {
                    let _ = writeln!(out, "    {line}");
                }
            }
        }
    }
    out
}

fn print_summary(summary: &FuzzStats) {
    println!(
        "fuzz: seed {}: {} cases ({:.1} per second), {} probes; {} disagreement{}, {} flaky, {} error{}, {} generator bug{}",
        summary.seed,
        summary.cases,
        summary.cases_per_second,
        summary.probes,
        summary.disagreements,
        if summary.disagreements == 1 { "" } else { "s" },
        summary.flaky,
        summary.errors,
        if summary.errors == 1 { "" } else { "s" },
        summary.generator_bugs,
        if summary.generator_bugs == 1 { "" } else { "s" },
    );
    let features: Vec<String> = summary
        .features
        .iter()
        .map(|(f, n)| format!("{f} {n}"))
        .collect();
    println!(
        "fuzz: cases per feature: {}",
        if features.is_empty() {
            "none".to_string()
        } else {
            features.join(", ")
        }
    );
}
